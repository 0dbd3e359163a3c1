"""The audit tables' bookkeeping: column names, history rows, counts, batch helpers.

Pure names and helpers shared by the store's modules (no SQL runs here).
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

#: Bookkeeping columns of a current table, in table order.
CURRENT_BOOKKEEPING = (
    "_first_seen_at",
    "_last_changed_at",
    "_deleted_at",
    "_content_hash",
    "_sync_id",
    "_history_id",
)
#: Bookkeeping columns of a history table (``history_id`` comes first, the rest last).
HISTORY_BOOKKEEPING = (
    "history_id",
    "content_hash",
    "change_type",
    "captured_at",
    "sync_id",
    "changed_fields",
    "is_current",
    "valid_from",
    "valid_to",
)

#: The bookkeeping bound for an open insert version (the others are constants).
NEW_VERSION_BOUND = ("content_hash", "captured_at", "sync_id", "valid_from")

#: Where ``valid_to`` and ``is_current`` sit in a history row, counted from its end.
VALID_TO_FROM_END = len(HISTORY_BOOKKEEPING) - HISTORY_BOOKKEEPING.index("valid_to")
IS_CURRENT_FROM_END = len(HISTORY_BOOKKEEPING) - HISTORY_BOOKKEEPING.index("is_current")


def history_row(
    history_id: int,
    data: t.Sequence[t.Any],
    content_hash: str | None,
    change_type: str,
    captured_at: str,
    sync_id: int | None,
    changed_fields: str | None,
    is_current: int,
    valid_from: str,
    valid_to: str | None,
) -> list[t.Any]:
    """A history row for ``insert_history_sql``: ``history_id``, the data, the bookkeeping.

    The parameters after ``data`` are :data:`HISTORY_BOOKKEEPING` in its order (a test checks
    that they stay so), which is the order ``insert_history_sql`` names the columns in.
    """
    return [history_id, *data, content_hash, change_type, captured_at, sync_id, changed_fields,
            is_current, valid_from, valid_to]  # fmt: skip


def close_history_row(row: list[t.Any], valid_to: str) -> None:
    """End an in-memory history row's validity (not yet written: no UPDATE needed)."""
    row[-VALID_TO_FROM_END] = valid_to
    row[-IS_CURRENT_FROM_END] = 0


_CHUNK = 500
#: singer-sdk's own record metadata: left out of change detection (a tap's own ``_sdc_*``
#: properties are data and count).
SDK_METADATA = frozenset(
    {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    }
)


@dataclass
class BatchCounts:
    """Record counts of a batch, a stream or a whole sync."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    stale: int = 0

    def add(self, other: BatchCounts) -> None:
        """Add another set of counts to this one.

        Args:
            other: The counts to add.
        """
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        """Return the counts in sync-log column order."""
        return (
            self.fetched,
            self.inserted,
            self.updated,
            self.unchanged,
            self.deleted,
            self.stale,
        )


def chunks(items: Sequence[t.Any], size: int = _CHUNK) -> Iterator[Sequence[t.Any]]:
    """Slices of at most ``size`` items (keeps SQL parameter lists short)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def line_span(lines: Sequence[int]) -> str:
    """``input line 7`` or ``input lines 2-5001``, for error sentences."""
    if not lines:
        return "no input lines"
    first, last = min(lines), max(lines)
    return f"input line {first}" if first == last else f"input lines {first}-{last}"
