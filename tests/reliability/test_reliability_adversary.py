"""The adversary's medium and low findings (issue 20): each one sentence or exact, never lost."""

from __future__ import annotations

import io
import os
import sqlite3

import pytest

BIG = 2**53 + 1


def test_a_number_key_beyond_2_53_is_refused_not_merged(audit):
    schema = audit.schema("s", {"id": "number", "v": "string"})
    run = audit.run([schema, audit.record("s", {"id": BIG, "v": "a"})])
    assert run.error is not None
    assert "cannot keep exactly (beyond 2^53)" in str(run.error)
    assert "line 2" in str(run.error)


def test_integers_beyond_int64_in_state_and_records_stay_exact(audit):
    schema = audit.schema("s", {"id": "string", "n": "integer"})
    huge = 123456789012345678901234567890
    run = audit.run([schema, audit.record("s", {"id": "a", "n": 1}), audit.state({"big": huge})])
    assert run.error is None
    assert run.states == [{"big": huge}]  # not rounded through a float
    bad = audit.run([schema, audit.record("s", {"id": "b", "n": huge})])
    assert "outside the 64-bit range" in str(bad.error)


def test_a_tap_property_named_sdc_is_data_and_its_change_counts(audit):
    schema = audit.schema("s", {"id": "string", "_sdc_lsn": "string"})
    audit.run([schema, audit.record("s", {"id": "a", "_sdc_lsn": "1"})])
    audit.run([schema, audit.record("s", {"id": "a", "_sdc_lsn": "2"})])
    assert [h["change_type"] for h in audit.history("s")] == ["insert", "update"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_replication_key_at_the_ends_of_time_is_stored_on_every_rerun(audit, moment):
    props = {"id": "string", "t": {"type": ["null", "string"], "format": "date-time"}}
    schema = audit.schema("s", props, bookmarks=["t"])
    for _ in range(2):
        run = audit.run([schema, audit.record("s", {"id": "a", "t": moment}), audit.state({})])
        assert run.error is None, run.error
    assert audit.current("s")[0]["t"] == moment


def test_integer_to_number_widening_writes_no_update(audit):
    audit.run(
        [
            audit.schema("s", {"id": "string", "n": "integer"}),
            audit.record("s", {"id": "a", "n": 5}),
        ]
    )
    audit.run(
        [
            audit.schema("s", {"id": "string", "n": "number"}),
            audit.record("s", {"id": "a", "n": 5.0}),
        ]
    )
    assert [h["change_type"] for h in audit.history("s")] == ["insert"]


def test_a_dropped_column_is_gone_not_an_update_of_every_record(audit):
    both = audit.schema("s", {"id": "string", "a": "string", "b": "string"})
    audit.run([both, *(audit.record("s", {"id": str(n), "a": "x", "b": "y"}) for n in range(5))])
    only_a = audit.schema("s", {"id": "string", "a": "string"})
    run = audit.run([only_a, *(audit.record("s", {"id": str(n), "a": "x"}) for n in range(5))])
    assert run.error is None
    assert {h["change_type"] for h in audit.history("s")} == {"insert"}
    assert [r["b"] for r in audit.current("s")] == ["y"] * 5  # last values kept
    # A real change afterwards is one update, and changed_fields does not list the gone column.
    audit.run([only_a, audit.record("s", {"id": "0", "a": "z"})])
    last = audit.history("s")[-1]
    assert (last["change_type"], last["changed_fields"]) == ("update", '["a"]')
    # and nothing more on a replay
    audit.run([only_a, *(audit.record("s", {"id": str(n), "a": "x"}) for n in range(1, 5))])
    assert len(audit.history("s")) == 6


def test_a_schema_nested_hundreds_of_levels_is_one_sentence(audit):
    deep: dict = {"type": ["null", "string"]}
    for _ in range(250):
        deep = {"type": ["null", "object"], "properties": {"x": deep}}
    run = audit.run([audit.schema("s", {"id": "string", "d": deep})])
    assert "nests objects or schemas too deeply" in str(run.error)


def test_activate_version_without_a_version_is_one_sentence(audit):
    schema = audit.schema("s", {"id": "string"})
    run = audit.run([schema, {"type": "ACTIVATE_VERSION", "stream": "s"}])
    assert "has no integer version" in str(run.error)


def test_a_stream_named_like_the_targets_bookkeeping_gets_its_own_table(audit):
    schema = audit.schema("_audit_final", {"id": "string"})
    run = audit.run([schema, audit.record("_audit_final", {"id": "a"})])
    assert run.error is None
    assert audit.current("stream__audit_final")[0]["id"] == "a"


def test_a_flattening_name_collision_is_one_sentence(audit):
    props = {
        "id": "string",
        "a": {"type": ["null", "object"], "properties": {"b": {"type": ["null", "string"]}}},
        "a__b": "string",
    }
    run = audit.run([audit.schema("s", props)], flattening_enabled=True, flattening_max_depth=3)
    assert "cannot be flattened" in str(run.error)


def test_an_in_memory_database_is_refused(audit):
    run = audit.run([audit.schema("s", {"id": "string"})], database=":memory:")
    assert "keeps nothing after the run" in str(run.error)


def test_ansi_escapes_in_names_are_shown_not_obeyed(audit):
    name = "s\x1b[31mred"
    result = audit.cli([audit.schema(name, {"id": "string"}), audit.record(name, {"id": "a"})])
    assert result.returncode == 0
    assert b"\x1b" not in result.stderr
    assert b"s\\x1b[31mred" in result.stderr
    report = audit.cli(b"", "report", "--database", str(audit.database))
    assert b"\x1b" not in report.stdout


def test_the_database_deleted_mid_run_is_detected_not_completed(audit, tmp_path):
    from target_sqlite_audit.target import TargetSqliteAudit

    target = TargetSqliteAudit(config={"database": str(audit.database)})
    schema = audit.schema("s", {"id": "string"})
    target.process_lines(
        __import__("io").BytesIO(audit.lines([schema, audit.record("s", {"id": "a"})]))
    )
    _ = target.store
    os.remove(audit.database)
    target.process_lines(io.BytesIO(audit.lines([audit.state({"p": 1})])))
    with pytest.raises(Exception, match="was deleted or replaced during the run"):
        target.process_endofpipe()


def _batch_file(path, records, gz=True):
    import gzip
    import json

    opener = gzip.open if gz else open
    with opener(path, "wt") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return f"file://{path}"


def test_a_batch_comes_after_the_records_queued_before_it_and_through_stream_maps(audit, tmp_path):
    schema = audit.schema("s", {"id": "string", "Email": "string", "n": "number"})
    url = _batch_file(tmp_path / "b.jsonl.gz", [{"id": "0", "Email": "new@x.io", "n": 1.5}])
    batch = {
        "type": "BATCH",
        "stream": "s",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [url],
    }
    maps = {"s": {"Email": "md5(Email) if Email else None"}}
    run = audit.run(
        [schema, audit.record("s", {"id": "0", "Email": "old@x.io", "n": 1}), batch],
        stream_maps=maps,
    )
    assert run.error is None, run.error
    history = audit.history("s")
    assert [h["change_type"] for h in history] == ["insert", "update"]
    assert "@" not in history[-1]["email"]  # the map applied to the BATCH's records too
    assert audit.current("s")[0]["n"] == 1.5


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"encoding": {"format": "jsonl", "compression": "gzip"}}, "has no manifest"),
        ({"manifest": ["file:///x"]}, "has no encoding with format"),
    ],
)
def test_a_batch_without_manifest_or_encoding_is_one_sentence(audit, extra, expected):
    schema = audit.schema("s", {"id": "string"})
    run = audit.run([schema, {"type": "BATCH", "stream": "s", **extra}])
    assert expected in str(run.error)


def test_a_batch_pointing_at_a_file_that_is_not_jsonl_is_one_sentence(audit, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("not json at all\n")
    message = {
        "type": "BATCH",
        "stream": "s",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [f"file://{bad}"],
    }
    run = audit.run([audit.schema("s", {"id": "string"}), message])
    assert "cannot be read as jsonl records" in str(run.error)


@pytest.mark.parametrize("signals", [("SIGHUP",), ("SIGINT", "SIGTERM")])
def test_hangup_or_a_second_signal_leaves_no_running_row(audit, signals):
    import json
    import signal
    import subprocess
    import time

    from audit_kit import AUDIT_CLI

    config = audit.directory / "config.json"
    config.write_text(json.dumps(audit.config))
    process = subprocess.Popen(
        [AUDIT_CLI, "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(audit.lines([audit.schema("s", {"id": "string"})]))
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if audit.database.exists() and audit.query("SELECT id FROM sync_log"):
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    time.sleep(0.5)  # past the SCHEMA's processing: the target waits for input
    for name in signals:
        process.send_signal(getattr(signal, name))
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    [row] = audit.syncs()
    assert row["status"] == "interrupted"
    assert f"Stopped by {signals[0]}" in row["error_message"]
    assert b"Traceback" not in err
