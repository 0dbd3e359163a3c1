"""Zoho's answers as pages: the decoded body, ``info``, Zoho's clock, the next page.

The keyset paginator lives here, apart from the client that sends the calls.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import logging
import typing as t
from urllib.parse import urlsplit

import orjson
import requests
from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from tap_zohocrm.bookmarks import keyset_since, parse_instant
from tap_zohocrm.errors import ZohoAPIError

if t.TYPE_CHECKING:
    from collections.abc import Callable


#: The Zoho CRM API version of every call (``/crm/v8``).
API_VERSION = "v8"

__all__ = [
    "API_VERSION",
    "RESTART_CODES",
    "ZohoPage",
    "ZohoPaginator",
    "answer_time",
    "call_label",
    "is_restart",
    "page_info",
    "page_records",
    "response_payload",
    "retry_after_seconds",
]

#: Codes that end a ``page_token`` chain without an error in the data: continue with a new
#: query from the last complete Modified_Time (``PAGINATION_LIMIT_EXCEEDED``: the token reached
#: its 100,000-record cap; ``EXPIRED_VALUE``: the token outlived its 24 hours).
RESTART_CODES = frozenset({"PAGINATION_LIMIT_EXCEEDED", "EXPIRED_VALUE"})

_PAYLOAD = "_zoho_payload"
_RESTART = "_zoho_restart"
_KEYSET = "_zoho_keyset_since"


def response_payload(response: requests.Response) -> t.Any:
    """The decoded JSON body of a response, decoded once and cached on the response.

    The SDK hands the same response to ``parse_response`` and to the paginator; decoding a
    200-record page twice would double the tap's heaviest per-page cost. orjson decodes a page
    several times faster than the json module (floats stay floats, as in ``response.json()``).

    Args:
        response: A Zoho response.

    Returns:
        The decoded body, or ``None`` for empty (204, 304) and non-JSON bodies.
    """
    cache = response.__dict__
    if _PAYLOAD not in cache:
        payload = None
        content = response.content
        if content:
            try:
                payload = orjson.loads(content)
            except orjson.JSONDecodeError:
                payload = None
        cache[_PAYLOAD] = payload
    return cache[_PAYLOAD]


def page_info(response: requests.Response) -> dict[str, t.Any]:
    """The ``info`` object of a listing response (``more_records``, ``next_page_token``).

    Args:
        response: A Zoho response.

    Returns:
        ``info``, or an empty dict when the body has none (204, 304, errors).
    """
    payload = response_payload(response)
    info = payload.get("info") if isinstance(payload, dict) else None
    return info if isinstance(info, dict) else {}


def page_records(response: requests.Response) -> list[t.Any]:
    """The ``data`` list of a listing response (empty when there is none)."""
    payload = response_payload(response)
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, list) else []


def answer_time(response: requests.Response) -> datetime.datetime:
    """Zoho's clock when it answered (the ``Date`` header), else the local clock, in UTC.

    Both to the second, like the header: where a first sync's deletion listing starts is
    Zoho's time, not the local machine's (see :mod:`tap_zohocrm.deletions`).
    """
    value = response.headers.get("Date")
    if value:
        try:
            return email.utils.parsedate_to_datetime(value).astimezone(datetime.timezone.utc)
        except (TypeError, ValueError):
            pass
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def is_restart(response: requests.Response) -> bool:
    """Whether the response ended a page-token chain (see :data:`RESTART_CODES`)."""
    return bool(response.__dict__.get(_RESTART))


@dataclasses.dataclass(frozen=True)
class ZohoPage:
    """Where the next Get Records call starts.

    Attributes:
        modified_since: The ``If-Modified-Since`` of the current query (``None``: all history).
        page_token: ``info.next_page_token`` of the previous page; ``None`` on a query's first
            page, which carries no paging parameter at all.
        query: Number of the query within the stream run (a new query starts when a token chain
            ends).
    """

    modified_since: str | None = None
    page_token: str | None = None
    query: int = 0


class ZohoPaginator(BaseAPIPaginator[ZohoPage]):
    """Keyset paging on ``Modified_Time``, ``page_token`` within one second, restarts.

    ``page`` is never sent: it only reaches the first 2,000 records. With ``keyset_key``
    (sorted by ``Modified_Time`` ascending), every next page is a new query from the newest
    instant of the page strictly older than its last record (:func:`keyset_since`): Zoho's
    ``page_token`` may be a position in a result that shifts when records change while the
    tap pages, and a new query cannot skip a record that way. ``page_token`` is followed only
    when a whole page shares one second. A token chain also ends at Zoho's 100,000-record cap
    (400 ``PAGINATION_LIMIT_EXCEEDED``), when a token expires, or if a page says
    ``more_records`` without a token; the next query then asks for records modified after the
    last Modified_Time known to be complete, so nothing is lost (the boundary records may come
    again; the stream drops repeats).
    """

    def __init__(
        self,
        start_value: ZohoPage,
        restart_since: Callable[[], str | None],
        logger: logging.Logger,
        *,
        keyset_key: str | None = None,
    ) -> None:
        """Create the paginator.

        Args:
            start_value: The first page (its ``modified_since`` is the run's start).
            restart_since: Returns the ``If-Modified-Since`` for a new query.
            logger: Stream logger.
            keyset_key: The sort key for keyset paging (``None``: follow tokens only).
        """
        super().__init__(start_value)
        self._restart_since = restart_since
        self._logger = logger
        self._keyset_key = keyset_key
        self._tokens_seen: set[str] = set()
        self.restarts = 0
        self.keyset_queries = 0

    @override
    def has_more(self, response: requests.Response) -> bool:
        if is_restart(response):
            return True
        return bool(page_info(response).get("more_records"))

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        # A restart response carries no records but the stream is not finished; nor is a
        # page whose records were all read already (repeats of the keyset boundary second).
        return is_restart(response) or (self.has_more(response) and bool(page_records(response)))

    def next_since(self, response: requests.Response) -> str | None:
        """The keyset query's ``If-Modified-Since`` after this page, if keyset applies."""
        key = self._keyset_key
        if key is None or is_restart(response):
            return None
        cache = response.__dict__  # asked before the prefetch and again when advancing
        if _KEYSET not in cache:
            values = [r.get(key) if isinstance(r, dict) else None for r in page_records(response)]
            cache[_KEYSET] = keyset_since(
                [v if isinstance(v, str) else None for v in values],
                self.current_value.modified_since,
            )
        return t.cast("str | None", cache[_KEYSET])

    @override
    def get_next(self, response: requests.Response) -> ZohoPage | None:
        current = self.current_value
        if not is_restart(response):
            since = self.next_since(response)
            if since is not None:
                self.keyset_queries += 1
                self._tokens_seen.clear()
                return ZohoPage(modified_since=since, page_token=None, query=current.query + 1)
            token = page_info(response).get("next_page_token")
            if token:
                token = str(token)
                if token in self._tokens_seen:
                    msg = (
                        "Zoho CRM sent a next_page_token it had sent before in the same query "
                        "(a paging cycle), so the tap stopped instead of looping; run it again, "
                        "and report this if it repeats."
                    )
                    raise ZohoAPIError(msg)
                self._tokens_seen.add(token)
                return dataclasses.replace(current, page_token=token)
            self._logger.warning(
                "Zoho said more records follow but sent no next_page_token; "
                "continuing with a new query"
            )
        return self._new_query(current)

    def _new_query(self, current: ZohoPage) -> ZohoPage:
        since = self._restart_since()
        if since is None or (
            current.modified_since is not None
            and parse_instant(since) <= parse_instant(current.modified_since)
        ):
            msg = (
                "Zoho's page token chain ended but no Modified_Time is complete yet, so a new "
                f"query cannot make progress (more records than one token chain share "
                f"Modified_Time after {current.modified_since or 'the start'}); lower page_size "
                "is no help, report this case."
            )
            raise ZohoAPIError(msg)
        self.restarts += 1
        self._tokens_seen.clear()
        self._logger.info(
            "Page token chain ended; starting query %d with If-Modified-Since %s",
            current.query + 2,
            since,
        )
        return ZohoPage(modified_since=since, page_token=None, query=current.query + 1)


def retry_after_seconds(exception: BaseException | None) -> float | None:
    """Seconds a ``Retry-After`` header (seconds or an HTTP date) asks to wait, if any."""
    response = getattr(exception, "response", None)
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def call_label(response: requests.Response) -> str:
    """``GET /Leads`` or ``POST /coql``: the call a response answers, below ``/crm/v8``."""
    request = response.request
    if request is None:
        return ""
    path = urlsplit(request.url or "").path
    marker = f"/crm/{API_VERSION}"
    if path.startswith(marker):
        path = path[len(marker) :] or "/"
    return f"{request.method} {path}"
