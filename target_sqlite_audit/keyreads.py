"""Reading the stored state of a batch's keys: by key range or key by key."""

from __future__ import annotations

import sqlite3
import typing as t
from collections.abc import Sequence

from target_sqlite_audit.bookkeeping import chunks
from target_sqlite_audit.decisions import StoredKey
from target_sqlite_audit.tables import StreamTable

#: Batches of fewer keys are looked up key by key (a range scan saves nothing on them).
RANGE_MIN = 50
#: A range scan is given up once it reaches this many rows per key of the batch.
RANGE_SPREAD = 2


def fetch_state(
    conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any], *, utf8: bool
) -> dict[t.Any, StoredKey]:
    """The stored version of each key that has a current row.

    A batch of text keys is first read as one range scan of the key column, which costs a
    fraction of as many key lookups when the keys are close together (a tap reading in id
    order, a replay); when the range holds more than twice as many rows as there are keys,
    the keys are looked up one by one instead. So are the keys of a file that is not UTF-8
    (``utf8`` False): UTF-16 text does not sort by code point, as Python's min and max do.
    """
    range_sql = table.state_range_sql
    if utf8 and range_sql is not None and len(keys) >= RANGE_MIN:
        found = fetch_range(conn, range_sql, keys)
        if found is not None:
            return found
    return fetch_by_key(conn, table, keys, len(table.key_columns), table.state_sql, True)


def fetch_range(
    conn: sqlite3.Connection, range_sql: str, keys: Sequence[t.Any]
) -> dict[t.Any, StoredKey] | None:
    """Stored versions of text keys read by one bounded range scan, or None if it is sparse."""
    for key in keys:
        if type(key) is not str:
            return None
    limit = RANGE_SPREAD * len(keys)
    rows = conn.execute(range_sql, (min(keys), max(keys), limit + 1)).fetchall()
    if len(rows) > limit:
        return None
    wanted = set(keys)
    new = tuple.__new__  # StoredKey._make without its Python-level length check
    return {row[0]: new(StoredKey, (*row[1:], True, True)) for row in rows if row[0] in wanted}


def fetch_by_key(
    conn: sqlite3.Connection,
    table: StreamTable,
    keys: Sequence[t.Any],
    width: int,
    sql_for: t.Callable[[int], str],
    alive: bool,
) -> dict[t.Any, StoredKey]:
    """Stored versions of a keyed query, chunked below SQLite's parameter limit."""
    found: dict[t.Any, StoredKey] = {}
    for chunk in chunks(keys):
        params = [v for key in chunk for v in table.key_params(key)]
        for row in conn.execute(sql_for(len(chunk)), params):
            key = row[0] if width == 1 else tuple(row[:width])
            found[key] = StoredKey._make((*row[width:], alive, True))
    return found
