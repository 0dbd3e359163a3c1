"""The two-row floor: the least a Python loader can do while keeping target-sqlite-audit's tables.

``python benchmarks/baseline_audit.py DATABASE < messages.jsonl``

Like ``baseline_loader.py`` it parses each line (orjson), makes one column per top-level
property and commits batches in WAL mode with ``synchronous=FULL``, but it writes what the
audit design writes: a current row and a history version (content hash, change type, capture
time, ``valid_from`` from ``Modified_Time`` in UTC, open ``valid_to``) per new or changed
record, the key index of the history, and nothing for a record whose content hash is stored
already. No validation, no singer-sdk, no stale, replay or deletion handling, no sync log:
what the audit design costs by itself, so that the target's distance to it can be told apart
from the design's distance to the minimal loader. Current rows are copied from the history
rows just written, as the target does.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from datetime import datetime, timezone
from typing import Any

import orjson
from baseline_loader import load  # this folder is sys.path[0] when run as a script

BATCH = 5000
CHUNK = 500
_UTC = timezone.utc


def _utc_text(value: Any, fallback: str) -> str:
    if not isinstance(value, str):
        return fallback
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return moment.astimezone(_UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Stream:
    """The current table, its history and the pending records of one stream."""

    def __init__(self, conn: sqlite3.Connection, name: str, message: dict[str, Any]) -> None:
        """Create the tables of a SCHEMA message."""
        self.conn = conn
        self.columns = list(message["schema"]["properties"])
        self.key = (message.get("key_properties") or [self.columns[0]])[0]
        self.key_index = self.columns.index(self.key)
        cols = [f'"{c}"' for c in self.columns]
        book = ['"_content_hash"', '"_last_changed_at"', '"_history_id"']
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}" ({", ".join(cols + book)}, '
            f'PRIMARY KEY ("{self.key}"))'
        )
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}_history" ("history_id" INTEGER PRIMARY KEY, '
            f'{", ".join(cols)}, "content_hash", "change_type", "captured_at", "is_current", '
            '"valid_from", "valid_to")'
        )
        conn.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}_history_key" ON "{name}_history" ("{self.key}")'
        )
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS final (history_id INTEGER PRIMARY KEY)")
        marks = ", ".join("?" * (len(cols) + 7))
        self.insert_history = f'INSERT INTO "{name}_history" VALUES ({marks})'
        self.close_history = (
            f'UPDATE "{name}_history" SET valid_to = ?, is_current = 0 WHERE history_id = ?'
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols + book)
        self.copy_current = (
            f'INSERT INTO "{name}" ({", ".join(cols + book)}) SELECT '
            f"{', '.join('h.' + c for c in cols)}, h.content_hash, h.captured_at, h.history_id "
            f'FROM temp.final AS f JOIN "{name}_history" AS h USING (history_id) WHERE 1 '
            f'ON CONFLICT ("{self.key}") DO UPDATE SET {updates}'
        )
        self.select = f'SELECT "{self.key}", _content_hash, _history_id FROM "{name}" WHERE '
        self.max_id = f'SELECT COALESCE(MAX(history_id), 0) FROM "{name}_history"'
        self.records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        """Queue a record; write the batch when full."""
        self.records.append(record)
        if len(self.records) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the queued records' versions and current rows in one transaction."""
        if not self.records:
            return
        captured = datetime.now(_UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        rows, hashes = [], []
        for record in self.records:
            row = []
            for column in self.columns:
                value = record.get(column)
                if isinstance(value, (dict, list)):
                    value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
                row.append(value)
            rows.append(row)
            hashes.append(hashlib.blake2b(orjson.dumps(row), digest_size=16).hexdigest())
        keys = [row[self.key_index] for row in rows]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        stored: dict[Any, tuple[str, int]] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            sql = self.select + f'"{self.key}" IN ({", ".join("?" * len(chunk))})'
            for key, digest, history_id in conn.execute(sql, chunk):
                stored[key] = (digest, history_id)
        next_id = int(conn.execute(self.max_id).fetchone()[0]) + 1
        history, closes, final = [], [], []
        for row, digest, key, record in zip(rows, hashes, keys, self.records, strict=True):
            before = stored.get(key)
            if before is not None and before[0] == digest:
                continue
            valid_from = _utc_text(record.get("Modified_Time"), captured)
            if before is not None:
                closes.append((valid_from, before[1]))
            change = "insert" if before is None else "update"
            history.append([next_id, *row, digest, change, captured, 1, valid_from, None])
            final.append((next_id,))
            stored[key] = (digest, next_id)
            next_id += 1
        conn.executemany(self.insert_history, history)
        conn.executemany(self.close_history, closes)
        conn.executemany("INSERT INTO temp.final VALUES (?)", final)
        conn.execute(self.copy_current)
        conn.execute("DELETE FROM temp.final")
        conn.execute("COMMIT")
        self.records = []


def main() -> None:
    """Load stdin into the database named by the first argument."""
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    load(conn, Stream, orjson.loads)


if __name__ == "__main__":
    main()
