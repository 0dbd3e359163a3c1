"""Views over a stream's tables for analysts: field changes and the seed's column names.

Views hold no data, so they are dropped and created again whenever the stream gains
columns; a name already taken by a table is left alone.
"""

from __future__ import annotations

import sqlite3

from target_sqlite_audit.naming import quote_ident
from target_sqlite_audit.tables import StreamTable, sql_text

#: The seed's (crm-sync) names for bookkeeping, as ``<table>_audit`` exposes them.
SEED_NAMES = ("created_at", "updated_at", "zoho_modified_time", "deleted_at")
#: ... and as ``<table>_audit_history`` does.
SEED_HISTORY_NAMES = ("zoho_modified_time", "captured_at", "change_type", "changed_fields")


def changes_view_name(table: StreamTable) -> str:
    """Name of the stream's field-change view: ``<table>_changes``."""
    return f"{table.table}_changes"


def view_names(table: StreamTable) -> list[str]:
    """Every view this module keeps for a stream."""
    return [changes_view_name(table), f"{table.table}_audit", f"{table.table}_audit_history"]


def changes_view_sql(table: StreamTable) -> str:
    """CREATE of the view with one row per changed field per version.

    Columns: ``history_id``, the key columns, ``field`` (a column name), ``old_value``
    (the previous version's), ``new_value``, ``valid_from``, ``sync_id``,
    ``change_type``: "every Lead_Status change last month" is a plain WHERE.
    """
    q = quote_ident
    h_q, v_q = q(table.history), q(changes_view_name(table))
    keys = table._hist_key_columns
    match = " AND ".join(f"p2.{k} = h.{k}" for k in keys)
    old = " ".join(f"WHEN {sql_text(n)} THEN p.{q(n)}" for n in table.names)
    new = " ".join(f"WHEN {sql_text(n)} THEN h.{q(n)}" for n in table.names)
    key_list = ", ".join(f"h.{k}" for k in keys)
    return (
        f'CREATE VIEW {v_q} AS SELECT h."history_id", {key_list}, j.value AS field, '
        f"CASE j.value {old or 'WHEN NULL THEN NULL'} END AS old_value, "
        f"CASE j.value {new or 'WHEN NULL THEN NULL'} END AS new_value, "
        'h."valid_from", h."sync_id", h."change_type" '
        f'FROM {h_q} AS h JOIN json_each(h."changed_fields") AS j '
        f'LEFT JOIN {h_q} AS p ON p."history_id" = (SELECT max(p2."history_id") '
        f'FROM {h_q} AS p2 WHERE {match} AND p2."history_id" < h."history_id") '
        "WHERE h.\"change_type\" = 'update'"
    )


def _data_columns(table: StreamTable, reserved: tuple[str, ...]) -> str:
    return "".join(f"{quote_ident(name)}, " for name in table.names if name.lower() not in reserved)


def seed_views_sql(table: StreamTable) -> list[str]:
    """CREATE of ``<table>_audit`` and ``<table>_audit_history`` (the seed's names).

    ``created_at``/``updated_at`` are the local capture times of the first and the latest
    version (``_first_seen_at``/``_last_changed_at``), ``zoho_modified_time`` the
    replication key (Zoho's ``Modified_Time``); data columns of those names are left out.
    """
    q = quote_ident
    rk = table.rk_column or "NULL"
    current = (
        f"CREATE VIEW {q(table.table + '_audit')} AS SELECT "
        + _data_columns(table, SEED_NAMES)
        + f'"_first_seen_at" AS created_at, "_last_changed_at" AS updated_at, '
        f'{rk} AS zoho_modified_time, "_deleted_at" AS deleted_at, "_sync_id" AS sync_id '
        f"FROM {q(table.table)}"
    )
    history = (
        f'CREATE VIEW {q(table.table + "_audit_history")} AS SELECT "history_id", '
        + _data_columns(table, (*SEED_HISTORY_NAMES, "history_id"))
        + f'{rk} AS zoho_modified_time, "captured_at", "change_type", "changed_fields", '
        f'"valid_from", "valid_to", "is_current", "sync_id" FROM {q(table.history)}'
    )
    return [current, history]


def refresh_views(conn: sqlite3.Connection, table: StreamTable) -> None:
    """Drop and create the stream's views (skipping names a table already holds)."""
    statements = [changes_view_sql(table), *seed_views_sql(table)]
    for name, create in zip(view_names(table), statements, strict=True):
        kind = conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        if kind is not None and kind[0] != "view":
            continue
        conn.execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
        conn.execute(create)


def has_views(conn: sqlite3.Connection, table: StreamTable) -> bool:
    """True if every view of the stream exists (or its name is a table's)."""
    names = view_names(table)
    found = conn.execute(
        f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})",
        names,
    ).fetchone()[0]
    return int(found) == len(names)
