"""Zoho OAuth 2.0 refresh-token authenticator.

Zoho deviates from the OAuth defaults the SDK's :class:`OAuthAuthenticator` assumes, so the
token refresh is overridden here rather than configured:

- API calls carry ``Authorization: Zoho-oauthtoken <token>``, not ``Bearer``.
- A failed refresh usually comes back as **HTTP 200** with ``{"error": "invalid_client"}``
  (wrong data centre) or ``{"error": "invalid_code"}`` (refresh token wrong or revoked), which
  ``raise_for_status`` would accept as success.
- Refreshing too often gives HTTP 400 ``{"error": "Access Denied"}``: a throttle to wait out,
  not a credential problem.
- Older accounts servers send ``expires_in_sec`` (and then ``expires_in`` in milliseconds).
- The token response's ``api_domain`` names the org's API host and wins over any table.

Secrets (client secret, refresh token, access token) travel only in the POST form body and the
``Authorization`` header and never appear in a log line or an error message.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import typing as t

import requests
from singer_sdk.authenticators import OAuthAuthenticator
from typing_extensions import override

from tap_zohocrm import early_token, hosts
from tap_zohocrm.early_token import refresh_grant, token_headers
from tap_zohocrm.errors import ZohoAuthError

__all__ = ["BACKOFF_SCALE_ENV", "ZohoOAuthAuthenticator", "backoff_scale"]

AUTH_SCHEME = "Zoho-oauthtoken"

#: Access tokens live one hour; this is only used when the response names no lifetime.
DEFAULT_TOKEN_LIFETIME = 3600

#: Test-only environment variable: a factor applied to every retry wait (API calls and token
#: refreshes), so that fault-injection tests of the real command run in seconds. Unset, empty,
#: negative or not a number means 1 (the documented waits).
BACKOFF_SCALE_ENV = "TAP_ZOHOCRM_BACKOFF_SCALE"


def backoff_scale() -> float:
    """The factor from :data:`BACKOFF_SCALE_ENV` applied to retry waits (1.0 unless set)."""
    raw = os.environ.get(BACKOFF_SCALE_ENV, "").strip()
    try:
        scale = float(raw) if raw else 1.0
    except ValueError:
        return 1.0
    return scale if scale >= 0 else 1.0


class ZohoOAuthAuthenticator(OAuthAuthenticator):
    """Refresh-token grant against the data centre's accounts server.

    One instance is shared by every stream of a tap run, so a whole sync costs one token
    request (plus one per expiry).
    """

    #: Refresh this many seconds before the token expires (at most 10% of its lifetime), so
    #: that a request never leaves with a token about to lapse.
    REFRESH_MARGIN_SECONDS: t.ClassVar[float] = 300.0
    #: Attempts for one refresh when the accounts server throttles (``Access Denied``), fails
    #: with a 5xx or cannot be reached.
    MAX_REFRESH_TRIES: t.ClassVar[int] = 5
    #: First wait of the exponential backoff between refresh attempts, in seconds.
    REFRESH_BACKOFF_SECONDS: t.ClassVar[float] = 2.0
    #: Upper bound of one wait between refresh attempts, in seconds.
    REFRESH_BACKOFF_MAX_SECONDS: t.ClassVar[float] = 60.0

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str | None,
        data_center: str | None = None,
        environment: str | None = None,
        accounts_url: str | None = None,
        api_domain: str | None = None,
        timeout: float = 60,
        user_agent: str | None = None,
        logger: logging.Logger | None = None,
        auth_method: str = "refresh_token",
        soid: str | None = None,
        scopes: str | None = None,
    ) -> None:
        """Create the authenticator.

        Args:
            client_id: OAuth client id.
            client_secret: OAuth client secret.
            refresh_token: Long-lived refresh token.
            data_center: The ``data_center`` setting (``us`` by default).
            environment: The ``environment`` setting (``production`` by default).
            accounts_url: Overrides the data centre's accounts server.
            api_domain: Overrides the API domain the token response names.
            timeout: Seconds before a token request is abandoned.
            user_agent: User-Agent header of token requests.
            logger: Logger for refresh events (never given a secret).
            auth_method: ``refresh_token`` or ``client_credentials`` (Self Client login with
                ``soid`` and ``scopes``; no refresh token).
            soid: ``ZohoCRM.<org id>``, for client_credentials.
            scopes: Comma-separated scopes, for client_credentials.
        """
        self.data_center = (data_center or hosts.DEFAULT_DATA_CENTER).lower()
        self.environment = (environment or hosts.DEFAULT_ENVIRONMENT).lower()
        self.accounts_url = hosts.accounts_url_for(self.data_center, accounts_url)
        self.accounts_url_overridden = bool(accounts_url)
        super().__init__(
            auth_endpoint=self.accounts_url + hosts.TOKEN_PATH,
            client_id=client_id,
            client_secret=client_secret,
            default_expiration=DEFAULT_TOKEN_LIFETIME,
        )
        self._refresh_token_value = refresh_token
        self.auth_method = auth_method
        self._soid = soid
        self._scopes = scopes
        self._api_domain_override = api_domain.rstrip("/") if api_domain else None
        self._token_api_domain: str | None = None
        self._timeout = timeout
        self._user_agent = user_agent
        self._refreshed_at: float | None = None  # time.monotonic() of the last refresh
        self.granted_scopes: str | None = None
        self._refresh_lock = threading.RLock()
        #: Whether Zoho answered any call of this run with one of its tokens.
        self.accepted_any = False
        #: Number of token requests sent (successful or not), for the API-economy log.
        self.token_requests = 0
        if logger is not None:
            self.logger = logger
        # The SDK's session retries POSTs itself (urllib3 Retry) on top of anything we do;
        # one retry policy, the one below, is easier to reason about.
        self._session = requests.Session()

    # -- token lifecycle ---------------------------------------------------------------

    @property
    @override
    def oauth_request_body(self) -> dict:
        """Form body of the token grant (sent as a POST body, never as a query)."""
        if self.auth_method == "client_credentials":
            return {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "grant_type": "client_credentials",
                "scope": self._scopes or "",
                "soid": self._soid or "",
            }
        return refresh_grant(self.client_id, self.client_secret, self._refresh_token_value)

    @override
    def is_token_valid(self) -> bool:
        """Whether the current token can still be used, with a safety margin before expiry."""
        if not self.access_token or self._refreshed_at is None:
            return False
        if not self.expires_in:
            return True
        margin = min(self.REFRESH_MARGIN_SECONDS, self.expires_in * 0.1)
        return time.monotonic() - self._refreshed_at < self.expires_in - margin

    def invalidate(self, token: str | None = None) -> None:
        """Forget the access token after Zoho rejected it (401 ``INVALID_TOKEN``).

        Args:
            token: The token the rejected request carried. When the authenticator already
                holds a newer one (another request refreshed meanwhile) nothing is dropped.
        """
        with self._refresh_lock:
            if token is None or token == self.access_token:
                self.access_token = None
                self._refreshed_at = None

    def ensure_token(self) -> str:
        """Return a valid access token, refreshing it first when needed.

        One refresh at a time: streams read concurrently wait for the first one's token.
        """
        token = self.access_token
        if token is not None and self.is_token_valid():
            return token
        with self._refresh_lock:
            if not self.is_token_valid():
                self.update_access_token()
            assert self.access_token is not None
            return self.access_token

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Zoho-oauthtoken ...`` to the request.

        The base implementation also rebuilds the URL to add query parameters; Zoho needs none
        and the rebuild would cost time on every request, so it is skipped.
        """
        request.headers["Authorization"] = f"{AUTH_SCHEME} {self.ensure_token()}"
        return request

    @staticmethod
    def token_of(request: requests.PreparedRequest | None) -> str | None:
        """The access token a prepared request carried, if any."""
        if request is None:
            return None
        header = request.headers.get("Authorization") or ""
        prefix = AUTH_SCHEME + " "
        return header[len(prefix) :] if header.startswith(prefix) else None

    @property
    def api_domain(self) -> str:
        """The API domain to call: the override, else the token's, else the table's.

        The token response is authoritative for the org's data centre; sandbox and developer
        orgs then move to the environment's host of that data centre.
        """
        if self._api_domain_override:
            return self._api_domain_override
        if self._token_api_domain is None:
            self.ensure_token()
        if self._token_api_domain:
            return hosts.apply_environment(self._token_api_domain, self.environment)
        return hosts.api_domain_for(self.data_center, self.environment)

    @override
    def update_access_token(self) -> None:
        """Refresh the access token, retrying throttling and transient failures.

        Raises:
            ZohoAuthError: When the accounts server refuses, in one sentence.
        """
        self.logger.info("Requesting a new Zoho access token from %s", self.accounts_url)
        headers = token_headers(self._user_agent)
        last_problem = ""
        throttled = False
        # The console script may have sent this very request while the tap imported.
        early = early_token.take(self.auth_endpoint, self.oauth_request_payload, headers)
        for attempt in range(1, self.MAX_REFRESH_TRIES + 1):
            if attempt > 1:
                self._sleep_before_retry(attempt - 1)
            requested_at = time.monotonic()
            self.token_requests += 1
            try:
                if early is not None:
                    requested_at, response = early
                    early = None
                else:
                    # Never follow a redirect: a 307/308 would re-send the client secret and
                    # the refresh token to whatever host it names (even over plain http).
                    response = self._session.post(
                        self.auth_endpoint,
                        data=self.oauth_request_payload,
                        headers=headers,
                        timeout=self._timeout,
                        allow_redirects=False,
                    )
            except (requests.ConnectionError, requests.Timeout) as ex:
                last_problem = f"{type(ex).__name__} reaching {self.accounts_url}"
                self.logger.warning("Token request failed (%s); retrying", last_problem)
                continue

            if 300 <= response.status_code < 400:
                location = hosts.without_credentials(response.headers.get("Location") or "?")
                msg = (
                    f"Zoho's accounts server {self.accounts_url} redirected the token request "
                    f"(HTTP {response.status_code} to {location}), and credentials are never "
                    "sent after a redirect; check data_center and accounts_url."
                )
                raise ZohoAuthError(msg)
            body = _json_or_none(response)
            error = body.get("error") if isinstance(body, dict) else None
            if response.status_code == 200 and isinstance(body, dict) and not error:
                if body.get("access_token"):
                    self._accept_token(body, requested_at)
                    return
                msg = (
                    f"Zoho's accounts server {self.accounts_url} answered without an access "
                    "token; check accounts_url."
                )
                raise ZohoAuthError(msg)

            description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            if _is_throttle(response.status_code, error, description):
                throttled = True
                last_problem = "Access Denied: too many token requests"
                self.logger.warning("Zoho throttles token requests (Access Denied); waiting")
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_problem = f"HTTP {response.status_code}"
                self.logger.warning("Token request answered HTTP %s; retrying", last_problem)
                continue
            raise ZohoAuthError(self._refusal_sentence(response.status_code, error, description))

        if throttled:
            msg = (
                f"Zoho's accounts server {self.accounts_url} refused to issue a token because too "
                "many token requests were made in a short time (Access Denied); wait a few "
                "minutes and run the tap again."
            )
        else:
            unreachable = " reaching " in last_problem  # no answer at all, only errors
            msg = (
                f"Could not get an access token from Zoho's accounts server {self.accounts_url} "
                f"after {self.MAX_REFRESH_TRIES} attempts ({last_problem})"
                + ("; check data_center, network or proxy." if unreachable else ".")
            )
        raise ZohoAuthError(msg)

    def _accept_token(self, body: dict, requested_at: float) -> None:
        self.access_token = str(body["access_token"])
        scope = body.get("scope")
        #: The scopes Zoho says the token holds (None when the answer does not say).
        self.granted_scopes = scope if isinstance(scope, str) and scope.strip() else None
        self.expires_in = _lifetime_seconds(body)
        self._refreshed_at = requested_at
        self.last_refreshed = None  # unused: validity is tracked on the monotonic clock
        named = str(body.get("api_domain") or "").rstrip("/")
        if named and not self._api_domain_override:
            trusted = (self.accounts_url,) if self.accounts_url_overridden else ()
            if not hosts.is_trusted_api_domain(named, trusted):
                # The access token would go to that host: only Zoho's own (https) qualify.
                msg = (
                    f"Zoho's accounts server {self.accounts_url} named "
                    f"{hosts.without_credentials(named)} as the API domain, which is not a "
                    "Zoho API host over https, so the access token is not sent there; set "
                    "api_domain if that host is really yours."
                )
                raise ZohoAuthError(msg)
        self._token_api_domain = named
        self.logger.info(
            "Got a Zoho access token valid for %s s (API domain %s)",
            self.expires_in,
            self._token_api_domain or "from the data centre table",
        )

    def _sleep_before_retry(self, retry: int) -> None:
        base = min(
            self.REFRESH_BACKOFF_MAX_SECONDS,
            self.REFRESH_BACKOFF_SECONDS * 2 ** (retry - 1),
        )
        # "Equal jitter": at least half the exponential value, so retries spread out but
        # still back off.
        time.sleep((base / 2 + random.uniform(0, base / 2)) * backoff_scale())

    def _refusal_sentence(self, status: int, error: t.Any, description: str) -> str:
        where = f"Zoho's accounts server {self.accounts_url}"
        if error == "invalid_client" and self.auth_method == "client_credentials":
            detail = f": {description}" if description else ""
            return (
                f"{where} rejected the client-credentials login (invalid_client{detail}), so "
                "check soid (ZohoCRM.<org id>, from Setup > Company Details), data_center, "
                "client_id and client_secret."
            )
        if error == "invalid_client":
            dc = hosts.DATA_CENTERS.get(self.data_center)
            dc_text = f"'{self.data_center}' ({dc.label})" if dc else f"'{self.data_center}'"
            via = (
                f"accounts_url is set to {self.accounts_url}"
                if self.accounts_url_overridden
                else f"which uses {self.accounts_url}"
            )
            return (
                f"{where} rejected the OAuth client (invalid_client): the data centre is "
                f"probably wrong - data_center is {dc_text}, {via} - so set data_center to the "
                "one your Zoho org lives in (the domain you sign in at: zoho.com, zoho.eu, "
                "zoho.in, ...) or check client_id and client_secret."
            )
        if error == "invalid_code":
            return (
                f"{where} rejected the refresh token (invalid_code): it is wrong, expired or "
                "revoked, so generate a new one from a Self Client grant code (scopes "
                "ZohoCRM.modules.READ and ZohoCRM.settings.fields.READ) and set refresh_token."
            )
        if error:
            detail = f" ({description})" if description else ""
            return f"{where} refused the token refresh with error '{error}'{detail}."
        return f"{where} answered the token refresh with HTTP {status} and no access token."


def _json_or_none(response: requests.Response) -> t.Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_throttle(status: int, error: t.Any, description: str) -> bool:
    if error == "Access Denied":
        return True
    return status == 400 and "too many requests" in description.lower()


def _lifetime_seconds(body: dict) -> int:
    """Token lifetime in seconds from ``expires_in_sec`` or ``expires_in``.

    Older accounts servers send ``expires_in_sec`` and then ``expires_in`` in milliseconds.
    A bare ``expires_in`` larger than a day can only be milliseconds too.
    """
    if body.get("expires_in_sec") is not None:
        try:
            return int(body["expires_in_sec"])
        except (TypeError, ValueError):
            return DEFAULT_TOKEN_LIFETIME
    raw = body.get("expires_in")
    if raw is None:
        return DEFAULT_TOKEN_LIFETIME
    try:
        seconds = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME  # not a number: assume Zoho's hour, refresh on 401
    return seconds // 1000 if seconds > 86400 else seconds
