"""SIGKILLs with Meltano-style resume: each rerun starts from the last STATE the target emitted.

Streams whose values change back without a replication key that moves (no replication key;
formula fields with a fixed Modified_Time) are where a replay window that admits versions
already covered by an emitted STATE skips real changes. The final database must equal an
uninterrupted run's: the same current tables, and every version of its history, in order.

One race remains, on the safe side: a kill after a STATE's checkpoint is committed but before
the STATE is printed makes the next run resume from the STATE before it, and the versions in
between come again (repeated, never lost).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest
from audit_kit import AUDIT_CLI, AuditKit, assert_one_live_version

pytestmark = pytest.mark.slow

VOLATILE = {"_first_seen_at", "_last_changed_at", "_sync_id", "_history_id", "history_id",
            "captured_at", "sync_id", "valid_from", "valid_to", "is_current"}  # fmt: skip
STREAMS = ("tickets", "scores")
BATCH = {"batch_size_rows": 37}


def schema(stream: str, bookmark: str | None) -> str:
    props = {"id": {"type": ["string"]}, "status": {"type": ["null", "string"]}}
    if bookmark:
        props[bookmark] = {"type": ["null", "string"], "format": "date-time"}
    message = {"type": "SCHEMA", "stream": stream, "key_properties": ["id"], "schema": {
        "type": "object", "properties": props}}  # fmt: skip
    if bookmark:
        message["bookmark_properties"] = [bookmark]
    return json.dumps(message)


def build_input(seed: int = 5, keys: int = 60, changes: int = 3000) -> list[str]:
    """Values that flip among three, so that A, B, A patterns abound; a STATE every 25."""
    rnd = random.Random(seed)
    lines: list[str] = []
    for n in range(changes):
        key = str(rnd.randrange(keys))
        status = rnd.choice(("open", "pending", "closed"))
        lines.append(json.dumps({"type": "RECORD", "stream": "tickets",
                                 "record": {"id": key, "status": status}}))  # fmt: skip
        score = {"id": key, "status": status, "Modified_Time": "2024-01-01T00:00:00+00:00"}
        lines.append(json.dumps({"type": "RECORD", "stream": "scores", "record": score}))
        if n % 25 == 24:
            lines.append(json.dumps({"type": "STATE", "value": {"line": len(lines)}}))
    return lines


HEADER = [schema("tickets", None), schema("scores", "Modified_Time")]


def snapshot(audit: AuditKit):
    out = []
    for stream in STREAMS:
        for table in (stream, f"{stream}_history"):
            order = "history_id" if table.endswith("_history") else "id"
            out.append(
                [
                    {k: v for k, v in row.items() if k not in VOLATILE}
                    for row in audit.query(f'SELECT * FROM "{table}" ORDER BY {order}')
                ]
            )
    return out


def run_and_kill(audit: AuditKit, lines: list[str], kill_after: int, seed: int) -> list[dict]:
    """Feed lines to the target, SIGKILL it after ``kill_after``; the STATEs it emitted."""
    config_path = audit.directory / "config.json"
    config_path.write_text(json.dumps({**audit.config, **BATCH}))
    before = len(audit.syncs()) if audit.database.exists() else 0
    process = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    rnd = random.Random(seed)
    try:
        process.stdin.write(("\n".join(HEADER) + "\n").encode())
        process.stdin.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error):
                if audit.database.exists() and len(audit.syncs()) > before:
                    break
            time.sleep(0.02)
        for start in range(0, kill_after, 50):
            chunk = lines[start : min(start + 50, kill_after)]
            process.stdin.write(("\n".join(chunk) + "\n").encode())
            process.stdin.flush()
            time.sleep(rnd.random() * 0.004)
        time.sleep(rnd.random() * 0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        out = process.stdout.read()
        process.wait(timeout=30)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
    assert process.returncode == -signal.SIGKILL
    # The target prints each STATE's value, one per line (what Meltano stores).
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


def test_sigkills_with_meltano_style_resume_equal_an_uninterrupted_run(tmp_path):
    lines = build_input()
    reference = AuditKit(tmp_path / "reference")
    reference.directory.mkdir()
    assert reference.run("\n".join([*HEADER, *lines]).encode(), **BATCH).error is None
    expected = snapshot(reference)

    audit = AuditKit(tmp_path / "killed")
    audit.directory.mkdir()
    rnd = random.Random(2026)
    position = 0  # index into ``lines`` where the next run's input starts
    kills = 0
    for _ in range(12):
        remaining = lines[position:]
        if len(remaining) < 200:
            break
        kill_after = rnd.randrange(100, min(len(remaining), 1200))
        states = run_and_kill(audit, remaining, kill_after, kills)
        kills += 1
        if states:  # Meltano keeps the last STATE it received
            position = int(states[-1]["line"])
    assert kills >= 6
    result = audit.cli("\n".join([*HEADER, *lines[position:]]).encode(), config=BATCH, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert audit.scalar("PRAGMA integrity_check") == "ok"
    actual = snapshot(audit)
    assert actual[0] == expected[0]  # tickets: current rows
    assert actual[2] == expected[2]  # scores: current rows
    for got, want in ((actual[1], expected[1]), (actual[3], expected[3])):
        rows = iter(got)
        for row in want:  # every version, in order
            assert any(candidate == row for candidate in rows), row
        assert len(got) - len(want) <= len(want) // 50  # repeats only from the race above
    for stream in STREAMS:  # is_current: exactly one version per (live) key
        assert_one_live_version(audit, stream)
