"""Fixtures every tier shares: the one emulator fixture, the tap's and the target's kits.

Each tier (emulator, tap, target, reliability, insights, e2e) has its own conftest for what
only it uses.
"""

from __future__ import annotations

import pytest

from zoho_crm_emulator import Emulator, EmulatorConfig

_TIER_MARKS = {"e2e": ("e2e", "slow"), "reliability": ("slow",)}
_PHASES: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of tests/e2e is ``e2e`` and ``slow``; every one of tests/reliability ``slow``.

    ``make test-fast`` (``-m "not slow"``) then runs the unit and in-process tiers only.
    """
    for item in items:
        tier = item.path.parent.name
        for mark in _TIER_MARKS.get(tier, ()):
            item.add_marker(mark)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the e2e setup phases (tests/e2e/conftest.py) for the summary, in the controller."""
    _PHASES.extend(value for key, value in report.user_properties if key == "e2e_phase")


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per slow e2e setup step and what it took."""
    if _PHASES:
        terminalreporter.section("e2e setup phases")
        for line in dict.fromkeys(_PHASES):
            terminalreporter.write_line(line)


@pytest.fixture
def emulator_defaults() -> dict:
    """``EmulatorConfig`` values every emulator of a test starts with (a tier may override)."""
    return {}


@pytest.fixture
def start_emulator(emulator_defaults):
    """The one emulator fixture: start emulators on free ports, all stopped after the test.

    Usage: ``emu = start_emulator(sizes={"Leads": 2600}, token_lifetime_calls=5)``; the
    keyword arguments are ``EmulatorConfig`` fields, and ``emu.base_url`` is where it serves.
    """
    started: list[Emulator] = []

    def start(**config) -> Emulator:
        emu = Emulator(EmulatorConfig(**{**emulator_defaults, **config}))
        started.append(emu)
        emu.start()
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(start_emulator) -> Emulator:
    """A default emulator (seed 42, small sizes), already serving."""
    return start_emulator()


# ---- tap-zohocrm fixtures (tests/tap, tests/reliability, tests/insights) --------------------
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
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream):
        """Ids of the live records (deletion records, ``_sdc_deleted_at`` set, left out)."""
        return [r["id"] for r in self.records(stream) if r.get("_sdc_deleted_at") is None]

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
def tap_config():
    """Factory: the tap config for an emulator, plus any extra settings."""

    def make(emu, **extra):
        # These suites were written for Get Records (its calls, pages and tokens); COQL has
        # its own (test_tap_coql*.py), and the e2e, demo and Meltano runs use the default auto.
        extra.setdefault("read_method", "rest")
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
def fast_backoff(monkeypatch):
    """Shrink the tap's backoff waits (the wait generator's inputs) so retry tests run fast."""
    from tap_zohocrm.auth import ZohoOAuthAuthenticator
    from tap_zohocrm.client import ZohoStream

    monkeypatch.setattr(ZohoStream, "BACKOFF_FACTOR", 0.001)
    monkeypatch.setattr(ZohoStream, "MAX_WAIT", 0.01)
    monkeypatch.setattr(ZohoOAuthAuthenticator, "REFRESH_BACKOFF_SECONDS", 0.001)
    monkeypatch.setattr(ZohoOAuthAuthenticator, "REFRESH_BACKOFF_MAX_SECONDS", 0.01)


# ---- target-sqlite-audit fixtures (tests/target, tests/reliability) ----------------------
from audit_kit import AuditKit


@pytest.fixture
def audit(tmp_path) -> AuditKit:
    """An :class:`AuditKit` writing to a fresh database in ``tmp_path``."""
    return AuditKit(tmp_path)
