"""One writer per database file: an advisory lock on a sidecar ``<database>.lock`` file.

SQLite's own locks only last for one transaction, so two syncs could interleave their
batches.  The sidecar lock (filelock's OS lock: ``flock`` on Unix, ``msvcrt`` on Windows) is
held for the whole run; the kernel releases it when the process dies (even by SIGKILL), so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

from pathlib import Path

import filelock

from target_sqlite_audit.errors import StorageError, WriterBusyError


class WriterLock:
    """Exclusive, non-blocking lock on ``<database>.lock``, held until :meth:`release`."""

    def __init__(self, database: Path) -> None:
        """Take the lock or fail at once.

        Args:
            database: Path of the SQLite database file.

        Raises:
            WriterBusyError: If another process (or another open store) holds it.
            StorageError: If the lock file cannot be created.
        """
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        # Not thread-local and not a singleton: a second store in this process must be refused
        # like a second process, and the lock is released from whichever thread closes it.
        self._lock: filelock.FileLock | None = filelock.FileLock(
            self.path, thread_local=False, is_singleton=False
        )
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout as exc:
            self._lock = None
            msg = (
                f"Another sync is writing {database}; wait for it to finish "
                "(only one writer may use a database file at a time)."
            )
            raise WriterBusyError(msg) from exc
        except OSError as exc:
            self._lock = None
            msg = f"Cannot create the lock file {self.path}: {exc.strerror or exc}."
            raise StorageError(msg) from exc

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._lock is None:
            return
        try:
            self._lock.release(force=True)
        finally:
            self._lock = None
