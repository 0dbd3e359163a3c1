"""Audit-file format versions (``PRAGMA user_version``) and the steps between them.

Each step upgrades a file of the version before it, in place and in one transaction; a file
of a newer version than this target knows is refused in one sentence, never written to.

- 1: the first release (history with ``valid_from``/``valid_to``; ``user_version`` unset).
- 2: ``is_current`` in every history table (1 for the live version of a key, 0 otherwise),
  backfilled from ``valid_to``/``change_type``.
"""

from __future__ import annotations

import sqlite3
import typing as t

from target_sqlite_audit.errors import StorageError
from target_sqlite_audit.naming import quote_ident

__all__ = ["CURRENT_VERSION", "migrate", "refuse_newer"]

CURRENT_VERSION = 2


def _history_tables(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_audit_streams'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT history_table FROM _audit_streams")]


def _add_is_current(conn: sqlite3.Connection) -> None:
    for history in _history_tables(conn):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote_ident(history)})")}
        if "is_current" in columns:
            continue
        h_q = quote_ident(history)
        conn.execute(f'ALTER TABLE {h_q} ADD COLUMN "is_current" INTEGER NOT NULL DEFAULT 0')
        conn.execute(
            f'UPDATE {h_q} SET "is_current" = 1 WHERE "valid_to" IS NULL '
            "AND \"change_type\" <> 'delete'"
        )


#: Step n upgrades a file of version n to n + 1 (version 0 is an unset user_version: 1).
_STEPS: dict[int, t.Callable[[sqlite3.Connection], None]] = {
    1: _add_is_current,
}


def refuse_newer(conn: sqlite3.Connection, path: object) -> None:
    """Refuse a file of a newer format than :data:`CURRENT_VERSION`, before any write.

    Raises:
        StorageError: In one sentence.
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > CURRENT_VERSION:
        msg = (
            f"The audit file {path} was written by a newer target-sqlite-audit (format "
            f"{found}; this one reads up to {CURRENT_VERSION}), so it is left untouched; "
            "upgrade target-sqlite-audit."
        )
        raise StorageError(msg)


def migrate(conn: sqlite3.Connection, path: object) -> int:
    """Bring the open audit file to :data:`CURRENT_VERSION` (a new file just gets it).

    Args:
        conn: The connection (autocommit mode; each step runs in a transaction).
        path: The file, for the error sentence.

    Returns:
        The version the file had.

    Raises:
        StorageError: The file is of a newer format than this target reads.
    """
    refuse_newer(conn, path)
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found == CURRENT_VERSION:
        return found
    version = max(found, 1)
    fresh = not _history_tables(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not fresh:
            while version < CURRENT_VERSION:
                _STEPS[version](conn)
                version += 1
        conn.execute(f"PRAGMA user_version = {CURRENT_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
            conn.execute("ROLLBACK")
        raise
    return found
