"""A stream's tables as the store sees them: columns, row building, hashing, SQL text.

:class:`StreamTable` turns records into rows and holds every statement the store runs
for a stream; identifiers are quoted here (values are always bound parameters).
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from collections.abc import Mapping, Sequence

import orjson

from target_sqlite_audit.bookkeeping import (
    CURRENT_BOOKKEEPING,
    HISTORY_BOOKKEEPING,
    NEW_VERSION_BOUND,
    SDK_METADATA,
)
from target_sqlite_audit.columns import Column, may_hold_containers
from target_sqlite_audit.naming import quote_ident

_INT64_MIN = -(2**63)
#: Largest integer a REAL (double) column holds exactly.
_EXACT_IN_REAL = 2**53
_INT64_MAX = 2**63 - 1
_SORT = orjson.OPT_SORT_KEYS


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def canonical_json(value: t.Any) -> str:
    """Compact JSON text with sorted keys; integers of any size kept exactly."""
    try:
        return orjson.dumps(value, option=_SORT).decode()
    except TypeError:  # orjson stops at 64-bit integers
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Unstorable(Exception):
    """A value that SQLite cannot hold (raised inside a batch, reported with its line)."""

    def __init__(self, prop: str, why: str) -> None:
        super().__init__(why)
        self.prop = prop
        self.why = why


class StreamTable:
    """A stream's tables, columns and the SQL statements that write them.

    Built by :meth:`AuditStore.register_stream`; immutable afterwards (a schema change
    builds a new one).
    """

    def __init__(
        self,
        *,
        stream_id: int,
        stream: str,
        table: str,
        history: str,
        key_properties: Sequence[str],
        columns: Sequence[Column],
        replication_key: str | None,
        lenient: bool,
        gone: frozenset[str] = frozenset(),
        ignored: frozenset[str] = frozenset(),
        quiet: frozenset[str] = frozenset(),
        open_valid_to: str | None = None,
    ) -> None:
        """Prepare column lists and SQL for one stream.

        Args:
            stream_id: Row id in ``_audit_streams``.
            stream: Stream name.
            table: Current-state table name.
            history: History table name.
            key_properties: Key properties (empty: the content hash is the key).
            columns: All data columns, in position order.
            replication_key: Property compared for the stale check, if any.
            lenient: Convert objects/arrays to JSON text in every column (used when
                records are not validated, so types are not guaranteed).
            gone: Properties with a column that the current SCHEMA no longer has: left out
                of the content hash and of ``changed_fields`` (their absence is no change).
            ignored: Properties whose changes alone update the current row in place (no
                version); never listed in ``changed_fields``.
            quiet: Properties left out of ``changed_fields`` (bookkeeping); they still count.
            open_valid_to: ``valid_to`` of an open version (NULL or a far-future instant).
        """
        self.stream_id = stream_id
        self.stream = stream
        self.table = table
        self.history = history
        self.columns = list(columns)
        self.props = [column.prop for column in self.columns]
        self.names = [column.name for column in self.columns]
        self.key_properties = list(key_properties)
        self.keyless = not self.key_properties
        by_prop = {column.prop: column for column in self.columns}
        self.replication_key = replication_key if replication_key in by_prop else None
        self.metadata_idx = [
            i for i, prop in enumerate(self.props) if prop in SDK_METADATA or prop in gone
        ]
        self.ignored_idx = [i for i, prop in enumerate(self.props) if prop in ignored]
        self._unlisted = frozenset(
            [*self.metadata_idx, *self.ignored_idx]
            + [i for i, prop in enumerate(self.props) if prop in quiet]
        )
        self._unversioned = frozenset([*self.metadata_idx, *self.ignored_idx])
        self.open_valid_to = open_valid_to
        self.container_idx = [
            i
            for i, column in enumerate(self.columns)
            if lenient or may_hold_containers(column.kind)
        ]
        self.json_idx = frozenset(
            i for i, column in enumerate(self.columns) if may_hold_containers(column.kind)
        )
        self.integer_idx = [i for i, c in enumerate(self.columns) if c.kind == "integer"]
        #: Positions in a :meth:`new_version` row of the columns that may hold booleans.
        self._bool_at = [1 + i for i, c in enumerate(self.columns) if c.kind in ("boolean", "any")]
        self.number_idx = [i for i, c in enumerate(self.columns) if c.kind == "number"]
        self.text_key = [by_prop[prop].kind == "text" for prop in self.key_properties]
        #: Row position of a single text key: a text value there is the key as is.
        self.text_key_at: int | None = (
            self.props.index(self.key_properties[0])
            if len(self.key_properties) == 1 and self.text_key[0]
            else None
        )

        q = quote_ident
        t_q, h_q = q(table), q(history)
        data_cols = [q(name) for name in self.names]
        if self.keyless:
            self.key_columns = [q("_content_hash")]
        else:
            self.key_columns = [q(by_prop[prop].name) for prop in self.key_properties]
        rk_col = q(by_prop[self.replication_key].name) if self.replication_key else "NULL"
        keys = ", ".join(self.key_columns)
        self._state_select = (
            f'SELECT {keys}, "_content_hash", {rk_col}, "_deleted_at", "_sync_id", '
            f'"_history_id" FROM {t_q} WHERE '
        )
        #: The stored state of the keys in a range of one text key column, at most a
        #: given number of rows (parameters: low, high, limit); None for other keys.
        self.state_range_sql: str | None = None
        if len(self.key_columns) == 1 and not self.keyless and self.text_key[0]:
            self.state_range_sql = (
                self._state_select + f"{self.key_columns[0]} BETWEEN ? AND ? LIMIT ?"
            )
        hist_keys = [q(by_prop[p].name) for p in self.key_properties] or [q("content_hash")]
        self._hist_key_columns = hist_keys
        #: The replication key's column (quoted), or None.
        self.rk_column = q(by_prop[self.replication_key].name) if self.replication_key else None
        hist_key_list = ", ".join(hist_keys)
        self._versions_select = (
            f'SELECT "history_id", {", ".join(data_cols)}, "valid_from" FROM {h_q} '
            'WHERE "history_id" IN '
        )
        self._window_select = (
            f'SELECT {hist_key_list}, "content_hash", "change_type", {rk_col}, "valid_from", '
            f'"history_id" FROM {h_q} WHERE '
        )
        #: The version of one key just before a given history id (the state at a mark).
        self.base_sql = (
            f'SELECT "content_hash", "change_type", {rk_col}, "valid_from" FROM {h_q} WHERE '
            + key_condition(hist_keys, 1)
            + ' AND "history_id" < ? ORDER BY "history_id" DESC LIMIT 1'
        )
        self._gone_select = (
            f'SELECT {hist_key_list}, "content_hash", {rk_col}, "valid_from", "sync_id", '
            f'"history_id" FROM {h_q} WHERE {open_condition(open_valid_to)} '
            "AND \"change_type\" = 'delete' AND "
        )
        self.max_history_sql = f'SELECT COALESCE(MAX("history_id"), 0) FROM {h_q}'
        hist_cols = [q("history_id"), *data_cols, *(q(n) for n in HISTORY_BOOKKEEPING[1:])]
        self.insert_history_sql = (
            f"INSERT INTO {h_q} ({', '.join(hist_cols)}) VALUES ({', '.join('?' * len(hist_cols))})"
        )
        # Why the constants are literals: sqlite3 binds None (and bool) through its adapter
        # lookup, which costs more than the value; NULL and 'insert' need no binding.
        new_cols = [q("history_id"), *data_cols, *(q(n) for n in NEW_VERSION_BOUND)]
        open_to = "NULL" if open_valid_to is None else sql_text(open_valid_to)
        #: INSERT of an open insert version (parameters: :meth:`new_version`).
        self.insert_new_sql = (
            f'INSERT INTO {h_q} ({", ".join(new_cols)}, "change_type", "changed_fields", '
            f'"is_current", "valid_to") VALUES ({", ".join("?" * len(new_cols))}, '
            f"'insert', NULL, 1, {open_to})"
        )
        self.close_history_sql = (
            f'UPDATE {h_q} SET "valid_to" = ?, "is_current" = 0 WHERE "history_id" = ?'
        )
        cur_cols = [*data_cols, *(q(n) for n in CURRENT_BOOKKEEPING)]
        updates = ", ".join(
            f"{col} = excluded.{col}" for col in cur_cols if col != q("_first_seen_at")
        )
        # Current rows are copied from the history rows just written (joined by rowid)
        # instead of being bound from Python a second time: half the binding work.
        h_data = ", ".join(f"h.{col}" for col in data_cols)
        self.upsert_from_history_sql = (
            f"INSERT INTO {t_q} ({', '.join(cur_cols)}) "
            f'SELECT {h_data}, h."captured_at", h."captured_at", f.deleted_at, '
            f'h."content_hash", h."sync_id", h."history_id" '
            f'FROM temp._audit_final AS f JOIN {h_q} AS h ON h."history_id" = f.history_id '
            f"WHERE 1 ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
        #: The same from a range of history ids (parameters: first, last), none deleted.
        self.upsert_range_sql = (
            f"INSERT INTO {t_q} ({', '.join(cur_cols)}) "
            f'SELECT {h_data}, h."captured_at", h."captured_at", NULL, '
            f'h."content_hash", h."sync_id", h."history_id" '
            f'FROM {h_q} AS h WHERE h."history_id" BETWEEN ? AND ? '
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
        self.delete_sql = f"DELETE FROM {t_q} WHERE " + key_condition(self.key_columns, 1)
        #: In-place update of the ignored columns and the content hash of one key.
        self.touch_sql = (
            f"UPDATE {t_q} SET "
            + "".join(f"{q(self.names[i])} = ?, " for i in self.ignored_idx)
            + '"_content_hash" = ? WHERE '
            + key_condition(self.key_columns, 1)
        )
        #: Whether an update may turn out to be no version (gone or ignored columns).
        self.has_gone = bool(gone) or bool(self.ignored_idx)

    # -- record helpers ---------------------------------------------------------------

    def key_of(self, record: Mapping[str, t.Any], content_hash: str) -> t.Any:
        """Return the lookup key of a record, normalised like SQLite stores it.

        Args:
            record: The record.
            content_hash: Its content hash (the key of keyless streams).

        Returns:
            A scalar for single-property keys, a tuple for composite keys.
        """
        if self.keyless:
            return content_hash
        values = []
        for prop, text in zip(self.key_properties, self.text_key, strict=True):
            value = record.get(prop)
            kind = type(value)
            if text and kind is int:
                value = str(value)
            elif kind is dict or kind is list:  # stored (and compared) as canonical JSON
                value = canonical_json(value)
            values.append(value)
        return values[0] if len(values) == 1 else tuple(values)

    def new_version(
        self,
        history_id: int,
        data: Sequence[t.Any],
        content_hash: str,
        captured_at: str,
        sync_id: int | None,
        valid_from: str,
    ) -> list[t.Any]:
        """Parameters of :attr:`insert_new_sql`, an open insert version of ``data``.

        Booleans are bound as the integers SQLite stores for them (the row and its hash
        keep them as booleans).
        """
        row = [history_id, *data, content_hash, captured_at, sync_id, valid_from]
        for i in self._bool_at:
            value = row[i]
            if type(value) is bool:
                row[i] = int(value)
        return row

    def key_params(self, key: t.Any) -> tuple[t.Any, ...]:
        """Return the SQL parameters for a key."""
        return key if type(key) is tuple else (key,)

    def build_row(self, record: Mapping[str, t.Any]) -> list[t.Any]:
        """Convert a record to the values of the data columns, in column order.

        Objects and arrays become compact JSON text with sorted keys (canonical, so
        that key order is never a change); absent properties become NULL.

        Args:
            record: The record.

        Returns:
            One value per data column.

        Raises:
            Unstorable: If an integer does not fit SQLite's 64-bit INTEGER.
        """
        get = record.get
        row = [get(prop) for prop in self.props]
        for i in self.container_idx:
            value = row[i]
            kind = type(value)
            if kind is dict or kind is list:
                row[i] = canonical_json(value)
        for i in self.integer_idx:
            whole: t.Any = row[i]
            if type(whole) in (float, int) and not _INT64_MIN <= whole <= _INT64_MAX:
                raise Unstorable(self.props[i], "holds an integer outside the 64-bit range")
        for i in self.number_idx:
            number: t.Any = row[i]
            kind = type(number)
            if kind is int:
                if not -_EXACT_IN_REAL <= number <= _EXACT_IN_REAL:
                    # A REAL column would round it (two keys could merge): refuse, not guess.
                    raise Unstorable(
                        self.props[i],
                        f"holds {number}, an integer a number column cannot keep exactly "
                        "(beyond 2^53); declare the property integer or string",
                    )
            elif kind is float and number.is_integer() and abs(number) <= _EXACT_IN_REAL:
                # 5 and 5.0 are one value in a REAL column: one content hash, no update.
                row[i] = int(number)
        return row

    def row_hash(self, row: Sequence[t.Any]) -> str:
        """Hash a row's stored content (the values :meth:`build_row` returns).

        The row is JSON-encoded with trailing NULLs dropped, so a column added by a
        later SCHEMA (NULL in every existing row) never changes a hash; objects and
        arrays are already canonical JSON (sorted keys), so key order never counts.
        ``_sdc_*`` metadata columns are left out.

        Args:
            row: The row values, in column order.

        Returns:
            A 32-character hex digest (BLAKE2b, 128 bits).
        """
        if self.metadata_idx:
            row = list(row)
            for i in self.metadata_idx:
                row[i] = None
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        try:
            data = orjson.dumps(row[:end])
        except TypeError:  # an integer beyond 64 bits: the json module writes it exactly
            data = json.dumps(row[:end], separators=(",", ":")).encode()
        # digest().hex(): the same text as hexdigest(), in three quarters of its time.
        return hashlib.blake2b(data, digest_size=16).digest().hex()

    def changed_columns(self, old: Sequence[t.Any], new: Sequence[t.Any]) -> list[str]:
        """List the columns ``changed_fields`` names: those that differ between two rows.

        Metadata, ignored and bookkeeping columns are left out. JSON columns compare by
        parsed value, so a reordered object is not a change.

        Args:
            old: The previous version's column values.
            new: The new version's column values.

        Returns:
            Column names, in column order.
        """
        return self._differences(old, new, self._unlisted)

    def versioned_changes(self, old: Sequence[t.Any], new: Sequence[t.Any]) -> list[str]:
        """Columns whose differences make a new version (ignored and metadata left out)."""
        return self._differences(old, new, self._unversioned)

    def touch_params(self, row: Sequence[t.Any], digest: str, key: t.Any) -> tuple[t.Any, ...]:
        """Parameters of :attr:`touch_sql` for a row."""
        return (*(row[i] for i in self.ignored_idx), digest, *self.key_params(key))

    def _differences(
        self, old: Sequence[t.Any], new: Sequence[t.Any], skipped: frozenset[int]
    ) -> list[str]:
        changed = []
        for i, (before, after) in enumerate(zip(old, new, strict=True)):
            if before == after or i in skipped:
                continue
            if (
                i in self.json_idx
                and isinstance(before, str)
                and isinstance(after, str)
                and same_json(before, after)
            ):
                continue
            changed.append(self.names[i])
        return changed

    # -- SQL builders -------------------------------------------------------------------

    def state_sql(self, count: int) -> str:
        """SELECT of the stored state (hash, replication key, ...) for ``count`` keys."""
        return self._state_select + key_condition(self.key_columns, count)

    def versions_sql(self, count: int) -> str:
        """SELECT of ``count`` history versions (data and ``valid_from``) by id."""
        return self._versions_select + "(" + ", ".join("?" * count) + ")"

    def window_sql(self, count: int, syncs: int) -> str:
        """SELECT of the history versions ``syncs`` syncs wrote after their last STATE.

        Parameters: (sync id, history id of its last STATE) per sync, then the keys.
        """
        after = " OR ".join(['("sync_id" = ? AND "history_id" > ?)'] * syncs)
        return (
            self._window_select
            + f"({after}) AND "
            + key_condition(self._hist_key_columns, count)
            + ' ORDER BY "history_id"'
        )

    def gone_sql(self, count: int) -> str:
        """SELECT of the open ``delete`` versions of ``count`` hard-deleted keys."""
        return self._gone_select + key_condition(self._hist_key_columns, count)


def open_condition(open_valid_to: str | None) -> str:
    """WHERE text true for an open version (NULL ``valid_to``, or the far-future one)."""
    if open_valid_to is None:
        return '"valid_to" IS NULL'
    return f'("valid_to" IS NULL OR "valid_to" = {sql_text(open_valid_to)})'


def key_condition(columns: Sequence[str], count: int) -> str:
    """``col IN (?, ...)``, or ``(a, b) IN (VALUES (?, ?), ...)`` for composite keys."""
    if len(columns) == 1:
        return f"{columns[0]} IN ({', '.join('?' * count)})"
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f"({', '.join(columns)}) IN (VALUES {', '.join([row] * count)})"


def same_json(before: str, after: str) -> bool:
    """True if two JSON texts hold equal values (key order aside)."""
    try:
        return bool(orjson.loads(before) == orjson.loads(after))
    except orjson.JSONDecodeError:
        return False
