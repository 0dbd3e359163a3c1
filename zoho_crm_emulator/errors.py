"""Zoho's error shape, raised anywhere and rendered once by the server.

Zoho answers every failed API call with ``{"code", "details", "message", "status": "error"}``;
clients branch on ``code``, so the emulator raises these instead of ad-hoc responses and
never lets a stack trace reach the wire.
"""

from __future__ import annotations

from typing import Any


class ZohoError(Exception):
    """An API failure rendered as Zoho's JSON error body.

    Attributes:
        status: HTTP status code.
        code: Zoho's machine-readable error code, e.g. ``INVALID_DATA``.
        message: Zoho's human-readable message.
        details: Extra context, e.g. the offending parameter.
    """

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        #: Response headers the error carries (``X-API-CREDITS-REMAINING`` on a spent budget).
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body Zoho sends for this error."""
        return {
            "code": self.code,
            "details": self.details,
            "message": self.message,
            "status": "error",
        }


def invalid_data(message: str = "invalid data", **details: Any) -> ZohoError:
    """Return a 400 INVALID_DATA error, Zoho's answer to a malformed parameter value."""
    return ZohoError(400, "INVALID_DATA", message, details)


def required_param_missing(param: str) -> ZohoError:
    """Return a 400 REQUIRED_PARAM_MISSING error for a missing mandatory parameter."""
    return ZohoError(
        400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": param}
    )


def invalid_module(module: str) -> ZohoError:
    """Return a 400 INVALID_MODULE error for an unknown or unsupported module."""
    return ZohoError(
        400,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        {"resource_path_index": 0, "module": module},
    )


def invalid_url(path: str) -> ZohoError:
    """Return a 404 INVALID_URL_PATTERN error for a path no endpoint serves."""
    return ZohoError(
        404,
        "INVALID_URL_PATTERN",
        "Please check if the URL trying to access is a correct one",
        {"path": path},
    )


def invalid_token() -> ZohoError:
    """Return a 401 INVALID_TOKEN error for an unknown or expired access token."""
    return ZohoError(401, "INVALID_TOKEN", "invalid oauth token")


def authentication_failure() -> ZohoError:
    """Return a 401 AUTHENTICATION_FAILURE error for a request without Zoho credentials."""
    return ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")


def scope_mismatch(needed: str) -> ZohoError:
    """Return a 401 OAUTH_SCOPE_MISMATCH error naming one scope that would have sufficed."""
    return ZohoError(
        401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", {"scope": needed}
    )


def daily_limit_reached() -> ZohoError:
    """Return the 429 of an org whose 24-hour API credits are spent."""
    error = ZohoError(
        429,
        "TOO_MANY_REQUESTS",
        "The API credits of the org for the last 24 hours have been used up",
        {"limit": "daily_credits"},
    )
    error.headers["X-API-CREDITS-REMAINING"] = "0"
    return error


def too_many_requests() -> ZohoError:
    """Return a 429 TOO_MANY_REQUESTS error, as when credits or concurrency run out."""
    return ZohoError(
        429,
        "TOO_MANY_REQUESTS",
        "The number of API requests per minute or concurrency limit has been exceeded",
    )


def internal_error() -> ZohoError:
    """Return a 500 INTERNAL_ERROR error, Zoho's answer to anything unexpected."""
    return ZohoError(500, "INTERNAL_ERROR", "Internal Server Error")
