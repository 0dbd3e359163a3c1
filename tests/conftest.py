"""Shared pytest fixtures. Add new fixtures below; keep existing ones unchanged."""

from __future__ import annotations

import pytest

from zoho_crm_emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator_factory():
    """Start emulators on free ports; all are stopped after the test.

    Usage: ``emu, base_url = emulator_factory(sizes={"Leads": 2600}, token_lifetime_calls=5)``
    (keyword arguments are ``EmulatorConfig`` fields).
    """
    started: list[Emulator] = []

    def make(**config) -> tuple[Emulator, str]:
        emu = Emulator(EmulatorConfig(**config))
        started.append(emu)
        return emu, emu.start()

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    """A default emulator (seed 42, small sizes) already serving: ``(emu, base_url)``."""
    return emulator_factory()


# ---- tap-zohocrm fixtures (tests/test_tap_*.py) ------------------------------------------
# Self-contained on purpose (own imports, no __future__ import) so that sections appended by
# other packages' tests cannot clash with it.
import contextlib as _tap_contextlib
import dataclasses as _tap_dataclasses
import io as _tap_io
import json as _tap_json

import pytest as _tap_pytest

TAP_CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}


@_tap_dataclasses.dataclass
class TapRunResult:
    """Singer messages of one in-process tap run."""

    messages: list

    def records(self, stream):
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def ids(self, stream):
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self):
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def state(self):
        return self.states[-1] if self.states else None

    def schema(self, stream):
        return next(
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        )


@_tap_pytest.fixture
def tap_emulator():
    """Factory: ``tap_emulator(**EmulatorConfig kwargs)`` starts an emulator for the test."""
    from zoho_crm_emulator import Emulator, EmulatorConfig

    started = []

    def start(**kwargs):
        emu = Emulator(EmulatorConfig(**kwargs))
        emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@_tap_pytest.fixture
def tap_config():
    """Factory: the tap config for an emulator, plus any extra settings."""

    def make(emu, **extra):
        return {"accounts_url": emu.base_url, **TAP_CREDENTIALS, **extra}

    return make


@_tap_pytest.fixture
def run_tap():
    """Factory: run the tap in-process (real HTTP to the emulator) and parse its messages."""
    from tap_zohocrm.tap import TapZohoCRM

    def run(config, *, catalog=None, state=None):
        buffer = _tap_io.StringIO()
        with _tap_contextlib.redirect_stdout(buffer):
            tap = TapZohoCRM(config=config, catalog=catalog, state=state)
            tap.sync_all()
        lines = buffer.getvalue().splitlines()
        return TapRunResult([_tap_json.loads(line) for line in lines if line.strip()])

    return run


@_tap_pytest.fixture
def discover_catalog():
    """Factory: the catalog dict discovery produces for a config (in-process)."""
    from tap_zohocrm.tap import TapZohoCRM

    def discover(config):
        return TapZohoCRM(config=config, setup_mapper=False).catalog_dict

    return discover


@_tap_pytest.fixture
def fast_backoff(monkeypatch):
    """Shrink the tap's backoff waits (the wait generator's inputs) so retry tests run fast."""
    from tap_zohocrm.auth import ZohoOAuthAuthenticator
    from tap_zohocrm.client import ZohoStream

    monkeypatch.setattr(ZohoStream, "BACKOFF_FACTOR", 0.001)
    monkeypatch.setattr(ZohoStream, "MAX_WAIT", 0.01)
    monkeypatch.setattr(ZohoOAuthAuthenticator, "REFRESH_BACKOFF_SECONDS", 0.001)
    monkeypatch.setattr(ZohoOAuthAuthenticator, "REFRESH_BACKOFF_MAX_SECONDS", 0.01)
