"""Modules wider than Zoho's 50-field cap: field chunks, and parts merged into whole records.

Get Records takes at most 50 API names in ``fields``. A wider selection is read as several
*chunks* of at most 50 fields, each holding ``id`` and ``Modified_Time``, with the same query
(sort, ``If-Modified-Since``), each chunk paging along its own ``page_token`` chain. The
records of one page arrive in pieces, one *part* per chunk, and are merged by ``id``.

A record modified between two chunk requests has a different ``Modified_Time`` in its parts;
merging them would emit a record that never existed (half old, half new). So a record is
*whole* only when every chunk supplied a part with the same ``Modified_Time`` instant;
anything else is re-read (see :class:`tap_zohocrm.streams.ZohoModuleStream`). This module is
the bookkeeping, free of I/O.
"""

from __future__ import annotations

import typing as t

from tap_zohocrm.bookmarks import parse_instant

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["MAX_FIELDS_PER_CALL", "PartsPool", "batched", "plan_chunks"]

#: Zoho's cap on the ``fields`` parameter of Get Records.
MAX_FIELDS_PER_CALL = 50


def plan_chunks(
    fields: Sequence[str],
    always: Sequence[str],
    limit: int = MAX_FIELDS_PER_CALL,
) -> list[tuple[str, ...]]:
    """Split the fields to read into requests of at most ``limit`` API names.

    Every chunk starts with ``always`` (``id`` and ``Modified_Time``): the id merges the parts
    and ``Modified_Time`` tells whether they belong to the same version of the record. So a
    module of F fields (``always`` included) needs ``ceil((F - 2) / 48)`` chunks.

    Args:
        fields: Selected Zoho API names, in schema order (``always`` may be among them).
        always: Names every chunk carries.
        limit: Names per request.

    Returns:
        One tuple of API names per request; the first one drives paging and bookmarks.
    """
    head = tuple(always)
    rest = [name for name in dict.fromkeys(fields) if name not in head]
    size = limit - len(head)
    if size <= 0:  # pragma: no cover - always holds two names
        msg = f"{len(head)} fields in every chunk leave no room under the cap of {limit}."
        raise ValueError(msg)
    if not rest:
        return [head]
    return [head + tuple(rest[i : i + size]) for i in range(0, len(rest), size)]


def batched(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    """Consecutive slices of at most ``size`` items (``ids=`` takes at most 100)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PartsPool:
    """Parts of records by id and chunk, until every chunk has supplied a matching part.

    Args:
        chunk_count: Number of chunks a whole record is made of.
        version_key: The field that must be equal in every part (``Modified_Time``), or
            ``None`` for a module without one (parts are then merged as they come).
    """

    def __init__(self, chunk_count: int, version_key: str | None) -> None:
        """Create an empty pool (see the class docstring for the arguments)."""
        self.chunk_count = chunk_count
        self.version_key = version_key
        self._parts: dict[str, dict[int, dict[str, t.Any]]] = {}

    def __len__(self) -> int:
        """Number of ids with at least one part."""
        return len(self._parts)

    def add(self, chunk: int, records: Iterable[dict[str, t.Any]]) -> None:
        """File the records of one chunk's response; a later part replaces an earlier one.

        Args:
            chunk: Index of the chunk the records were read with.
            records: Raw Zoho records (each has ``id``).
        """
        for record in records:
            record_id = record.get("id")
            if record_id is not None:
                self._parts.setdefault(str(record_id), {})[chunk] = record

    def take(self, record_id: str) -> dict[str, t.Any] | None:
        """The whole record of an id, removed from the pool, if its parts agree.

        Args:
            record_id: The record id.

        Returns:
            The merged raw record, or ``None`` when a part is missing or the parts carry
            different versions (then the parts stay in the pool).
        """
        parts = self._parts.get(record_id)
        if parts is None or len(parts) < self.chunk_count:
            return None
        if self.version_key is not None:
            versions = {_instant(part.get(self.version_key)) for part in parts.values()}
            if len(versions) != 1:
                return None
        del self._parts[record_id]
        merged: dict[str, t.Any] = {}
        # The first chunk's values win for the fields every chunk carries (same instant,
        # and the first chunk is the one paging and bookmarks follow).
        for chunk in range(self.chunk_count - 1, -1, -1):
            merged.update(parts[chunk])
        return merged

    def has_any(self, record_id: str) -> bool:
        """Whether any chunk supplied a part for the id."""
        return record_id in self._parts

    def discard(self, record_id: str) -> None:
        """Forget the parts of an id (it was resolved another way)."""
        self._parts.pop(record_id, None)

    def ids(self) -> list[str]:
        """Ids that still have parts, in the order they were first filed."""
        return list(self._parts)


def _instant(value: t.Any) -> t.Any:
    if isinstance(value, str):
        try:
            return parse_instant(value)
        except ValueError:
            return value
    return value
