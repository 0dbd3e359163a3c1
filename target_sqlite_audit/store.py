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
  nothing.  A rerun resumed from the last STATE an interrupted or failed sync emitted
  also skips, in order, the versions that run wrote *after* that STATE (see
  :meth:`AuditStore.begin_sync`), so resuming after a kill adds no history.  Versions a
  STATE already covered are never taken for replays: a value that changes back (A, B, A)
  without its replication key moving is a real change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from target_sqlite_audit.columns import (
    DECLARED_TYPES,
    KIND_DESCRIPTIONS,
    Column,
    column_kind,
    compatible,
)
from target_sqlite_audit.decisions import (
    WRITES,
    decide,
    initial_state,
    replay,
    starts,
)
from target_sqlite_audit.errors import InputError, SchemaChangeError, StorageError
from target_sqlite_audit.instants import (
    format_instant,
    parse_instant,
    utc_now_text,
)
from target_sqlite_audit.locking import WriterLock
from target_sqlite_audit.migrations import migrate, refuse_newer, set_open_valid_to
from target_sqlite_audit.naming import (
    assign_column_names,
    quote_ident,
    table_name_for,
)
from target_sqlite_audit.policy import HistoryPolicy
from target_sqlite_audit.tables import (
    CURRENT_BOOKKEEPING,
    HISTORY_BOOKKEEPING,
    BatchCounts,
    StreamTable,
    Unstorable,
    chunks,
    line_span,
)
from target_sqlite_audit.views import has_views, refresh_views

RESERVED_COLUMNS = frozenset(name.lower() for name in CURRENT_BOOKKEEPING + HISTORY_BOOKKEEPING)
RESERVED_TABLES = frozenset(
    {"sync_log", "sync_log_streams", "_audit_meta", "_audit_streams", "_audit_columns"}
)
#: The Singer property that marks a record as deleted.
DELETED_MARKER = "_sdc_deleted_at"
_LOG = logging.getLogger("target-sqlite-audit")
SCHEMA_VERSION = "1"
SYNC_STATUSES = ("running", "completed", "failed", "interrupted")

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
    # Per sync and stream: the newest history row when the sync last recorded a STATE. A
    # rerun resumes from that STATE, so only the versions after it may be replayed.
    """CREATE TABLE IF NOT EXISTS _audit_checkpoints (
        sync_id INTEGER NOT NULL,
        stream_id INTEGER NOT NULL,
        history_id INTEGER NOT NULL,
        PRIMARY KEY (sync_id, stream_id)
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


class AuditStore:
    """The audit database of one run: open, write batches and sync-log rows, close."""

    def __init__(
        self,
        path: str | Path,
        *,
        hard_delete: bool = False,
        policy: HistoryPolicy | None = None,
        clock: t.Callable[[], str] = utc_now_text,
    ) -> None:
        """Open (creating if needed) the database and take the writer lock.

        Args:
            path: Path of the SQLite file; missing parent folders are created.
            hard_delete: Remove deleted records from the current table instead of
                marking them.
            policy: What makes a version (ignored columns, bookkeeping, open ``valid_to``).
            clock: Returns the current time as bookkeeping text (tests may fix it).

        Raises:
            StorageError: The file cannot be created, locked or written.
        """
        if str(path).strip() in {":memory:", ""} or str(path).startswith("file::memory:"):
            msg = (
                f"The database setting {str(path)!r} names no file, and an in-memory database "
                "keeps nothing after the run; set database to a file path."
            )
            raise StorageError(msg)
        self.path = Path(path)
        self.hard_delete = hard_delete
        self.policy = policy or HistoryPolicy()
        self._clock = clock
        self.sync_id: int | None = None
        self._hard_deleted = False
        # Per stream: how many replay-window versions of each key a rerun has matched.
        self._replayed: dict[int, dict[t.Any, list[t.Any]]] = {}
        #: Ids of the failed/interrupted syncs right before this one (the replay window).
        self.replay_window: list[int] = []
        #: Per window sync and stream id: the history id its last recorded STATE covered.
        self.replay_marks: dict[int, dict[int, int]] = {}
        #: Per stream id and window key: its first version in the replay window.
        self._window_first: dict[int, dict[t.Any, int]] = {}
        #: Per stream id: the newest history id the latest STATE read covers (see
        #: :meth:`checkpoint`).
        self._covered: dict[int, int] = {}
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
        self._identity = _file_identity(self.path)

    # -- connection -----------------------------------------------------------------

    def _configure(self) -> None:
        conn = self._conn
        try:
            refuse_newer(conn, self.path)  # before anything writes to the file
        except sqlite3.Error as exc:
            raise self._storage_error(f"Opening {self.path}", exc) from exc
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
        try:
            migrate(conn, self.path)
            with self._transaction(f"Preparing {self.path}"):
                set_open_valid_to(conn, self.policy.open_valid_to)
        except sqlite3.Error as exc:
            raise self._storage_error(f"Opening {self.path}", exc) from exc
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
        elif "disk i/o error" in lowered:
            reason += " (the disk may be full, or the file system is failing or read-only)"
        elif "too many columns" in lowered:
            reason += " (SQLite allows at most 2000 columns in a table)"
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
            window: list[int] = []
            marks: dict[int, dict[int, int]] = {}
            previous = conn.execute(
                "SELECT id, status, state IS NOT NULL FROM sync_log WHERE id < ? "
                "ORDER BY id DESC LIMIT 1000",
                (sync_id,),
            ).fetchall()
            for previous_id, status, checkpointed in previous:
                if status not in {"failed", "interrupted"}:
                    break
                window.append(int(previous_id))
                marks[int(previous_id)] = dict(
                    conn.execute(
                        "SELECT stream_id, history_id FROM _audit_checkpoints WHERE sync_id = ?",
                        (previous_id,),
                    ).fetchall()
                )
                if checkpointed:
                    # A rerun resumes from this sync's last STATE at the earliest: what the
                    # syncs before it wrote is covered by that STATE, not replayed.
                    break
        self.sync_id = sync_id
        self.replay_window = window
        self.replay_marks = marks
        return sync_id

    def checkpoint(self, state: t.Any) -> None:
        """Record the latest committed STATE in the sync log (before it is emitted).

        Args:
            state: The STATE message's value.
        """
        self.check_file()
        # The batches this STATE covers are already durable (synchronous=FULL); the checkpoint
        # row itself is committed without waiting for the disk, so that the STATE is printed
        # right after it: a kill in between makes Meltano resume from the STATE before, and
        # the versions after that come again (repeated, never lost).
        self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            self._write_checkpoint(state)
        finally:
            self._conn.execute("PRAGMA synchronous = FULL")

    def _write_checkpoint(self, state: t.Any) -> None:
        try:
            text = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # integers beyond 64 bits: the json module keeps them exact
            text = json.dumps(state, separators=(",", ":"), default=str)
        with self._transaction(f"Saving the STATE to {self.path}") as conn:
            conn.execute("UPDATE sync_log SET state = ? WHERE id = ?", (text, self.sync_id))
            conn.executemany(
                "INSERT OR REPLACE INTO _audit_checkpoints (sync_id, stream_id, history_id) "
                "VALUES (?, ?, ?)",
                [(self.sync_id, stream, mark) for stream, mark in self._covered.items()],
            )

    def check_file(self) -> None:
        """Refuse to go on when the file was deleted or replaced under the open connection.

        SQLite keeps writing to the deleted file's inode: the run would "complete" and emit
        STATE for data that is gone. Checked before every STATE and at the end.

        Raises:
            StorageError: The path no longer names the file this run writes.
        """
        if _file_identity(self.path) != self._identity:
            msg = (
                f"The database file {self.path} was deleted or replaced during the run, so "
                "what this run wrote is not in it; no STATE was emitted for it, so run again."
            )
            raise StorageError(msg)

    def note_covered(self, table: StreamTable) -> None:
        """A STATE was read while nothing of the stream was queued: it covers all written."""
        self._covered[table.stream_id] = int(
            self._conn.execute(table.max_history_sql).fetchone()[0]
        )

    def finish_sync(self, status: str, error_message: str | None = None) -> None:
        """Set the final status of this run's sync-log row.

        Args:
            status: ``completed``, ``failed`` or ``interrupted``.
            error_message: The one-sentence error, if any.
        """
        if status == "completed":
            self.check_file()
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
        with self._transaction(
            f"Creating the tables of stream {stream!r}{where} in {self.path}"
        ) as conn:
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
            # Keyless streams are keyed by their content hash: it cannot leave columns out.
            gone = (
                frozenset(c.prop for c in existing if c.prop not in props)
                if key_properties
                else frozenset()
            )
            stream_table = StreamTable(
                stream_id=stream_id,
                stream=stream,
                table=table,
                history=history,
                key_properties=key_properties,
                columns=columns,
                replication_key=replication_key,
                lenient=lenient,
                gone=gone,
                ignored=self.policy.ignored(stream, [c.prop for c in columns]),
                quiet=self.policy.quiet([c.prop for c in columns], replication_key),
                open_valid_to=self.policy.open_valid_to,
            )
            if gone:
                _LOG.info(
                    "Stream %r: column(s) %s gone from its SCHEMA; their last values are "
                    "kept and their absence changes no record",
                    stream,
                    ", ".join(sorted(gone)),
                )
            if found is None:
                self._create_tables(conn, stream_table)
            else:
                for column in added:
                    definition = f"{quote_ident(column.name)} {column.declared_type}".rstrip()
                    conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {definition}")
                    conn.execute(f"ALTER TABLE {quote_ident(history)} ADD COLUMN {definition}")
            if found is None or added or not has_views(conn, stream_table):
                refresh_views(conn, stream_table)
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
                    '"_sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
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
                    '"sync_id" INTEGER NOT NULL REFERENCES sync_log (id)',
                    '"changed_fields" TEXT',
                    '"is_current" INTEGER NOT NULL DEFAULT 0',
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
        *,
        covered: int | None = None,
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

            covered: How many of the records precede the latest STATE message read (None:
                none was read since the previous batch). The history id that STATE covers is
                kept for :meth:`checkpoint`: a rerun resumed from it replays only later ones.

        Returns:
            The batch's counts.

        Raises:
            InputError: A record holds a value SQLite cannot store.
        """
        counts = BatchCounts(fetched=len(records))
        if not records:
            if covered is not None:
                self.note_covered(table)
            return counts
        what = f"Writing stream {table.stream!r} ({line_span(lines)}) to {self.path}"
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
        except Unstorable as exc:
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
                        elif progress is None and key in window:
                            # First sight of a key the failed run wrote after its last STATE:
                            # decide from where that run started (see _state_at_mark).
                            state = self._state_at_mark(conn, table, key)
                            replayed[key] = [0, state]
                        else:
                            state = initial_state(stored.get(key))
                        sim[key] = state
                    digest = hashes[i]
                    marker = deleted[i]
                    rk = records[i].get(rk_prop) if rk_prop and marker is None else None
                    verdict = decide(state, digest, marker, rk)
                    if key in window and verdict in WRITES:
                        verdict = replay(window[key], replayed, key, verdict, digest, state, stored)
                        if verdict in WRITES:
                            verdict = decide(state, digest, marker, rk)
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

                # Previous versions read once per batch, by history id (both steps need them).
                versions: dict[int, t.Any] = {}
                if table.has_gone and actions:
                    actions = self._drop_spurious_updates(
                        conn, table, rows, actions, keys, hashes, stored, counts, versions
                    )
                if covered is not None:
                    # History ids are given in action order, from the current maximum on.
                    before = int(conn.execute(table.max_history_sql).fetchone()[0])
                    self._covered[table.stream_id] = before + sum(
                        1 for index, _ in actions if index < covered
                    )
                if actions:
                    self._write_actions(
                        conn, table, records, rows, actions, keys, hashes, deleted, stored,
                        captured, versions,
                    )  # fmt: skip
                self._add_counts(conn, table, counts)
        except _BINDING_ERRORS:
            described = self._unstorable_error(table, records, lines)
            if described is None:
                raise
            raise described from None
        return counts

    def _drop_spurious_updates(
        self,
        conn: sqlite3.Connection,
        table: StreamTable,
        rows: list[list[t.Any]],
        actions: list[tuple[int, str]],
        keys: list[t.Any],
        hashes: list[str],
        stored: dict[t.Any, tuple[t.Any, ...]],
        counts: BatchCounts,
        versions: dict[int, t.Any],
    ) -> list[tuple[int, str]]:
        """Updates whose only differences are ignored columns or ones gone from the SCHEMA.

        They write no version: the current row's ignored columns and stored hash are
        refreshed instead, so the next sync finds them unchanged at once.
        """
        seen: set[t.Any] = set()
        candidates: dict[int, int] = {}
        for i, action in actions:
            key = keys[i]
            if action == "update" and key not in seen and key in stored and not stored[key][2]:
                candidates[i] = stored[key][4]
            seen.add(key)
        if not candidates:
            return actions
        versions.update(self._fetch_versions(conn, table, list(candidates.values())))
        previous = versions
        spurious = {
            i
            for i, history_id in candidates.items()
            if history_id in previous
            and not table.versioned_changes(previous[history_id][0], rows[i])
        }
        if not spurious:
            return actions
        # Ignored columns take their new values in place; the hash follows them, so a replay
        # of the same record is unchanged at once.
        conn.executemany(
            table.touch_sql, [table.touch_params(rows[i], hashes[i], keys[i]) for i in spurious]
        )
        counts.updated -= len(spurious)
        counts.unchanged += len(spurious)
        return [(i, action) for i, action in actions if i not in spurious]

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
        versions: dict[int, t.Any],
    ) -> None:
        sync_id = self.sync_id
        hard = self.hard_delete
        rk_prop = table.replication_key

        # The previous version's data is needed only where a stored record changes.
        first_action: dict[t.Any, str] = {}
        for i, action in actions:
            first_action.setdefault(keys[i], action)
        wanted = [stored[k][4] for k, a in first_action.items() if a != "insert"]
        missing = [history_id for history_id in wanted if history_id not in versions]
        if missing:
            versions.update(self._fetch_versions(conn, table, missing))
        previous = versions

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
                valid_from = starts(
                    format_instant(moment) if moment else captured, current[3], captured
                )
                self._close(current, valid_from, closes)
                history = [next_id, *current[0], current[1], "delete", captured, sync_id,
                           "[]", 0, valid_from, table.open_valid_to]  # fmt: skip
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
                    valid_from = starts(valid_from, current[3], captured)
                    self._close(current, valid_from, closes)
                    changed = orjson.dumps(table.changed_columns(current[0], row)).decode()
                digest = hashes[i]
                history = [next_id, *row, digest, action, captured, sync_id, changed, 1,
                           valid_from, table.open_valid_to]  # fmt: skip
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
            current[2][-3] = 0  # is_current
        elif current[4] is not None:
            closes.append((valid_to, current[4]))

    # -- batch reads ------------------------------------------------------------------

    def _fetch_state(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, tuple[t.Any, ...]]:
        """Stored (hash, replication key, deleted_at, sync_id, history_id, True) per key."""
        return _fetch_by_key(conn, table, keys, len(table.key_columns), table.state_sql, True)

    def _fetch_gone(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, tuple[t.Any, ...]]:
        """Like :meth:`_fetch_state`, for keys hard-deleted earlier (from the history).

        The deletion marker is the delete version's ``valid_from``; the last element is
        False because there is no current row.
        """
        width = len(table._hist_key_columns)
        return _fetch_by_key(conn, table, keys, width, table.gone_sql, False)

    def _fetch_versions(
        self, conn: sqlite3.Connection, table: StreamTable, history_ids: Sequence[int]
    ) -> dict[int, tuple[list[t.Any], str | None]]:
        """Data columns and ``valid_from`` of history versions, by history id."""
        found: dict[int, tuple[list[t.Any], str | None]] = {}
        for chunk in chunks(history_ids):
            for row in conn.execute(table.versions_sql(len(chunk)), list(chunk)):
                found[int(row[0])] = (list(row[1:-1]), row[-1])
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
        after = [
            value
            for sync in window
            for value in (sync, self.replay_marks.get(sync, {}).get(table.stream_id, 0))
        ]
        for chunk in chunks(keys):
            params = [*after, *(v for key in chunk for v in table.key_params(key))]
            for row in conn.execute(table.window_sql(len(chunk), len(window)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                hash_, kind, rk, valid_from, history_id = row[width:]
                found.setdefault(key, []).append((kind == "delete", hash_, rk, valid_from))
                self._window_first.setdefault(table.stream_id, {}).setdefault(key, history_id)
        return found

    def _state_at_mark(
        self, conn: sqlite3.Connection, table: StreamTable, key: t.Any
    ) -> list[t.Any]:
        """Decision state of a window key as it was before the failed run's first version.

        A resumed run's input is decided against this, as the failed run decided it: a
        record it found unchanged (and wrote nothing for) is unchanged again, not taken
        for a change against the newer version the failed run wrote later.
        """
        first = self._window_first.get(table.stream_id, {}).get(key)
        row = None
        if first is not None:
            row = conn.execute(table.base_sql, (*table.key_params(key), first)).fetchone()
        if row is None:
            return initial_state(None)
        hash_, kind, rk, valid_from = row
        return [hash_, rk, valid_from if kind == "delete" else None, True]

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
                except Unstorable as bad:
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


def _storable(value: t.Any) -> t.Any:
    """Return a deletion marker as something SQLite stores (JSON text for containers)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def _fetch_by_key(
    conn: sqlite3.Connection,
    table: StreamTable,
    keys: Sequence[t.Any],
    width: int,
    sql_for: t.Callable[[int], str],
    alive: bool,
) -> dict[t.Any, tuple[t.Any, ...]]:
    """Rows of a keyed query, chunked below SQLite's parameter limit, as (*columns, alive)."""
    found: dict[t.Any, tuple[t.Any, ...]] = {}
    for chunk in chunks(keys):
        params = [v for key in chunk for v in table.key_params(key)]
        for row in conn.execute(sql_for(len(chunk)), params):
            key = row[0] if width == 1 else tuple(row[:width])
            found[key] = (*row[width:], alive)
    return found


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino
