"""SIGTERM, SIGINT and SIGHUP: stop between batches, never inside a sync-log write.

A signal that arrives while the sync log is written (a STATE's checkpoint, the run's final
status) is held back and handled right after, so the row always says what happened; a
second signal during the cleanup of the first is ignored.
"""

from __future__ import annotations

import typing as t
from contextlib import contextmanager

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["SignalGate"]


class SignalGate:
    """Decides when a termination signal stops the run (``stop`` raises to stop it)."""

    def __init__(self, stop: Callable[[int], None]) -> None:
        """Create the gate.

        Args:
            stop: Raises the exception that stops the run, for a signal number.
        """
        self._stop = stop
        self._depth = 0
        self._pending: int | None = None
        self._terminating = False

    def handle(self, signum: int) -> None:
        """Stop now, or once the write in progress is done (the first signal is reported)."""
        if self._depth:
            if self._pending is None:
                self._pending = signum
            return
        if self._terminating:
            # A second signal (SIGINT then SIGTERM) must not interrupt the cleanup that marks
            # the sync log row: the first one is already being handled.
            return
        self._terminating = True
        self._stop(signum)

    @contextmanager
    def deferred(self, *, drop: bool = False) -> Iterator[None]:
        """Hold signals back inside the block; handle a held one after it (unless ``drop``)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            pending, self._pending = self._pending, None
            if pending is not None and not self._depth and not drop:
                self.handle(pending)
