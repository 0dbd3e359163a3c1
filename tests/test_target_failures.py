"""Bad input, storage failures and concurrent writers: one sentence, `failed`, commits kept."""

from __future__ import annotations

import json
import sqlite3

import pytest

from target_sqlite_audit import store as store_module
from target_sqlite_audit.errors import AuditError, StorageError, WriterBusyError
from target_sqlite_audit.store import AuditStore

PROPS = {
    "id": "string",
    "First_Name": "string",
    "Lead_Age_Days": "integer",
    "Owner": {"type": ["null", "object"], "properties": {"id": {"type": "string"}}},
}
SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            name: ({"type": ["null", spec]} if isinstance(spec, str) else spec)
            for name, spec in PROPS.items()
        },
    },
}


def rec(record: dict) -> str:
    return json.dumps({"type": "RECORD", "stream": "leads", "record": record})


# Lines 1-4 commit (batch_size_rows=2 drains after line 3); the bad input starts on line 5.
PREFIX = [
    json.dumps(SCHEMA),
    rec({"id": "1", "First_Name": "Ann"}),
    rec({"id": "2", "First_Name": "Bob"}),
    json.dumps({"type": "STATE", "value": {"bookmarks": {"leads": 2}}}),
]
BAD_LINE = len(PREFIX) + 1


def schema_line(stream="leads", **changes) -> str:
    message = json.loads(json.dumps(SCHEMA))
    message["stream"] = stream
    message.update(changes)
    return json.dumps(message)


# (id, lines after the prefix, text the sentence must contain, stream named or None)
BAD_INPUTS = [
    ("truncated-json", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3"'],
     "is not valid JSON: the line is truncated", "leads"),
    ("not-json", ["this is not json"], "is not valid JSON", None),
    ("trailing-garbage", [rec({"id": "3"}) + " xyz"], "is not valid JSON", "leads"),
    ("json-array", ["[1, 2, 3]"], "is not a JSON object but an array", None),
    ("json-string", ['"RECORD"'], "is not a JSON object but a string", None),
    ("json-null", ["null"], "is not a JSON object but null", None),
    ("no-type", ['{"stream": "leads", "record": {"id": "3"}}'], 'without a "type"', "leads"),
    ("unknown-type", ['{"type": "RECORDS", "stream": "leads"}'], "unknown message type", "leads"),
    ("type-not-string", ['{"type": 1, "stream": "leads"}'], "unknown message type", "leads"),
    ("record-before-schema", ['{"type": "RECORD", "stream": "contacts", "record": {"id": "1"}}'],
     "arrived before any SCHEMA", "contacts"),
    ("record-without-stream", ['{"type": "RECORD", "record": {"id": "1"}}'],
     'has no "stream" name', None),
    ("record-not-object", ['{"type": "RECORD", "stream": "leads", "record": [1]}'],
     "has no record object", "leads"),
    ("record-null", ['{"type": "RECORD", "stream": "leads", "record": null}'],
     "has no record object", "leads"),
    ("missing-key", [rec({"First_Name": "Cy"})], "has key property 'id' missing", "leads"),
    ("null-key", [rec({"id": None, "First_Name": "Cy"})], "has key property 'id' null", "leads"),
    ("wrong-type", [rec({"id": "3", "Lead_Age_Days": "old"})],
     "does not match its schema: property 'Lead_Age_Days' must be null or integer", "leads"),
    ("wrong-key-type", [rec({"id": 3})], "property 'id' must be null or string", "leads"),
    ("wrong-nested-type", [rec({"id": "3", "Owner": {"id": 5}})],
     "property 'Owner.id' must be string", "leads"),
    ("bool-for-integer", [rec({"id": "3", "Lead_Age_Days": True})],
     "must be null or integer", "leads"),
    ("schema-without-properties",
     ['{"type": "SCHEMA", "stream": "x", "schema": {"type": "object"}, "key_properties": []}'],
     'has no "properties" object', "x"),
    ("schema-properties-list",
     ['{"type": "SCHEMA", "stream": "x", "schema": {"properties": []}, "key_properties": []}'],
     'has no "properties" object', "x"),
    ("schema-without-stream", ['{"type": "SCHEMA", "schema": {"properties": {}}}'],
     'has no "stream" name', None),
    ("schema-key-not-a-property", [schema_line("x", key_properties=["nope"])],
     "names key property 'nope', which is not among its properties", "x"),
    ("schema-key-not-a-list", [schema_line("x", key_properties="id")],
     "key_properties that are not a list", "x"),
    ("schema-invalid-json-schema",
     [json.dumps({"type": "SCHEMA", "stream": "x", "key_properties": [],
                  "schema": {"properties": {"a": {"type": "no-such-type"}}}})],
     "is not a valid JSON schema", "x"),
    ("schema-type-changes-midway",
     [schema_line(schema={"properties": {"id": {"type": "string"},
                                          "First_Name": {"type": "integer"}}}),
      rec({"id": "3", "First_Name": 3})],
     "changes property 'First_Name' from string to integer", "leads"),
    ("schema-key-changes", [schema_line(key_properties=["First_Name"])],
     "changes its key properties from ['id'] to ['First_Name']", "leads"),
    ("integer-beyond-64-bit", [rec({"id": "3", "Lead_Age_Days": 18446744073709551615})],
     "property 'Lead_Age_Days' holds an integer outside", "leads"),
    ("integer-beyond-u64", [rec({"id": "3", "Lead_Age_Days": 10**30})],
     "property 'Lead_Age_Days' holds an integer outside the 64-bit range", "leads"),
    ("lone-surrogate", ['{"type": "RECORD", "stream": "leads", "record": {"id": "\\ud800"}}'],
     "is not valid JSON", "leads"),
    ("nan", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3", "n": NaN}}'],
     "is not valid JSON", "leads"),
    ("state-without-value", ['{"type": "STATE"}'], "is not a valid Singer message", None),
    ("activate-version-unknown-stream",
     ['{"type": "ACTIVATE_VERSION", "stream": "zz", "version": 1}'],
     "which has no SCHEMA yet", "zz"),
    ("batch-unknown-stream",
     ['{"type": "BATCH", "stream": "zz", "encoding": {"format": "jsonl"}, "manifest": []}'],
     "which has no SCHEMA yet", "zz"),
    ("deep-nesting", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3", "x": '
                      + "[" * 2000 + "]" * 2000 + "}}"], "is not valid JSON", "leads"),
]  # fmt: skip


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


def test_cli_debug_log_shows_the_traceback(audit):
    data = "\n".join([*PREFIX, "{broken"]) + "\n"
    result = audit.cli(data.encode(), env={"TARGET_SQLITE_AUDIT_LOGLEVEL": "DEBUG"})
    assert result.returncode == 1
    assert "Traceback" in result.stderr.decode()


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


def test_two_concurrent_cli_writers(audit):
    """Two real processes on one file: one wins, the other fails cleanly, no corruption."""
    import subprocess

    from conftest import AUDIT_CLI

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
