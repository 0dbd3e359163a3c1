"""Bulk Read backfill: the first sync of a large module at a fraction of the API credits.

Get Records costs one credit per 200 records; a Bulk Read job exports up to 200,000 records
for about 50 credits. A first sync (no bookmark) of a large module therefore exports the
module with Bulk Read and then continues over REST (Get Records with ``If-Modified-Since``)
from where the export's snapshot ends, in the same run.

The pieces, bottom up:

- :class:`BulkReadClient` speaks the endpoints (create a job, poll it, download the zip, plus
  the record count, field metadata and tag list the backfill needs), with the tap's retries,
  token refresh and one-sentence errors (it is a :class:`~tap_zohocrm.client.ZohoStream`).
- :class:`RecordPlan` turns the export's CSV rows into records identical in shape and type to
  Get Records output: Zoho's CSV has lookups as bare ids, booleans as ``true``/``false``,
  multi-selects joined by ``;`` and every value as text.
- :class:`BulkReader` runs the jobs of one export: create, poll with backoff within a bounded
  wait, download to a temporary file in chunks, stream the CSV out of the zip, and follow
  ``more_records`` with the next job.
- :class:`BulkBackfill` decides whether a stream backfills in bulk (setting
  ``backfill_method``) and hands the stream its records and the bookmark tracker to continue
  with over REST.

A job that fails, expires or does not finish in time never hangs the tap: the backfill falls
back to Get Records with a warning (records already emitted come again; targets upsert on
``id``).
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime
import io
import logging
import tempfile
import time
import typing as t
import weakref
import zipfile
import zlib
from http import HTTPStatus

import requests
from typing_extensions import override

from tap_zohocrm.bookmarks import BookmarkTracker, parse_instant, to_header_value
from tap_zohocrm.client import (
    API_VERSION,
    RESTART_CODES,
    ZohoStream,
    answer_time,
    response_payload,
)
from tap_zohocrm.credits import BULK_JOB
from tap_zohocrm.errors import ZohoAPIError, ZohoError, describe_zoho_error
from tap_zohocrm.schema import CUSTOM_DISPLAY_FIELD, DISPLAY_FIELDS, REPLICATION_KEY, SYSTEM_KEYS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_zohocrm.streams import ZohoModuleStream
    from tap_zohocrm.tap import TapZohoCRM

__all__ = [
    "BACKFILL_METHODS",
    "BULK_JOB_CREDITS",
    "DEFAULT_BULK_MAX_WAIT_SECONDS",
    "DEFAULT_BULK_THRESHOLD",
    "BulkBackfill",
    "BulkReadClient",
    "BulkReadError",
    "BulkReader",
    "DownloadLimiter",
    "JobResult",
    "RecordPlan",
]

#: Values of the ``backfill_method`` setting.
BACKFILL_METHODS = ("auto", "bulk", "rest")
#: Modules Zoho's Bulk Read does not export.
NOT_IN_BULK_READ = frozenset({"Notes", "Attachments", "Emails"})
DEFAULT_BACKFILL_METHOD = "auto"
#: ``auto`` backfills in bulk above this many records: a job costs about 50 credits plus a few
#: for polling, the same as 10,000 records over REST, so below twice that REST is as cheap and
#: starts emitting at once.
DEFAULT_BULK_THRESHOLD = 20_000
#: Longest wait for one job to complete before falling back to REST (Zoho takes minutes for
#: 200,000 records when it is busy).
DEFAULT_BULK_MAX_WAIT_SECONDS = 1800.0
#: Credits Zoho charges for creating a Bulk Read job ("about 50"; status and download 1).
BULK_JOB_CREDITS = BULK_JOB
#: Zoho's download limit for Bulk Read results.
DOWNLOADS_PER_MINUTE = 10

BULK_READ_PATH = f"/crm/bulk/{API_VERSION}/read"
BULK_SCOPE = "ZohoCRM.bulk.READ"

#: Owner and user lookups: Get Records renders ``{name, id, email}``; Bulk Read exports these
#: user fields, ``name`` being ``first_name last_name``.
USER_COLUMNS = ("first_name", "last_name", "email")
_USER_TYPES = frozenset({"ownerlookup", "userlookup"})
#: Types Get Records' list API omits (null in its records), so the export skips them too.
UNEXPORTED_TYPES = frozenset(
    {"subform", "multiselectlookup", "multiuserlookup", "fileupload", "imageupload"}
)
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # rich text can exceed csv's 128 KiB default

_Getter = t.Callable[[list[str]], t.Any]


class BulkReadError(ZohoError):
    """A Bulk Read job failed, expired or did not finish in time (one sentence)."""


# -- download rate ---------------------------------------------------------------------------


class DownloadLimiter:
    """At most ``limit`` downloads in any ``window`` seconds (Zoho: 10 a minute).

    Waiting before the 11th download is cheaper than being refused with a 429 and backing
    off; the retry on 429 stays as a safety net (another client may share the limit).
    """

    def __init__(
        self,
        limit: int = DOWNLOADS_PER_MINUTE,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create the limiter.

        Args:
            limit: Downloads allowed per window.
            window: Window length in seconds.
            clock: Monotonic clock (injectable for tests).
            sleep: Sleep function (injectable for tests).
        """
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque()

    def acquire(self) -> float:
        """Wait until one more download fits in the window, then count it.

        Returns:
            Seconds waited.
        """
        waited = 0.0
        while True:
            now = self._clock()
            while self._starts and self._starts[0] <= now - self.window:
                self._starts.popleft()
            if len(self._starts) < self.limit:
                self._starts.append(now)
                return waited
            pause = self._starts[0] + self.window - now
            self._sleep(pause)
            waited += pause


#: One limiter per tap run: every stream of the run shares Zoho's per-user limit.
_LIMITERS: weakref.WeakKeyDictionary[TapZohoCRM, DownloadLimiter] = weakref.WeakKeyDictionary()


def _limiter_for(tap: TapZohoCRM) -> DownloadLimiter:
    limiter = _LIMITERS.get(tap)
    if limiter is None:
        limiter = _LIMITERS[tap] = DownloadLimiter()
    return limiter


# -- HTTP --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JobResult:
    """The ``result`` of a completed job."""

    job_id: str
    page: int
    count: int
    download_url: str
    more_records: bool
    next_page_token: str | None


class BulkReadClient(ZohoStream):
    """The Bulk Read endpoints and the small calls a backfill needs, with the tap's retries.

    A :class:`~tap_zohocrm.client.ZohoStream` that is never synced (like the field-metadata
    reader): it reuses the tap's token, backoff on 429/5xx/network errors, token refresh on
    401 and one-sentence errors, and counts what it spends.
    """

    #: First wait before polling a new job, in seconds; doubles per poll up to the maximum.
    POLL_FIRST_SECONDS: t.ClassVar[float] = 2.0
    #: Longest wait between two status polls, in seconds.
    POLL_MAX_SECONDS: t.ClassVar[float] = 30.0
    #: Download chunk size: the zip goes to a temporary file, never whole into memory.
    DOWNLOAD_CHUNK_BYTES: t.ClassVar[int] = 1 << 20

    def __init__(self, tap: TapZohoCRM) -> None:
        """Create the client.

        Args:
            tap: The tap (token, API domain, settings).
        """
        super().__init__(tap, name="_zoho_bulk_read", schema={"type": "object", "properties": {}})
        self.required_scope = BULK_SCOPE
        self.what = "the Bulk Read job"
        self.limiter = _limiter_for(tap)
        #: Calls answered per kind (count, fields, tags, create, status, download).
        self.calls: collections.Counter[str] = collections.Counter()
        #: Credits spent, as Zoho charges them (a job creation costs BULK_JOB_CREDITS).
        self.credits = 0
        #: When Zoho answered this client's first call (its ``Date`` header, else the local
        #: clock): a time before the export's snapshot, e.g. where a first sync's deletion
        #: listing may start.
        self.first_answer_at: datetime.datetime | None = None

    # -- plumbing ------------------------------------------------------------------------

    def _send(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        what: str,
        scope: str,
        params: dict[str, t.Any] | None = None,
        body: dict[str, t.Any] | None = None,
        send: RequestFunc | None = None,
    ) -> t.Any:
        """Send one call through the tap's retry decorator and count it.

        Args:
            kind: Counter key (``create``, ``status``, ...).
            method: HTTP method.
            path: Path (or absolute URL) on the API domain.
            what: What the call reads, for error sentences.
            scope: The scope an ``OAUTH_SCOPE_MISMATCH`` is about.
            params: Query parameters.
            body: JSON body.
            send: The function that sends the prepared request (default: the SDK's).

        Returns:
            What ``send`` returns (the response by default).
        """
        self.http_method = method
        self.path = path
        self.what = what
        self.required_scope = scope
        url = path if path.startswith(("http://", "https://")) else self.zoho_tap.api_domain + path
        prepared = self.build_prepared_request(
            method=method,
            url=url,
            params=params,
            json=body,
            headers={"Accept": "application/json"},
        )
        credits_before = self.api_credits
        result = self.request_decorator(send or self._request)(prepared, None)
        if self.api_credits > credits_before:
            self.calls[kind] += 1
            self.credits += self.api_credits - credits_before  # Zoho's table (credits.py)
        return result

    @override
    def page_problem(self, response: requests.Response) -> str | None:
        # Jobs, counts and zipped CSVs are not Get Records pages; each call checks its own.
        return None

    @override
    def validate_response(self, response: requests.Response) -> None:
        if self.first_answer_at is None:
            self.first_answer_at = answer_time(response)
        # The base class treats 400 EXPIRED_VALUE as the end of a Get Records token chain;
        # here it means an expired download (or job), which is an error.
        if response.status_code == HTTPStatus.BAD_REQUEST:
            code, message, details = describe_zoho_error(response_payload(response))
            if code in RESTART_CODES:
                self.api_calls += 1
                raise ZohoAPIError(
                    self._error_sentence(response.status_code, code, message, details),
                    status=response.status_code,
                    code=code,
                    zoho_message=message,
                )
        super().validate_response(response)

    def _json(self, response: requests.Response, what: str) -> dict[str, t.Any]:
        payload = response_payload(response)
        if not isinstance(payload, dict):
            msg = (
                f"Zoho CRM answered {self.http_method} {self.path} with HTTP "
                f"{response.status_code} but no JSON object for {what}."
            )
            raise BulkReadError(msg)
        return payload

    # -- small calls ---------------------------------------------------------------------

    def count(self, module: str, scope: str) -> int:
        """Number of records in a module: ``GET /{Module}/actions/count`` (1 credit).

        Args:
            module: Module API name.
            scope: The module's read scope (for the error sentence).

        Returns:
            Zoho's count.
        """
        response = self._send(
            "count",
            "GET",
            f"/crm/{API_VERSION}/{module}/actions/count",
            what=f"the {module} record count",
            scope=scope,
        )
        try:
            return int(self._json(response, "the record count")["count"])
        except (KeyError, TypeError, ValueError):
            msg = f"Zoho CRM's {module} record count has no number in it."
            raise BulkReadError(msg) from None

    def field_metadata(self, module: str) -> list[dict[str, t.Any]]:
        """The module's ``/settings/fields`` (1 credit): data types and lookup targets.

        Args:
            module: Module API name.

        Returns:
            The ``fields`` list.
        """
        response = self._send(
            "fields",
            "GET",
            f"/crm/{API_VERSION}/settings/fields",
            params={"module": module},
            what=f"the {module} field metadata",
            scope="ZohoCRM.settings.fields.READ",
        )
        fields = self._json(response, "the field metadata").get("fields")
        return [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []

    def tag_ids(self, module: str) -> dict[str, str]:
        """Tag names to ids (``/settings/tags``, 1 credit): the export names tags only.

        Args:
            module: Module API name.

        Returns:
            ``{name: id}``.
        """
        response = self._send(
            "tags",
            "GET",
            f"/crm/{API_VERSION}/settings/tags",
            params={"module": module},
            what=f"the {module} tags",
            scope="ZohoCRM.settings.tags.READ",
        )
        tags = self._json(response, "the tag list").get("tags")
        if not isinstance(tags, list):
            return {}
        return {
            str(tag["name"]): str(tag["id"])
            for tag in tags
            if isinstance(tag, dict) and tag.get("name") is not None and tag.get("id") is not None
        }

    # -- jobs ----------------------------------------------------------------------------

    def create_job(self, query: dict[str, t.Any]) -> tuple[str, str | None]:
        """Create a Bulk Read job (``POST /crm/bulk/v8/read``, about 50 credits).

        Args:
            query: The job's ``query`` (module, fields, criteria, page or page_token).

        Returns:
            The job id and Zoho's ``created_time`` of the job (``None`` if not sent).
        """
        module = query.get("module", {}).get("api_name", "?")
        response = self._send(
            "create",
            "POST",
            BULK_READ_PATH,
            body={"query": query},
            what=f"a Bulk Read job for {module}",
            scope=BULK_SCOPE,
        )
        payload = self._json(response, "the new job")
        try:
            details = payload["data"][0]["details"]
            job_id = str(details["id"])
        except (KeyError, IndexError, TypeError):
            msg = f"Zoho CRM created a Bulk Read job for {module} but sent no job id."
            raise BulkReadError(msg) from None
        created = details.get("created_time")
        return job_id, str(created) if created else None

    def job_status(self, job_id: str) -> dict[str, t.Any]:
        """One status poll (``GET /crm/bulk/v8/read/{id}``).

        Args:
            job_id: The job id.

        Returns:
            The job's ``data[0]`` entry (``state``, ``result``, ...).
        """
        response = self._send(
            "status",
            "GET",
            f"{BULK_READ_PATH}/{job_id}",
            what=f"the status of Bulk Read job {job_id}",
            scope=BULK_SCOPE,
        )
        data = self._json(response, "the job status").get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            msg = f"Zoho CRM's status of Bulk Read job {job_id} has no job in it."
            raise BulkReadError(msg)
        return data[0]

    def wait(
        self,
        job_id: str,
        max_wait: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> JobResult:
        """Poll a job with exponential backoff until it completes, within ``max_wait``.

        Polls start :attr:`POLL_FIRST_SECONDS` after creation and double up to
        :attr:`POLL_MAX_SECONDS`: quick jobs finish quickly, long ones cost few polls.

        Args:
            job_id: The job id.
            max_wait: Seconds to wait at most (``bulk_max_wait_seconds``).
            clock: Monotonic clock (injectable).
            sleep: Sleep function (injectable).

        Returns:
            The completed job's result.

        Raises:
            BulkReadError: When the job ends in FAILURE or is not done within ``max_wait``.
        """
        deadline = clock() + max_wait
        pause = self.POLL_FIRST_SECONDS
        state = "ADDED"
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                msg = (
                    f"Zoho CRM's Bulk Read job {job_id} was still {state} after "
                    f"{max_wait:g} seconds (bulk_max_wait_seconds)."
                )
                raise BulkReadError(msg)
            sleep(min(pause, remaining))
            pause = min(pause * 2, self.POLL_MAX_SECONDS)
            job = self.job_status(job_id)
            state = str(job.get("state") or "UNKNOWN")
            if state == "COMPLETED":
                return _job_result(job_id, job)
            if state == "FAILURE":
                msg = f"Zoho CRM's Bulk Read job {job_id} ended in FAILURE."
                raise BulkReadError(msg)

    def download(self, result: JobResult) -> t.IO[bytes]:
        """Download a job's zip to a temporary file, in chunks, within Zoho's rate limit.

        Args:
            result: The completed job's result.

        Returns:
            The temporary file, positioned at its start (deleted when closed).
        """
        self.limiter.acquire()

        def fetch(prepared: requests.PreparedRequest, context: Context | None) -> t.IO[bytes]:
            authenticated = self.authenticator(prepared)
            response = self.requests_session.send(
                authenticated, timeout=self.timeout, allow_redirects=True, stream=True
            )
            with response:
                self.validate_response(response)
                # Returned open to the caller, who closes (and so deletes) it.
                spool = tempfile.TemporaryFile(prefix="tap-zohocrm-bulk-", suffix=".zip")  # noqa: SIM115
                try:
                    for chunk in response.iter_content(self.DOWNLOAD_CHUNK_BYTES):
                        spool.write(chunk)
                except BaseException:
                    spool.close()
                    raise
            spool.seek(0)
            return spool

        return t.cast(
            "t.IO[bytes]",
            self._send(
                "download",
                "GET",
                result.download_url,
                what=f"the result of Bulk Read job {result.job_id}",
                scope=BULK_SCOPE,
                send=t.cast("RequestFunc", fetch),
            ),
        )

    def usage(self) -> str:
        """What this client spent, e.g. ``4 API calls (1 job, 2 status checks, ...)``."""
        labels = {
            "count": "record count",
            "fields": "field metadata",
            "tags": "tag list",
            "create": "jobs",
            "status": "status checks",
            "download": "downloads",
        }
        parts = [f"{self.calls[k]} {label}" for k, label in labels.items() if self.calls[k]]
        total = sum(self.calls.values())
        return f"{total} API calls ({', '.join(parts) or 'none'}), {self.credits} credits spent"


def _job_result(job_id: str, job: Mapping[str, t.Any]) -> JobResult:
    result = job.get("result")
    if not isinstance(result, dict) or not result.get("download_url"):
        msg = f"Zoho CRM says Bulk Read job {job_id} is COMPLETED but names no download_url."
        raise BulkReadError(msg)
    token = result.get("next_page_token")
    return JobResult(
        job_id=job_id,
        page=int(result.get("page") or 1),
        count=int(result.get("count") or 0),
        download_url=str(result["download_url"]),
        more_records=bool(result.get("more_records")),
        next_page_token=str(token) if token else None,
    )


# -- CSV rows -> records -----------------------------------------------------------------------


def _types(schema: Mapping[str, t.Any]) -> set[str]:
    kind = schema.get("type")
    names = [kind] if isinstance(kind, str) else list(kind or [])
    return {str(n) for n in names} - {"null"}


def _text(index: int) -> _Getter:
    return lambda row: row[index] or None


def _boolean(index: int) -> _Getter:
    def get(row: list[str]) -> bool | None:
        text = row[index].strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
        return None

    return get


def _number_value(text: str) -> int | float | None:
    """A JSON number as Get Records would have decoded it: int unless it has a fraction."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _integer_value(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _datetime_value(text: str) -> str | None:
    """Zoho's REST rendering: seconds and an offset (``2024-01-20T04:01:48-08:00``)."""
    if not text:
        return None
    if len(text) == 25 and text[10] == "T" and text[19] in "+-":
        return text
    try:
        return datetime.datetime.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        return text


def _converted(index: int, convert: Callable[[str], t.Any]) -> _Getter:
    return lambda row: convert(row[index])


def _multiselect(index: int) -> _Getter:
    # Get Records renders an empty multi-select as [], never null.
    return lambda row: row[index].split(";") if row[index] else []


def _tags(index: int, ids: Mapping[str, str]) -> _Getter:
    return lambda row: (
        [{"name": name, "id": ids.get(name)} for name in row[index].split(";")]
        if row[index]
        else []
    )


def _lookup(index: int, name_index: int) -> _Getter:
    def get(row: list[str]) -> dict[str, t.Any] | None:
        record_id = row[index]
        if not record_id:
            return None
        return {"name": row[name_index] or None, "id": record_id}

    return get


def _user(index: int, first: int, last: int, email: int) -> _Getter:
    def get(row: list[str]) -> dict[str, t.Any] | None:
        user_id = row[index]
        if not user_id:
            return None
        name = " ".join(part for part in (row[first], row[last]) if part)
        return {"name": name or None, "id": user_id, "email": row[email] or None}

    return get


def _constant(value: t.Any) -> _Getter:
    return lambda row: value


class RecordPlan:
    """How one stream's selected fields are asked of Bulk Read and rebuilt from its CSV.

    Typing follows the stream's JSON schema (the same one Get Records output is checked
    against) and Zoho's field metadata (lookups and their target modules, types the list API
    omits), so that every record equals what Get Records would have emitted.
    """

    def __init__(
        self,
        fields: Sequence[str],
        properties: Mapping[str, Mapping[str, t.Any]],
        metadata: Sequence[Mapping[str, t.Any]],
        *,
        nested_off: Mapping[str, frozenset[str]] | None = None,
        tag_ids: Mapping[str, str] | None = None,
    ) -> None:
        """Plan the export.

        Args:
            fields: The record's properties, in order (the stream's selected properties).
            properties: The stream schema's properties.
            metadata: Zoho's ``/settings/fields`` entries of the module.
            nested_off: Deselected sub-properties of lookups (``Owner.email``).
            tag_ids: Tag names to ids, when ``Tag`` is selected.

        Raises:
            BulkReadError: When a lookup's target module is unknown.
        """
        self.fields = tuple(fields)
        self.nested_off = dict(nested_off or {})
        self.tag_ids = dict(tag_ids or {})
        by_name = {str(f.get("api_name")): f for f in metadata}
        #: (property, kind, related columns) per record field.
        self._specs: list[tuple[str, str, tuple[str, ...]]] = []
        columns: list[str] = []
        for name in self.fields:
            kind, related = self._classify(name, properties.get(name) or {}, by_name.get(name))
            self._specs.append((name, kind, related))
            if kind not in ("id", "null", "system"):
                columns.append(name)
                columns.extend(f"{name}.{column}" for column in related)
        #: The ``fields`` of the job query.
        self.columns = tuple(dict.fromkeys(columns))

    @property
    def needs_tags(self) -> bool:
        """Whether a ``Tag`` array is selected (its ids come from the tag list)."""
        return any(kind == "tags" for _, kind, _ in self._specs)

    @staticmethod
    def _classify(
        name: str, schema: Mapping[str, t.Any], field: Mapping[str, t.Any] | None
    ) -> tuple[str, tuple[str, ...]]:
        if name == "id":
            return "id", ()
        if name.startswith("_sdc_"):
            return "null", ()
        if name in SYSTEM_KEYS:
            return "system", ()  # a $ key: not a field to ask for, read if exported
        data_type = str((field or {}).get("data_type") or "").lower()
        if data_type in UNEXPORTED_TYPES:
            return "null", ()
        types = _types(schema)
        if "object" in types:
            properties = schema.get("properties") or {}
            if data_type in _USER_TYPES or (not data_type and "email" in properties):
                return "user", USER_COLUMNS
            lookup = (field or {}).get("lookup") or {}
            target = lookup.get("module") if isinstance(lookup, dict) else None
            target_name = target.get("api_name") if isinstance(target, dict) else target
            if not target_name:
                msg = (
                    f"Bulk Read cannot name the {name} lookup: Zoho's field metadata does not "
                    "say which module it looks up."
                )
                raise BulkReadError(msg)
            display = DISPLAY_FIELDS.get(str(target_name), CUSTOM_DISPLAY_FIELD)
            return "lookup", (display,)
        if "array" in types:
            items = schema.get("items") or {}
            if name == "Tag" or "object" in _types(items):
                return "tags", ()
            return "multiselect", ()
        if "integer" in types:
            return "integer", ()
        if "number" in types:
            return "number", ()
        if "boolean" in types:
            return "boolean", ()
        if schema.get("format") == "date-time":
            return "datetime", ()
        return "text", ()

    def converter(self, header: Sequence[str]) -> Callable[[list[str]], dict[str, t.Any]]:
        """Build the row converter for one CSV file's header.

        Args:
            header: The CSV's first row (``Id`` then the asked columns, in Zoho's order).

        Returns:
            A function from a CSV row to a record.

        Raises:
            BulkReadError: When the export lacks an asked column.
        """
        index = {column: n for n, column in enumerate(header)}

        def at(column: str) -> int:
            if column not in index:
                msg = f"Zoho CRM's Bulk Read export lacks the {column} column."
                raise BulkReadError(msg)
            return index[column]

        getters: list[tuple[str, _Getter]] = []
        for name, kind, related in self._specs:
            getter: _Getter
            if kind == "id":
                getter = _text(at("Id"))
            elif kind == "null":
                getter = _constant(None)
            elif kind == "system":
                key = SYSTEM_KEYS[name]
                getter = _text(index[key]) if key in index else _constant(None)
            elif kind == "user":
                first, last, email = (at(f"{name}.{column}") for column in related)
                getter = _user(at(name), first, last, email)
            elif kind == "lookup":
                getter = _lookup(at(name), at(f"{name}.{related[0]}"))
            elif kind == "tags":
                getter = _tags(at(name), self.tag_ids)
            elif kind == "multiselect":
                getter = _multiselect(at(name))
            elif kind == "integer":
                getter = _converted(at(name), _integer_value)
            elif kind == "number":
                getter = _converted(at(name), _number_value)
            elif kind == "boolean":
                getter = _boolean(at(name))
            elif kind == "datetime":
                getter = _converted(at(name), _datetime_value)
            else:
                getter = _text(at(name))
            getters.append((name, getter))
        width = len(header)
        nested_off = self.nested_off

        def convert(row: list[str]) -> dict[str, t.Any]:
            if len(row) < width:  # a short row: Zoho's CSV drops nothing, but never crash
                row = row + [""] * (width - len(row))
            record = {name: get(row) for name, get in getters}
            for name, off in nested_off.items():
                value = record.get(name)
                if isinstance(value, dict):
                    record[name] = {k: v for k, v in value.items() if k not in off}
            return record

        return convert

    def records(self, archive_file: t.IO[bytes]) -> Iterator[dict[str, t.Any]]:
        """Stream the records out of a downloaded zip, one CSV row at a time.

        Args:
            archive_file: The zip (a seekable binary file).

        Yields:
            Records, in the export's order.
        """
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            archive = zipfile.ZipFile(archive_file)
        except zipfile.BadZipFile:
            msg = "Zoho CRM's Bulk Read download is not a zip file."
            raise BulkReadError(msg) from None
        with archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not members:
                msg = "Zoho CRM's Bulk Read download holds no CSV file."
                raise BulkReadError(msg)
            with (
                archive.open(members[0]) as raw,
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
            ):
                rows = csv.reader(text)
                try:
                    header = next(rows, None)
                    if header is None:
                        return
                    convert = self.converter(header)
                    for row in rows:
                        if row:
                            yield convert(row)
                except (csv.Error, zlib.error, EOFError, ValueError) as ex:
                    # A corrupt zip member, a malformed CSV or a value that does not fit its
                    # type (ValueError covers UnicodeDecodeError): not worth a traceback.
                    reason = " ".join(f"{type(ex).__name__}: {ex}".split())
                    msg = f"Zoho CRM's Bulk Read export could not be read ({reason})."
                    raise BulkReadError(msg) from None


# -- one export --------------------------------------------------------------------------------


class BulkReader:
    """The jobs of one module export: create, wait, download, parse; next job while more.

    Attributes:
        jobs: Jobs created so far.
        first_created_time: Zoho's ``created_time`` of the first job: the snapshot time after
            which changes must come from REST.
        records_read: Records yielded.
    """

    def __init__(
        self,
        client: BulkReadClient,
        module: str,
        plan: RecordPlan,
        *,
        criteria: dict[str, t.Any] | None = None,
        max_wait: float = DEFAULT_BULK_MAX_WAIT_SECONDS,
        logger: logging.Logger | None = None,
    ) -> None:
        """Prepare the export.

        Args:
            client: The Bulk Read client.
            module: Module API name.
            plan: Columns to ask for and how to rebuild records.
            criteria: The query's criteria (e.g. ``Modified_Time`` after the start date).
            max_wait: Seconds to wait at most for each job.
            logger: Where progress is logged.
        """
        self.client = client
        self.module = module
        self.plan = plan
        self.criteria = criteria
        self.max_wait = max_wait
        self.logger = logger or logging.getLogger(__name__)
        self.jobs = 0
        self.first_created_time: str | None = None
        self.records_read = 0

    def query(self, page: int | None = None, page_token: str | None = None) -> dict[str, t.Any]:
        """The ``query`` of a job.

        Args:
            page: Page of the selection (after the first job, when no token is sent).
            page_token: The previous job's ``next_page_token``.

        Returns:
            The query object.
        """
        query: dict[str, t.Any] = {
            "module": {"api_name": self.module},
            "fields": list(self.plan.columns),
        }
        if self.criteria:
            query["criteria"] = self.criteria
        if page_token:
            query["page_token"] = page_token
        else:
            query["page"] = page or 1
        return query

    def records(self) -> Iterator[dict[str, t.Any]]:
        """Run the export job by job and yield its records.

        Yields:
            Records as Get Records would render them, in the export's (id) order.

        Raises:
            BulkReadError: For a failed, expired or overdue job (and ZohoAPIError for calls
                Zoho refuses).
        """
        query = self.query()
        while True:
            job_id, created = self.client.create_job(query)
            self.jobs += 1
            if self.first_created_time is None:
                self.first_created_time = created
            self.logger.info(
                "Bulk Read job %s for %s created (page %s); waiting at most %g s",
                job_id,
                self.module,
                query.get("page") or "from token",
                self.max_wait,
            )
            result = self.client.wait(job_id, self.max_wait)
            self.logger.info(
                "Bulk Read job %s completed with %d records; downloading", job_id, result.count
            )
            with self.client.download(result) as archive:
                for record in self.plan.records(archive):
                    self.records_read += 1
                    yield record
            if not result.more_records:
                return
            if result.count == 0:
                msg = (
                    f"Zoho CRM's Bulk Read job {job_id} exported no records yet claims more; "
                    "stopping to avoid an endless export."
                )
                raise BulkReadError(msg)
            if result.next_page_token:
                query = self.query(page_token=result.next_page_token)
            else:
                query = self.query(page=result.page + 1)


# -- the stream's backfill -----------------------------------------------------------------


class _AfterBulkTracker(BookmarkTracker):
    """The bookmark tracker of the REST part that follows a completed bulk export.

    REST starts at ``since`` (everything up to it is in the export), so ``since`` is a safe
    checkpoint from the start; the final bookmark is the newest Modified_Time seen, by the
    export or by REST, compared as instants.
    """

    def __init__(
        self,
        since: str,
        bulk_max: str | None,
        bulk_records: int,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(since, logger)
        self._max_from_record = True
        self._safe_from_record = True
        self.records_seen = bulk_records
        self._bulk_max = bulk_max
        self._observed = False

    @override
    def observe(self, value: str | None) -> None:
        if value is not None:
            self._observed = True
        super().observe(value)

    @property
    @override
    def final(self) -> str | None:
        rest = self.max_value if self._observed else None
        if rest is None or self._bulk_max is None:
            return rest or self._bulk_max
        return rest if parse_instant(rest) >= parse_instant(self._bulk_max) else self._bulk_max


class BulkBackfill:
    """A stream's first sync through Bulk Read, then REST from the export's snapshot on.

    Use :meth:`plan` (``None`` when the stream syncs over REST), give :attr:`tracker` to the
    stream for the export's records (unsorted: it never checkpoints mid-export, so a killed
    run starts the backfill again rather than skip anything), yield :meth:`records`, then
    continue over REST with :meth:`rest_tracker`.

    Attributes:
        tracker: Follows Modified_Time during the export (never checkpoints).
        failure: Why the export was abandoned for REST, if it was.
    """

    def __init__(
        self,
        stream: ZohoModuleStream,
        context: Context | None,
        client: BulkReadClient,
        start: str | None,
    ) -> None:
        """Prepare the backfill (see :meth:`plan`).

        Args:
            stream: The module stream.
            context: The stream context.
            client: The Bulk Read client.
            start: The run's start (``start_date``), or ``None`` for all history.
        """
        self.stream = stream
        self.context = context
        self.client = client
        self.start = start
        self.logger = stream.logger
        self.tracker = BookmarkTracker(None, self.logger)
        self.tracker.unsorted = True  # export order is by id: no mid-stream checkpoints
        self.failure: ZohoError | None = None
        #: Records this backfill yielded (the tracker counts them as they are emitted).
        self.records_read = 0
        self.reader: BulkReader | None = None

    @property
    def started_at(self) -> datetime.datetime | None:
        """When Zoho answered the backfill's first call: before the export's snapshot."""
        return self.client.first_answer_at

    @classmethod
    def plan(cls, stream: ZohoModuleStream, context: Context | None) -> BulkBackfill | None:
        """Decide how the stream backfills, from ``backfill_method`` and the module's size.

        ``rest``: never bulk. ``bulk``: bulk whenever the stream has no bookmark. ``auto``:
        bulk when the stream has no bookmark and one record count (1 credit) says the module
        holds more than ``bulk_threshold`` records.

        Args:
            stream: The module stream.
            context: The stream context.

        Returns:
            The backfill to run, or ``None`` for REST.
        """
        config = stream.config
        method = str(config.get("backfill_method") or DEFAULT_BACKFILL_METHOD).lower()
        if method not in BACKFILL_METHODS:
            msg = f"backfill_method must be one of {', '.join(BACKFILL_METHODS)}, not {method!r}."
            raise BulkReadError(msg)
        if method == "rest" or not stream.replication_key:
            return None  # a module without Modified_Time is read whole every run, over REST
        if stream.module in NOT_IN_BULK_READ:
            stream.logger.info("%s is not in Bulk Read: backfilling over REST", stream.module)
            return None
        if stream.get_context_state(context).get("replication_key_value"):
            return None  # incremental: REST from the bookmark
        client = BulkReadClient(stream.zoho_tap)
        start = stream.get_starting_replication_key_value(context)
        if method == "auto":
            threshold = config.get("bulk_threshold")
            threshold = DEFAULT_BULK_THRESHOLD if threshold is None else int(threshold)
            try:
                count = client.count(stream.module, stream.required_scope)
            except ZohoAPIError as ex:
                if ex.status not in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED):
                    raise  # Get Records would be refused the same way
                stream.logger.warning(
                    "Cannot count the %s records (%s); backfilling with Get Records (REST)",
                    stream.module,
                    ex.sentence,
                )
                return None
            bulk = count > threshold
            stream.module_count = count
            stream.logger.info(
                "%s holds %d records, %s bulk_threshold %d: backfilling with %s "
                "(1 credit for the count)",
                stream.module,
                count,
                "more than" if bulk else "not more than",
                threshold,
                "Bulk Read" if bulk else "its read_method (REST or COQL)",
            )
            if not bulk:
                return None
        return cls(stream, context, client, start)

    def criteria(self) -> dict[str, t.Any] | None:
        """The export's criteria: after the start date; converted leads when they are not."""
        group: list[dict[str, t.Any]] = []
        if self.start:
            group.append(
                {
                    "field": {"api_name": REPLICATION_KEY},
                    "comparator": "greater_than",
                    "value": to_header_value(self.start),
                }
            )
        stream = self.stream
        if stream.module == "Leads" and not stream.config.get("include_converted_leads", True):
            group.append(
                {"field": {"api_name": "Converted__s"}, "comparator": "equal", "value": False}
            )
        if not group:
            return None
        if len(group) == 1:
            return group[0]
        return {"group_operator": "and", "group": group}

    def records(self) -> Iterator[dict[str, t.Any]]:
        """Export the module and yield its records; on failure, warn and stop.

        Yields:
            Records identical to Get Records output.
        """
        stream = self.stream
        module = stream.module
        max_wait = stream.config.get("bulk_max_wait_seconds")
        max_wait = DEFAULT_BULK_MAX_WAIT_SECONDS if max_wait is None else float(max_wait)
        self.logger.info("Backfilling %s with Bulk Read", module)
        try:
            metadata = self.client.field_metadata(module)
            plan = RecordPlan(
                stream.selected_properties(),
                stream.schema.get("properties", {}),
                metadata,
                nested_off=stream.nested_deselections(),
            )
            if plan.needs_tags:
                plan.tag_ids = self._tag_ids(module)
            self.reader = reader = BulkReader(
                self.client,
                module,
                plan,
                criteria=self.criteria(),
                max_wait=max_wait,
                logger=self.logger,
            )
            for record in reader.records():
                self.records_read += 1
                yield record
        except (BulkReadError, ZohoAPIError) as ex:
            self.failure = ex
            self.logger.warning(
                "Bulk Read backfill of %s abandoned: %s Falling back to Get Records (REST) "
                "from %s; the %d records already emitted come again.",
                module,
                ex.sentence,
                self.start or "the beginning",
                self.records_read,
            )
        finally:
            self.logger.info(
                "Bulk Read backfill of %s %s: %d records in %d jobs; %s",
                module,
                "abandoned" if self.failure else "done",
                self.records_read,
                self.reader.jobs if self.reader else 0,
                self.client.usage(),
            )

    def _tag_ids(self, module: str) -> dict[str, str]:
        try:
            return self.client.tag_ids(module)
        except ZohoAPIError as ex:
            self.logger.warning(
                "Cannot read the %s tags (%s); Bulk Read exports tag names only, so tag ids "
                "are null in this backfill.",
                module,
                ex.sentence,
            )
            return {}

    def rest_tracker(self) -> BookmarkTracker:
        """The bookmark tracker for the REST part, which starts where the export ends.

        After a complete export, REST asks for records modified after the earlier of the
        newest exported Modified_Time and one second before the first job's creation (its
        snapshot): a record changed while the jobs ran, even one exported earlier with its old
        values, comes again with its new ones. After a failed export, REST starts over from
        the run's start.

        Returns:
            The tracker; its ``start_value`` is the ``If-Modified-Since`` of the REST part.
        """
        if self.failure is not None or self.reader is None:
            return BookmarkTracker(self.start, self.logger)
        bulk_max = self.tracker.final
        candidates = [value for value in (bulk_max, self._snapshot_bound()) if value]
        if not candidates:  # an empty export without a snapshot time: REST from the start
            return BookmarkTracker(self.start, self.logger)
        since = min(candidates, key=parse_instant)
        if self.start and parse_instant(self.start) > parse_instant(since):
            since = to_header_value(self.start)
        # Everything up to `since` has been emitted: checkpoint it now, so that a run killed
        # during the REST part does not repeat the export.
        state = self.stream.get_context_state(self.context)
        state["replication_key"] = REPLICATION_KEY
        state["replication_key_value"] = since
        self.logger.info(
            "Continuing %s over Get Records with If-Modified-Since %s (newest exported "
            "Modified_Time %s)",
            self.stream.module,
            since,
            bulk_max,
        )
        return _AfterBulkTracker(since, bulk_max, self.tracker.records_seen, self.logger)

    def _snapshot_bound(self) -> str | None:
        created = self.reader.first_created_time if self.reader else None
        if not created:
            return None
        try:
            instant = parse_instant(created) - datetime.timedelta(seconds=1)
        except ValueError:
            return None
        return instant.isoformat(timespec="seconds")
