"""The ``Emulator``: one in-memory Zoho CRM org behind a real HTTP server.

Tests run it in-process on a free port; the CLI runs it as a long-lived server. Either way
the same object offers the Python API that tests use as ground truth and for steering.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from zoho_crm_emulator.api import ZohoApi
from zoho_crm_emulator.auth import TokenManager
from zoho_crm_emulator.bulk import BulkRead
from zoho_crm_emulator.churn import Churn
from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.coql_api import CoqlApi
from zoho_crm_emulator.faults import FAULT_SETTINGS, FaultInjector
from zoho_crm_emulator.server import Dispatcher, EmulatorHTTPServer
from zoho_crm_emulator.stats import Stats
from zoho_crm_emulator.store import Store
from zoho_crm_emulator.subforms import PARENTS


class Emulator:
    """An emulated Zoho CRM org.

    Args:
        config: The org's settings; copied, so later changes to the caller's object do not
            leak in (use ``set_faults`` to change behaviour at runtime).
        verbose: Log every request (the CLI's ``--log-requests``).

    Example:
        >>> emu = Emulator(EmulatorConfig(seed=7, sizes={"Leads": 2600}))
        >>> with emu.serve() as base_url:  # doctest: +SKIP
        ...     requests.post(f"{base_url}/oauth/v2/token", params={...})
    """

    def __init__(self, config: EmulatorConfig | None = None, *, verbose: bool = False) -> None:
        self.config = copy.deepcopy(config) if config is not None else EmulatorConfig()
        self.verbose = verbose
        self.store = Store(self.config)
        self.counters = Stats()
        self.tokens = TokenManager(self.config)
        self.faults = FaultInjector(self.config)
        self.api = ZohoApi(self.store, self.config)
        self.coql = CoqlApi(self.store, self.config)
        self.bulk = BulkRead(self.store, self.config, self.faults)
        self.churn = Churn(self.store, self.config)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- Serving --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return ``http://host:port`` of the running server.

        Raises:
            RuntimeError: When the server is not running.
        """
        if self._server is None:
            raise RuntimeError("the emulator is not serving; call start() or serve()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving in a background thread and return the base URL."""
        if self._server is not None:
            return self.base_url
        self._server = EmulatorHTTPServer(
            (self.config.host, self.config.port), Dispatcher(self), verbose=self.verbose
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="zoho-crm-emulator",
            daemon=True,
        )
        self._thread.start()
        self.churn.start()
        return self.base_url

    def stop(self) -> None:
        """Stop the server, drop open connections and wait for the serving thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.churn.stop()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve for the duration of a ``with`` block, yielding the base URL."""
        base_url = self.start()
        try:
            yield base_url
        finally:
            self.stop()

    # --- Observation ----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return the counters: ``calls`` per endpoint, ``credits``, ``status_counts``."""
        return self.counters.snapshot()

    def reset_stats(self) -> None:
        """Zero every counter (e.g. between the two runs of a test)."""
        self.counters.reset()

    def records(self, module: str) -> list[dict[str, Any]]:
        """Return the ground truth: every live record with every field, ordered by id."""
        return self.store.all_records(module)

    def subform_rows(self, subform: str) -> list[dict[str, Any]]:
        """Return the ground truth of a subform: every row of every live parent, by id."""
        store = self.store
        parent_module, _ = PARENTS[subform]
        definition = store.module(parent_module)
        with store.lock:
            parents = [
                (record, store.values_of(definition, record).get(definition.display_field))
                for record in store.query(parent_module, sort_by="id")
            ]
            rows = store.subforms.all_rows(subform, iter(parents))
        return sorted(rows, key=lambda row: int(row["id"]))

    def deleted(self, module: str) -> list[dict[str, Any]]:
        """Return the ground truth of deleted-record entries, newest first."""
        return self.store.all_deletions(module)

    def access_token(self) -> str:
        """Grant an access token directly, for tests that are not about OAuth."""
        config = self.config
        _, body = self.tokens.grant(
            {
                "grant_type": "refresh_token",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "refresh_token": config.refresh_token,
            },
            self.base_url if self._server else "",
        )
        return str(body["access_token"])

    # --- Steering -------------------------------------------------------------------

    def mutate(
        self,
        action: str,
        *,
        module: str = "Leads",
        count: int = 1,
        ids: Sequence[str] | None = None,
        **kw: Any,
    ) -> list[str]:
        """Change the org: ``edit``, ``create``, ``delete``, ``convert`` or ``formula``.

        See ``Store.mutate`` for the arguments; returns the affected record ids.
        """
        return self.store.mutate(action, module=module, count=count, ids=ids, **kw)

    def faults_settings(self) -> dict[str, Any]:
        """Return the current fault settings."""
        return {name: getattr(self.config, name) for name in FAULT_SETTINGS}

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings at runtime and return them all.

        Args:
            **changes: Any of ``fail_429``, ``fail_500``, ``latency_ms``,
                ``token_lifetime_calls``, ``token_lifetime_seconds``,
                ``token_requests_per_minute``, ``page_token_cap``, ``page_token_ttl_seconds``.

        Raises:
            ValueError: For an unknown setting or an out-of-range value.
        """
        unknown = sorted(set(changes) - set(FAULT_SETTINGS))
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; expected {list(FAULT_SETTINGS)}")
        for name, value in changes.items():
            if name in ("fail_429", "fail_500", "bulk_fail", "fail_garbage"):
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
            elif value is not None:
                value = float(value) if name.endswith(("seconds", "_ms")) else int(value)
                if value < 0:
                    raise ValueError(f"{name} must not be negative")
            elif name not in (
                "token_lifetime_calls",
                "token_requests_per_minute",
                "churn_every_calls",
                "churn_interval_ms",
                "daily_credits",
                "max_concurrent_calls",
            ):
                raise ValueError(f"{name} cannot be null")
            setattr(self.config, name, value)
        if "churn_interval_ms" in changes and self._server is not None:
            self.churn.stop()
            self.churn.start()
        return self.faults_settings()
