"""Fault injection: the flaky network and busy servers a connector must survive.

Failures are drawn from an RNG seeded by the org seed, so a test asking for 20% 429s gets
the same sequence on every run.
"""

from __future__ import annotations

import copy
import random
import threading
import time

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.errors import ZohoError, internal_error, too_many_requests
from zoho_crm_emulator.messages import Response

#: Config attributes that ``Emulator.set_faults`` and ``POST /_emulator/faults`` may change.
FAULT_SETTINGS = (
    "fail_429",
    "fail_500",
    "latency_ms",
    "token_lifetime_calls",
    "token_lifetime_seconds",
    "token_requests_per_minute",
    "page_token_cap",
    "page_token_ttl_seconds",
    "bulk_job_seconds",
    "bulk_page_size",
    "bulk_fail",
    "bulk_result_ttl_seconds",
    "bulk_downloads_per_minute",
    "churn_every_calls",
    "churn_interval_ms",
    "fail_garbage",
    "daily_credits",
    "max_concurrent_calls",
)

#: Useless 200 answers a hostile or broken proxy sends (``garbage_kind``; ``mixed`` rotates).
GARBAGE_KINDS = ("html", "error", "truncated", "more_without_data", "bad_time", "no_id")


class FaultInjector:
    """Decides, per API call, whether to delay it and whether to fail it.

    Args:
        config: The live config; fractions and latency are read on every call.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._rng = random.Random(f"{config.seed}:faults")
        self._lock = threading.Lock()
        self._garbage = 0
        self._listings = 0

    def delay(self, since: float) -> float:
        """Sleep until the configured latency has passed (outside any lock, so calls overlap).

        ``latency_ms`` is the time Zoho takes to answer, so the emulator's own work on a call
        (``since``: when it began, ``time.monotonic()``) counts towards it instead of adding
        to it: a page built in 5 ms still answers 100 ms after it was asked for.

        Returns:
            The configured latency in milliseconds.
        """
        latency = self.config.latency_ms
        if latency > 0:
            left = since + latency / 1000 - time.monotonic()
            if left > 0:
                time.sleep(left)
        return max(0.0, latency)

    def bulk_job_fails(self) -> bool:
        """Return whether a new Bulk Read job should end in FAILURE."""
        fraction = self.config.bulk_fail
        if fraction <= 0:
            return False
        with self._lock:
            return self._rng.random() < fraction

    def draw_garbage(self, served: Response | None = None) -> Response | None:
        """Return a useless HTTP 200 answer for this call (``fail_garbage``), or None."""
        fraction = self.config.fail_garbage
        if fraction <= 0:
            return None
        with self._lock:
            self._listings += 1
            if self._listings <= self.config.fail_garbage_after_calls:
                return None
            if self._rng.random() >= fraction:
                return None
            kind = self.config.garbage_kind
            if kind == "mixed":
                kind = GARBAGE_KINDS[self._garbage % len(GARBAGE_KINDS)]
                self._garbage += 1
        if kind == "html":
            page = b"<html><body><h1>Service Temporarily Unavailable</h1></body></html>"
            return Response(200, raw=page, content_type="text/html")
        if kind == "error":
            return Response(
                200, {"code": "INTERNAL_ERROR", "message": "try again", "status": "error"}
            )
        if kind == "truncated":
            return Response(200, raw=b'{"data":[{"id":"57257670000004', credits=1)
        if kind in ("bad_time", "no_id") and served is not None and isinstance(served.body, dict):
            body = copy.deepcopy(served.body)
            first = (body.get("data") or [{}])[0]
            if kind == "bad_time":
                first["Modified_Time"] = "not a time"
                first["deleted_time"] = "not a time"
            else:
                first.pop("id", None)
            return Response(200, body)
        return Response(200, {"data": [], "info": {"more_records": True, "count": 0}})

    def draw(self) -> ZohoError | None:
        """Return the failure to answer this call with, or None to serve it."""
        fail_429, fail_500 = self.config.fail_429, self.config.fail_500
        if fail_429 <= 0 and fail_500 <= 0:
            return None
        with self._lock:
            roll = self._rng.random()
        if roll < fail_429:
            return too_many_requests()
        if roll < fail_429 + fail_500:
            return internal_error()
        return None
