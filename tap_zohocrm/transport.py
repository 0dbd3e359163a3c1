"""HTTP transport with bounds: a size cap on every buffered body and a total deadline.

``request_timeout`` bounds each socket read, not a request: a server dripping one byte per
second never trips it, and a small gzip body can inflate to gigabytes in memory. Mounted on
every stream's session, :class:`BoundedAdapter` reads buffered (non-streamed) responses itself,
decompressed, in chunks, and stops at :data:`MAX_BODY_BYTES` or at the deadline.

This is the tap's one adapter to a private member of requests (``Response._content``, where a
body read this way must go for ``response.content`` to work); ``tests/tap/test_tap_transport.py``
checks that the member still exists.
"""

from __future__ import annotations

import threading
import time
import typing as t

import requests
from requests.adapters import HTTPAdapter
from typing_extensions import override

from tap_zohocrm.errors import ZohoAPIError

__all__ = ["MAX_BODY_BYTES", "BoundedAdapter", "bounded_session"]

#: Largest decompressed body of one buffered answer (a 200-record page is well under 1 MB).
MAX_BODY_BYTES = 64 * 2**20
_CHUNK = 16 * 2**10


class BoundedAdapter(HTTPAdapter):
    """An adapter that buffers bodies itself, within a size cap and a total deadline.

    Args:
        max_bytes: Cap of a decompressed body.
        deadline_seconds: Total time for one request, headers and body (None: the read
            timeout of the call).
    """

    def __init__(
        self,
        max_bytes: int = MAX_BODY_BYTES,
        deadline_seconds: float | None = None,
        gate: threading.Semaphore | None = None,
    ) -> None:
        """Create the adapter (see the class docstring)."""
        super().__init__()
        self.max_bytes = max_bytes
        self.deadline_seconds = deadline_seconds
        #: Held while a request is in flight (the tap's ``max_concurrent_requests``).
        self.gate = gate

    @override
    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: t.Any = None,
        **kwargs: t.Any,
    ) -> requests.Response:  # fmt: skip
        if self.gate is None:
            return self._send(request, stream=stream, timeout=timeout, **kwargs)
        with self.gate:
            return self._send(request, stream=stream, timeout=timeout, **kwargs)

    def _send(
        self, request: requests.PreparedRequest, stream: bool = False, timeout: t.Any = None,
        **kwargs: t.Any,
    ) -> requests.Response:  # fmt: skip
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, **kwargs)
        if stream:
            return response  # the caller streams (Bulk Read downloads spool to a file)
        limit = self.deadline_seconds
        if limit is None:
            limit = float(timeout[-1] if isinstance(timeout, tuple) else timeout or 300)
        body = bytearray()
        raw = response.raw
        try:
            while True:
                # read1: at most one socket read, so a drip is checked between bytes.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    msg = (
                        f"Zoho CRM answered {request.method} {_path(request)} with a body larger "
                        f"than {self.max_bytes // 2**20} MB (decompressed), far beyond any Zoho "
                        "page, so the tap stopped reading it; check api_domain and any proxy."
                    )
                    raise ZohoAPIError(msg, status=response.status_code)
                if time.monotonic() - started > limit:
                    msg = f"the answer took longer than {limit:.0f} s in total"
                    raise requests.exceptions.ReadTimeout(msg, request=request)
        finally:
            response.close()
        response._content = bytes(body)
        return response


def _path(request: requests.PreparedRequest) -> str:
    return (request.path_url or "").split("?", 1)[0]


def bounded_session(gate: threading.Semaphore | None = None) -> requests.Session:
    """A session whose http and https answers go through :class:`BoundedAdapter`."""
    session = requests.Session()
    adapter = BoundedAdapter(gate=gate)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
