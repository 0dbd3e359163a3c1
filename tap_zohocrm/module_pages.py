"""A module's Get Records pages: parameters, keyset or token paging, prefetch, projection.

The REST half of a module stream, below :class:`~tap_zohocrm.streams.ZohoModuleStream`
(which plans the read: the selection, COQL or REST, Bulk Read, deletions and bookmarks).
Pages are requested with ``fields``, ``sort_by=Modified_Time`` and ``If-Modified-Since``,
checked (a broken page is retried, never taken for the end), projected onto the selected
properties and handed on; the bookmark tracker is the plan's, the pages only consult it.
"""

from __future__ import annotations

import datetime
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

from singer_sdk import singerlib as singer
from singer_sdk.helpers._util import utc_now
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_zohocrm.bookmarks import BookmarkTracker, parse_instant, to_header_value
from tap_zohocrm.client import (
    ZohoPage,
    ZohoPaginator,
    ZohoStream,
    answer_time,
    is_restart,
    page_info,
    response_payload,
)
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.schema import REPLICATION_KEY, SYSTEM_KEYS
from tap_zohocrm.wide import ChunkedReader

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Sequence

    import requests
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.streams.rest import PageContext

    from tap_zohocrm.read_plan import ReadPlan
    from tap_zohocrm.run import ZohoRun

__all__ = ["ModulePagesStream"]


class ModulePagesStream(ZohoStream):
    """Get Records pages of one module, complete and projected (see the module docstring)."""

    #: The module's API name, e.g. ``Leads``.
    module: str = ""

    def __init__(self, tap: ZohoRun, *, name: str, path: str) -> None:
        """Create the stream with no read planned yet."""
        super().__init__(tap, name=name, path=path)
        self.page_size = self.settings.page_size
        # One STATE message per full page: a killed run resumes at the page it was reading.
        self.STATE_MSG_FREQUENCY = self.page_size
        #: This run's read (fields, chunks, starting point), fixed when the read starts.
        self.plan: ReadPlan | None = None
        #: The read plan's bookmark tracker, consulted when a token chain ends.
        self._tracker: BookmarkTracker | None = None
        self._query_since: str | None = None
        self._wide: ChunkedReader | None = None
        self._current_page: ZohoPage | None = None
        #: Zoho's clock when this run's first call was answered.
        self._server_time: datetime.datetime | None = None
        self._paginator: ZohoPaginator | None = None
        #: id -> Modified_Time of the previous page's records: a keyset query reads the
        #: boundary second again, and those repeats are dropped.
        self._previous_page: dict[str, t.Any] = {}
        self._query_seen: set[tuple[str, str]] = set()

    def extra_params(self) -> dict[str, t.Any]:
        """Parameters every Get Records call of the module carries (``converted`` for Leads)."""
        return {}

    def list_params(self, fields: Sequence[str]) -> dict[str, t.Any]:
        """Parameters of a listing query with these fields (no paging parameter).

        Args:
            fields: API names for ``fields``.

        Returns:
            The query parameters.
        """
        return {
            "fields": ",".join(fields),
            "per_page": self.page_size,
            "sort_by": REPLICATION_KEY if self.replication_key else "id",
            "sort_order": "asc",
            **self.extra_params(),
        }

    def ids_params(self, fields: Sequence[str], ids: Sequence[str]) -> dict[str, t.Any]:
        """Parameters of a read of given records (``ids=``, at most 100).

        Args:
            fields: API names for ``fields``.
            ids: Record ids.

        Returns:
            The query parameters.
        """
        return {"fields": ",".join(fields), "ids": ",".join(ids), **self.extra_params()}

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: ZohoPage | None
    ) -> dict[str, t.Any]:
        assert self.plan is not None, "a read is planned before its first request"
        params = self.list_params(self.plan.request_fields)
        if next_page_token is not None and next_page_token.page_token:
            params["page_token"] = next_page_token.page_token
        return params

    @override
    def get_http_request(self, *, page: PageContext[ZohoPage]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        token = page.next_page_token
        # The page this request reads: a wide module reads the same page of its other chunks.
        self._current_page = token
        if token is not None and token.modified_since:
            request.headers["If-Modified-Since"] = to_header_value(token.modified_since)
        # Keep commas in the fields list readable (and the URL short): Zoho accepts both.
        request.safe_query_chars = ","
        return request

    def send_get(self, params: dict[str, t.Any], modified_since: str | None) -> requests.Response:
        """One Get Records call outside the stream's own paging (other chunks, ids re-reads).

        It goes through the same retries, token refresh, error sentences and API accounting
        as the stream's own calls.

        Args:
            params: Query parameters.
            modified_since: ``If-Modified-Since``, if any.

        Returns:
            The validated response.
        """
        return self.send("GET", self.path or "", params=params, modified_since=modified_since)

    @override
    def page_problem(self, response: requests.Response) -> str | None:
        problem = super().page_problem(response)
        if problem is not None:
            return problem
        key = REPLICATION_KEY if self.replication_key else None
        for record in self.raw_records(response):
            if not isinstance(record.get("id"), (str, int)) or isinstance(record.get("id"), bool):
                return "a record has no id"
            value = record.get(key) if key is not None else None
            if value is not None:
                try:
                    parse_instant(str(value))
                except (TypeError, ValueError):
                    return f"record {record.get('id')} has a {key} that is no datetime ({value!r})"
        return None

    def raw_records(self, response: requests.Response) -> list[dict[str, t.Any]]:
        """Zoho's records of a response, as sent (empty for 204, 304 and restarts)."""
        return list(ZohoStream.parse_response(self, response))

    @override
    def validate_response(self, response: requests.Response) -> None:
        if self._server_time is None:
            # When this run's first call was answered, by Zoho's clock: where a first sync's
            # deletion listing starts (deletions.py).
            self._server_time = answer_time(response)
        super().validate_response(response)

    def keyset_paging(self) -> bool:
        """Whether pages are keyset queries (sorted by ``Modified_Time``; see ZohoPaginator)."""
        return bool(self.replication_key) and self.settings.pagination != "page_token"

    @override
    def get_new_paginator(self) -> ZohoPaginator:
        paginator = ZohoPaginator(
            ZohoPage(modified_since=self._query_since),
            restart_since=self._restart_since,
            logger=self.logger,
            keyset_key=REPLICATION_KEY if self.keyset_paging() else None,
        )
        self._paginator = paginator
        return paginator

    @override
    def request_records(self, context: Context | None) -> Iterable[dict]:
        """The SDK's paging loop, with the next page requested while this one is emitted.

        Why: emitting a page of 200 records costs tens of milliseconds of CPU, and requesting
        page N+1 only after that made every page cost latency + emission. Here, as soon as
        page N's response is decoded and its ``next_page_token`` is known, the request for page
        N+1 starts on one background thread, page N's records are projected and emitted
        meanwhile, and then the prefetched response is taken: network latency overlaps record
        emission. A wide module's page is prefetched too, but only after its ``parse_response``
        has read the other chunks' pages. The deletion listing keeps the SDK's sequential loop.

        Kept exactly as in the SDK's loop (and so as a sequential run):

        - One request in flight at a time (one worker, submitted only after the previous
          response was taken), so Zoho's concurrency limit and the call count are unchanged:
          nothing is requested that the sequential loop would not request next. A page that
          needs the bookmark tracker to decide its successor (a restarted query after
          ``PAGINATION_LIMIT_EXCEEDED``/``EXPIRED_VALUE``, ``more_records`` without a token)
          or that ends the run is not prefetched: it is advanced after its records, as before.
        - The prefetch runs the same decorated request function (retries, backoff, the
          refresh-once on ``INVALID_TOKEN``, error sentences, API accounting); its exception
          is raised by ``Future.result()`` where the page is consumed, i.e. after the previous
          page's records, in order.
        - Parsing, the wide-module chunk reads (``parse_response``), sync costs and state all
          stay on this thread; the SDK writes a STATE covering page N after page N's records,
          as before.
        - The executor lives for this call only; ``finally`` cancels and joins it, so a run
          that stops early (an error, a closed generator) leaves no thread behind. It waits
          for a request already in flight (and its retries) to end: a run that fails while
          emitting page N may thus have spent the call for page N+1, the one call the
          sequential loop would not have made.

        Args:
            context: Stream partition or context dictionary.

        Yields:
            The records of every page, in order.
        """
        paginator = self.get_new_paginator()
        decorated_request = self.request_decorator(self._request)

        def fetch(prepared: requests.PreparedRequest) -> requests.Response:
            response = t.cast("requests.Response", decorated_request(prepared, context))
            # Decode the body on the worker too (cached on the response): off the critical path.
            response_payload(response)
            return response

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-prefetch")
        prefetched: tuple[requests.PreparedRequest, Future[requests.Response]] | None = None

        def prefetch(response: requests.Response) -> None:
            nonlocal prefetched
            # The next page depends on this response only (see _has_next_token).
            paginator.advance(response)
            if not paginator.finished:
                prepared = self._prepare_request(context=context, page=paginator)
                prefetched = (prepared, executor.submit(fetch, prepared))
                # Let the worker take the interpreter lock now: it sends at once, where it
                # would otherwise wait for this thread's switch interval (1-2 ms a page).
                time.sleep(0)

        pages = 0
        try:
            with self.get_http_request_counter() as request_counter:
                request_counter.with_context(context)
                while not paginator.finished:
                    if prefetched is None:
                        prepared_request = self._prepare_request(context=context, page=paginator)
                        resp = decorated_request(prepared_request, context)
                        advanced = self._prefetch_early(paginator, resp, prefetch)
                    else:
                        prepared_request, future = prefetched
                        prefetched = None
                        # The other streams write meanwhile; the next request starts before
                        # this thread waits for its turn to write again (stream-local work).
                        with self.zoho_tap.emit.waiting():
                            resp = future.result()
                            advanced = self._prefetch_early(paginator, resp, prefetch)
                    request_counter.increment()
                    self.update_sync_costs(prepared_request, resp, context)
                    records = iter(self.parse_response(resp))
                    try:
                        first_record = next(records)
                    except StopIteration:
                        if paginator.continue_if_empty(resp):
                            if not advanced:
                                paginator.advance(resp)
                            continue
                        self.log(
                            "Pagination stopped after %d pages because no records were "
                            "found in the last response",
                            pages,
                        )
                        break
                    if not advanced and self._has_next_token(paginator, resp):
                        prefetch(resp)
                        advanced = True
                    yield first_record
                    yield from records
                    pages += 1
                    if not advanced:
                        paginator.advance(resp)
        finally:
            if prefetched is not None:
                prefetched[1].cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def _prefetch_early(
        self,
        paginator: ZohoPaginator,
        response: requests.Response,
        prefetch: t.Callable[[requests.Response], None],
    ) -> bool:
        """Start the next request before this page is parsed, when that is safe.

        A narrow page's parsing makes no request, so its successor can start first. (A wide
        page's parsing reads the other chunks' pages: its successor starts after
        ``parse_response``, keeping one request in flight.)
        """
        if (
            self._wide is None
            and self._has_next_token(paginator, response)
            and self.raw_records(response)
        ):
            prefetch(response)
            return True
        return False

    @staticmethod
    def _has_next_token(paginator: ZohoPaginator, response: requests.Response) -> bool:
        """Whether the page names its successor by itself (a keyset query or a token).

        Only then can the next request be built before this page's records are emitted; a
        restart or a missing token asks the bookmark tracker, which needs those records.
        """
        if is_restart(response):
            return False
        info = page_info(response)
        if not info.get("more_records"):
            return False
        return bool(paginator.next_since(response) or info.get("next_page_token"))

    def _restart_since(self) -> str | None:
        assert self._tracker is not None
        self._tracker.new_query()
        return self._tracker.safe_value

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        raw = self.raw_records(response)
        self._check_cycle(response, raw)
        if self._wide is not None and raw:
            raw = self._wide.complete_page(raw, self._current_page)
        return self.project(self._drop_repeats(raw))

    def _check_cycle(self, response: requests.Response, raw: list[dict[str, t.Any]]) -> None:
        """Stop a ``page_token`` chain that serves only versions it served already (a cycle).

        Token strings may differ on every answer (Zoho's carry an expiry), so the pages are
        compared: within one query, a token page of nothing new can only be a loop.
        """
        versions = {(str(r.get("id")), str(r.get(REPLICATION_KEY))) for r in raw}
        request = response.request
        if request is None or "page_token=" not in (request.url or ""):
            self._query_seen = versions
            return
        if versions and versions <= self._query_seen:
            msg = (
                f"Zoho CRM's page_token for the {self.module} records led back to records it "
                "had already sent in the same query (a paging cycle), so the tap stopped "
                "instead of looping; run it again, and report this if it repeats."
            )
            raise ZohoAPIError(msg)
        self._query_seen |= versions

    def _drop_repeats(self, raw: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """Drop the records the previous page emitted with the same ``Modified_Time``."""
        previous = self._previous_page
        self._previous_page = {str(r.get("id")): r.get(REPLICATION_KEY) for r in raw}
        if not previous:
            return raw
        missing = object()
        return [r for r in raw if previous.get(str(r.get("id")), missing) != r.get(REPLICATION_KEY)]

    def project(self, raw_records: Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """Project Zoho's records onto the selected properties.

        Drops Zoho's ``$`` system keys and anything deselected, fills absent fields with null
        (complete records), one pass per record.

        Args:
            raw_records: Records as Zoho sent them (whole, for a wide module).

        Returns:
            The records to emit.
        """
        assert self.plan is not None, "a read is planned before its records are projected"
        fields, nested_off = self.plan.record_fields, self.plan.nested_off
        if SYSTEM_KEYS.keys() & set(fields):
            pairs = [(name, SYSTEM_KEYS.get(name, name)) for name in fields]
            records = [{name: raw.get(key) for name, key in pairs} for raw in raw_records]
        else:
            records = [{name: raw.get(name) for name in fields} for raw in raw_records]
        if nested_off:
            for record in records:
                for name, off in nested_off.items():
                    value = record.get(name)
                    if isinstance(value, dict):
                        record[name] = {k: v for k, v in value.items() if k not in off}
        return records

    @override
    def _generate_record_messages(
        self, record: Record
    ) -> Generator[singer.RecordMessage, None, None]:
        # The SDK's version first walks every record to pop deselected properties and to
        # conform types; parse_response has done both already (projection above; Zoho's JSON
        # types need no conversion), and that walk was the largest per-record cost left.
        # Stream maps apply as in the SDK.
        version = self._stream_version
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=version,
                    time_extracted=utc_now(),
                )
