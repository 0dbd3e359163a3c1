"""The audit file's connection: the writer lock, pragmas, migrations and transactions."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from target_sqlite_audit.bookkeeping import CURRENT_BOOKKEEPING, HISTORY_BOOKKEEPING
from target_sqlite_audit.errors import StorageError
from target_sqlite_audit.instants import (
    utc_now_text,
)
from target_sqlite_audit.locking import WriterLock
from target_sqlite_audit.migrations import migrate, refuse_newer, set_open_valid_to
from target_sqlite_audit.policy import HistoryPolicy

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


class StoreConnection:
    """The audit file's connection: open (lock, pragmas, migrations), transactions, close."""

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
        #: Whether text compares as in Python (code point order): the file is UTF-8.
        self.utf8 = True
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
            self.utf8 = conn.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
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


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino
