"""Killed with SIGKILL at random points and run again: the same database as one clean run."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from audit_kit import AUDIT_CLI, AuditKit, assert_one_live_version

pytestmark = pytest.mark.slow

STREAM = "leads"
PROPS = {
    "id": "string",
    "First_Name": "string",
    "Lead_Age_Days": "integer",
    "Modified_Time": {"type": ["null", "string"], "format": "date-time"},
    "Tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
VOLATILE = {"_first_seen_at", "_last_changed_at", "_sync_id", "_history_id", "history_id",
            "captured_at", "sync_id", "valid_from", "valid_to", "is_current"}  # fmt: skip


def stamp(minute: int) -> str:
    """An increasing instant, written with alternating UTC offsets (as across DST)."""
    moment = datetime(2024, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=minute)
    zone = timezone(timedelta(hours=-7 if minute % 2 else -8))
    return moment.astimezone(zone).isoformat()


def build_input(seed: int = 7, leads: int = 1500) -> list[str]:
    """A few thousand lines: inserts, updates, formula updates, deletes, reappearances."""
    rnd = random.Random(seed)
    lines = [json.dumps({"type": "SCHEMA", "stream": STREAM, "key_properties": ["id"],
                         "bookmark_properties": ["Modified_Time"],
                         "schema": {"type": "object", "properties": {
                             k: ({"type": ["null", v]} if isinstance(v, str) else v)
                             for k, v in PROPS.items()}}})]  # fmt: skip
    versions: dict[str, dict] = {}
    minute = 0

    def emit(record: dict) -> None:
        lines.append(json.dumps({"type": "RECORD", "stream": STREAM, "record": record}))
        if len(lines) % 100 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"line": len(lines)}}))

    for i in range(leads):
        minute += 1
        record = {"id": str(i), "First_Name": f"Lead {i}", "Lead_Age_Days": 0,
                  "Modified_Time": stamp(minute), "Tags": ["a"] * (i % 3),
                  "_sdc_deleted_at": None}  # fmt: skip
        versions[str(i)] = record
        emit(record)
    for _ in range(leads):
        key = str(rnd.randrange(leads))
        current = versions[key]
        action = rnd.random()
        if action < 0.4:  # a real edit
            minute += 1
            current = dict(current, First_Name=f"Edited {minute}", Modified_Time=stamp(minute),
                           _sdc_deleted_at=None)  # fmt: skip
        elif action < 0.7:  # formula field: same Modified_Time, other content
            current = dict(current, Lead_Age_Days=current["Lead_Age_Days"] + 1)
        elif action < 0.85:  # delete
            minute += 1
            emit({"id": key, "_sdc_deleted_at": stamp(minute)})
            continue
        else:  # the same version again (a re-sent page)
            pass
        versions[key] = current
        emit(current)
    return lines


def snapshot(audit: AuditKit):
    current = [
        {k: v for k, v in row.items() if k not in VOLATILE}
        for row in audit.query(f'SELECT * FROM "{STREAM}" ORDER BY id')
    ]
    history = [
        {k: v for k, v in row.items() if k not in VOLATILE}
        for row in audit.query(f'SELECT * FROM "{STREAM}_history" ORDER BY history_id')
    ]
    return current, history


def assert_subsequence(expected: list, actual: list) -> None:
    """Every row of ``expected`` appears in ``actual``, in order (extra repeats allowed)."""
    rows = iter(actual)
    for row in expected:
        assert any(candidate == row for candidate in rows), row


def run_and_kill(
    audit: AuditKit, lines: list[str], kill_after: int, config: dict, seed: int = 0
) -> int:
    """Start the target, feed lines slowly through a pipe, SIGKILL it after ``kill_after``."""
    config_path = audit.directory / "config.json"
    config_path.write_text(json.dumps(config))
    before = len(audit.syncs()) if audit.database.exists() else 0
    process = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    rnd = random.Random(seed)
    try:
        process.stdin.write((lines[0] + "\n").encode())
        process.stdin.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until its sync has started
            with contextlib.suppress(sqlite3.Error):
                if audit.database.exists() and len(audit.syncs()) > before:
                    break
            time.sleep(0.02)
        for start in range(1, kill_after, 40):
            chunk = lines[start : min(start + 40, kill_after)]
            process.stdin.write(("\n".join(chunk) + "\n").encode())
            process.stdin.flush()
            time.sleep(rnd.random() * 0.004)
        time.sleep(rnd.random() * 0.05)  # land mid-batch, mid-commit or while waiting
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
    return process.returncode


def test_sigkill_and_rerun_equals_an_uninterrupted_run(tmp_path):
    lines = build_input()
    assert len(lines) > 3000
    config_extra = {"batch_size_rows": 97}

    reference = AuditKit(tmp_path / "reference")
    reference.directory.mkdir()
    assert reference.run("\n".join(lines).encode(), **config_extra).error is None
    expected = snapshot(reference)
    assert expected[1], "the reference run wrote history"
    kinds = {row["change_type"] for row in expected[1]}
    assert kinds == {"insert", "update", "delete"}

    audit = AuditKit(tmp_path / "killed")
    audit.directory.mkdir()
    config = {**audit.config, **config_extra}
    rnd = random.Random(20240)
    kill_points = sorted(rnd.sample(range(200, len(lines) - 50), 4))
    for kill_after in kill_points:
        code = run_and_kill(audit, lines, kill_after, config, seed=kill_after)
        assert code == -signal.SIGKILL
    statuses = [row["status"] for row in audit.syncs()]
    assert statuses[:-1] == ["interrupted"] * (len(kill_points) - 1)
    assert statuses[-1] == "running"  # nobody has looked since the last kill

    result = audit.cli("\n".join(lines).encode(), config=config_extra, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert [row["status"] for row in audit.syncs()] == ["interrupted"] * len(kill_points) + [
        "completed"
    ]
    assert audit.scalar("PRAGMA integrity_check") == "ok"
    actual = snapshot(audit)
    assert actual[0] == expected[0]
    # The whole input again (not a resume from the last STATE): versions the killed runs'
    # emitted STATEs covered are input again, and the formula-style ones among them (same
    # Modified_Time, other content) cannot be told from real changes back, so they may
    # repeat; every version of the uninterrupted run is there, in order.
    assert_subsequence(expected[1], actual[1])
    assert_one_live_version(audit)
    # and one more replay of the whole input leaves the current rows as they are
    assert audit.run("\n".join(lines).encode(), **config_extra).error is None
    assert snapshot(audit)[0] == expected[0]


def test_sigkill_then_resume_from_a_committed_state(tmp_path):
    """The tap resumes from the last STATE covered by committed records, not from scratch."""
    lines = build_input(seed=11, leads=800)
    reference = AuditKit(tmp_path / "reference")
    reference.directory.mkdir()
    assert reference.run("\n".join(lines).encode(), batch_size_rows=61).error is None

    audit = AuditKit(tmp_path / "killed")
    audit.directory.mkdir()
    config = {**audit.config, "batch_size_rows": 61}
    assert run_and_kill(audit, lines, 1200, config, seed=3) == -signal.SIGKILL
    assert audit.syncs()[0]["records_fetched"] > 0
    # Resume as Meltano does: from the last STATE the target emitted (the one it saved in
    # the sync log just before printing it); its value is the index of its STATE line.
    saved = audit.syncs()[0]["state"]
    resume = json.loads(saved)["line"] + 1 if saved else 1
    rerun = [lines[0], *lines[resume:]]
    result = audit.cli("\n".join(rerun).encode(), config={"batch_size_rows": 61}, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert [row["status"] for row in audit.syncs()] == ["interrupted", "completed"]
    assert snapshot(audit) == snapshot(reference)


def test_interrupted_run_is_marked_by_the_next_one(audit):
    lines = build_input(leads=300)
    code = run_and_kill(audit, lines, 250, {**audit.config, "batch_size_rows": 20})
    assert code == -signal.SIGKILL
    assert [row["status"] for row in audit.syncs()] == ["running"]
    assert audit.run("\n".join(lines).encode(), batch_size_rows=20).error is None
    syncs = audit.syncs()
    assert [row["status"] for row in syncs] == ["interrupted", "completed"]
    assert "stopped before completing" in syncs[0]["error_message"]
    assert syncs[0]["completed_at"] is None
