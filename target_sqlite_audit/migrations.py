"""Audit-file format versions (``PRAGMA user_version``) and the steps between them.

Each step upgrades a file of the version before it, in place and in one transaction; a file
of a newer version than this target knows is refused in one sentence, never written to.

- 1: the first release (history with ``valid_from``/``valid_to``; ``user_version`` unset).
- 2: ``is_current`` in every history table (1 for the live version of a key, 0 otherwise),
  backfilled from ``valid_to``/``change_type``.
- 3: foreign keys from every history table's ``sync_id`` and every current table's
  ``_sync_id`` to ``sync_log (id)`` (tables rebuilt, rows, indexes and views kept).
"""

from __future__ import annotations

import sqlite3
import typing as t

from target_sqlite_audit.errors import StorageError
from target_sqlite_audit.naming import quote_ident

__all__ = ["CURRENT_VERSION", "migrate", "refuse_newer", "set_open_valid_to"]

CURRENT_VERSION = 3


def _stream_tables(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(current table, history table) of every stream."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_audit_streams'"
    ).fetchone()
    if not exists:
        return []
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT table_name, history_table FROM _audit_streams"
    )]  # fmt: skip


def _history_tables(conn: sqlite3.Connection) -> list[str]:
    return [history for _, history in _stream_tables(conn)]


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


def _rebuild_with(conn: sqlite3.Connection, table: str, old: str, new: str) -> None:
    """Rebuild ``table`` with ``old`` replaced by ``new`` in its definition.

    SQLite's documented way to add a constraint; rows and indexes are kept.
    """
    found = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None or old not in found[0]:
        return
    indexes = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        )
    ]
    interim = quote_ident(f"_audit_rebuild_{table}")
    _, body = found[0].split("(", 1)
    conn.execute(f"CREATE TABLE {interim} (" + body.replace(old, new, 1))
    conn.execute(f"INSERT INTO {interim} SELECT * FROM {quote_ident(table)}")
    conn.execute(f"DROP TABLE {quote_ident(table)}")
    conn.execute(f"ALTER TABLE {interim} RENAME TO {quote_ident(table)}")
    for sql in indexes:
        conn.execute(sql)


def _add_sync_foreign_keys(conn: sqlite3.Connection) -> None:
    # Views name the tables being rebuilt: set aside and recreated unchanged.
    views = [
        (name, sql)
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
    ]
    for name, _ in views:
        conn.execute(f"DROP VIEW {quote_ident(name)}")
    for current, history in _stream_tables(conn):
        _rebuild_with(
            conn,
            current,
            '"_sync_id" INTEGER NOT NULL',
            '"_sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
        )
        _rebuild_with(
            conn,
            history,
            '"sync_id" INTEGER NOT NULL',
            '"sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
        )
    for _, sql in views:
        conn.execute(sql)


#: Step n upgrades a file of version n to n + 1 (version 0 is an unset user_version: 1).
_STEPS: dict[int, t.Callable[[sqlite3.Connection], None]] = {
    1: _add_is_current,
    2: _add_sync_foreign_keys,
}


def set_open_valid_to(conn: sqlite3.Connection, open_valid_to: str | None) -> None:
    """Give every open version the ``valid_to`` the settings ask for (when they changed).

    Call inside a transaction; the choice is recorded in ``_audit_meta`` so that an
    unchanged setting costs one lookup.
    """
    wanted = open_valid_to or ""
    found = conn.execute("SELECT value FROM _audit_meta WHERE key = 'open_valid_to'").fetchone()
    recorded = found[0] if found else ""
    if recorded == wanted:
        return
    for history in _history_tables(conn):
        h_q = quote_ident(history)
        if wanted:
            conn.execute(f'UPDATE {h_q} SET "valid_to" = ? WHERE "valid_to" IS NULL', (wanted,))
        else:
            conn.execute(f'UPDATE {h_q} SET "valid_to" = NULL WHERE "valid_to" = ?', (recorded,))
    conn.execute(
        "INSERT OR REPLACE INTO _audit_meta (key, value) VALUES ('open_valid_to', ?)", (wanted,)
    )


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
