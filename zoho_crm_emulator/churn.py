"""Churn: records edited while a client pages, the way a busy sales team edits them.

An edit gives a record a ``Modified_Time`` newer than everything else, so it leaves its place
in a ``sort_by=Modified_Time`` listing; every record after it moves up one position. A client
that follows a positional ``page_token`` then skips the record that slid across the page
boundary. Churn reproduces that on demand: after every N API calls (``churn_every_calls``)
and/or every T milliseconds (``churn_interval_ms``), one random record of each module in
``churn_modules`` is edited. The edits come from the store's seeded RNG, so a sequential client
sees the same churn on every run.
"""

from __future__ import annotations

import contextlib
import threading

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.store import MutationError, Store

__all__ = ["Churn"]


class Churn:
    """Edits records between API calls or on a timer.

    Args:
        store: The org to edit.
        config: The live config (``churn_*`` are read on every call).
    """

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config
        self.edits = 0
        self._calls = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_call(self) -> None:
        """Count one answered API call; edit when ``churn_every_calls`` calls have passed."""
        every = self.config.churn_every_calls
        if not every:
            return
        with self._lock:
            self._calls += 1
            due = self._calls % int(every) == 0
        if due:
            self.edit_once()

    def edit_once(self) -> None:
        """Edit one random record of every churn module (a module without records is skipped)."""
        for module in self.config.churn_modules:
            with contextlib.suppress(MutationError):
                if self.store.mutate("edit", module=module, count=1):
                    with self._lock:
                        self.edits += 1

    def start(self) -> None:
        """Start the timer thread (a no-op without ``churn_interval_ms``)."""
        if not self.config.churn_interval_ms or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-churn", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the timer thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait((self.config.churn_interval_ms or 1000) / 1000):
            if self.config.churn_interval_ms:
                self.edit_once()
