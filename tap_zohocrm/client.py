"""REST client base for Zoho CRM: URLs, auth, paging, error mapping, retries, API economy."""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import logging
import random
import typing as t
from functools import cached_property
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson
import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_zohocrm.auth import ZohoOAuthAuthenticator, backoff_scale
from tap_zohocrm.bookmarks import keyset_since, parse_instant, to_header_value
from tap_zohocrm.credits import CreditBudgetReached, request_cost
from tap_zohocrm.errors import ZohoAPIError, ZohoError, ZohoScopeError, describe_zoho_error
from tap_zohocrm.hosts import without_credentials
from tap_zohocrm.transport import bounded_session

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from backoff.types import Details
    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_zohocrm.tap import TapZohoCRM

__all__ = [
    "API_VERSION",
    "SettingsReader",
    "ZohoPage",
    "ZohoPaginator",
    "ZohoStream",
    "answer_time",
    "page_info",
    "page_records",
]

API_VERSION = "v8"

#: Codes that end a ``page_token`` chain without an error in the data: continue with a new
#: query from the last complete Modified_Time (``PAGINATION_LIMIT_EXCEEDED``: the token reached
#: its 100,000-record cap; ``EXPIRED_VALUE``: the token outlived its 24 hours).
RESTART_CODES = frozenset({"PAGINATION_LIMIT_EXCEEDED", "EXPIRED_VALUE"})
#: 401 codes that mean "this access token is no good": refresh once and retry.
TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})

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


class _TokenRejected(RetriableAPIError):
    """401 INVALID_TOKEN: the token was dropped; retry at once with a fresh one."""


class ZohoStream(RESTStream[ZohoPage]):
    """Base of every Zoho CRM stream.

    Subclasses set :attr:`path` and :attr:`required_scope` and implement ``get_url_params``.
    """

    #: Records are built from Zoho's JSON (strings, numbers, booleans, lists, objects) and
    #: projected onto the selected properties in parse_response, so they already conform; the
    #: SDK's recursive conformance pass was the largest per-record cost of a sync.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    #: Zoho answers 429 for spent credits and for the concurrency limit: both may pass.
    extra_retry_statuses: t.Sequence[int] = [HTTPStatus.TOO_MANY_REQUESTS]
    #: The scope an ``OAUTH_SCOPE_MISMATCH`` on this endpoint is about.
    required_scope: str = "ZohoCRM.modules.READ"
    #: What the endpoint reads, for error sentences ("the Leads records").
    what: str = "the request"

    #: Retry budget: attempts per request for 429, 5xx, timeouts and connection errors.
    MAX_TRIES: t.ClassVar[int] = 8
    #: First backoff wait in seconds; doubles per retry up to :attr:`MAX_WAIT`.
    BACKOFF_FACTOR: t.ClassVar[float] = 1.0
    #: Upper bound of one backoff wait (also caps a ``Retry-After``), in seconds.
    MAX_WAIT: t.ClassVar[float] = 120.0

    def __init__(self, tap: TapZohoCRM, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the stream.

        Args:
            tap: The tap.
            *args: Passed to :class:`RESTStream`.
            **kwargs: Passed to :class:`RESTStream`.
        """
        super().__init__(tap, *args, **kwargs)
        self.zoho_tap = tap
        self._token_retry_pending = False
        self._last_retry_reason = ""
        #: API calls answered by Zoho (any status) and credits spent (1 per successful call).
        self.api_calls = 0
        self.api_credits = 0
        self.credits_remaining: str | None = None
        #: "POST /coql" etc. of the last answered call, for error sentences.
        self._last_call = ""

    # -- request construction --------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        return f"{self.zoho_tap.api_domain}/crm/{API_VERSION}"

    @override
    def get_url(self, context: Context | None) -> str:
        # The SDK's version copies the whole config per call to fill {placeholders}; our
        # paths have none.
        return self.url_base + (self.path or "")

    @property
    @override
    def requests_session(self) -> requests.Session:
        # Bounded bodies and a total deadline per request (transport.py). The SDK makes a
        # plain session in __init__; it is replaced on first use.
        if not getattr(self, "_bounded", False):
            self._requests_session = bounded_session(self.zoho_tap.request_gate)
            self._bounded = True
        return t.cast("requests.Session", self._requests_session)

    @property
    @override
    def authenticator(self) -> ZohoOAuthAuthenticator:
        # One authenticator per tap run: every stream shares the token (one refresh per run).
        return self.zoho_tap.authenticator

    @property
    @override
    def http_headers(self) -> dict:
        return {"Accept": "application/json"}

    @cached_property
    @override
    def user_agent(self) -> str:
        return str(self.config.get("user_agent") or self.zoho_tap.default_user_agent)

    @property
    @override
    def timeout(self) -> int:
        return int(self.config.get("request_timeout") or 300)

    # -- responses ---------------------------------------------------------------------

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Count the call and map Zoho's answer to retry, restart, or a one-sentence error.

        Raises:
            RetriableAPIError: For 429, 5xx and a first ``INVALID_TOKEN``.
            ZohoAPIError: For everything Zoho will keep refusing, with its code and message.
        """
        self.api_calls += 1
        remaining = response.headers.get("X-API-CREDITS-REMAINING")
        if remaining is not None:
            self.credits_remaining = remaining
            self.zoho_tap.credits_remaining = remaining
        status = response.status_code
        self._last_call = _call_label(response)
        if status < HTTPStatus.BAD_REQUEST:
            # Answered calls (200, 204 and 304 alike) cost what Zoho's credit table says;
            # refused calls are counted as calls but not as credits.
            cost = request_cost(response.request)
            self.api_credits += cost
            self.zoho_tap.meter.charge(cost)
            self.authenticator.accepted_any = True
            self._token_retry_pending = False
            problem = self.page_problem(response) if status == HTTPStatus.OK else None
            if problem is not None:
                # Never "no more records": a broken answer retried, then one sentence, and
                # the bookmark stays where the last complete page left it.
                self._last_retry_reason = (
                    f"Zoho CRM answered {self.http_method} {self.path} ({self.what}) with HTTP "
                    f"200 but {problem}"
                )
                raise RetriableAPIError(self._last_retry_reason, response)
            return

        body = response_payload(response)
        code, message, details = describe_zoho_error(body)
        if (
            status == HTTPStatus.TOO_MANY_REQUESTS
            and remaining is not None
            and remaining.strip() == "0"
        ):
            # The org's 24-hour credits are spent: retrying only waits. Stop cleanly.
            reason = (
                f"Zoho CRM answered {self._last_call} with HTTP 429 {code or ''} and "
                "X-API-CREDITS-REMAINING: 0 (the org's 24-hour API credits are spent)"
            )
            self.zoho_tap.meter.stop(reason)
            raise CreditBudgetReached(reason)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            self._last_retry_reason = self._error_sentence(status, code, message, "")
            raise RetriableAPIError(self._last_retry_reason, response)

        if status == HTTPStatus.BAD_REQUEST and code in RESTART_CODES:
            response.__dict__[_RESTART] = code
            self.log("Zoho ended the page token chain (%s: %s)", code, message)
            return

        if status == HTTPStatus.UNAUTHORIZED and code in TOKEN_CODES:
            if self._token_retry_pending and self.authenticator.accepted_any:
                # Zoho took this run's tokens before (so the data centre is right): another
                # stream's calls used up the fresh one. Refresh again.
                self._token_retry_pending = False
            if not self._token_retry_pending:
                self._token_retry_pending = True
                self.authenticator.invalidate(self.authenticator.token_of(response.request))  # type: ignore[arg-type]
                raise _TokenRejected(
                    f"Zoho rejected the access token ({code}); refreshing it", response
                )
            self._token_retry_pending = False
            msg = (
                f"Zoho CRM at {without_credentials(self.zoho_tap.api_domain)} rejected a freshly "
                "issued access token "
                f"({code}: {message}); the API domain probably belongs to another data centre "
                f"than the token (data_center is '{self.config.get('data_center', 'us')}'), so "
                "check data_center, environment and api_domain."
            )
            raise ZohoAPIError(msg, status=status, code=code, zoho_message=message)

        if code == "OAUTH_SCOPE_MISMATCH":
            # Zoho's body does not always name the scope; the endpoint tells which one it is.
            named = body.get("details", {}).get("scope") if isinstance(body, dict) else None
            scope = str(named) if named and isinstance(named, str) else self.required_scope
            msg = (
                f"Zoho CRM refused {self.what} because the refresh token lacks the {scope} "
                f"scope (OAUTH_SCOPE_MISMATCH: {message}); generate a new refresh token from a "
                "Self Client grant code that includes it."
            )
            raise ZohoScopeError(msg, scope=scope, status=status)

        raise ZohoAPIError(
            self._error_sentence(status, code, message, details),
            status=status,
            code=code,
            zoho_message=message,
        )

    def _error_sentence(
        self, status: int, code: str | None, message: str | None, details: str
    ) -> str:
        where = self._last_call or f"{self.http_method} {self.path}"
        if self.what != ZohoStream.what:  # name the module, not only the path
            where += f" ({self.what})"
        if not (code or message):
            return f"Zoho CRM answered {where} with HTTP {status} and no Zoho error body."
        label = f"HTTP {status} {code}" if code else f"HTTP {status}"
        return f"Zoho CRM answered {where} with {label}: {message or 'no message'}{details}."

    #: Whether the endpoint pages (its answers carry ``info.more_records``).
    paged: bool = True

    def page_problem(self, response: requests.Response) -> str | None:
        """Why an HTTP 200 answer is not a usable page of this endpoint (``None``: it is).

        Args:
            response: A 200 response.

        Returns:
            A sentence fragment, e.g. "the body is not JSON (text/html)".
        """
        payload = response_payload(response)
        if not isinstance(payload, dict):
            kind = response.headers.get("Content-Type") or "no content type"
            return f"the body is not Zoho's JSON ({kind}; an HTML page or a cut-off answer)"
        if payload.get("status") == "error":
            code, message, _ = describe_zoho_error(payload)
            return f"the body is a Zoho error ({code}: {message})"
        data = payload.get(self.records_key)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            return f"the body has no '{self.records_key}' list of objects"
        if self.paged:
            info = payload.get("info")
            if not isinstance(info, dict):
                return "the body has no 'info' object"
            if info.get("more_records") and not data:
                return "it says more records follow and sends none"
        return None

    @override
    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's message appends the raw body and header names; ours is one sentence.
        code, message, details = describe_zoho_error(response_payload(response))
        return self._error_sentence(response.status_code, code, message, details)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        payload = response_payload(response)
        if not isinstance(payload, dict):
            return []
        data = payload.get(self.records_key)
        return data if isinstance(data, list) else []

    #: Key of the record list in the response body.
    records_key: str = "data"

    # -- retries -----------------------------------------------------------------------

    @override
    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        """Exponential backoff with jitter that honours ``Retry-After``.

        The backoff library sends the exception of the failed attempt into the generator, so
        each wait can look at the response: a ``Retry-After`` (seconds) sets the wait (capped
        by :attr:`MAX_WAIT`); a rejected token is retried at once. Otherwise the wait doubles
        from :attr:`BACKOFF_FACTOR` with "equal jitter" (half fixed, half random), so a crowd
        of clients spreads out but each still backs off.
        """
        exception = yield 0.0  # primed by the backoff library
        retry = 0
        scale = backoff_scale()  # 1.0 except in tests (TAP_ZOHOCRM_BACKOFF_SCALE)
        while True:
            if isinstance(exception, _TokenRejected):
                wait = 0.0
            else:
                base = min(self.MAX_WAIT, self.BACKOFF_FACTOR * 2.0**retry)
                retry += 1
                wait = base / 2 + random.uniform(0, base / 2)
                retry_after = _retry_after_seconds(exception)
                if retry_after is not None:
                    wait = min(self.MAX_WAIT, retry_after) + random.uniform(0, 0.1)
            exception = yield wait * scale

    @override
    def backoff_max_tries(self) -> int:
        return self.MAX_TRIES

    @override
    def backoff_jitter(self, value: float) -> float:
        # Jitter is applied inside backoff_wait_generator, where it can tell a Retry-After
        # (which must not be shortened) from an exponential step.
        return value

    @override
    def backoff_handler(self, details: Details) -> None:
        exc = details.get("exception")
        if isinstance(exc, _TokenRejected):
            self.log("Access token rejected by Zoho; retrying with a fresh one")
            return
        response = getattr(exc, "response", None)
        call = _call_label(response) if response is not None else ""
        self.log(
            "Retrying %s in %.2f s after attempt %d: %s",
            call or f"{self.http_method} {self.path}",
            details.get("wait") or 0.0,
            details.get("tries") or 0,
            _short_reason(exc),
            level=logging.WARNING,
        )

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Retry with the SDK's backoff decorator, then turn a final failure into a sentence."""
        decorated = super().request_decorator(func)

        def request(prepared_request: requests.PreparedRequest, context: Context | None) -> t.Any:
            self.zoho_tap.meter.reserve(
                request_cost(prepared_request), f"the next call ({self.what})"
            )
            try:
                return decorated(prepared_request, context)
            except ZohoError:
                raise
            except RetriableAPIError as ex:
                status = ex.response.status_code if ex.response is not None else None
                hint = (
                    "; the org's daily API credits may be spent or too many clients call at "
                    "once, so run the tap again later"
                    if status == HTTPStatus.TOO_MANY_REQUESTS
                    else ""
                )
                reason = (self._last_retry_reason or "Zoho CRM kept failing").rstrip(".")
                msg = f"{reason} (still failing after {self.MAX_TRIES} attempts){hint}."
                raise ZohoAPIError(msg, status=status) from None
            except (requests.ConnectionError, requests.Timeout) as ex:
                msg = (
                    f"Could not reach Zoho CRM at "
                    f"{without_credentials(self.zoho_tap.api_domain)} for "
                    f"{self.http_method} {self.path} after {self.MAX_TRIES} attempts "
                    f"({type(ex).__name__}); check the network and request_timeout."
                )
                raise ZohoAPIError(msg) from None

        return t.cast("RequestFunc", request)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, t.Any] | None = None,
        body: dict[str, t.Any] | None = None,
        modified_since: str | None = None,
    ) -> requests.Response:
        """One call outside the SDK's paging loop (the one way every other call is sent).

        Same retries, token refresh, error sentences, credit meter and request gate as the
        stream's own calls.

        Args:
            method: ``GET`` or ``POST``.
            path: Below ``/crm/v8`` (``/Leads``, ``/coql``).
            params: Query parameters (commas kept readable).
            body: A JSON body.
            modified_since: ``If-Modified-Since``, if any.

        Returns:
            The validated response.
        """
        headers = dict(self.http_headers)
        if modified_since:
            headers["If-Modified-Since"] = to_header_value(modified_since)
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(
            url=self.url_base + path, headers=headers, params=params or {}, safe_query_chars=","
        )
        prepared = self.build_prepared_request(
            method=method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            json=body,
        )
        sender = self.__dict__.get("_sender")
        if sender is None:
            sender = self.__dict__["_sender"] = self.request_decorator(self._request)
        return t.cast("requests.Response", sender(prepared, None))

    def send_coql(self, query: str) -> requests.Response:
        """One ``POST /coql``."""
        return self.send("POST", "/coql", body={"select_query": query})

    # -- API economy ---------------------------------------------------------------------

    def within_budget(
        self, records: Iterable[dict[str, t.Any]], context: Context | None
    ) -> t.Iterator[dict[str, t.Any]]:
        """The records until the run's credits stop it; then the stream ends at its checkpoint.

        A stop raised by the meter (``max_credits_per_run``) or by Zoho's spent daily budget
        ends the stream as if it were complete, but with only what the checkpoints say: the
        bookmark code after the failed call never runs, and unsorted progress is discarded
        instead of being promoted to the bookmark. The run goes on to end every other stream
        the same way and exits 0; the next run resumes from the checkpoints.
        """
        meter = self.zoho_tap.meter
        if meter.stopped:
            self.zoho_tap.reads.shutdown()
            self.logger.info("Stream %s not read: the run stopped spending credits", self.name)
            return
        try:
            yield from records
        except CreditBudgetReached:
            self.zoho_tap.reads.shutdown()
            self.get_context_state(context).pop("progress_markers", None)
            names = list(self.zoho_tap.streams)
            later = [
                name
                for name in names[names.index(self.name) + 1 :]
                if self.zoho_tap.streams[name].selected
            ]
            left = (
                f"; Zoho reports {self.zoho_tap.credits_remaining} credits left in its 24-hour "
                "budget"
                if self.zoho_tap.credits_remaining is not None
                else ""
            )
            self.logger.warning(
                "Stopped early: %s. Left unread from their last checkpoints: %s (partly read)%s"
                "; the run exits 0 and the next run resumes exactly there%s.",
                meter.stop_reason,
                self.name,
                f", {', '.join(later)}" if later else "",
                left,
            )

    def credits_left(self) -> str:
        """Zoho's ``X-API-CREDITS-REMAINING`` (sent once half the budget is used), if seen."""
        if self.credits_remaining is None:
            return ""
        return f"; {self.credits_remaining} credits left in Zoho's 24-hour budget"


class SettingsReader(ZohoStream):
    """A one-call ``/settings/...`` endpoint the tap reads for itself; never synced.

    Subclasses set ``name``, ``path``, ``required_scope`` and ``records_key``, and override
    ``get_url_params`` when the endpoint takes parameters.
    """

    paged = False

    def __init__(self, tap: TapZohoCRM) -> None:
        """Create the reader.

        Args:
            tap: The tap.
        """
        super().__init__(tap, schema={"type": "object", "properties": {}})

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return {}

    @override
    def get_new_paginator(self) -> SinglePagePaginator:
        return SinglePagePaginator()


def _retry_after_seconds(exception: BaseException | None) -> float | None:
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


def _call_label(response: requests.Response) -> str:
    """``GET /Leads`` or ``POST /coql``: the call a response answers, below ``/crm/v8``."""
    request = response.request
    if request is None:
        return ""
    path = urlsplit(request.url or "").path
    marker = f"/crm/{API_VERSION}"
    if path.startswith(marker):
        path = path[len(marker) :] or "/"
    return f"{request.method} {path}"


def _short_reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no exception"
    if isinstance(exc, RetriableAPIError) and exc.args:
        return str(exc.args[0])
    return type(exc).__name__
