"""OAuth: the refresh-token grant, access tokens and scope checks.

Mirrors Zoho's accounts server closely enough that a client's failure handling gets
exercised: bad credentials come back as HTTP 200 with an ``error`` field, tokens run out by
time or by number of calls, and only the ``Zoho-oauthtoken`` header scheme is accepted.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.errors import authentication_failure, invalid_token, scope_mismatch

_HEADER_SCHEME = "zoho-oauthtoken"


@dataclass
class AccessToken:
    """An issued access token.

    Attributes:
        value: The token string.
        issued_at: Issue time, epoch seconds.
        scopes: Granted scopes, lower-cased for comparison.
        calls: API calls served so far.
    """

    value: str
    issued_at: float
    scopes: frozenset[str]
    calls: int = 0


@dataclass
class TokenManager:
    """Grants and checks access tokens against the live config.

    Lifetimes are read from the config at check time, so a fault injected at runtime
    (``token_lifetime_calls=3``) shortens tokens already handed out, as a revocation would.
    """

    config: EmulatorConfig
    _tokens: dict[str, AccessToken] = field(default_factory=dict)
    _grants: deque[float] = field(default_factory=deque)
    _used_codes: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def grant(self, params: Mapping[str, str], api_domain: str) -> tuple[int, dict[str, Any]]:
        """Answer ``POST /oauth/v2/token``.

        Args:
            params: Query and form parameters merged.
            api_domain: The emulator's base URL, returned as the org's API domain.

        Returns:
            HTTP status and JSON body; credential errors are HTTP 200 like Zoho's.
        """
        config = self.config
        grant = params.get("grant_type")
        if grant not in ("refresh_token", "authorization_code", "client_credentials"):
            return 200, {"error": "unsupported_grant_type"}
        if (
            params.get("client_id") != config.client_id
            or params.get("client_secret") != config.client_secret
        ):
            return 200, {"error": "invalid_client"}
        refresh_token: str | None = None
        if grant == "refresh_token" and params.get("refresh_token") != config.refresh_token:
            return 200, {"error": "invalid_code"}
        if grant == "authorization_code":
            # A Self Client grant code: valid once, for a few minutes (expired_grant_code
            # and a used code answer invalid_code, as Zoho does).
            with self._lock:
                code = params.get("code")
                if code != config.grant_code or code in self._used_codes:
                    return 200, {"error": "invalid_code"}
                self._used_codes.add(code)
            refresh_token = config.refresh_token
        if grant == "client_credentials" and params.get("soid") != f"ZohoCRM.{config.org_id}":
            # (Zoho's exact answer to a wrong soid is unverified; an OAuth error at HTTP 200.)
            return 200, {"error": "invalid_client", "error_description": "invalid soid"}
        now = time.time()
        with self._lock:
            limit = config.token_requests_per_minute
            while self._grants and self._grants[0] < now - 60:
                self._grants.popleft()
            if limit is not None and len(self._grants) >= limit:
                return 400, {
                    "error": "Access Denied",
                    "error_description": "You have made too many requests continuously. "
                    "Please try again after some time.",
                }
            self._grants.append(now)
            self._purge(now)
            value = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            self._tokens[value] = AccessToken(
                value, now, frozenset(s.lower() for s in config.scopes)
            )
        body: dict[str, Any] = {
            "access_token": value,
            "scope": " ".join(config.scopes),
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": int(config.token_lifetime_seconds),
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return 200, body

    def authenticate(self, header: str | None) -> AccessToken:
        """Check an API call's Authorization header and count the call against the token.

        Raises:
            ZohoError: AUTHENTICATION_FAILURE without a header, INVALID_TOKEN for another
                scheme (``Bearer``), an unknown token or an expired one.
        """
        if not header or not header.strip():
            raise authentication_failure()
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != _HEADER_SCHEME or not value.strip():
            raise invalid_token()
        now = time.time()
        with self._lock:
            token = self._tokens.get(value.strip())
            if token is None or self._expired(token, now):
                raise invalid_token()
            token.calls += 1
            return token

    def require(self, token: AccessToken, accepted: Sequence[str]) -> None:
        """Check that a token holds one of the scopes that allow an endpoint.

        Raises:
            ZohoError: OAUTH_SCOPE_MISMATCH naming the first accepted scope.
        """
        if not any(scope.lower() in token.scopes for scope in accepted):
            raise scope_mismatch(accepted[0])

    def _expired(self, token: AccessToken, now: float) -> bool:
        config = self.config
        if now - token.issued_at >= config.token_lifetime_seconds:
            return True
        limit = config.token_lifetime_calls
        return limit is not None and token.calls >= limit

    def _purge(self, now: float) -> None:
        """Forget expired tokens so that long benchmark runs do not accumulate them."""
        for value in [v for v, t in self._tokens.items() if self._expired(t, now)]:
            del self._tokens[value]


#: Scopes any of which allows the Bulk Read endpoints.
BULK_SCOPES = ["ZohoCRM.bulk.READ", "ZohoCRM.bulk.ALL"]
COQL_SCOPES = ["ZohoCRM.coql.READ", "ZohoCRM.coql.ALL"]


def record_scopes(module: str) -> list[str]:
    """Return the scopes any of which allows reading a module's records."""
    lower = module.lower()
    return [
        "ZohoCRM.modules.READ",
        "ZohoCRM.modules.ALL",
        f"ZohoCRM.modules.{lower}.READ",
        f"ZohoCRM.modules.{lower}.ALL",
    ]


def settings_scopes(kind: str) -> list[str]:
    """Return the scopes any of which allows reading a settings resource (fields, modules)."""
    return [
        f"ZohoCRM.settings.{kind}.READ",
        f"ZohoCRM.settings.{kind}.ALL",
        "ZohoCRM.settings.READ",
        "ZohoCRM.settings.ALL",
    ]
