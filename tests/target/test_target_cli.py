"""The console script: settings, summary, report, STATE ordering, signals."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from audit_kit import AUDIT_CLI
from process_kit import run_buffered

from target_sqlite_audit.report import redact
from target_sqlite_audit.target import TargetSqliteAudit

PROPS = {"id": "string", "Email": "string", "Phone": "string", "Modified_Time": "string"}


def messages(audit, count=5, stream="leads", start=0):
    out = [audit.schema(stream, PROPS, bookmarks=["Modified_Time"])]
    for i in range(start, start + count):
        out.append(
            audit.record(
                stream,
                {
                    "id": str(i),
                    "Email": f"user{i}@example.com",
                    "Phone": "+1 415 555 0100",
                    "Modified_Time": f"2024-01-01T00:00:{i % 60:02d}Z",
                },
            )
        )
        if i % 2:
            out.append(audit.state({"bookmarks": {stream: i}}))
    return out


@pytest.mark.slow
def test_about_markdown_lists_every_setting(audit):
    result = audit.cli(b"", "--about", "--format=markdown")
    assert result.returncode == 0
    text = result.stdout.decode()
    for setting in ("database", "hard_delete", "redact_pii", "batch_size_rows",
                    "validate_records", "add_record_metadata"):  # fmt: skip
        assert f"| {setting}" in text, setting
    assert "output/audit.sqlite" in text
    assert "load_method" not in text


def test_about_json_has_defaults():
    schema = TargetSqliteAudit.config_jsonschema["properties"]
    assert schema["database"]["default"] == "output/audit.sqlite"
    assert schema["hard_delete"]["default"] is False
    assert schema["redact_pii"]["default"] is True


def test_stdout_carries_only_state_and_summary_goes_to_stderr(audit):
    result = audit.cli(messages(audit, 6))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"bookmarks": {"leads": 5}}]
    stderr = result.stderr.decode()
    assert "target-sqlite-audit: sync 1 completed" in stderr
    table = stderr[stderr.index("stream  table") :]
    assert table.splitlines()[2].split() == ["leads", "leads", "6", "6", "0", "0", "0", "0"]


@pytest.mark.slow
def test_summary_redacts_pii_unless_disabled(audit):
    stream = "contact john.doe@example.com +1 (415) 555-0100"
    result = audit.cli(messages(audit, 2, stream=stream))
    stderr = result.stderr.decode()
    stderr = stderr[stderr.index("target-sqlite-audit: sync 1") :]  # the summary
    assert "john.doe@example.com" not in stderr
    assert "555-0100" not in stderr
    assert "contact <email> <phone>" in stderr
    result = audit.cli(messages(audit, 2, stream=stream), config={"redact_pii": False})
    assert "john.doe@example.com" in result.stderr.decode()
    # the data itself is never redacted
    assert audit.query(f'SELECT "email" FROM "{stream}" WHERE id = \'0\'') == [
        {"email": "user0@example.com"}
    ]


@pytest.mark.slow
def test_report_command(audit):
    audit.run(messages(audit, 4))
    audit.run([*messages(audit, 4), audit.record("leads", {"id": "x@evil.example"})])
    bad = [json.dumps(m) for m in messages(audit, 1)] + ['{"type": "RECORD", "stream": "leads"']
    audit.run("\n".join(bad).encode())
    result = audit.cli(b"", "report", "--database", str(audit.database))
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "3 most recent syncs" in text
    assert "completed" in text
    assert "failed" in text
    assert "is not valid JSON" in text
    assert "Changes per stream" in text
    assert "Tables" in text
    assert "x@evil.example" not in text  # not shown anyway, counts only
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()][:3]
    assert rows[0][0] == "3"
    assert rows[0][3] == "failed"
    assert rows[1][3:10] == ["completed", "5", "1", "0", "4", "0", "0"]
    # redaction of free text (error messages) in the report
    audit.run("\n".join([*bad[:-1], '{"type": "NOPE", "stream": "ann@example.com"}']).encode())
    text = audit.cli(b"", "report", "--database", str(audit.database)).stdout.decode()
    assert "ann@example.com" not in text
    assert "<email>" in text
    text = audit.cli(
        b"", "report", "--database", str(audit.database), "--no-redact"
    ).stdout.decode()
    assert "ann@example.com" in text


def test_report_on_a_missing_database(audit):
    result = audit.cli(b"", "report", "--database", str(audit.directory / "nope.sqlite"))
    assert result.returncode == 1
    assert result.stderr.decode().strip().endswith("No audit database at " + str(
        audit.directory / "nope.sqlite") + ".")  # fmt: skip


def test_state_is_emitted_only_after_its_records_are_committed(audit, monkeypatch):
    """Every STATE written to stdout is preceded by the commit of all earlier records."""
    monkeypatch.setattr(TargetSqliteAudit, "_MAX_RECORD_AGE_IN_MINUTES", 0.0)
    checks = []
    original = TargetSqliteAudit._write_state_message

    def check_then_write(self, state):
        original(self, state)
        # at the moment the line is written, a second connection sees every record
        with sqlite3.connect(audit.database) as conn:
            stored = {row[0] for row in conn.execute("SELECT id FROM leads")}
            saved = conn.execute("SELECT state FROM sync_log ORDER BY id DESC").fetchone()[0]
        checks.append((state["bookmarks"]["leads"], stored, json.loads(saved)))

    monkeypatch.setattr(TargetSqliteAudit, "_write_state_message", check_then_write)
    run = audit.run(messages(audit, 10), batch_size_rows=1000)
    assert run.error is None
    assert [state["bookmarks"]["leads"] for state in run.states] == [1, 3, 5, 7, 9]
    for bookmark, stored, saved in checks:
        assert {str(i) for i in range(bookmark + 1)} <= stored
        assert saved == {"bookmarks": {"leads": bookmark}}


@pytest.mark.slow
def test_state_follows_commit_through_a_real_pipe(audit):
    """Subprocess: when a STATE line appears on stdout its records are in the file."""
    config = audit.directory / "c.json"
    config.write_text(json.dumps({"database": str(audit.database)}))
    process = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    data = "".join(json.dumps(m) + "\n" for m in messages(audit, 50))
    process.stdin.write(data.encode())
    process.stdin.close()
    line = process.stdout.readline()
    state = json.loads(line)
    with sqlite3.connect(audit.database) as conn:
        count = conn.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
        saved = conn.execute("SELECT state FROM sync_log").fetchone()[0]
    assert state == {"bookmarks": {"leads": 49}}
    assert count == 50
    assert json.loads(saved) == state
    assert process.wait(timeout=60) == 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_keeps_commits_and_marks_interrupted(audit, signum):
    config = audit.directory / "c.json"
    config.write_text(json.dumps({"database": str(audit.database), "batch_size_rows": 3}))
    process = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write("".join(json.dumps(m) + "\n" for m in messages(audit, 7)).encode())
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if audit.scalar("SELECT records_fetched FROM sync_log") >= 6:
                break
        except (sqlite3.Error, TypeError):
            pass
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    stderr = err.decode()
    assert f"Stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    sync = audit.syncs()[0]
    assert sync["status"] == "interrupted"
    assert sync["records_fetched"] == 6
    assert audit.scalar("SELECT COUNT(*) FROM leads") == 6


def test_redact():
    text = (
        "mail a.b+c@mail.example.org, call +1 415 555 0100 or (415) 555-0100 or 415-555-0100, "
        "not 2024-11-03T01:30:00-07:00, not line 1234567, not lines 10002-20001, id 1000000000123"
    )
    assert redact(text) == (
        "mail <email>, call <phone> or <phone> or <phone>, "
        "not 2024-11-03T01:30:00-07:00, not line 1234567, not lines 10002-20001, id 1000000000123"
    )


def test_the_console_script_exit_flushes_what_was_written_and_keeps_the_status():
    # exit_now skips the interpreter's teardown: a STATE line still in the pipe's buffer and
    # a log record must not be lost with it.
    script = (
        "import logging, sys\n"
        "from target_sqlite_audit.cli import exit_now\n"
        "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
        "logging.getLogger('t').error('logged')\n"
        "sys.stdout.write('{\"a\": 1}')\n"
        "exit_now(4)\n"
    )
    done = run_buffered(script)
    assert (done.returncode, done.stdout, done.stderr) == (4, '{"a": 1}', "logged\n")


def test_under_a_profiler_the_console_script_exits_normally_so_the_profile_is_written(audit):
    # The fast exit (os._exit) would skip cProfile's own write at exit.
    profile = audit.directory / "target.prof"
    config = audit.directory / "config.json"
    config.write_text(json.dumps(audit.config))
    messages = [audit.schema("leads", {"id": "string"}), audit.state({"b": 1})]
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), AUDIT_CLI, "--config", str(config)],
        input=audit.lines(messages),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().strip() == '{"b": 1}'
    assert profile.stat().st_size > 0
