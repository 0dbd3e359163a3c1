"""Bad input, storage failures and concurrent writers: one sentence, `failed`, commits kept."""

from __future__ import annotations

import json
import sqlite3

import pytest
from bad_inputs import BAD_INPUTS, BAD_LINE, PREFIX, rec

from target_sqlite_audit import store as store_module
from target_sqlite_audit.errors import AuditError, StorageError, WriterBusyError
from target_sqlite_audit.store import AuditStore


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lines", "expected", "stream"),
    [
        pytest.param(lines, expected, stream, id=name)
        for name, lines, expected, stream in BAD_INPUTS
    ],
)
def test_bad_input_fails_with_one_sentence(audit, lines, expected, stream):
    audit.run(PREFIX)  # an earlier, completed sync
    run = audit.run([*PREFIX, *lines, rec({"id": "9", "First_Name": "Never"})], batch_size_rows=2)
    error = run.error
    assert isinstance(error, AuditError), repr(error)
    sentence = str(error)
    assert expected in sentence
    assert f"line {BAD_LINE}" in sentence.lower()
    if stream is not None:
        assert repr(stream) in sentence
    assert sentence.endswith(".")
    assert "\n" not in sentence
    assert "Traceback" not in sentence
    syncs = audit.syncs()
    assert [s["status"] for s in syncs] == ["completed", "failed"]
    assert syncs[1]["error_message"] == sentence
    assert syncs[1]["completed_at"] is not None
    # everything committed before the bad line is kept, nothing after it is written
    assert [row["id"] for row in audit.current()] == ["1", "2"]
    assert syncs[1]["records_fetched"] == 2
    assert audit.scalar("SELECT COUNT(*) FROM leads_history") == 2


def test_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 30


ACCEPTED = [
    ("blank-lines", ["", "   ", rec({"id": "3", "First_Name": "Cy"})]),
    ("crlf", [rec({"id": "3", "First_Name": "Cy"}) + "\r"]),
    ("huge-string", [rec({"id": "3", "First_Name": "x" * 3_000_000})]),
    ("nul-bytes", [rec({"id": "3", "First_Name": "a\x00b\x00"})]),
    ("duplicate-keys-in-batch",
     [rec({"id": "3", "First_Name": "A"}), rec({"id": "3", "First_Name": "B"})]),
    ("duplicate-json-keys",
     ['{"type": "RECORD", "stream": "leads", "record": {"id": "3", "id": "4"}}']),
    ("property-not-in-schema", [rec({"id": "3", "Unknown": {"deep": [1]}})]),
    ("sql-in-values", [rec({"id": "3'; DROP TABLE leads; --", "First_Name": 'Robert"); --'})]),
    ("float-for-integer", [rec({"id": "3", "Lead_Age_Days": 2.0})]),
]  # fmt: skip


@pytest.mark.parametrize("lines", [pytest.param(lines, id=name) for name, lines in ACCEPTED])
def test_odd_but_valid_input_is_stored(audit, lines):
    run = audit.run([*PREFIX, *lines], batch_size_rows=2)
    assert run.error is None, run.error
    assert audit.syncs()[-1]["status"] == "completed"
    assert audit.scalar("SELECT COUNT(*) FROM leads") >= 3


@pytest.mark.slow
def test_cli_prints_one_sentence_and_no_traceback(audit):
    data = "\n".join([*PREFIX, rec({"id": "3", "Lead_Age_Days": "old"})]) + "\n"
    result = audit.cli(data.encode(), config={"batch_size_rows": 2})
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    sentence = (
        "Record on line 5 of stream 'leads' does not match its schema: property "
        "'Lead_Age_Days' must be null or integer."
    )
    assert stderr.count(sentence) == 2  # the logged error and the summary's error line
    assert "sync 1 failed" in stderr
    # stdout carries only STATE messages (none was reached here: no drain_all before)
    assert all(json.loads(line) for line in result.stdout.decode().splitlines())
    assert audit.syncs()[0]["status"] == "failed"


@pytest.mark.slow
def test_cli_debug_log_shows_the_traceback(audit):
    data = "\n".join([*PREFIX, "{broken"]) + "\n"
    result = audit.cli(data.encode(), env={"TARGET_SQLITE_AUDIT_LOGLEVEL": "DEBUG"})
    assert result.returncode == 1
    assert "Traceback" in result.stderr.decode()


@pytest.mark.slow
def test_second_writer_gets_a_clear_error(audit):
    holder = AuditStore(audit.database)
    try:
        run = audit.run(PREFIX)
        assert isinstance(run.error, WriterBusyError)
        assert str(run.error) == (
            f"Another sync is writing {audit.database}; wait for it to finish (only one "
            "writer may use a database file at a time)."
        )
        result = audit.cli("\n".join(PREFIX).encode())
        assert result.returncode == 1
        assert b"Another sync is writing" in result.stderr
        assert b"Traceback" not in result.stderr
    finally:
        holder.close()
    # the holder never started a sync; the busy runs wrote nothing
    assert audit.syncs() == []
    run = audit.run(PREFIX)
    assert run.error is None
    assert [s["status"] for s in audit.syncs()] == ["completed"]


@pytest.mark.slow
def test_two_concurrent_cli_writers(audit):
    """Two real processes on one file: one wins, the other fails cleanly, no corruption."""
    import subprocess

    from audit_kit import AUDIT_CLI

    config = audit.directory / "c.json"
    config.write_text(json.dumps({"database": str(audit.database)}))
    slow = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert slow.stdin is not None
    slow.stdin.write(("\n".join(PREFIX) + "\n").encode())
    slow.stdin.flush()
    # wait until the first writer holds the lock (its sync_log row exists)
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if audit.syncs():
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    second = audit.cli("\n".join(PREFIX).encode())
    _, err = slow.communicate(b"", timeout=60)
    assert slow.returncode == 0, err
    assert second.returncode == 1
    assert b"Another sync is writing" in second.stderr
    assert audit.scalar("PRAGMA integrity_check") == "ok"
    assert [s["status"] for s in audit.syncs()] == ["completed"]


def test_read_only_database_gives_a_clear_error(audit, monkeypatch):
    audit.run(PREFIX)
    real_connect = sqlite3.connect

    def read_only(path, *args, **kwargs):
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)
    run = audit.run([*PREFIX, rec({"id": "3"})])
    monkeypatch.undo()
    assert isinstance(run.error, StorageError)
    assert "attempt to write a readonly database" in str(run.error)
    assert "read-only" in str(run.error)
    assert [row["id"] for row in audit.current()] == ["1", "2"]
    assert [s["status"] for s in audit.syncs()] == ["completed"]


def test_unwritable_location_gives_a_clear_error(audit):
    run = audit.run(PREFIX, database="/proc/audit-test/audit.sqlite")
    assert isinstance(run.error, StorageError)
    assert str(run.error).startswith("Cannot create the folder of the database")


def test_disk_full_keeps_earlier_commits(audit, monkeypatch):
    audit.run(PREFIX)
    pages = audit.scalar("PRAGMA page_count")
    real_configure = AuditStore._configure

    def tiny_disk(self):
        real_configure(self)
        self._conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    monkeypatch.setattr(AuditStore, "_configure", tiny_disk)
    big = [rec({"id": str(i), "First_Name": "x" * 5000}) for i in range(10, 60)]
    run = audit.run([*PREFIX, *big], batch_size_rows=20)
    monkeypatch.undo()
    assert isinstance(run.error, StorageError)
    assert "database or disk is full" in str(run.error)
    # the first batch (lines 2-22: two known records and 18 new ones) did not fit
    assert "Writing stream 'leads' (input lines 2-22)" in str(run.error)
    assert audit.scalar("PRAGMA integrity_check") == "ok"
    assert {row["id"] for row in audit.current()} == {"1", "2"}
    assert audit.syncs()[-1]["status"] == "failed"
    # with space again, the same input completes
    assert audit.run([*PREFIX, *big], batch_size_rows=20).error is None
    assert audit.scalar("SELECT COUNT(*) FROM leads") == 52
