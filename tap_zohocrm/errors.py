"""Errors the tap reports to its user as one sentence, without a stack trace.

Every exception defined here carries a complete, user-facing sentence and never a secret. The
CLI entry points (see :mod:`tap_zohocrm.tap`) print it on one stderr line and exit with 1.
"""

from __future__ import annotations

import json
import typing as t

from singer_sdk.exceptions import FatalAPIError

__all__ = [
    "ZohoAPIError",
    "ZohoAuthError",
    "ZohoConfigError",
    "ZohoError",
    "ZohoScopeError",
    "describe_zoho_error",
]


class ZohoError(Exception):
    """Base class of every error the tap explains to its user in one sentence."""

    @property
    def sentence(self) -> str:
        """The message shown to the user."""
        return str(self.args[0]) if self.args else type(self).__name__


class ZohoAuthError(ZohoError):
    """The accounts server refused to issue an access token."""


class ZohoConfigError(ZohoError):
    """A setting asks for something the org does not have (e.g. an unknown module)."""


class ZohoAPIError(ZohoError, FatalAPIError):
    """Zoho CRM answered an API call with an error that retrying will not fix.

    Subclasses :class:`~singer_sdk.exceptions.FatalAPIError` so that the SDK's request loop
    treats it as fatal, while the CLI shows its sentence.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        zoho_message: str | None = None,
    ) -> None:
        """Create the error.

        Args:
            message: The complete sentence for the user.
            status: The HTTP status code.
            code: Zoho's error code, e.g. ``INVALID_DATA``.
            zoho_message: Zoho's own message.
        """
        super().__init__(message)
        self.status = status
        self.code = code
        self.zoho_message = zoho_message


class ZohoScopeError(ZohoAPIError):
    """The refresh token lacks an OAuth scope (``OAUTH_SCOPE_MISMATCH``)."""

    def __init__(self, message: str, *, scope: str, status: int | None = 401) -> None:
        """Create the error.

        Args:
            message: The complete sentence for the user.
            scope: The missing scope, e.g. ``ZohoCRM.settings.fields.READ``.
            status: The HTTP status code.
        """
        super().__init__(message, status=status, code="OAUTH_SCOPE_MISMATCH")
        self.scope = scope


def describe_zoho_error(body: t.Any) -> tuple[str | None, str | None, str]:
    """Extract Zoho's code, message and a short rendering of ``details`` from an error body.

    Zoho answers ``{"code", "details", "message", "status"}``, sometimes wrapped in a
    ``data`` list (one entry per record). Anything else yields ``(None, None, "")``.

    Args:
        body: The decoded JSON body (or anything else).

    Returns:
        ``(code, message, details)``, where ``details`` is ``""`` or ``" (details: ...)"``.
    """
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        first = body["data"][0]
        if isinstance(first, dict) and "code" in first:
            body = first
    if not isinstance(body, dict):
        return None, None, ""
    code = body.get("code")
    message = body.get("message")
    details = body.get("details")
    rendered = ""
    if details:
        text = json.dumps(details, separators=(",", ":"), sort_keys=True, default=str)
        if len(text) > 200:
            text = text[:197] + "..."
        rendered = f" (details: {text})"
    return (
        str(code) if code is not None else None,
        str(message) if message is not None else None,
        rendered,
    )
