"""Helpers of the tap's complete-data tests (tests/tap/test_tap_complete_*.py).

Kept out of conftest.py on purpose (several packages append to it); imported by name, since
pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sqlite3
import urllib.parse

import requests

from tap_zohocrm.bookmarks import parse_instant

STREAMS = {"leads": "Leads", "contacts": "Contacts", "deals": "Deals"}
#: The streams that are not modules (reference data, related lists): users is selected by
#: default, the others are opt-in.
NON_MODULE_STREAMS = frozenset(
    {"users", "org", "roles", "profiles", "currencies", "territories", "deal_stage_history"}
    | {"quoted_items", "ordered_items", "invoiced_items", "purchase_items"}
)


def zoho_value(truth, name):
    """A property's value in the emulator's ground truth (``zoho_state`` is Zoho's ``$state``)."""
    from tap_zohocrm.schema import SYSTEM_KEYS

    return truth.get(SYSTEM_KEYS.get(name, name))


def module_streams(names):
    """The module streams among stream names."""
    return set(names) - NON_MODULE_STREAMS


# ---- catalogs -------------------------------------------------------------------------------


def entry(catalog, stream):
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)


def deselect(catalog, stream, *fields):
    """A copy of the catalog with properties (``Owner.email`` for nested ones) deselected."""
    catalog = copy.deepcopy(catalog)
    crumbs = [[part for name in f.split(".") for part in ("properties", name)] for f in fields]
    for item in entry(catalog, stream)["metadata"]:
        if item["breadcrumb"] in crumbs:
            item["metadata"]["selected"] = False
    return catalog


def only_streams(catalog, *streams):
    """A copy of the catalog with only these streams selected."""
    catalog = copy.deepcopy(catalog)
    for item in catalog["streams"]:
        for meta in item["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = item["tap_stream_id"] in streams
    return catalog


# ---- tap output -----------------------------------------------------------------------------


def live_records(run, stream):
    return [r for r in run.records(stream) if r.get("_sdc_deleted_at") is None]


def deletion_records(run, stream):
    return [r for r in run.records(stream) if r.get("_sdc_deleted_at") is not None]


def stream_state(run, stream):
    return run.state["bookmarks"][stream]


# ---- the audit target, in-process ---------------------------------------------------------


def load_into_audit(database, run, **config):
    """Feed a tap run's messages to target-sqlite-audit (in-process) writing ``database``."""
    from target_sqlite_audit.target import TargetSqliteAudit

    lines = "".join(json.dumps(m) + "\n" for m in run.messages).encode()
    target = TargetSqliteAudit(config={"database": str(database), **config})
    with contextlib.redirect_stdout(io.StringIO()):
        target.process_lines(io.BytesIO(lines))
        target.process_endofpipe()


def query(database, sql, params=()):
    with contextlib.closing(sqlite3.connect(str(database))) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


def last_sync_history(database, stream):
    """History rows written by the newest sync of the audit database."""
    return query(
        database,
        f'SELECT * FROM "{stream}_history" WHERE sync_id = (SELECT max(id) FROM sync_log) '
        "ORDER BY history_id",
    )


# ---- requests the tap sent ------------------------------------------------------------------


class RequestLog:
    """Every HTTP request the tap sends (URL path, query, headers), in order."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []

    def install(self, monkeypatch):
        original = requests.Session.send
        log = self.requests

        def send(session, request, **kwargs):
            split = urllib.parse.urlsplit(request.url)
            params = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            log.append((split.path, params, dict(request.headers)))
            return original(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)
        return self

    def to(self, path):
        return [(params, headers) for p, params, headers in self.requests if p.endswith(path)]

    def clear(self):
        self.requests.clear()


# ---- a tap process killed mid-run -----------------------------------------------------------


def run_tap_until_killed(tap, config_path, kill_at, sig=None):
    """Run the tap process and SIGKILL it (or send ``sig``) at the first STATE for which
    ``kill_at(value)`` is true; return the complete lines it wrote (what a target would have
    received)."""
    import os
    import signal
    import subprocess

    sig = signal.SIGKILL if sig is None else sig

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [tap, "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        message = json.loads(line)
        if message["type"] == "STATE" and kill_at(message["value"]):
            process.send_signal(sig)
            break
    lines.extend(process.stdout.readlines())  # whatever was written before the kill
    process.wait(timeout=30)
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
        return [json.loads(line) for line in lines if line.endswith(b"\n")]
    # Another signal ends the tap itself: every line it wrote is whole.
    assert all(line.endswith(b"\n") for line in lines)
    return [json.loads(line) for line in lines]


def assert_valid_singer_order(messages):
    """SCHEMA before a stream's records; each STATE bookmark no newer than what came before."""
    schemas: set[str] = set()
    newest: dict[str, object] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            schemas.add(message["stream"])
        elif message["type"] == "RECORD":
            stream = message["stream"]
            assert stream in schemas, f"a {stream} record before its SCHEMA"
            value = message["record"].get("Modified_Time")
            if value and message["record"].get("_sdc_deleted_at") is None:
                known = newest.get(stream)
                if known is None or parse_instant(value) > parse_instant(known):
                    newest[stream] = value
        elif message["type"] == "STATE":
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                value = bookmark.get("replication_key_value")
                if stream in STREAMS and value:
                    assert stream in newest, f"a {stream} bookmark before any {stream} record"
                    assert parse_instant(value) <= parse_instant(newest[stream]), stream
