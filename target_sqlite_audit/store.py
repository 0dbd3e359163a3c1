"""The SQLite store: current tables, history tables and the sync log (the bottom layer).

Everything that touches SQLite lives here; the Singer side (target, sinks) only hands
over batches of plain records.  Design points:

* **One writer.**  :class:`~target_sqlite_audit.locking.WriterLock` is held from
  :meth:`AuditStore.open` to :meth:`AuditStore.close`; the file is in WAL mode so that
  readers (``report``) never block the writer.
* **A batch is one transaction.**  History rows, current rows and the sync-log counts of
  a batch commit together or not at all, so a SIGKILL leaves either the whole batch or
  none of it.  With ``synchronous=FULL`` a commit is durable before the target emits the
  STATE that covers it.
* **No per-record round trips.**  Per batch: one query for the stored hashes of the
  batch's keys, one for the previous rows of the records that change (only those), then
  ``executemany`` for the writes.
* **Idempotent replay.**  A record whose content hash equals the stored one writes
  nothing.  A rerun after an interrupted or failed sync also skips versions that the
  failed run had already written (see :meth:`AuditStore.begin_sync`), so replaying the
  same input after a kill adds no history.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import orjson

from target_sqlite_audit.columns import (
    DECLARED_TYPES,
    KIND_DESCRIPTIONS,
    Column,
    column_kind,
    compatible,
    may_hold_containers,
)
from target_sqlite_audit.errors import InputError, SchemaChangeError, StorageError
from target_sqlite_audit.instants import (
    compare_replication_values,
    format_instant,
    parse_instant,
    utc_now_text,
)
from target_sqlite_audit.locking import WriterLock
from target_sqlite_audit.naming import (
    assign_column_names,
    quote_ident,
    table_name_for,
)

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
    "valid_from",
    "valid_to",
)
RESERVED_COLUMNS = frozenset(name.lower() for name in CURRENT_BOOKKEEPING + HISTORY_BOOKKEEPING)
RESERVED_TABLES = frozenset(
    {"sync_log", "sync_log_streams", "_audit_meta", "_audit_streams", "_audit_columns"}
)
#: The Singer property that marks a record as deleted.
DELETED_MARKER = "_sdc_deleted_at"
SCHEMA_VERSION = "1"
SYNC_STATUSES = ("running", "completed", "failed", "interrupted")

_CHUNK = 500
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_SORT = orjson.OPT_SORT_KEYS
_BINDING_ERRORS = (
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
    OverflowError,
    UnicodeEncodeError,
    TypeError,
    ValueError,
)

_META_DDL = (
    """CREATE TABLE IF NOT EXISTS _audit_meta (
        key TEXT PRIMARY KEY,
        value TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS _audit_streams (
        stream_id INTEGER PRIMARY KEY,
        stream TEXT NOT NULL UNIQUE,
        table_name TEXT NOT NULL,
        history_table TEXT NOT NULL,
        key_properties TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS _audit_columns (
        stream_id INTEGER NOT NULL REFERENCES _audit_streams (stream_id),
        property TEXT NOT NULL,
        column_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        declared_type TEXT NOT NULL,
        position INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (stream_id, property)
    )""",
    """CREATE TABLE IF NOT EXISTS sync_log (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        completed_at TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
        records_fetched INTEGER NOT NULL DEFAULT 0,
        records_inserted INTEGER NOT NULL DEFAULT 0,
        records_updated INTEGER NOT NULL DEFAULT 0,
        records_unchanged INTEGER NOT NULL DEFAULT 0,
        records_deleted INTEGER NOT NULL DEFAULT 0,
        records_stale INTEGER NOT NULL DEFAULT 0,
        error_message TEXT,
        state TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS sync_log_streams (
        sync_id INTEGER NOT NULL REFERENCES sync_log (id),
        stream TEXT NOT NULL,
        table_name TEXT,
        records_fetched INTEGER NOT NULL DEFAULT 0,
        records_inserted INTEGER NOT NULL DEFAULT 0,
        records_updated INTEGER NOT NULL DEFAULT 0,
        records_unchanged INTEGER NOT NULL DEFAULT 0,
        records_deleted INTEGER NOT NULL DEFAULT 0,
        records_stale INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sync_id, stream)
    )""",
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


class _Unstorable(Exception):
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
        self.metadata_idx = [i for i, prop in enumerate(self.props) if prop.startswith("_sdc_")]
        self.container_idx = [
            i
            for i, column in enumerate(self.columns)
            if lenient or may_hold_containers(column.kind)
        ]
        self.json_idx = frozenset(
            i for i, column in enumerate(self.columns) if may_hold_containers(column.kind)
        )
        self.integer_idx = [i for i, c in enumerate(self.columns) if c.kind == "integer"]
        self.text_key = [by_prop[prop].kind == "text" for prop in self.key_properties]

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
        hist_keys = [q(by_prop[p].name) for p in self.key_properties] or [q("content_hash")]
        self._hist_key_columns = hist_keys
        hist_key_list = ", ".join(hist_keys)
        self._versions_select = (
            f'SELECT "history_id", {", ".join(data_cols)}, "valid_from" FROM {h_q} '
            'WHERE "history_id" IN '
        )
        self._window_select = (
            f'SELECT {hist_key_list}, "content_hash", "change_type", {rk_col}, "valid_from" '
            f"FROM {h_q} WHERE "
        )
        self._seen_select = (
            f'SELECT {hist_key_list}, "content_hash", "change_type", "valid_from" FROM {h_q} WHERE '
        )
        self._gone_select = (
            f'SELECT {hist_key_list}, "content_hash", {rk_col}, "valid_from", "sync_id", '
            f'"history_id" FROM {h_q} WHERE "valid_to" IS NULL AND "change_type" = \'delete\' '
            "AND "
        )
        self.max_history_sql = f'SELECT COALESCE(MAX("history_id"), 0) FROM {h_q}'
        hist_cols = [q("history_id"), *data_cols, *(q(n) for n in HISTORY_BOOKKEEPING[1:])]
        self.insert_history_sql = (
            f"INSERT INTO {h_q} ({', '.join(hist_cols)}) VALUES ({', '.join('?' * len(hist_cols))})"
        )
        self.close_history_sql = f'UPDATE {h_q} SET "valid_to" = ? WHERE "history_id" = ?'
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
        self.delete_sql = f"DELETE FROM {t_q} WHERE " + _key_condition(self.key_columns, 1)

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
                value = orjson.dumps(value, option=_SORT).decode()
            values.append(value)
        return values[0] if len(values) == 1 else tuple(values)

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
            _Unstorable: If an integer does not fit SQLite's 64-bit INTEGER.
        """
        get = record.get
        row = [get(prop) for prop in self.props]
        for i in self.container_idx:
            value = row[i]
            kind = type(value)
            if kind is dict or kind is list:
                row[i] = orjson.dumps(value, option=_SORT).decode()
        for i in self.integer_idx:
            value = row[i]
            if type(value) is float and not _INT64_MIN <= value <= _INT64_MAX:
                raise _Unstorable(self.props[i], "holds an integer outside the 64-bit range")
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
        return hashlib.blake2b(orjson.dumps(row[:end]), digest_size=16).hexdigest()

    def changed_columns(self, old: Sequence[t.Any], new: Sequence[t.Any]) -> list[str]:
        """List the columns whose values differ between two rows.

        JSON columns compare by parsed value, so a reordered object is not a change.

        Args:
            old: The previous version's column values.
            new: The new version's column values.

        Returns:
            Column names, in column order.
        """
        changed = []
        for i, (before, after) in enumerate(zip(old, new, strict=True)):
            if before == after:
                continue
            if (
                i in self.json_idx
                and isinstance(before, str)
                and isinstance(after, str)
                and _same_json(before, after)
            ):
                continue
            changed.append(self.names[i])
        return changed

    # -- SQL builders -------------------------------------------------------------------

    def state_sql(self, count: int) -> str:
        """SELECT of the stored state (hash, replication key, ...) for ``count`` keys."""
        return self._state_select + _key_condition(self.key_columns, count)

    def versions_sql(self, count: int) -> str:
        """SELECT of ``count`` history versions (data and ``valid_from``) by id."""
        return self._versions_select + "(" + ", ".join("?" * count) + ")"

    def window_sql(self, count: int, syncs: int) -> str:
        """SELECT of history versions written by ``syncs`` sync ids, for ``count`` keys."""
        return (
            self._window_select
            + f'"sync_id" IN ({", ".join("?" * syncs)}) AND '
            + _key_condition(self._hist_key_columns, count)
            + ' ORDER BY "history_id"'
        )

    def seen_sql(self, count: int) -> str:
        """SELECT of every history version of ``count`` keys."""
        return self._seen_select + _key_condition(self._hist_key_columns, count)

    def gone_sql(self, count: int) -> str:
        """SELECT of the open ``delete`` versions of ``count`` hard-deleted keys."""
        return self._gone_select + _key_condition(self._hist_key_columns, count)


def _key_condition(columns: Sequence[str], count: int) -> str:
    if len(columns) == 1:
        return f"{columns[0]} IN ({', '.join('?' * count)})"
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f"({', '.join(columns)}) IN (VALUES {', '.join([row] * count)})"


def _same_json(before: str, after: str) -> bool:
    try:
        return bool(orjson.loads(before) == orjson.loads(after))
    except orjson.JSONDecodeError:
        return False


def _chunks(items: Sequence[t.Any], size: int = _CHUNK) -> Iterator[Sequence[t.Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _line_span(lines: Sequence[int]) -> str:
    if not lines:
        return "no input lines"
    first, last = min(lines), max(lines)
    return f"input line {first}" if first == last else f"input lines {first}-{last}"


class AuditStore:
    """The audit database of one run: open, write batches and sync-log rows, close."""

    def __init__(
        self,
        path: str | Path,
        *,
        hard_delete: bool = False,
        clock: t.Callable[[], str] = utc_now_text,
    ) -> None:
        """Open (creating if needed) the database and take the writer lock.

        Args:
            path: Path of the SQLite file; missing parent folders are created.
            hard_delete: Remove deleted records from the current table instead of
                marking them.
            clock: Returns the current time as bookkeeping text (tests may fix it).

        Raises:
            StorageError: The file cannot be created, locked or written.
        """
        self.path = Path(path)
        self.hard_delete = hard_delete
        self._clock = clock
        self.sync_id: int | None = None
        self._hard_deleted = False
        # Per stream: how many replay-window versions of each key a rerun has matched.
        self._replayed: dict[int, dict[t.Any, list[t.Any]]] = {}
        #: Ids of the failed/interrupted syncs right before this one (the replay window).
        self.replay_window: list[int] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"Cannot create the folder of the database {self.path}: {exc.strerror or exc}."
            raise StorageError(msg) from exc
        self._lock = WriterLock(self.path)
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                timeout=5.0,
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            self._lock.release()
            raise self._storage_error(f"Opening {self.path}", exc) from exc
        try:
            self._configure()
        except BaseException:
            self.close()
            raise

    # -- connection -----------------------------------------------------------------

    def _configure(self) -> None:
        conn = self._conn
        try:
            if not conn.execute("PRAGMA page_count").fetchone()[0]:
                # New file: 8 KiB pages suit rows of about 1 KiB (fewer splits, ~10% faster).
                conn.execute("PRAGMA page_size = 8192")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -16384")
            conn.execute("PRAGMA wal_autocheckpoint = 4000")
        except sqlite3.Error as exc:
            raise self._storage_error(f"Opening {self.path}", exc) from exc
        with self._transaction(f"Preparing {self.path}"):
            for ddl in _META_DDL:
                conn.execute(ddl)
            self._hard_deleted = bool(
                conn.execute("SELECT 1 FROM _audit_meta WHERE key = 'hard_deleted'").fetchone()
            )
            conn.execute(
                "INSERT OR IGNORE INTO _audit_meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _audit_final "
            "(history_id INTEGER PRIMARY KEY, deleted_at)"
        )

    def close(self) -> None:
        """Close the connection and release the writer lock (idempotent)."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):  # nothing left to save
                conn.close()
            self._conn = None  # type: ignore[assignment]
        self._lock.release()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return getattr(self, "_conn", None) is None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """Run the body in one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction.

        Any exception rolls the whole transaction back; SQLite operational errors
        (disk full, read-only file, locked database) become one-sentence
        :class:`StorageError` s.

        Args:
            what: Description of the work, used to start the error sentence.

        Yields:
            The connection.

        Raises:
            StorageError: On SQLite operational errors.
        """
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._storage_error(what, exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - rollback after I/O error
                pass
            if isinstance(exc, (sqlite3.OperationalError, sqlite3.IntegrityError)) or (
                type(exc) is sqlite3.DatabaseError
            ):
                raise self._storage_error(what, exc) from exc
            raise

    def _storage_error(self, what: str, exc: BaseException) -> StorageError:
        reason = str(exc).rstrip(".") or type(exc).__name__
        lowered = reason.lower()
        if "locked" in lowered or "busy" in lowered:
            return StorageError(
                f"{what} failed because another process is writing {self.path} ({reason})."
            )
        if "readonly" in lowered or "read-only" in lowered:
            reason += " (the file or its folder is read-only)"
        elif "unable to open" in lowered:
            reason += " (check that the folder exists and is writable)"
        return StorageError(f"{what} failed: {reason}.")

    # -- sync log ---------------------------------------------------------------------

    def begin_sync(self) -> int:
        """Start a sync-log row; mark runs left ``running`` by dead processes.

        A ``running`` row can only belong to a process that died (this one holds the
        writer lock), so it becomes ``interrupted``.  The failed and interrupted syncs
        immediately before this one form the *replay window*: a rerun that replays
        their input skips versions they already wrote.

        Returns:
            The new sync id.
        """
        now = self._clock()
        with self._transaction(f"Starting a sync in {self.path}") as conn:
            conn.execute(
                "UPDATE sync_log SET status = 'interrupted', error_message = "
                "COALESCE(error_message, 'The run stopped before completing (killed or "
                "crashed); found by a later run.') WHERE status = 'running'"
            )
            cursor = conn.execute(
                "INSERT INTO sync_log (started_at, status) VALUES (?, 'running')", (now,)
            )
            sync_id = int(cursor.lastrowid or 0)
            window = []
            for previous_id, status in conn.execute(
                "SELECT id, status FROM sync_log WHERE id < ? ORDER BY id DESC LIMIT 1000",
                (sync_id,),
            ):
                if status not in {"failed", "interrupted"}:
                    break
                window.append(int(previous_id))
        self.sync_id = sync_id
        self.replay_window = window
        return sync_id

    def checkpoint(self, state: t.Any) -> None:
        """Record the latest committed STATE in the sync log (before it is emitted).

        Args:
            state: The STATE message's value.
        """
        text = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()
        with self._transaction(f"Saving the STATE to {self.path}") as conn:
            conn.execute("UPDATE sync_log SET state = ? WHERE id = ?", (text, self.sync_id))

    def finish_sync(self, status: str, error_message: str | None = None) -> None:
        """Set the final status of this run's sync-log row.

        Args:
            status: ``completed``, ``failed`` or ``interrupted``.
            error_message: The one-sentence error, if any.
        """
        completed_at = None if status == "interrupted" else self._clock()
        with self._transaction(f"Closing the sync log in {self.path}") as conn:
            conn.execute(
                "UPDATE sync_log SET status = ?, completed_at = ?, error_message = ? WHERE id = ?",
                (status, completed_at, error_message, self.sync_id),
            )

    def _add_counts(
        self, conn: sqlite3.Connection, table: StreamTable, counts: BatchCounts
    ) -> None:
        values = counts.as_tuple()
        conn.execute(
            "INSERT INTO sync_log_streams (sync_id, stream, table_name, records_fetched, "
            "records_inserted, records_updated, records_unchanged, records_deleted, "
            "records_stale) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sync_id, stream) DO UPDATE SET "
            "records_fetched = records_fetched + excluded.records_fetched, "
            "records_inserted = records_inserted + excluded.records_inserted, "
            "records_updated = records_updated + excluded.records_updated, "
            "records_unchanged = records_unchanged + excluded.records_unchanged, "
            "records_deleted = records_deleted + excluded.records_deleted, "
            "records_stale = records_stale + excluded.records_stale",
            (self.sync_id, table.stream, table.table, *values),
        )
        conn.execute(
            "UPDATE sync_log SET records_fetched = records_fetched + ?, "
            "records_inserted = records_inserted + ?, records_updated = records_updated + ?, "
            "records_unchanged = records_unchanged + ?, "
            "records_deleted = records_deleted + ?, records_stale = records_stale + ? "
            "WHERE id = ?",
            (*values, self.sync_id),
        )

    # -- streams ----------------------------------------------------------------------

    def register_stream(
        self,
        stream: str,
        properties: Mapping[str, t.Any],
        key_properties: Sequence[str],
        *,
        replication_key: str | None = None,
        lenient: bool = False,
        line: int | None = None,
    ) -> StreamTable:
        """Create or extend a stream's tables for a SCHEMA.

        New properties add columns to both tables (``ALTER TABLE ADD COLUMN``);
        properties that vanished keep their columns (NULL from now on).

        Args:
            stream: Stream name.
            properties: The schema's ``properties``.
            key_properties: The stream's key properties (may be empty).
            replication_key: Property for the stale check (first bookmark property).
            lenient: See :class:`StreamTable`.
            line: Input line of the SCHEMA message, for error sentences.

        Returns:
            The stream's :class:`StreamTable`.

        Raises:
            SchemaChangeError: The key properties changed, or a column cannot follow
                a type change.
            InputError: A key property is not in the schema.
        """
        where = f" on line {line}" if line else ""
        props = {prop: schema for prop, schema in properties.items() if prop != DELETED_MARKER}
        for key in key_properties:
            if key not in props:
                msg = (
                    f"The SCHEMA of stream {stream!r}{where} names key property {key!r}, "
                    "which is not among its properties."
                )
                raise InputError(msg)
        now = self._clock()
        with self._transaction(f"Creating the tables of stream {stream!r} in {self.path}") as conn:
            found = conn.execute(
                "SELECT stream_id, table_name, history_table, key_properties "
                "FROM _audit_streams WHERE stream = ?",
                (stream,),
            ).fetchone()
            if found is None:
                stream_id, table, history = self._new_stream(conn, stream, key_properties, now)
                existing: list[Column] = []
            else:
                stream_id, table, history, stored_keys = found
                if list(orjson.loads(stored_keys)) != list(key_properties):
                    msg = (
                        f"Stream {stream!r} changes its key properties from "
                        f"{orjson.loads(stored_keys)} to {list(key_properties)}{where}, "
                        f"but the primary key of table {table!r} cannot change."
                    )
                    raise SchemaChangeError(msg)
                existing = [
                    Column(prop, name, kind, declared, position)
                    for prop, name, kind, declared, position in conn.execute(
                        "SELECT property, column_name, kind, declared_type, position "
                        "FROM _audit_columns WHERE stream_id = ? ORDER BY position",
                        (stream_id,),
                    )
                ]
            self._check_kinds(conn, stream, stream_id, existing, props, where)
            by_prop = {column.prop for column in existing}
            new_props = [prop for prop in props if prop not in by_prop]
            taken = {column.name.lower() for column in existing} | set(RESERVED_COLUMNS)
            names = assign_column_names(new_props, taken)
            added = []
            for position, prop in enumerate(new_props, start=len(existing)):
                kind = column_kind(props[prop])
                added.append(Column(prop, names[prop], kind, DECLARED_TYPES[kind], position))
            conn.executemany(
                "INSERT INTO _audit_columns (stream_id, property, column_name, kind, "
                "declared_type, position, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (stream_id, c.prop, c.name, c.kind, c.declared_type, c.position, now)
                    for c in added
                ],
            )
            columns = existing + added
            stream_table = StreamTable(
                stream_id=stream_id,
                stream=stream,
                table=table,
                history=history,
                key_properties=key_properties,
                columns=columns,
                replication_key=replication_key,
                lenient=lenient,
            )
            if found is None:
                self._create_tables(conn, stream_table)
            else:
                for column in added:
                    definition = f"{quote_ident(column.name)} {column.declared_type}".rstrip()
                    conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {definition}")
                    conn.execute(f"ALTER TABLE {quote_ident(history)} ADD COLUMN {definition}")
        return stream_table

    def _new_stream(
        self,
        conn: sqlite3.Connection,
        stream: str,
        key_properties: Sequence[str],
        now: str,
    ) -> tuple[int, str, str]:
        taken = {str(name).lower() for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        taken |= RESERVED_TABLES
        for table_name, history_name in conn.execute(
            "SELECT table_name, history_table FROM _audit_streams"
        ):
            taken |= {str(table_name).lower(), str(history_name).lower()}
        base = table_name_for(stream)
        table = base
        suffix = 2
        while table.lower() in taken or f"{table}_history".lower() in taken:
            table = f"{base}_{suffix}"
            suffix += 1
        history = f"{table}_history"
        cursor = conn.execute(
            "INSERT INTO _audit_streams (stream, table_name, history_table, key_properties, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            (stream, table, history, orjson.dumps(list(key_properties)).decode(), now),
        )
        return int(cursor.lastrowid or 0), table, history

    def _check_kinds(
        self,
        conn: sqlite3.Connection,
        stream: str,
        stream_id: int,
        existing: list[Column],
        props: Mapping[str, t.Any],
        where: str,
    ) -> None:
        for column in existing:
            if column.prop not in props:
                continue
            kind = column_kind(props[column.prop])
            if kind == column.kind:
                continue
            if not compatible(column.declared_type, kind):
                msg = (
                    f"Stream {stream!r} changes property {column.prop!r} from "
                    f"{KIND_DESCRIPTIONS[column.kind]} to {KIND_DESCRIPTIONS[kind]}{where}, "
                    f"but column {column.name!r} ({column.declared_type}) cannot store the "
                    "new values verbatim; drop or rename the table to start it afresh."
                )
                raise SchemaChangeError(msg)
            column.kind = kind
            conn.execute(
                "UPDATE _audit_columns SET kind = ? WHERE stream_id = ? AND property = ?",
                (kind, stream_id, column.prop),
            )

    def _create_tables(self, conn: sqlite3.Connection, table: StreamTable) -> None:
        q = quote_ident
        data = [f"{q(c.name)} {c.declared_type}".rstrip() for c in table.columns]
        pk = ", ".join(table.key_columns)
        conn.execute(
            f"CREATE TABLE {q(table.table)} (\n    "
            + ",\n    ".join(
                [
                    *data,
                    '"_first_seen_at" TEXT NOT NULL',
                    '"_last_changed_at" TEXT NOT NULL',
                    '"_deleted_at" TEXT',
                    '"_content_hash" TEXT NOT NULL',
                    '"_sync_id" INTEGER NOT NULL',
                    '"_history_id" INTEGER NOT NULL',
                    f"PRIMARY KEY ({pk})",
                ]
            )
            + "\n)"
        )
        conn.execute(
            f"CREATE TABLE {q(table.history)} (\n    "
            + ",\n    ".join(
                [
                    '"history_id" INTEGER PRIMARY KEY',
                    *data,
                    '"content_hash" TEXT NOT NULL',
                    "\"change_type\" TEXT NOT NULL CHECK (change_type IN ('insert', 'update', "
                    "'delete'))",
                    '"captured_at" TEXT NOT NULL',
                    '"sync_id" INTEGER NOT NULL',
                    '"changed_fields" TEXT',
                    '"valid_from" TEXT NOT NULL',
                    '"valid_to" TEXT',
                ]
            )
            + "\n)"
        )
        index = q(f"_audit_idx_{table.stream_id}_history_key")
        conn.execute(
            f"CREATE INDEX {index} ON {q(table.history)} ({', '.join(table._hist_key_columns)})"
        )

    # -- batches ----------------------------------------------------------------------

    def apply_batch(
        self,
        table: StreamTable,
        records: Sequence[Mapping[str, t.Any]],
        lines: Sequence[int],
    ) -> BatchCounts:
        """Apply a batch of one stream's records in one transaction.

        Records are applied in input order (so a key may appear several times); each
        is an insert, an update, a delete, unchanged or stale:

        * a live record for an unknown key is an insert;
        * one whose replication key is older than the stored version's (or, for a
          deleted record, older than the deletion) is stale;
        * one with the stored content is unchanged (a deleted record sent again with
          its last known content is a replay, also unchanged);
        * anything else is an update (a deleted record coming back is an update);
        * a deletion of a live record is a delete, unless it is older than the stored
          version; deletions of unknown or deleted records are unchanged.

        History rows, the current rows and the sync-log counts commit together.

        Args:
            table: The stream's table (from :meth:`register_stream`).
            records: Validated records, in input order.
            lines: The input line number of each record.

        Returns:
            The batch's counts.

        Raises:
            InputError: A record holds a value SQLite cannot store.
        """
        counts = BatchCounts(fetched=len(records))
        if not records:
            return counts
        what = f"Writing stream {table.stream!r} ({_line_span(lines)}) to {self.path}"
        captured = self._clock()

        # Pass 0: row, hash, key and deletion marker of every record.
        rows: list[list[t.Any]] = []
        hashes: list[str] = []
        keys: list[t.Any] = []
        deleted: list[t.Any] = []
        rk_prop = table.replication_key
        build_row, row_hash, key_of = table.build_row, table.row_hash, table.key_of
        i = 0
        try:
            for i, record in enumerate(records):  # noqa: B007 - `i` names the failing line
                row = build_row(record)
                digest = row_hash(row)
                rows.append(row)
                hashes.append(digest)
                keys.append(key_of(record, digest))
                marker = record.get(DELETED_MARKER)
                deleted.append(None if marker == "" else marker)
        except _Unstorable as exc:
            msg = (
                f"Record on line {lines[i]} of stream {table.stream!r} cannot be stored: "
                f"property {exc.prop!r} {exc.why}."
            )
            raise InputError(msg) from exc
        except (TypeError, ValueError, OverflowError) as exc:
            msg = f"Record on line {lines[i]} of stream {table.stream!r} cannot be stored: {exc}."
            raise InputError(msg) from exc

        try:
            with self._transaction(what) as conn:
                unique_keys = list(dict.fromkeys(keys))
                stored = self._fetch_state(conn, table, unique_keys)
                if self.hard_delete or self._hard_deleted:
                    gone = [key for key in unique_keys if key not in stored]
                    stored.update(self._fetch_gone(conn, table, gone))
                window = self._fetch_window(conn, table, unique_keys)
                seen = self._fetch_seen(
                    conn, table, _suspicious(keys, hashes, deleted, records, rk_prop, stored)
                )
                replayed = self._replayed.setdefault(table.stream_id, {})

                # Pass 1: decide what each record does, following in-batch duplicates.
                # state: [hash, replication key, deleted marker, known]
                sim: dict[t.Any, list[t.Any]] = {}
                actions: list[tuple[int, str]] = []
                for i, key in enumerate(keys):
                    state = sim.get(key)
                    if state is None:
                        progress = replayed.get(key)
                        if progress is not None and progress[1] is not None:
                            state = progress[1]  # a replay in progress since an earlier batch
                        else:
                            state = _initial_state(stored.get(key))
                        sim[key] = state
                    digest = hashes[i]
                    marker = deleted[i]
                    rk = records[i].get(rk_prop) if rk_prop and marker is None else None
                    verdict = _decide(state, digest, marker, rk)
                    if key in seen and verdict in _WRITES:
                        verdict = _replayed_version(seen[key], verdict, digest, marker, rk, state)
                    if key in window and verdict in _WRITES:
                        verdict = _replay(
                            window[key], replayed, key, verdict, digest, state, stored
                        )
                        if verdict in _WRITES:
                            verdict = _decide(state, digest, marker, rk)
                    if verdict == "unchanged":
                        counts.unchanged += 1
                    elif verdict == "stale":
                        counts.stale += 1
                    else:
                        actions.append((i, verdict))
                        if verdict == "delete":
                            counts.deleted += 1
                            state[2] = marker
                        else:
                            if verdict == "insert":
                                counts.inserted += 1
                            else:
                                counts.updated += 1
                            state[0], state[1], state[2], state[3] = digest, rk, None, True

                if actions:
                    self._write_actions(
                        conn, table, records, rows, actions, keys, hashes, deleted, stored,
                        captured,
                    )  # fmt: skip
                self._add_counts(conn, table, counts)
        except _BINDING_ERRORS:
            described = self._unstorable_error(table, records, lines)
            if described is None:
                raise
            raise described from None
        return counts

    def _write_actions(
        self,
        conn: sqlite3.Connection,
        table: StreamTable,
        records: Sequence[Mapping[str, t.Any]],
        rows: list[list[t.Any]],
        actions: list[tuple[int, str]],
        keys: list[t.Any],
        hashes: list[str],
        deleted: list[t.Any],
        stored: dict[t.Any, tuple[t.Any, ...]],
        captured: str,
    ) -> None:
        sync_id = self.sync_id
        hard = self.hard_delete
        rk_prop = table.replication_key

        # The previous version's data is needed only where a stored record changes.
        first_action: dict[t.Any, str] = {}
        for i, action in actions:
            first_action.setdefault(keys[i], action)
        previous = self._fetch_versions(
            conn, table, [stored[k][4] for k, a in first_action.items() if a != "insert"]
        )

        next_id = int(conn.execute(table.max_history_sql).fetchone()[0]) + 1
        history_rows: list[list[t.Any]] = []
        closes: list[tuple[str, int]] = []
        removed: list[t.Any] = []
        # key -> [row, hash, history row (when written in this batch), valid_from, id]
        live: dict[t.Any, list[t.Any]] = {}
        # key -> (history_id of its last version, deleted_at); None when hard-deleted
        final: dict[t.Any, tuple[int, t.Any] | None] = {}

        for i, action in actions:
            key = keys[i]
            current = live.get(key)
            if current is None and action != "insert":
                found = stored[key]
                row, valid_from = previous[found[4]]
                current = [row, found[0], None, valid_from or "", found[4]]
            if action == "delete":
                assert current is not None
                moment = parse_instant(deleted[i])
                valid_from = _starts(
                    format_instant(moment) if moment else captured, current[3], captured
                )
                self._close(current, valid_from, closes)
                history = [next_id, *current[0], current[1], "delete", captured, sync_id,
                           "[]", valid_from, None]  # fmt: skip
                history_rows.append(history)
                live[key] = [current[0], current[1], history, valid_from, next_id]
                if hard:
                    final[key] = None
                    if key in stored and stored[key][5]:
                        removed.append(key)
                else:
                    final[key] = (next_id, _storable(deleted[i]))
            else:
                row = rows[i]
                moment = parse_instant(records[i].get(rk_prop)) if rk_prop else None
                valid_from = format_instant(moment) if moment else captured
                changed: str | None = None
                if current is not None:
                    valid_from = _starts(valid_from, current[3], captured)
                    self._close(current, valid_from, closes)
                    changed = orjson.dumps(table.changed_columns(current[0], row)).decode()
                digest = hashes[i]
                history = [next_id, *row, digest, action, captured, sync_id, changed,
                           valid_from, None]  # fmt: skip
                history_rows.append(history)
                live[key] = [row, digest, history, valid_from, next_id]
                final[key] = (next_id, None)
            next_id += 1

        conn.executemany(table.insert_history_sql, history_rows)
        if closes:
            conn.executemany(table.close_history_sql, closes)
        if removed:
            conn.executemany(table.delete_sql, [table.key_params(k) for k in removed])
            if not self._hard_deleted:
                conn.execute(
                    "INSERT OR REPLACE INTO _audit_meta (key, value) VALUES ('hard_deleted', '1')"
                )
                self._hard_deleted = True
        finals = [version for version in final.values() if version]
        if finals:
            conn.executemany(
                "INSERT INTO temp._audit_final (history_id, deleted_at) VALUES (?, ?)", finals
            )
            conn.execute(table.upsert_from_history_sql)
            conn.execute("DELETE FROM temp._audit_final")

    @staticmethod
    def _close(current: list[t.Any], valid_to: str, closes: list[tuple[str, int]]) -> None:
        """End the validity of a key's latest version at ``valid_to``."""
        if current[2] is not None:  # written earlier in this batch: still in memory
            current[2][-1] = valid_to
        elif current[4] is not None:
            closes.append((valid_to, current[4]))

    # -- batch reads ------------------------------------------------------------------

    def _fetch_state(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, tuple[t.Any, ...]]:
        """Stored (hash, replication key, deleted_at, sync_id, history_id, True) per key."""
        width = len(table.key_columns)
        found: dict[t.Any, tuple[t.Any, ...]] = {}
        for chunk in _chunks(keys):
            params = [v for key in chunk for v in table.key_params(key)]
            for row in conn.execute(table.state_sql(len(chunk)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                found[key] = (*row[width:], True)
        return found

    def _fetch_gone(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, tuple[t.Any, ...]]:
        """Like :meth:`_fetch_state`, for keys hard-deleted earlier (from the history).

        The deletion marker is the delete version's ``valid_from``; the last element is
        False because there is no current row.
        """
        width = len(table._hist_key_columns)
        found: dict[t.Any, tuple[t.Any, ...]] = {}
        for chunk in _chunks(keys):
            params = [v for key in chunk for v in table.key_params(key)]
            for row in conn.execute(table.gone_sql(len(chunk)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                found[key] = (*row[width:], False)
        return found

    def _fetch_versions(
        self, conn: sqlite3.Connection, table: StreamTable, history_ids: Sequence[int]
    ) -> dict[int, tuple[list[t.Any], str | None]]:
        """Data columns and ``valid_from`` of history versions, by history id."""
        found: dict[int, tuple[list[t.Any], str | None]] = {}
        for chunk in _chunks(history_ids):
            for row in conn.execute(table.versions_sql(len(chunk)), list(chunk)):
                found[int(row[0])] = (list(row[1:-1]), row[-1])
        return found

    def _fetch_seen(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, tuple[set[str], set[str]]]:
        """Earlier versions of some keys: (live content hashes, deletion valid_from)."""
        found: dict[t.Any, tuple[set[str], set[str]]] = {}
        width = len(table._hist_key_columns)
        for chunk in _chunks(keys):
            params = [v for key in chunk for v in table.key_params(key)]
            for row in conn.execute(table.seen_sql(len(chunk)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                hashes, deletions = found.setdefault(key, (set(), set()))
                if row[width + 1] == "delete":
                    deletions.add(row[width + 2])
                else:
                    hashes.add(row[width])
        return found

    def _fetch_window(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, list[tuple[bool, str, t.Any, str]]]:
        """Versions the replay window's syncs wrote, per key, in order.

        Each is (is_delete, content_hash, replication key, valid_from).
        """
        found: dict[t.Any, list[tuple[bool, str, t.Any, str]]] = {}
        window = self.replay_window
        if not window or not keys:
            return found
        width = len(table._hist_key_columns)
        for chunk in _chunks(keys):
            params = [*window, *(v for key in chunk for v in table.key_params(key))]
            for row in conn.execute(table.window_sql(len(chunk), len(window)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                hash_, kind, rk, valid_from = row[width:]
                found.setdefault(key, []).append((kind == "delete", hash_, rk, valid_from))
        return found

    # -- errors -----------------------------------------------------------------------

    def _unstorable_error(
        self,
        table: StreamTable,
        records: Sequence[Mapping[str, t.Any]],
        lines: Sequence[int],
    ) -> InputError | None:
        """Find the record and property behind a binding error and describe it."""
        scratch = sqlite3.connect(":memory:")
        try:
            for record, line in zip(records, lines, strict=True):
                try:
                    row = table.build_row(record)
                except _Unstorable as bad:
                    return InputError(
                        f"Record on line {line} of stream {table.stream!r} cannot be "
                        f"stored: property {bad.prop!r} {bad.why}."
                    )
                for prop, value in zip(table.props, row, strict=True):
                    try:
                        scratch.execute("SELECT ?", (value,))
                    except _BINDING_ERRORS as bad:
                        return InputError(
                            f"Record on line {line} of stream {table.stream!r} cannot be "
                            f"stored: property {prop!r} {_why_unstorable(value, bad)}."
                        )
        finally:
            scratch.close()
        return None


def _why_unstorable(value: t.Any, exc: BaseException) -> str:
    if isinstance(exc, OverflowError):
        return "holds an integer outside SQLite's 64-bit range"
    if isinstance(exc, UnicodeEncodeError):
        return "holds text that is not valid Unicode"
    if isinstance(exc, sqlite3.DataError) or "too big" in str(exc):
        return "holds a value larger than SQLite's maximum size"
    return f"holds a {type(value).__name__} value, which SQLite cannot store"


_WRITES = frozenset({"insert", "update", "delete"})


def _initial_state(found: tuple[t.Any, ...] | None) -> list[t.Any]:
    """Decision state of a stored key: [hash, replication key, deleted marker, known]."""
    if found is None:
        return [None, None, None, False]
    return [found[0], found[1], found[2], True]


def _decide(state: list[t.Any], digest: str, marker: t.Any, rk: t.Any) -> str:
    """What a record does to a key in ``state`` (see :meth:`AuditStore.apply_batch`)."""
    if marker is not None:
        if not state[3] or state[2] is not None:
            return "unchanged"
        return "stale" if _older(marker, state[1]) else "delete"
    if not state[3]:
        return "insert"
    if _older(rk, state[1]) or (state[2] is not None and _older(rk, state[2])):
        return "stale"
    return "unchanged" if state[0] == digest else "update"


def _suspicious(
    keys: Sequence[t.Any],
    hashes: Sequence[str],
    deleted: Sequence[t.Any],
    records: Sequence[Mapping[str, t.Any]],
    rk_prop: str | None,
    stored: Mapping[t.Any, tuple[t.Any, ...]],
) -> list[t.Any]:
    """Keys whose records may replay an older version (checked against the history).

    A stored record that comes with other content but the same replication-key value
    (or without one), or a deletion of a stored record without a replication key to
    order it, cannot be told from a replay of an older version without the history.
    """
    found: dict[t.Any, None] = {}
    for i, key in enumerate(keys):
        state = stored.get(key)
        if state is None:
            continue
        if deleted[i] is not None:
            if state[1] is None and state[2] is None:
                found[key] = None
        elif hashes[i] != state[0]:
            rk = records[i].get(rk_prop) if rk_prop else None
            if (
                rk is None
                or state[1] is None
                or rk == state[1]
                or compare_replication_values(rk, state[1]) == 0
            ):
                found[key] = None
    return list(found)


def _replayed_version(
    seen: tuple[set[str], set[str]],
    verdict: str,
    digest: str,
    marker: t.Any,
    rk: t.Any,
    state: list[t.Any],
) -> str:
    """Treat a write that repeats an earlier version of the record as stale.

    Replaying an input in which a record changed without its replication key changing
    (formula fields) would otherwise flip it back and forth; an identical earlier
    version with the same replication-key value means the record is a replay.

    Returns:
        ``"stale"`` for a replayed version, otherwise ``verdict``.
    """
    if verdict == "delete":
        moment = parse_instant(marker)
        return "stale" if moment and format_instant(moment) in seen[1] else verdict
    same_time = (
        rk is None or state[1] is None or (not _older(rk, state[1]) and not _older(state[1], rk))
    )
    return "stale" if same_time and digest in seen[0] else verdict


def _replay(
    writes: list[tuple[bool, str, t.Any, str]],
    replayed: dict[t.Any, list[t.Any]],
    key: t.Any,
    verdict: str,
    digest: str,
    state: list[t.Any],
    stored: dict[t.Any, tuple[t.Any, ...]],
) -> str:
    """Recognise a write that a failed or interrupted sync already made.

    A rerun after a kill receives (part of) the same input again.  A write it would
    make that matches one of the versions the earlier runs wrote for this key (in order,
    from the last one matched) is a replay: it is skipped and the decision state follows
    the earlier run's version, across batches, until the last of those versions is
    matched (the database's own state).  On the first write that matches none of them
    the input has diverged, and decisions continue from the database's state.

    Args:
        writes: The window's versions of this key: (is_delete, hash, rk, valid_from).
        replayed: Per key, [versions matched so far, decision state or None] (updated).
        key: The record's key.
        verdict: The write the record would make (insert, update or delete).
        digest: The record's content hash.
        state: The key's decision state (updated in place).
        stored: The database's state per key.

    Returns:
        ``"unchanged"`` for a replay, otherwise ``verdict`` (to be decided again).
    """
    progress = replayed.setdefault(key, [0, None])
    start = progress[0]
    deleting = verdict == "delete"
    wanted = state[0] if deleting else digest
    for j in range(start, len(writes)):
        is_delete, hash_, rk, valid_from = writes[j]
        if is_delete == deleting and hash_ == wanted:
            state[:] = [hash_, rk, valid_from if is_delete else None, True]
            done = j + 1 == len(writes)
            progress[0], progress[1] = j + 1, (None if done else state)
            return "unchanged"
    if start < len(writes):
        progress[0], progress[1] = len(writes), None
        if start:
            state[:] = _initial_state(stored.get(key))
    return verdict


def _starts(candidate: str, previous: str, captured: str) -> str:
    """Choose ``valid_from`` for a new version.

    Its source instant if that moved past the previous version's start, else the capture
    time (formula updates keep ``Modified_Time``), never before the previous version's start.
    """
    if candidate > previous:
        return candidate
    return max(captured, previous)


def _older(value: t.Any, reference: t.Any) -> bool:
    """True if ``value`` is a strictly earlier replication-key value than ``reference``."""
    if value is None or reference is None or value == reference:
        return False
    return (compare_replication_values(value, reference) or 0) < 0


def _storable(value: t.Any) -> t.Any:
    """Return a deletion marker as something SQLite stores (JSON text for containers)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value
