"""One writer per database file: an advisory lock on a sidecar ``<database>.lock`` file.

SQLite's own locks only last for one transaction, so two syncs could interleave their
batches.  The sidecar lock is held for the whole run; the kernel releases it when the
process dies (even by SIGKILL), so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from target_sqlite_audit.errors import StorageError, WriterBusyError

try:  # pragma: no cover - platform switch
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


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
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            msg = f"Cannot create the lock file {self.path}: {exc.strerror or exc}."
            raise StorageError(msg) from exc
        try:
            _lock(self._fd)
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            msg = (
                f"Another sync is writing {database}; wait for it to finish "
                "(only one writer may use a database file at a time)."
            )
            raise WriterBusyError(msg) from exc
        try:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"{os.getpid()}\n".encode())
        except OSError:  # informational only
            pass

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            _unlock(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
