"""The target baseline: the least a Python loader can do with Singer input and SQLite.

``python benchmarks/baseline_loader.py DATABASE < messages.jsonl``

Parses every line with ``json.loads``, creates one table per SCHEMA (a column per top-level
property, the key as primary key, objects and arrays as JSON text) and upserts RECORDs with
``executemany`` in 10,000-row transactions (``INSERT ... ON CONFLICT DO UPDATE``), in WAL mode
with SQLite's default (FULL) synchronous setting. No validation, no history, no change
detection: the physical limit for a Python loader, which target-sqlite-audit is compared with.
Prints the last STATE value, as a target does. Standard library only, so that importing it
costs what a minimal script costs.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

BATCH = 10_000


class Stream:
    """One table and its pending rows."""

    def __init__(self, conn: sqlite3.Connection, name: str, message: dict[str, Any]) -> None:
        """Create the table of a SCHEMA message."""
        self.conn = conn
        self.columns = list(message["schema"]["properties"])
        keys = message.get("key_properties") or [self.columns[0]]
        quoted = ", ".join(f'"{c}"' for c in self.columns)
        key_list = ", ".join(f'"{k}"' for k in keys)
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({quoted}, PRIMARY KEY ({key_list}))')
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in self.columns if c not in keys)
        self.sql = (
            f'INSERT INTO "{name}" ({quoted}) VALUES ({", ".join("?" for _ in self.columns)}) '
            f"ON CONFLICT ({key_list}) DO UPDATE SET {updates}"
        )
        self.rows: list[tuple[Any, ...]] = []

    def add(self, record: dict[str, Any]) -> None:
        """Queue a record; write the batch when full."""
        row = []
        for column in self.columns:
            value = record.get(column)
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            row.append(value)
        self.rows.append(tuple(row))
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Upsert the queued rows in one transaction."""
        if not self.rows:
            return
        self.conn.execute("BEGIN")
        self.conn.executemany(self.sql, self.rows)
        self.conn.execute("COMMIT")
        self.rows = []


def load(conn: sqlite3.Connection, stream_class: Any, loads: Any = json.loads) -> None:
    """Read Singer messages from stdin into ``conn``, one ``stream_class`` per stream.

    ``stream_class(conn, name, schema_message)`` must have ``add(record)`` and ``flush()``
    (``baseline_audit.py`` passes its own). Prints the last STATE value.
    """
    streams: dict[str, Any] = {}
    state = None
    for line in sys.stdin.buffer:
        message = loads(line)
        kind = message["type"]
        if kind == "RECORD":
            streams[message["stream"]].add(message["record"])
        elif kind == "SCHEMA":
            name = message["stream"]
            if name in streams:
                streams[name].flush()
            streams[name] = stream_class(conn, name, message)
        elif kind == "STATE":
            state = message["value"]
    for stream in streams.values():
        stream.flush()
    conn.close()
    if state is not None:
        print(json.dumps(state))


def main() -> None:
    """Load stdin into the database named by the first argument."""
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    load(conn, Stream)


if __name__ == "__main__":
    main()
