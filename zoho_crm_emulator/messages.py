"""Transport-neutral request and response values passed between server and handlers.

Handlers take a ``Request`` and return a ``Response`` so that they can be unit-tested and
reused (e.g. by a future Bulk Read endpoint) without an HTTP server in the way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Request:
    """One parsed HTTP request.

    Attributes:
        method: HTTP method, upper case.
        path: URL path without the query string.
        params: Query parameters (first value of each), plus form fields for form posts.
        headers: Header names lower-cased to values.
        body: The raw request body.
        base_url: ``http://host:port`` the client used to reach the emulator.
        arrived: ``time.monotonic()`` when its request line was read (None: built in-process);
            the latency runs from there, so parsing it counts towards the latency.
    """

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = ""
    arrived: float | None = None

    def json(self) -> dict[str, Any]:
        """Return the body parsed as a JSON object (empty body: empty dict).

        Raises:
            ValueError: When the body is not a JSON object.
        """
        if not self.body.strip():
            return {}
        value = json.loads(self.body)
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value


@dataclass
class Response:
    """One HTTP response to send.

    Attributes:
        status: HTTP status code.
        body: JSON-serialisable body, or None for an empty body (204, 304).
        headers: Extra response headers.
        raw: A non-JSON body (a Bulk Read zip); takes precedence over ``body``.
        content_type: Content-Type of the body.
        credits: API credits the call costs when it succeeds (Bulk Read jobs cost more).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=UTF-8"
    credits: int = 1

    def payload(self) -> bytes:
        """Return the encoded body (empty for None)."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        try:
            # orjson: a page of 200 wide records encodes in a tenth of json's time.
            return orjson.dumps(self.body)
        except TypeError:  # beyond orjson (an integer over 64 bits): the stdlib's encoder
            return json.dumps(self.body, separators=(",", ":")).encode()
