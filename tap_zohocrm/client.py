"""REST client base for Zoho CRM: URLs, auth, paging, error mapping, retries, API economy.

The retry policy (waits and sentences) is ``retries.py``; paging helpers are ``paging.py``.
"""

from __future__ import annotations

import functools
import logging
import typing as t
from functools import cached_property
from http import HTTPStatus

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_zohocrm.auth import ZohoOAuthAuthenticator
from tap_zohocrm.bookmarks import to_header_value
from tap_zohocrm.credits import CreditBudgetReached, remaining_clause, request_cost, stop_sentence
from tap_zohocrm.errors import ZohoAPIError, ZohoError, ZohoScopeError, describe_zoho_error
from tap_zohocrm.hosts import without_credentials
from tap_zohocrm.paging import (
    _RESTART,
    API_VERSION,
    RESTART_CODES,
    ZohoPage,
    ZohoPaginator,
    answer_time,
    call_label,
    is_restart,
    page_info,
    page_records,
    response_payload,
)
from tap_zohocrm.retries import TokenRejected, gave_up_sentence, retry_waits, short_reason
from tap_zohocrm.transport import bounded_session

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from backoff.types import Details
    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_zohocrm.run import ZohoRun

__all__ = [
    "API_VERSION",
    "RESTART_CODES",
    "ZohoPage",
    "ZohoPaginator",
    "ZohoStream",
    "answer_time",
    "is_restart",
    "page_info",
    "page_records",
    "response_payload",
]


#: 401 codes that mean "this access token is no good": refresh once and retry.
TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})


class ZohoStream(RESTStream[ZohoPage]):
    """Base of every Zoho CRM stream.

    Subclasses set :attr:`path` and :attr:`required_scope` and implement ``get_url_params``.
    """

    #: Records are Zoho's JSON projected onto the selected properties in parse_response: they
    #: already conform, so the SDK's conformance pass is skipped.
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

    def __init__(self, tap: ZohoRun, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the stream of a run (the other arguments go to :class:`RESTStream`)."""
        super().__init__(tap, *args, **kwargs)
        self.zoho_tap = tap
        #: The run's settings (frozen, defaults applied): read these, not ``config``.
        self.settings = tap.settings
        self._token_retry_pending = False
        self._last_retry_reason = ""
        #: API calls answered by Zoho (any status) and credits spent (1 per successful call).
        self.api_calls = 0
        self.api_credits = 0
        self.credits_remaining: str | None = None
        #: "POST /coql" etc. of the last answered call, for error sentences.
        self._last_call = ""

    @override  # type: ignore[misc]
    def sync(self, context: Context | None = None) -> None:
        """singer-sdk's sync (final: sdk_private.py), on the thread concurrency.py picks."""
        tap = self.zoho_tap
        if context is not None:
            tap.emit.hold()
            super().sync(context)
            return
        tap.syncs.sync(self.name, functools.partial(super().sync, None), tap.concurrent_streams)

    @override
    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        super().finalize_state_progress_markers(state)
        self.zoho_tap.end_of_stream()

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
        return self.settings.user_agent or self.zoho_tap.default_user_agent

    @property
    @override
    def timeout(self) -> int:
        return self.settings.request_timeout

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
        self._last_call = call_label(response)
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
                raise TokenRejected(
                    f"Zoho rejected the access token ({code}); refreshing it", response
                )
            self._token_retry_pending = False
            msg = (
                f"Zoho CRM at {without_credentials(self.zoho_tap.api_domain)} rejected a freshly "
                "issued access token "
                f"({code}: {message}); the API domain probably belongs to another data centre "
                f"than the token (data_center is '{self.settings.data_center}'), so "
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
        return retry_waits(self.BACKOFF_FACTOR, self.MAX_WAIT)

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
        if isinstance(exc, TokenRejected):
            self.log("Access token rejected by Zoho; retrying with a fresh one")
            return
        response = getattr(exc, "response", None)
        call = call_label(response) if response is not None else ""
        self.log(
            "Retrying %s in %.2f s after attempt %d: %s",
            call or f"{self.http_method} {self.path}",
            details.get("wait") or 0.0,
            details.get("tries") or 0,
            short_reason(exc),
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
                with self.zoho_tap.emit.waiting():  # the other streams write meanwhile
                    return decorated(prepared_request, context)
            except ZohoError:
                raise
            except RetriableAPIError as ex:
                status = ex.response.status_code if ex.response is not None else None
                reason = self._last_retry_reason or "Zoho CRM kept failing"
                msg = gave_up_sentence(reason, status, self.MAX_TRIES)
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
            self.logger.info("Stream %s not read: the run stopped spending credits", self.name)
            return
        try:
            yield from records
        except CreditBudgetReached:
            self.get_context_state(context).pop("progress_markers", None)
            if meter.announced:  # a stream syncing beside it said it first
                self.logger.info("Stream %s stopped at its last checkpoint", self.name)
                return
            meter.announced = True
            names = [name for name, stream in self.zoho_tap.streams.items() if stream.selected]
            later = names[names.index(self.name) + 1 :] if self.name in names else []
            self.logger.warning(
                stop_sentence(meter, [self.name, *later], self.zoho_tap.credits_remaining)
            )

    def credits_left(self) -> str:
        """Zoho's ``X-API-CREDITS-REMAINING`` (sent once half the budget is used), if seen."""
        return remaining_clause(self.credits_remaining)
