"""The Bulk Read endpoints: create, poll and download a job; count, fields and tags."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import itertools
import tempfile
import time
import typing as t
import weakref
from http import HTTPStatus

import backoff
import requests
from typing_extensions import override

from tap_zohocrm.client import (
    API_VERSION,
    RESTART_CODES,
    ZohoStream,
    answer_time,
    response_payload,
)
from tap_zohocrm.errors import ZohoAPIError, ZohoError, describe_zoho_error

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_zohocrm.run import ZohoRun

from tap_zohocrm.bulk.constants import (
    BULK_READ_PATH,
    BULK_SCOPE,
    DOWNLOADS_PER_MINUTE,
)


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
_LIMITERS: weakref.WeakKeyDictionary[ZohoRun, DownloadLimiter] = weakref.WeakKeyDictionary()


def _limiter_for(tap: ZohoRun) -> DownloadLimiter:
    limiter = _LIMITERS.get(tap)
    if limiter is None:
        limiter = _LIMITERS[tap] = DownloadLimiter(sleep=tap.emit.sleep)
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

    def __init__(self, tap: ZohoRun) -> None:
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
        """The module's ``/settings/fields``: data types and lookup targets for the CSV.

        The run's read (``ZohoRun.module_fields``): the schema was built from the same one, so
        a backfill after discovery in the same run costs no second call.
        """
        return self.zoho_tap.module_fields(module)

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
        sleep: Callable[[float], None] | None = None,
    ) -> JobResult:
        """Poll a job with exponential backoff until it completes, within ``max_wait``.

        Polls start :attr:`POLL_FIRST_SECONDS` after creation and double up to
        :attr:`POLL_MAX_SECONDS`: quick jobs finish quickly, long ones cost few polls.

        Args:
            job_id: The job id.
            max_wait: Seconds to wait at most (``bulk_max_wait_seconds``).
            clock: Monotonic clock (injectable).
            sleep: Sleep function (injectable); by default one that lets the other streams
                write meanwhile.

        Returns:
            The completed job's result.

        Raises:
            BulkReadError: When the job ends in FAILURE or is not done within ``max_wait``.
        """
        # backoff's wait generator gives the pauses; its decorators are not used because
        # their deadline reads the wall clock, which the tests replace.
        pauses = itertools.dropwhile(
            lambda pause: not pause,
            backoff.expo(base=2, factor=self.POLL_FIRST_SECONDS, max_value=self.POLL_MAX_SECONDS),
        )
        deadline = clock() + max_wait
        state = "ADDED"
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                msg = (
                    f"Zoho CRM's Bulk Read job {job_id} was still {state} after "
                    f"{max_wait:g} seconds (bulk_max_wait_seconds)."
                )
                raise BulkReadError(msg)
            (sleep or self.zoho_tap.emit.sleep)(min(float(next(pauses)), remaining))
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
