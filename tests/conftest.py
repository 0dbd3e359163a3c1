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
def tap_emulator():
    """Factory: ``tap_emulator(**EmulatorConfig kwargs)`` starts an emulator for the test."""
    from zoho_crm_emulator import Emulator, EmulatorConfig

    started = []

    def start(**kwargs):
        # No recycle-bin entries from before the first sync unless a test asks: a first sync
        # reads the whole recycle bin, and tests about other things compare live records.
        kwargs.setdefault("deleted_fraction", 0.0)
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


# ---- target-sqlite-audit fixtures (tests/test_target_*.py) -------------------------------
# Self-contained on purpose (own imports, prefixed names) so that it cannot clash with the
# sections above or below it.
import contextlib as _audit_contextlib
import io as _audit_io
import json as _audit_json
import os as _audit_os
import sqlite3 as _audit_sqlite3
import subprocess as _audit_subprocess
import sys as _audit_sys
from pathlib import Path as _AuditPath

AUDIT_CLI = str(_AuditPath(_audit_sys.executable).parent / "target-sqlite-audit")


class AuditRun:
    """Outcome of one in-process run of the target."""

    def __init__(self, stdout: str, stderr: str, error: BaseException | None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.error = error
        self.states = [_audit_json.loads(line) for line in stdout.splitlines() if line.strip()]


class AuditKit:
    """Builds Singer messages, runs target-sqlite-audit and reads its database."""

    def __init__(self, directory: _AuditPath) -> None:
        self.directory = directory
        self.database = directory / "audit.sqlite"
        self.config: dict = {"database": str(self.database)}

    # messages
    @staticmethod
    def schema(stream, properties, key=("id",), bookmarks=None, **extra) -> dict:
        props = {
            name: ({"type": ["null", spec]} if isinstance(spec, str) else spec)
            for name, spec in properties.items()
        }
        message = {
            "type": "SCHEMA",
            "stream": stream,
            "schema": {"type": "object", "properties": props},
            "key_properties": list(key),
        }
        if bookmarks:
            message["bookmark_properties"] = list(bookmarks)
        message.update(extra)
        return message

    @staticmethod
    def record(stream, record) -> dict:
        return {"type": "RECORD", "stream": stream, "record": record}

    @staticmethod
    def state(value) -> dict:
        return {"type": "STATE", "value": value}

    @staticmethod
    def lines(messages) -> bytes:
        if isinstance(messages, bytes):
            return messages
        return "".join(
            (m if isinstance(m, str) else _audit_json.dumps(m)) + "\n" for m in messages
        ).encode()

    # running
    def run(self, messages, *, raises: bool = False, **config) -> AuditRun:
        """Run the target in-process (like singer-sdk's test runner)."""
        from target_sqlite_audit.target import TargetSqliteAudit

        target = TargetSqliteAudit(config={**self.config, **config})
        out, err = _audit_io.StringIO(), _audit_io.StringIO()
        error = None
        with _audit_contextlib.redirect_stdout(out), _audit_contextlib.redirect_stderr(err):
            try:
                target.process_lines(_audit_io.BytesIO(self.lines(messages)))
                target.process_endofpipe()
            except Exception as exc:
                if raises:
                    raise
                error = exc
        return AuditRun(out.getvalue(), err.getvalue(), error)

    def cli(self, messages=b"", *args, config=None, timeout=60, env=None):
        """Run the console script as a subprocess; returns CompletedProcess (bytes)."""
        config_path = self.directory / "config.json"
        config_path.write_text(_audit_json.dumps({**self.config, **(config or {})}))
        argv = [AUDIT_CLI, *args] if args else [AUDIT_CLI, "--config", str(config_path)]
        return _audit_subprocess.run(
            argv,
            input=self.lines(messages),
            capture_output=True,
            timeout=timeout,
            env={**_audit_os.environ, **(env or {})},
            check=False,
        )

    # reading
    def connect(self, database=None) -> _audit_sqlite3.Connection:
        conn = _audit_sqlite3.connect(str(database or self.database))
        conn.row_factory = _audit_sqlite3.Row
        return conn

    def query(self, sql, params=(), database=None) -> list[dict]:
        with _audit_contextlib.closing(self.connect(database)) as conn:
            return [dict(row) for row in conn.execute(sql, params)]

    def scalar(self, sql, params=(), database=None):
        with _audit_contextlib.closing(self.connect(database)) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def syncs(self, database=None) -> list[dict]:
        return self.query("SELECT * FROM sync_log ORDER BY id", database=database)

    def history(self, stream="leads", database=None) -> list[dict]:
        return self.query(
            f'SELECT * FROM "{stream}_history" ORDER BY history_id', database=database
        )

    def current(self, stream="leads", database=None) -> list[dict]:
        return self.query(f'SELECT * FROM "{stream}" ORDER BY rowid', database=database)


@pytest.fixture
def audit(tmp_path) -> AuditKit:
    """An :class:`AuditKit` writing to a fresh database in ``tmp_path``."""
    return AuditKit(tmp_path)
