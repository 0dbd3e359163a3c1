"""Zoho's credit table and the run's credit meter: what a call costs, what a run may spend.

The costs are Zoho's published table: Get Records, metadata, users and other settings 1;
deleted records 2; Get Records with ``cvid`` 3; a Bulk Read job 50; COQL by its LIMIT
(1-200: 1, 201-1,000: 2, 1,001-2,000: 3). Every log line and summary of the tap counts with
:func:`call_cost`; answered calls (200, 204, 304) are charged, refused ones are not.
"""

from __future__ import annotations

import json
import re
import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BULK_JOB",
    "COQL_LIMIT_PRICES",
    "DELETED_RECORDS",
    "GET_RECORDS",
    "CreditBudgetReached",
    "CreditMeter",
    "call_cost",
    "coql_credits",
    "remaining_clause",
    "request_cost",
    "stop_sentence",
]

GET_RECORDS = 1
METADATA = 1
DELETED_RECORDS = 2
CUSTOM_VIEW = 3
BULK_JOB = 50
#: (highest LIMIT, credits) for COQL.
COQL_LIMIT_PRICES: tuple[tuple[int, int], ...] = ((200, 1), (1_000, 2), (2_000, 3))
_COQL_DEFAULT_LIMIT = 200
_LIMIT = re.compile(r"\blimit\s+(\d+)(?:\s*,\s*(\d+))?", re.IGNORECASE)


def coql_credits(limit: int) -> int:
    """Credits of one COQL call with this LIMIT."""
    for highest, price in COQL_LIMIT_PRICES:
        if limit <= highest:
            return price
    return COQL_LIMIT_PRICES[-1][1]


def _coql_limit(body: bytes | str | None) -> int:
    try:
        query = json.loads(body or b"{}").get("select_query") or ""
    except (ValueError, AttributeError):
        return _COQL_DEFAULT_LIMIT
    match = _LIMIT.search(str(query))
    if match is None:
        return _COQL_DEFAULT_LIMIT
    return int(match.group(2) or match.group(1))


def call_cost(method: str | None, url: str | None, body: bytes | str | None = None) -> int:
    """Credits Zoho charges for one answered call.

    Args:
        method: HTTP method.
        url: Full URL with its query.
        body: Request body (COQL's query names its LIMIT).

    Returns:
        The credits.
    """
    parts = urlsplit(url or "")
    path = parts.path.rstrip("/")
    if (method or "").upper() == "POST":
        if path.endswith("/coql"):
            return coql_credits(_coql_limit(body))
        if "/bulk/" in path and path.endswith("/read"):
            return BULK_JOB
    if path.endswith("/deleted"):
        return DELETED_RECORDS
    if "cvid" in parse_qs(parts.query):
        return CUSTOM_VIEW
    return GET_RECORDS


class CreditBudgetReached(Exception):
    """The next call would spend more than ``max_credits_per_run``, or Zoho's budget is spent."""


class CreditMeter:
    """Credits the run has spent, against ``max_credits_per_run``; shared by every stream."""

    def __init__(self, budget: int | None) -> None:
        """Start at zero.

        Args:
            budget: ``max_credits_per_run``, or None for no limit.
        """
        self.budget = budget
        self.spent = 0
        self.stop_reason: str | None = None
        #: Whether a stream has logged the stop (streams syncing at once all meet it).
        self.announced = False
        self._lock = threading.Lock()

    def reserve(self, cost: int, what: str) -> None:
        """Refuse a call that would pass the budget (or follow a stop).

        Raises:
            CreditBudgetReached: With the sentence the run ends on.
        """
        with self._lock:
            if self.stop_reason is not None:
                raise CreditBudgetReached(self.stop_reason)
            if self.budget is not None and self.spent + cost > self.budget:
                self.stop_reason = (
                    f"max_credits_per_run ({self.budget}) reached: {self.spent} credits spent, "
                    f"and {what} would cost {cost} more"
                )
                raise CreditBudgetReached(self.stop_reason)

    def charge(self, cost: int) -> None:
        """Count an answered call."""
        with self._lock:
            self.spent += cost

    def stop(self, reason: str) -> None:
        """Stop the run for a reason of Zoho's (its daily budget is spent)."""
        with self._lock:
            self.stop_reason = self.stop_reason or reason

    @property
    def stopped(self) -> bool:
        """Whether the run has stopped spending."""
        return self.stop_reason is not None


def request_cost(request: t.Any) -> int:
    """:func:`call_cost` of a ``requests`` request object."""
    if request is None:
        return GET_RECORDS
    method, url = getattr(request, "method", None), getattr(request, "url", None)
    return call_cost(method, url, getattr(request, "body", None))


def stop_sentence(meter: CreditMeter, unread: t.Sequence[str], remaining: str | None) -> str:
    """The warning of a run its credits stopped: why, and the streams left at checkpoints.

    Args:
        meter: The run's meter (its ``stop_reason``).
        unread: The stream that met the stop (partly read), then the selected ones after it.
        remaining: Zoho's ``X-API-CREDITS-REMAINING``, if it sent one.
    """
    first, *later = unread
    more = f", {', '.join(later)}" if later else ""
    return (
        f"Stopped early: {meter.stop_reason}. Left unread from their last checkpoints: {first} "
        f"(partly read){more}; the run exits 0 and the next run resumes exactly "
        f"there{remaining_clause(remaining)}."
    )


def remaining_clause(remaining: str | None) -> str:
    """``; N credits left in Zoho's 24-hour budget`` once Zoho reported N, else nothing."""
    if remaining is None:
        return ""
    return f"; {remaining} credits left in Zoho's 24-hour budget"
