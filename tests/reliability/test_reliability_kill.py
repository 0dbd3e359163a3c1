"""Reliability: the whole pipeline (tap | target) killed with SIGKILL at 10 points, then rerun.

Two real processes, ``tap-zohocrm --catalog ... [--state ...]`` and ``target-sqlite-audit``,
wired with pipes through a relay in the test (as Meltano relays them), sync a few thousand
records from the emulator. Kill points are taken, with a seeded RNG, from the RECORD lines of an
uninterrupted reference run, as counts (streams sync concurrently, so their records interleave
in a different order each run): the killed run after point N-1 is killed once it has relayed
N - (N-1) RECORD lines. Each killed run ends with SIGKILL to both process groups right
after the relay has passed its kill point (plus a seeded delay of up to 120 ms, so that kills land
while the target parses, validates, commits or waits). Every next run starts from the last STATE
the target emitted, as Meltano would. A second phase repeats this for an incremental sync with
edits, creations, conversions and deletions. At the end the database must equal the reference
run's (current tables and history, without wall-clock bookkeeping and sync ids), hold no
duplicate history row and show every killed run as ``interrupted``.

Meltano itself is not used here (its start-up alone takes about 5 s a run); the Meltano
end-to-end tests live in tests/e2e/test_e2e_meltano.py. The SIGKILL suite is
tests/reliability/test_reliability_kill*.py, by process: this pipeline, the target alone
(``_target``), the tap alone (``_tap``) and the target's replay window (``_resume``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-zohocrm")
TARGET = str(BIN / "target-sqlite-audit")
CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}
SIZES = {"Leads": 1800, "Contacts": 700, "Deals": 500}
SEED = 20_251_122
KILLS_INITIAL = 7  # kill points during the initial sync of 3,000 records
KILLS_INCREMENTAL = 3  # kill points during the incremental sync of the changes
TARGET_BATCH = 120
TIME_EXTRACTED = re.compile(rb',"time_extracted":"[^"]*"')
#: Bookkeeping that depends on the wall clock or on how many runs there were.
VOLATILE = frozenset(
    {
        "_first_seen_at",
        "_last_changed_at",
        "_sync_id",
        "_history_id",
        "history_id",
        "captured_at",
        "sync_id",
        "valid_from",
        "valid_to",
        "added_at",
        "created_at",
    }
)


@dataclasses.dataclass
class RunOutcome:
    """What one pipeline run did."""

    killed: bool
    tap_code: int | None
    target_code: int | None
    forwarded: list[bytes]  # tap output lines passed to the target (time_extracted cut out)
    states: list[dict]  # STATE values the target emitted
    target_stderr: str


class Pipeline:
    """Runs tap | target in one folder, keeping the target's last STATE between runs."""

    def __init__(self, directory: Path, base_url: str, catalog: bytes) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.database = directory / "audit.sqlite"
        self.state_path = directory / "state.json"
        self.tap_config = directory / "tap.json"
        self.tap_config.write_text(
            json.dumps({"accounts_url": base_url, **CREDENTIALS, "page_size": 100})
        )
        self.target_config = directory / "target.json"
        self.target_config.write_text(
            json.dumps({"database": str(self.database), "batch_size_rows": TARGET_BATCH})
        )
        self.catalog = directory / "catalog.json"
        self.catalog.write_bytes(catalog)
        self.runs = 0
        self.resumed_from_state = 0

    def run(self, kill_after: int | None = None, delay: float = 0.0) -> RunOutcome:
        """Run the pipeline once; with ``kill_after``, SIGKILL it after that many records."""
        self.runs += 1
        tap_command = [TAP, "--config", str(self.tap_config), "--catalog", str(self.catalog)]
        if self.state_path.exists():
            tap_command += ["--state", str(self.state_path)]
            self.resumed_from_state += 1
        syncs_before = self.sync_count()
        tap_err = (self.directory / f"tap-{self.runs}.err").open("wb")
        target_err_path = self.directory / f"target-{self.runs}.err"
        target_err = target_err_path.open("wb")
        tap = subprocess.Popen(
            tap_command, stdout=subprocess.PIPE, stderr=tap_err, start_new_session=True
        )
        target = subprocess.Popen(
            [TARGET, "--config", str(self.target_config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=target_err,
            start_new_session=True,
            bufsize=0,
        )
        emitted: list[bytes] = []
        reader = threading.Thread(target=lambda: emitted.extend(target.stdout or []))
        reader.start()
        forwarded: list[bytes] = []
        relayed = 0
        killed = False
        assert tap.stdout is not None
        assert target.stdin is not None
        try:
            for line in tap.stdout:
                target.stdin.write(line)
                forwarded.append(TIME_EXTRACTED.sub(b"", line))
                relayed += line.startswith(b'{"type":"RECORD"')
                if kill_after is not None and relayed == kill_after:
                    self._wait_for_sync_row(syncs_before)
                    time.sleep(delay)
                    for process in (tap, target):
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(process.pid, signal.SIGKILL)
                    killed = True
                    break
        except BrokenPipeError:  # the target stopped reading: its exit code tells why
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                target.stdin.close()
            tap.stdout.close()
            tap_code, target_code = tap.wait(timeout=300), target.wait(timeout=300)
            reader.join(timeout=60)
            tap_err.close()
            target_err.close()
        states = [json.loads(line) for line in emitted if line.endswith(b"\n")]
        if states:  # Meltano keeps the last STATE the target emitted
            self.state_path.write_text(json.dumps(states[-1]))
        return RunOutcome(
            killed, tap_code, target_code, forwarded, states, target_err_path.read_text()
        )

    def _wait_for_sync_row(self, before: int) -> None:
        """Wait until the target has started its sync (so the kill leaves a sync_log row)."""
        # No deadline of its own: pytest-timeout ends a test that hangs here.
        while self.sync_count() <= before:
            time.sleep(0.01)

    def sync_count(self) -> int:
        """Rows in sync_log (0 before the database exists)."""
        if not self.database.exists():
            return 0
        try:
            return int(self.query("SELECT COUNT(*) AS n FROM sync_log")[0]["n"])
        except sqlite3.Error:  # not created yet, or being created
            return 0

    def query(self, sql: str) -> list[dict]:
        """Rows of a read-only query."""
        uri = f"{self.database.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql)]


def records_of(outcome: RunOutcome) -> list[bytes]:
    """The RECORD lines a run relayed, in order."""
    return [line for line in outcome.forwarded if line.startswith(b'{"type":"RECORD"')]


def snapshot(pipeline: Pipeline) -> dict[str, list[str]]:
    """Everything the database holds about the data, without volatile bookkeeping."""

    def rows(sql: str) -> list[str]:
        kept = [{k: v for k, v in row.items() if k not in VOLATILE} for row in pipeline.query(sql)]
        return sorted(json.dumps(row, sort_keys=True) for row in kept)

    tables = {"_audit_streams": rows("SELECT * FROM _audit_streams")}
    tables["_audit_columns"] = rows("SELECT * FROM _audit_columns")
    for stream in pipeline.query("SELECT table_name, history_table FROM _audit_streams"):
        for table in (stream["table_name"], stream["history_table"]):
            tables[table] = rows(f'SELECT * FROM "{table}"')
    return tables


def mutate(emu) -> None:
    """Edits, creations, a conversion and deletions for the incremental phase."""
    emu.mutate("edit", module="Leads", count=120)
    emu.mutate("edit", module="Contacts", count=40)
    emu.mutate("create", module="Deals", count=30)
    emu.mutate("convert", module="Leads", count=5)
    emu.mutate("delete", module="Deals", count=15, type="recycle")
    emu.mutate("delete", module="Leads", count=10, type="permanent")


def kill_phase(
    pipeline: Pipeline, reference: RunOutcome, kills: int, rnd: random.Random
) -> list[dict]:
    """Kill the pipeline at ``kills`` seeded points of the reference run, then finish it."""
    lines = records_of(reference)
    points = sorted(rnd.sample(range(10, len(lines) - 10), kills))
    log = []
    # A resumed run relays at least what the runs before it did not commit, which is more
    # than the records between this point and the previous one.
    for previous, point in zip([0, *points], points, strict=False):
        delay = rnd.uniform(0.0, 0.12)
        outcome = pipeline.run(kill_after=point - previous, delay=delay)
        assert outcome.killed, f"the run ended before reaching kill point {point}"
        assert outcome.target_code == -signal.SIGKILL
        log.append({"point": point, "delay": round(delay, 3), "states": len(outcome.states)})
    final = pipeline.run()
    assert (final.tap_code, final.target_code) == (0, 0), final.target_stderr[-3000:]
    return log


def test_sigkill_at_10_points_then_rerun_equals_an_uninterrupted_run(start_emulator, tmp_path):
    emu = start_emulator(seed=SEED % 1000, sizes=SIZES, latency_ms=10, deleted_fraction=0.0)
    base_url = emu.base_url
    config = tmp_path / "discover.json"
    config.write_text(json.dumps({"accounts_url": base_url, **CREDENTIALS}))
    catalog = subprocess.run(
        [TAP, "--config", str(config), "--discover"], capture_output=True, check=True
    ).stdout
    rnd = random.Random(SEED)

    # Phase 1: the initial sync of 3,000 records.
    reference = Pipeline(tmp_path / "reference", base_url, catalog)
    clean = reference.run()
    assert (clean.tap_code, clean.target_code) == (0, 0), clean.target_stderr[-3000:]
    assert len(records_of(clean)) == sum(SIZES.values()) + 5  # and the 5 users
    killed = Pipeline(tmp_path / "killed", base_url, catalog)
    log = kill_phase(killed, clean, KILLS_INITIAL, rnd)
    assert snapshot(killed) == snapshot(reference)

    # Phase 2: an incremental sync of edits, creations, conversions and deletions.
    mutate(emu)
    clean = reference.run()
    assert (clean.tap_code, clean.target_code) == (0, 0), clean.target_stderr[-3000:]
    changes = records_of(clean)
    assert len(changes) > 200
    assert any(b'"_sdc_deleted_at":"' in line for line in changes)
    log += kill_phase(killed, clean, KILLS_INCREMENTAL, rnd)

    # The same database as the uninterrupted runs: current tables, history, columns.
    expected, actual = snapshot(reference), snapshot(killed)
    assert actual.keys() == expected.keys()
    for table in expected:
        assert actual[table] == expected[table], table
    # No duplicate history rows: one row per (record, version).
    for stream in killed.query("SELECT history_table FROM _audit_streams"):
        table = stream["history_table"]
        counts = killed.query(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT id || content_hash || change_type) AS d "
            f'FROM "{table}"'
        )[0]
        assert counts["n"] == counts["d"], table
    # Nothing lost: every live record of the org is current, every deletion is recorded.
    for module in SIZES:
        live = {record["id"] for record in emu.records(module)}
        rows = killed.query(f'SELECT id, _deleted_at FROM "{module.lower()}"')
        assert {row["id"] for row in rows if row["_deleted_at"] is None} == live
    statuses = [row["status"] for row in killed.query("SELECT status FROM sync_log ORDER BY id")]
    assert statuses == (
        ["interrupted"] * KILLS_INITIAL
        + ["completed"]
        + ["interrupted"] * KILLS_INCREMENTAL
        + ["completed"]
    )
    assert all(row["status"] == "completed" for row in reference.query("SELECT * FROM sync_log"))
    committed = [
        row["records_fetched"]
        for row in killed.query("SELECT * FROM sync_log WHERE status = 'interrupted'")
    ]
    # The target emits a STATE after every full batch, so most killed runs of the initial sync
    # left one behind and the next run resumed from it instead of starting over.
    assert sum(1 for entry in log[:KILLS_INITIAL] if entry["states"]) >= KILLS_INITIAL // 4
    print(
        f"kill points: {len(log)} survived; records committed by the killed runs before "
        f"the kill: {committed}; runs resumed from a STATE: {killed.resumed_from_state}; "
        f"kills: {log}"
    )
