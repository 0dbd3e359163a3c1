"""Page tokens: Zoho's way past the 2,000-record ``page`` limit.

Tokens are stateless and signed: they carry the next offset, an expiry and a hash of the
request parameters they were issued for. A token replayed with other parameters is
``TOKEN_BOUND_DATA_MISMATCH``, an old one ``EXPIRED_VALUE``, a forged one ``INVALID_DATA``,
exactly the failures a client must handle, with no server-side memory to grow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping

from zoho_crm_emulator.errors import ZohoError, invalid_data


def bind(module: str, params: Mapping[str, str], if_modified_since: str | None) -> str:
    """Return the fingerprint of a request that a page token is bound to.

    Everything but ``page`` and ``page_token`` counts, including the If-Modified-Since header,
    because changing any of them changes the result set the offset points into.
    """
    bound = {k: v for k, v in sorted(params.items()) if k not in ("page", "page_token")}
    text = json.dumps([module, bound, if_modified_since], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class PageTokens:
    """Issues and checks page tokens for one emulator instance.

    Args:
        secret: Signing key; random by default so tokens never work across emulators.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(16)

    def issue(self, fingerprint: str, offset: int, ttl_seconds: float) -> tuple[str, float]:
        """Return a token for ``offset`` in the result set of ``fingerprint``, and its expiry.

        Args:
            fingerprint: ``bind(...)`` of the request.
            offset: Index of the first record the token's page starts at.
            ttl_seconds: How long the token is valid.

        Returns:
            The token and its expiry as epoch seconds.
        """
        expiry = time.time() + ttl_seconds
        payload = f"{offset}.{int(expiry * 1000)}.{fingerprint}"
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:20]
        token = base64.urlsafe_b64encode(f"{payload}.{mac}".encode()).decode().rstrip("=")
        return token, expiry

    def offset(self, token: str, fingerprint: str) -> int:
        """Return the offset a token points at, after checking it belongs to this request.

        Raises:
            ZohoError: INVALID_DATA (malformed or forged), TOKEN_BOUND_DATA_MISMATCH (issued
                for other parameters), EXPIRED_VALUE (too old).
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            offset_text, expiry_text, bound, mac = raw.split(".")
            payload = f"{offset_text}.{expiry_text}.{bound}"
            expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:20]
            if not hmac.compare_digest(mac, expected):
                raise ValueError("bad signature")
            offset, expiry_ms = int(offset_text), int(expiry_text)
        except (ValueError, UnicodeDecodeError):
            raise invalid_data("invalid page token", param="page_token") from None
        if bound != fingerprint:
            raise ZohoError(
                400,
                "TOKEN_BOUND_DATA_MISMATCH",
                "the page token is bound to other request parameters",
                {"param": "page_token"},
            )
        if time.time() * 1000 > expiry_ms:
            raise ZohoError(
                400, "EXPIRED_VALUE", "the page token has expired", {"param": "page_token"}
            )
        return offset
