"""A batch of one stream's records, turned into rows as they arrive.

Each record becomes its row, content hash, key, deletion marker and replication-key value
when the sink accepts it, while it is still in the processor's cache; the record itself
is not kept. The store then decides and writes the batch from these lists alone.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from target_sqlite_audit.connection import DELETED_MARKER
from target_sqlite_audit.errors import InputError
from target_sqlite_audit.tables import StreamTable, Unstorable


class PreparedBatch:
    """The queued records of one stream, as the store needs them (parallel lists)."""

    __slots__ = (
        "_at",
        "_build",
        "_hash",
        "_rk",
        "deleted",
        "hashes",
        "keys",
        "lines",
        "rks",
        "rows",
        "table",
    )

    def __init__(self, table: StreamTable) -> None:
        """Start an empty batch for ``table`` (the rows follow its columns)."""
        self.table = table
        #: Data column values of each record (:meth:`StreamTable.build_row`).
        self.rows: list[list[t.Any]] = []
        #: Content hash of each row.
        self.hashes: list[str] = []
        #: Lookup key of each record (:meth:`StreamTable.key_of`).
        self.keys: list[t.Any] = []
        #: Deletion marker of each record (None: live).
        self.deleted: list[t.Any] = []
        #: Replication-key value of each record (None without a replication key).
        self.rks: list[t.Any] = []
        #: Input line of each record.
        self.lines: list[int] = []
        # Looked up once, not for every record.
        self._build, self._hash = table.build_row, table.row_hash
        self._at, self._rk = table.text_key_at, table.replication_key

    def __len__(self) -> int:
        """Records in the batch."""
        return len(self.rows)

    def add(self, record: Mapping[str, t.Any], line: int) -> None:
        """Queue a validated record read on ``line``.

        Raises:
            InputError: The record holds a value SQLite cannot store.
        """
        try:
            row = self._build(record)
            digest = self._hash(row)
        except Unstorable as exc:
            why = f"property {exc.prop!r} {exc.why}"
            raise InputError(self._unstorable(line, why)) from exc
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError(self._unstorable(line, str(exc))) from exc
        self.rows.append(row)
        self.hashes.append(digest)
        at = self._at
        key = row[at] if at is not None else None
        self.keys.append(key if type(key) is str else self.table.key_of(record, digest))
        marker = record.get(DELETED_MARKER)
        self.deleted.append(None if marker == "" else marker)
        rk = self._rk
        self.rks.append(record.get(rk) if rk else None)
        self.lines.append(line)

    def _unstorable(self, line: int, why: str) -> str:
        return f"Record on line {line} of stream {self.table.stream!r} cannot be stored: {why}."
