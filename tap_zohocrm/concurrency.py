"""Module streams read concurrently, emitted in order: workers fetch, the main thread writes.

singer-sdk syncs streams one after another on the main thread. With
``max_concurrent_requests`` above 1, the module streams' reads (HTTP, decoding, projection)
run ahead on worker threads, at most that many at once, each into a bounded queue; the main
thread still syncs stream after stream, taking each one's records from its queue. So:

- the Singer output is what a sequential run writes (each stream's SCHEMA, then its records,
  then the next stream), only sooner;
- state is written only on the main thread, in record order: a worker never touches it, and
  hands every bookmark change over as a :class:`StateStep` queued between the records it
  follows (so a STATE message describes only what was emitted before it);
- every request holds the tap's request semaphore while it is in flight, so at most
  ``max_concurrent_requests`` calls are open at once, whichever thread sends them;
- an error raised by a worker is raised on the main thread where its stream's records stop,
  as in a sequential run.
"""

from __future__ import annotations

import logging
import queue
import threading
import typing as t
from collections.abc import Callable, Iterator


class ReadAhead(t.Protocol):
    """What a concurrent read needs of a module stream (``ZohoModuleStream`` is one)."""

    name: str
    #: Set by the worker: blocks until the main thread consumed what the read yielded.
    catch_up: Callable[[], None]

    def read_module(self, context: None) -> Iterator[t.Any]:
        """The stream's records and state steps, in order."""
        ...

    def streams_to_read(self) -> t.Sequence[ReadAhead]:
        """The run's module streams to read ahead, in sync order (starting bookmarks written)."""
        ...


__all__ = ["ConcurrentReads", "StateStep", "applied"]

#: Records per queued batch (one queue operation per batch, not per record).
BATCH = 200
#: Batches a worker may run ahead of the main thread: bounded memory per stream.
QUEUE_BATCHES = 100
_END = object()
#: Seconds to wait for each read ahead to end its call when the run fails.
SHUTDOWN_WAIT = 5.0
_logger = logging.getLogger(__name__)


def _no_catch_up() -> None:
    """Sequential reads: the main thread has consumed everything already."""


class StateStep:
    """A change of the stream's state or bookmark tracker, run on the main thread in order.

    ``wait``: the worker blocks until the main thread has run it (the step computes what the
    worker needs next from records the main thread has consumed, e.g. after a Bulk export).
    """

    __slots__ = ("done", "run", "wait")

    def __init__(self, run: Callable[[], None], *, wait: bool = False) -> None:
        """Wrap the change."""
        self.run = run
        self.wait = wait
        self.done = threading.Event()

    def apply(self) -> None:
        """Run the change (main thread) and release a waiting worker."""
        try:
            self.run()
        finally:
            self.done.set()


def applied(items: t.Iterable[t.Any]) -> Iterator[dict[str, t.Any]]:
    """The records of a read, running its state steps as they come (sequential order)."""
    for item in items:
        if isinstance(item, StateStep):
            item.apply()
        else:
            yield item


class _Worker:
    """One stream's read on a thread, into a bounded queue."""

    def __init__(self, stream: ReadAhead, on_done: Callable[[], None]) -> None:
        self.stream = stream
        self.queue: queue.Queue[t.Any] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.stop = threading.Event()
        self._on_done = on_done
        self._batch: list[dict[str, t.Any]] = []
        self.thread = threading.Thread(target=self._run, name=f"{stream.name}-read", daemon=True)

    def _put(self, item: t.Any) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _flush(self) -> None:
        if self._batch:
            self._put(self._batch)
            self._batch = []

    def _step(self, step: StateStep) -> None:
        self._flush()
        self._put(step)
        if step.wait:
            while not (step.done.wait(0.5) or self.stop.is_set()):
                pass

    def catch_up(self) -> None:
        """Wait until the main thread has consumed every record read so far.

        For a decision that needs the bookmark tracker to have seen them (a new query after
        Zoho ended a page-token chain).
        """
        self._step(StateStep(lambda: None, wait=True))

    def _run(self) -> None:
        self.stream.catch_up = self.catch_up
        try:
            for item in self.stream.read_module(None):
                if self.stop.is_set():
                    return
                if isinstance(item, StateStep):
                    self._step(item)
                    continue
                self._batch.append(item)
                if len(self._batch) >= BATCH:
                    self._flush()
            self._flush()
            self._put(_END)
        except BaseException as ex:  # handed to the main thread, raised there
            self._flush()
            self._put(ex)
        finally:
            self.stream.catch_up = _no_catch_up
            self._on_done()

    def items(self) -> Iterator[t.Any]:
        """The read's records and state steps, in order; the worker's error at its place."""
        try:
            while True:
                try:
                    item = self.queue.get(timeout=0.5)
                except queue.Empty:
                    if self.stop.is_set() and not self.thread.is_alive():
                        msg = f"The read of stream {self.stream.name} was stopped."
                        raise RuntimeError(msg) from None
                    continue
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, list):
                    yield from item
                else:
                    yield item
        finally:
            self.stop.set()


class ConcurrentReads:
    """Starts the module streams' reads ahead, at most ``limit`` at a time, in stream order."""

    def __init__(self, limit: int) -> None:
        """Plan nothing yet.

        Args:
            limit: ``max_concurrent_requests``; 1 reads every stream on the main thread.
        """
        self.limit = max(1, int(limit))
        self._pending: list[ReadAhead] | None = None
        self._workers: dict[str, _Worker] = {}
        self._active = 0
        self._consumed: list[_Worker] = []
        self._closed = False
        self._lock = threading.Lock()

    def source(self, stream: ReadAhead) -> t.Iterable[t.Any]:
        """The stream's read: from its worker when reads run concurrently, else in place."""
        if self.limit <= 1 or self._closed:
            return stream.read_module(None)
        with self._lock:
            if self._pending is None:
                self._pending = list(stream.streams_to_read())
            if stream.name not in self._workers:
                # Not planned (or already consumed once): start it now, ahead of the others.
                self._pending = [s for s in self._pending if s.name != stream.name]
                self._start(stream)
            self._fill()
            worker = self._workers.pop(stream.name)
            self._consumed.append(worker)
        return worker.items()

    def shutdown(self) -> None:
        """Stop every read ahead: the run failed, or stopped spending credits.

        Later streams are read in place; no read ahead logs after the error sentence.
        """
        with self._lock:
            self._closed = True
            self._pending = []
            workers = list(self._workers.values()) + list(self._consumed)
        for worker in workers:
            worker.stop.set()
        for worker in workers:
            worker.thread.join(timeout=SHUTDOWN_WAIT)

    def _start(self, stream: ReadAhead) -> None:
        worker = _Worker(stream, self._worker_finished)
        self._workers[stream.name] = worker
        self._active += 1
        worker.thread.start()

    def _fill(self) -> None:
        pending = self._pending or []
        while pending and self._active < self.limit:
            self._start(pending.pop(0))

    def _worker_finished(self) -> None:
        with self._lock:
            self._active -= 1
            self._fill()
