"""Deleted records: ``GET /crm/v8/{Module}/deleted``, read incrementally by ``deleted_time``.

Deletions are emitted in the module's own stream as ``{"id", "_sdc_deleted_at"}`` records (the
Singer convention), *after* the module's records in every sync, so that a record read and then
deleted during the same sync ends deleted downstream.

The deletion bookmark lives next to the SDK's ``replication_key_value`` in the stream's
bookmark (see :data:`DELETED_BOOKMARK` and :data:`DELETED_SYNCED_AT`). Where the listing starts:

- a stored deletion bookmark: deletions after it (compared as instants by Zoho, which gets it
  as ``If-Modified-Since``);
- no deletion bookmark but a records bookmark (state written before deletions were read, or a
  run killed before its deletion pass): deletions after that records bookmark, since every
  record a target may hold was read at or before it;
- neither (a first sync, or a destination whose state was lost): the whole recycle bin. A
  destination written by an earlier run may hold records deleted since, and only this listing
  can tell it. The deletion bookmark then becomes the newest ``deleted_time`` read, or the
  moment the first Get Records call of this run was answered (Zoho's ``Date`` header, less
  one second) when that is newer. A fresh destination gets deletions of keys it never held:
  target-sqlite-audit ignores them; plain targets add a row holding only the key.

Zoho keeps recycle-bin entries 60 days (permanent deletions 120): a sync that last ran longer
ago than that may have missed deletions, and the stream says so.
"""

from __future__ import annotations

import datetime
import typing as t
from http import HTTPStatus

from singer_sdk.pagination import PageNumberPaginator
from typing_extensions import override

from tap_zohocrm.bookmarks import parse_instant, to_header_value
from tap_zohocrm.client import ZohoStream, page_info, response_payload
from tap_zohocrm.concurrency import StateStep
from tap_zohocrm.errors import ZohoAPIError, describe_zoho_error
from tap_zohocrm.schema import DELETED_AT

if t.TYPE_CHECKING:
    import logging

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_zohocrm.run import ZohoRun

__all__ = [
    "DELETED_BOOKMARK",
    "DELETED_SYNCED_AT",
    "RETENTION_DAYS",
    "DeletedRecordsReader",
    "deletion_records",
    "deletions_start",
    "newest_deletion",
    "warn_if_retention_passed",
]

#: State key: the newest ``deleted_time`` read, as Zoho rendered it.
DELETED_BOOKMARK = "deleted_time"
#: State key: when the deletion pass last completed (UTC, Zoho's clock where known).
DELETED_SYNCED_AT = "deleted_synced_at"
#: Days Zoho keeps recycle-bin entries.
RETENTION_DAYS = 60

_PAGE_LIMIT_CODE = "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
#: Pages of deletions read at most in one pass (2,000,000 entries at 200 a page).
MAX_DELETED_PAGES = 10_000
_UTC = datetime.timezone.utc


class _DeletedPaginator(PageNumberPaginator):
    """``page`` = 1, 2, ... while ``info.more_records`` says so (the endpoint has no tokens).

    A listing that says "more" forever (the same page again and again) is stopped with one
    sentence instead of looping.
    """

    _previous: tuple[str, ...] | None = None

    @override
    def has_more(self, response: requests.Response) -> bool:
        if not page_info(response).get("more_records"):
            return False
        payload = response_payload(response)
        data = payload.get("data") if isinstance(payload, dict) else None
        ids = tuple(str(e.get("id")) for e in data or [] if isinstance(e, dict))
        if ids == self._previous or (self.current_value or 0) >= MAX_DELETED_PAGES:
            msg = (
                "Zoho CRM kept saying more deleted records follow but sent the same page again "
                f"(page {self.current_value}), so the tap stopped instead of looping; run it "
                "again, and report this if it repeats."
            )
            raise ZohoAPIError(msg)
        self._previous = ids
        return True


class DeletedRecordsReader(ZohoStream):
    """Reads the deleted-record entries of one module; used by its stream, never synced itself.

    Args:
        tap: The tap.
        module: Module API name.
    """

    records_key = "data"

    def __init__(self, tap: ZohoRun, module: str) -> None:
        """Create the reader (see the class docstring)."""
        super().__init__(
            tap,
            schema={"type": "object", "properties": {}},
            name=f"_zoho_deleted_{module}",
            path=f"/{module}/deleted",
        )
        self.module = module
        self.what = f"the deleted {module} records"
        self.required_scope = f"ZohoCRM.modules.READ (or ZohoCRM.modules.{module}.READ)"
        self.modified_since: str | None = None
        #: Whether Zoho refused a page past its ``page`` limit (the listing is then partial).
        self.page_limit_hit = False

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return {"type": "all", "per_page": 200, "page": next_page_token or 1}

    @override
    def get_http_request(self, *, page: PageContext[t.Any]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        if self.modified_since:
            request.headers["If-Modified-Since"] = to_header_value(self.modified_since)
        return request

    @override
    def get_new_paginator(self) -> PageNumberPaginator:
        return _DeletedPaginator(1)

    @override
    def validate_response(self, response: requests.Response) -> None:
        # The listing pages with `page`, which Zoho may cap (2,000 entries for Get Records):
        # keep what was read rather than fail the sync; the caller warns.
        if response.status_code == HTTPStatus.BAD_REQUEST:
            code, _, _ = describe_zoho_error(response_payload(response))
            if code == _PAGE_LIMIT_CODE:
                self.api_calls += 1
                self.page_limit_hit = True
                return
        super().validate_response(response)

    @override
    def page_problem(self, response: requests.Response) -> str | None:
        problem = super().page_problem(response)
        if problem is not None:
            return problem
        payload = response_payload(response)
        for entry in payload.get(self.records_key, []):
            value = entry.get("deleted_time")
            if value is None:
                continue
            try:
                parse_instant(str(value))
            except (TypeError, ValueError):
                return f"deletion {entry.get('id')} has a deleted_time that is no datetime"
        return None

    def read(self, modified_since: str | None) -> list[dict[str, t.Any]]:
        """Every deletion entry after ``modified_since`` (all of them without it).

        Args:
            modified_since: Instant to send as ``If-Modified-Since``.

        Returns:
            Zoho's entries (``id``, ``deleted_time``, ``type``, ...), in Zoho's order.
        """
        self.modified_since = modified_since
        self.page_limit_hit = False
        return [entry for entry in self.request_records(None) if entry.get("id") is not None]


def deletions_start(
    state: t.Mapping[str, t.Any],
    *,
    records_bookmark: str | None,
    run_started: datetime.datetime,
) -> str:
    """The ``If-Modified-Since`` of this run's deletion listing (see the module docstring).

    Args:
        state: The stream's bookmark.
        records_bookmark: The stored ``replication_key_value`` the run started from (not the
            ``start_date``), if any.
        run_started: When Zoho answered the run's first Get Records call.

    Returns:
        An ISO-8601 instant.
    """
    stored = state.get(DELETED_BOOKMARK)
    if isinstance(stored, str) and stored:
        return stored
    if records_bookmark:
        return records_bookmark
    started = run_started.astimezone(_UTC).replace(microsecond=0)
    return (started - datetime.timedelta(seconds=1)).isoformat()


def newest_deletion(entries: t.Iterable[t.Mapping[str, t.Any]], since: str) -> str:
    """The newest ``deleted_time`` of the entries, compared as instants, else ``since``."""
    newest, newest_at = since, parse_instant(since)
    for entry in entries:
        value = entry.get("deleted_time")
        if isinstance(value, str) and value:
            instant = parse_instant(value)
            if instant > newest_at:
                newest, newest_at = value, instant
    return newest


def warn_if_retention_passed(
    state: t.Mapping[str, t.Any],
    *,
    now: datetime.datetime,
    stream_name: str,
    logger: logging.Logger,
) -> bool:
    """Warn (one line) when the last deletion pass is older than Zoho's recycle-bin retention.

    Args:
        state: The stream's bookmark.
        now: The current time.
        stream_name: For the message.
        logger: Where to warn.

    Returns:
        Whether it warned.
    """
    last = state.get(DELETED_SYNCED_AT) or state.get(DELETED_BOOKMARK)
    if not isinstance(last, str) or not last:
        return False
    try:
        last_at = parse_instant(last)
    except ValueError:
        return False
    age = now - last_at
    if age <= datetime.timedelta(days=RETENTION_DAYS):
        return False
    logger.warning(
        "Stream %s last read deletions %d days ago (%s), longer than Zoho's %d-day recycle-bin "
        "retention: records deleted and purged in between cannot be read from Zoho any more and "
        "stay live downstream; to reconcile, rebuild the destination table from a full sync "
        "(clear the stream's state and drop its table), and sync more often than every %d days.",
        stream_name,
        age.days,
        last,
        RETENTION_DAYS,
        RETENTION_DAYS,
    )
    return True


def deletion_records(
    reader: DeletedRecordsReader,
    state: dict[str, t.Any],
    stored: str | None,
    *,
    first_sync: bool,
    run_started: datetime.datetime,
    fields: t.Sequence[str],
    logger: logging.Logger,
) -> t.Iterator[t.Any]:
    """The deletions since the last sync, oldest first, as ``_sdc_deleted_at`` records.

    Every selected property is present (``null``), like every record of the stream, so that
    stream maps written for the stream's records (``md5(Email) if Email else None``) work on
    deletions too; the audit target keeps the last known values. The deletions bookmark is a
    :class:`~tap_zohocrm.concurrency.StateStep` after the last one: the reader never writes
    the state.

    A run without bookmarks (a first sync, or lost state) reads the whole recycle bin: the
    destination may hold records deleted since it was last written, and nothing else would
    ever report them. A fresh destination just ignores deletions of keys it never held
    (target-sqlite-audit does; plain targets add a row holding only the key and
    ``_sdc_deleted_at``).
    """
    since = deletions_start(state, records_bookmark=stored, run_started=run_started)
    entries = reader.read(None if first_sync else since)
    if reader.page_limit_hit:
        logger.warning(
            "Zoho stopped listing the deleted %s records at its page limit; %d deletions "
            "were read, older ones since %s are missing",
            reader.module,
            len(entries),
            since,
        )
    entries.sort(key=lambda entry: parse_instant(str(entry.get("deleted_time") or since)))
    template = dict.fromkeys(fields)
    for entry in entries:
        record = dict(template)
        record["id"] = str(entry["id"])
        record[DELETED_AT] = entry.get("deleted_time")
        yield record
    newest = newest_deletion(entries, since)
    synced = run_started.replace(microsecond=0)

    def deletions_complete() -> None:
        state[DELETED_BOOKMARK] = newest
        state[DELETED_SYNCED_AT] = synced.isoformat()

    yield StateStep(deletions_complete)
