"""Module streams synced concurrently, their Singer messages interleaved.

singer-sdk syncs streams one after another on the main thread. With
``max_concurrent_requests`` above 1, each selected module stream syncs on a thread of its
own (at most that many at once, started in sync order), and the main thread waits for each
where singer-sdk would have synced it. So:

- one thread at a time runs singer-sdk's and the tap's code (the :class:`EmitLock`): it alone
  writes messages and changes the state, so the output is valid Singer (each stream's SCHEMA
  before its records) and every STATE message describes only what was written before it;
- a thread lets the lock go only while it waits for Zoho (a page in flight, a retry's pause,
  a Bulk Read job), so the streams' calls overlap and each stream's records are written
  while the others wait for theirs: the run ends when its slowest stream's calls do;
- every request holds the tap's request gate while it is in flight, so at most
  ``max_concurrent_requests`` calls are open at once, whichever thread sends them;
- a stream's error is raised on the main thread where singer-sdk would have synced that
  stream; the streams still running then stop where they are, after their last message.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

__all__ = ["ConcurrentSyncs", "EmitLock", "StateStep", "applied"]

#: Seconds the main thread gives the other streams to stop when the run fails.
SHUTDOWN_WAIT = 5.0


class Stopped(BaseException):
    """Ends a stream's sync when another stream failed the run.

    Not an ``Exception``: singer-sdk would log one as the stream's own error.
    """


class StateStep:
    """A change of the stream's state or bookmark tracker, run in record order.

    Readers yield these between their records instead of writing the state themselves: the
    stream runs each one when the records before it have been written (see :func:`applied`).
    """

    __slots__ = ("run",)

    def __init__(self, run: Callable[[], None]) -> None:
        """Wrap the change."""
        self.run = run


def applied(items: t.Iterable[t.Any]) -> Iterator[dict[str, t.Any]]:
    """The records of a read, running its state steps as they come."""
    for item in items:
        if isinstance(item, StateStep):
            item.run()
        else:
            yield item


class EmitLock:
    """Held by the one thread that writes messages and changes the state.

    The main thread takes it when the run starts syncing and keeps it, except while it waits
    for a stream's thread; a stream's thread takes it to sync. A holder lets it go only in
    :meth:`waiting`; a thread told to :meth:`stop` raises :class:`Stopped` when it takes the
    lock again, so it stops after its last message.
    """

    def __init__(self) -> None:
        """Nobody holds it yet."""
        # Re-entrant only for a signal handler that takes it on a thread between its own
        # acquire and noting itself as the owner.
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._pins = threading.local()
        self._stopped: set[int] = set()

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def acquire(self) -> None:
        """Take the lock (blocks while another thread writes).

        Raises:
            Stopped: When the calling thread was told to stop (then it does not hold it).
        """
        self._lock.acquire()
        ident = threading.get_ident()
        if ident in self._stopped:
            self._lock.release()
            raise Stopped
        self._owner = ident

    def stop(self, idents: t.Iterable[int]) -> None:
        """Tell these threads to stop the next time they take the lock."""
        self._stopped.update(idents)

    def hold(self) -> None:
        """Take the lock unless the calling thread holds it already."""
        if not self.held():
            self.acquire()

    def release(self) -> None:
        """Let the lock go (the calling thread must hold it)."""
        self._owner = None
        self._lock.release()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Let the other streams write while the calling thread waits for Zoho.

        A no-op for a thread that does not hold the lock (a prefetch worker) and inside
        :meth:`pinned` (a wait under another lock: the holder of this one might want it).
        """
        if not self.held() or self._depth() > 0:
            yield
            return
        self.release()
        try:
            yield
        finally:  # (a signal handler may have taken it back already: see ZohoRun)
            self.hold()  # raises Stopped for a thread told to stop

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep the lock through the waits inside (taken while another lock is held)."""
        self._pins.depth = self._depth() + 1
        try:
            yield
        finally:
            self._pins.depth -= 1

    def _depth(self) -> int:
        return int(getattr(self._pins, "depth", 0))

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that lets the other streams write meanwhile."""
        with self.waiting():
            time.sleep(seconds)


class _Sync:
    """One stream's sync on its own thread."""

    def __init__(self, name: str, run: Callable[[], None], after: _Sync | None) -> None:
        self.name = name
        self.run = run
        #: The sync started before it: it takes the lock first, so the streams' SCHEMA
        #: messages come in sync order, as in a sequential run (targets number their
        #: tables in that order).
        self.after = after
        self.began = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        #: Its thread's identifier, once started.
        self.ident: int | None = None


class ConcurrentSyncs:
    """Syncs the run's module streams on threads, at most ``limit`` at once, in order."""

    def __init__(self, limit: int, emit: EmitLock) -> None:
        """Plan nothing yet.

        Args:
            limit: ``max_concurrent_requests``; 1 syncs every stream on the main thread.
            emit: The run's emit lock.
        """
        self.limit = max(1, int(limit))
        self.emit = emit
        self._syncs: dict[str, _Sync] | None = None
        self._pending: list[_Sync] = []
        self._running = 0
        self._lock = threading.Lock()

    def sync(
        self,
        name: str,
        run: Callable[[], None],
        plan: Callable[[], dict[str, Callable[[], None]]],
    ) -> None:
        """Sync stream ``name`` (main thread, where singer-sdk syncs it).

        Args:
            name: The stream's name.
            run: singer-sdk's sync of the stream, to run on the calling thread.
            plan: The streams to sync concurrently (name -> their sync), asked once.
        """
        self.emit.hold()
        if self.limit > 1 and self._syncs is None:
            self._start(plan())
        job = (self._syncs or {}).get(name)
        if job is None:
            run()
            return
        with self.emit.waiting():
            job.done.wait()
        if job.error is not None:
            self._stop()
            raise job.error

    def _stop(self) -> None:
        """The run fails: stop the other streams' syncs where they are, and start no more.

        Streams that did not finish are forgotten, so a later ``sync`` of one (singer-sdk's
        dry run goes on after an error) runs in place.
        """
        assert self._syncs is not None
        with self._lock:
            self._pending = []
            running = [job for job in self._syncs.values() if job.ident and not job.done.is_set()]
            self.emit.stop(job.ident for job in running if job.ident)
        with self.emit.waiting():
            for job in running:
                job.done.wait(SHUTDOWN_WAIT)
        self._syncs = {
            name: job
            for name, job in self._syncs.items()
            if job.done.is_set() and job.error is None
        }

    def _start(self, planned: dict[str, Callable[[], None]]) -> None:
        self._syncs = {}
        after: _Sync | None = None
        for name, run in planned.items():
            after = self._syncs[name] = _Sync(name, run, after)
        if len(self._syncs) < 2:
            self._syncs = {}
            return
        with self._lock:
            self._pending = list(self._syncs.values())
            self._fill()

    def _fill(self) -> None:
        # Daemon threads, not a ThreadPoolExecutor: its workers are joined at interpreter exit,
        # so a failed run would wait for a stopped stream's call still in flight.
        while self._pending and self._running < self.limit:
            job = self._pending.pop(0)
            self._running += 1
            thread = threading.Thread(target=self._run, args=(job,), name=f"{job.name}-sync")
            thread.daemon = True
            thread.start()
            job.ident = thread.ident

    def _run(self, job: _Sync) -> None:
        try:
            if job.after is not None:
                job.after.began.wait()
            self.emit.acquire()
            job.began.set()  # holding the lock until its first wait: its SCHEMA comes first
            try:
                job.run()
            finally:
                if self.emit.held():  # not after Stopped: then the lock was not taken again
                    self.emit.release()
        except BaseException as ex:  # raised on the main thread where the stream syncs
            job.error = ex
        finally:
            job.began.set()
            job.done.set()
            with self._lock:
                self._running -= 1
                self._fill()
