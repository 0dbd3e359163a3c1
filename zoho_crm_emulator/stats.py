"""Counters that tests and benchmarks read: calls per endpoint, credits, HTTP statuses."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zoho_crm_emulator.errors import too_many_requests


class StatusCounts(dict[str, int]):
    """Status code to count; accepts ``429`` and ``"429"`` alike.

    JSON turns the keys into strings, so the Python API and ``GET /_emulator/stats`` use
    string keys; looking up with an int still works for convenience.
    """

    def __getitem__(self, key: object) -> int:
        return super().__getitem__(str(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key))

    def get(self, key: object, default: Any = None) -> Any:  # type: ignore[override]
        """Return the count of a status (int or str key), or ``default``."""
        return super().get(str(key), default)


class Stats:
    """Thread-safe counters of one emulator instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._credits = 0
        self._open = 0
        self._peak = 0
        self._latency_ms = 0.0

    @contextmanager
    def in_flight(self, limit: int | None) -> Iterator[None]:
        """Count one API call in flight; past ``limit`` at once, Zoho's 429.

        Raises:
            ZohoError: TOO_MANY_REQUESTS when more than ``limit`` calls are open.
        """
        with self._lock:
            self._open += 1
            self._peak = max(self._peak, self._open)
            over = limit is not None and self._open > limit
        try:
            if over:
                raise too_many_requests()
            yield
        finally:
            with self._lock:
                self._open -= 1

    def add_latency(self, milliseconds: float) -> None:
        """Count the latency added to one API call."""
        with self._lock:
            self._latency_ms += milliseconds

    def count_call(self, endpoint: str) -> None:
        """Count one request to an endpoint key such as ``records:Leads``."""
        with self._lock:
            self._calls[endpoint] += 1

    def count_status(self, status: int) -> None:
        """Count one response status."""
        with self._lock:
            self._statuses[str(status)] += 1

    def spend(self, credits: int = 1) -> None:
        """Charge API credits for a served call."""
        with self._lock:
            self._credits += credits

    @property
    def credits(self) -> int:
        """Credits charged so far."""
        with self._lock:
            return self._credits

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters: calls, credits, statuses, requests, in flight, latency."""
        with self._lock:
            return {
                "calls": dict(self._calls),
                "credits": self._credits,
                "status_counts": StatusCounts(self._statuses),
                "requests": sum(self._statuses.values()),
                "max_in_flight": self._peak,
                "latency_ms": self._latency_ms,
            }

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._credits = 0
            self._peak = self._open
            self._latency_ms = 0.0
