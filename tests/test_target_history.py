"""History analysts can use: is_current, the <stream>_changes view, point in time, upgrades."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

from tap_complete_kit import load_into_audit

FIXTURE = Path(__file__).parent / "fixtures" / "audit-format-1.sqlite"
LEAD = {"id": "string", "status": "string", "Modified_Time": {"type": ["null", "string"]}}


def live_versions(audit, stream="s"):
    return {
        row["id"]: row["n"]
        for row in audit.query(
            f'SELECT id, sum(is_current) AS n FROM "{stream}_history" GROUP BY id ORDER BY id'
        )
    }


def test_is_current_marks_exactly_one_version_per_live_key(audit):
    schema = audit.schema("s", LEAD, bookmarks=["Modified_Time"])
    rec = lambda i, s, t: audit.record("s", {"id": i, "status": s, "Modified_Time": t})  # noqa: E731
    audit.run([schema, rec("a", "new", "1"), rec("b", "new", "1")])  # inserts
    audit.run([schema, rec("a", "open", "2")])  # update
    audit.run([schema, audit.record("s", {"id": "b", "_sdc_deleted_at": "3"})])  # delete
    assert live_versions(audit) == {"a": 1, "b": 0}
    audit.run([schema, rec("b", "back", "4")])  # undelete
    audit.run([schema, rec("a", "open", "2"), rec("b", "back", "4")])  # replay
    assert live_versions(audit) == {"a": 1, "b": 1}
    [live_a] = audit.query("SELECT status FROM s_history WHERE id = 'a' AND is_current = 1")
    assert live_a["status"] == "open"


def test_the_changes_view_equals_a_diff_of_consecutive_versions(
    tap_emulator, tap_config, run_tap, tmp_path
):
    emu = tap_emulator(seed=31, sizes={"Leads": 120, "Contacts": 10, "Deals": 10})
    database = tmp_path / "audit.sqlite"
    first = run_tap(tap_config(emu))
    load_into_audit(database, first)
    emu.mutate("edit", module="Leads", count=15)
    emu.mutate("convert", module="Leads", count=2)
    load_into_audit(database, run_tap(tap_config(emu), state=first.state))
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    names = [
        r["column_name"]
        for r in conn.execute(
            "SELECT column_name FROM _audit_columns JOIN _audit_streams USING (stream_id) "
            "WHERE stream = 'leads' ORDER BY position"
        )
    ]
    expected = set()
    previous: dict[str, sqlite3.Row] = {}
    for row in conn.execute("SELECT * FROM leads_history ORDER BY history_id"):
        before = previous.get(row["id"])
        if before is not None and row["change_type"] == "update":
            for name in names:
                if before[name] != row[name] and name in json.loads(row["changed_fields"]):
                    expected.add((row["history_id"], row["id"], name, before[name], row[name]))
        previous[row["id"]] = row
    got = {
        (r["history_id"], r["id"], r["field"], r["old_value"], r["new_value"])
        for r in conn.execute("SELECT * FROM leads_changes")
    }
    assert got == expected
    assert len(got) >= 15
    statuses = conn.execute(
        "SELECT count(*) FROM leads_changes WHERE field = 'converted__s'"
    ).fetchone()[0]
    assert statuses == 2  # "every conversion" is a plain WHERE


def test_the_table_as_of_a_moment_is_one_query(audit):
    schema = audit.schema("s", LEAD, bookmarks=["Modified_Time"])
    rec = lambda i, s, t: audit.record("s", {"id": i, "status": s, "Modified_Time": t})  # noqa: E731
    audit.run(
        [schema, rec("a", "new", "2025-01-01T00:00:00Z"), rec("b", "new", "2025-01-01T00:00:00Z")]
    )
    audit.run([schema, rec("a", "won", "2025-03-01T00:00:00Z")])
    audit.run([schema, audit.record("s", {"id": "b", "_sdc_deleted_at": "2025-04-01T00:00:00Z"})])
    as_of = (
        "SELECT id, status FROM s_history WHERE valid_from <= :t "
        "AND (valid_to IS NULL OR valid_to > :t) AND change_type <> 'delete' ORDER BY id"
    )
    at = lambda moment: [tuple(r.values()) for r in audit.query(as_of, {"t": moment})]  # noqa: E731
    assert at("2025-02-01T00:00:00.000Z") == [("a", "new"), ("b", "new")]
    assert at("2025-03-15T00:00:00.000Z") == [("a", "won"), ("b", "new")]
    assert at("2025-05-01T00:00:00.000Z") == [("a", "won")]


def test_a_file_of_the_previous_format_upgrades_in_place_and_keeps_every_row(audit):
    shutil.copy(FIXTURE, audit.database)
    before = audit.query("SELECT * FROM leads_history ORDER BY history_id")
    current_before = audit.query("SELECT * FROM leads ORDER BY id")
    assert audit.scalar("PRAGMA user_version") == 0
    schema = audit.schema("leads", {"id": "string", "Last_Name": "string"})
    run = audit.run([schema, audit.record("leads", {"id": "99", "Last_Name": "New"})])
    assert run.error is None, run.error
    assert audit.scalar("PRAGMA user_version") == 2
    after = audit.query("SELECT * FROM leads_history ORDER BY history_id")
    for old, new in zip(before, after, strict=False):
        assert {k: new[k] for k in old} == old  # every old row and value survives
    assert len(after) == len(before) + 1
    assert {r["id"]: r for r in audit.query("SELECT * FROM leads ORDER BY id")}.keys() >= {
        r["id"] for r in current_before
    }
    # is_current backfilled: one per live key, none for the deleted one
    live = live_versions(audit, "leads")
    assert live["2"] == 0
    assert all(n == 1 for key, n in live.items() if key != "2")


def test_a_file_of_a_newer_format_is_refused_untouched(audit):
    shutil.copy(FIXTURE, audit.database)
    with sqlite3.connect(audit.database) as conn:
        conn.execute("PRAGMA user_version = 99")
    digest = hashlib.sha256(audit.database.read_bytes()).hexdigest()
    run = audit.run([audit.schema("leads", {"id": "string"})])
    assert "written by a newer target-sqlite-audit (format 99" in str(run.error)
    assert hashlib.sha256(audit.database.read_bytes()).hexdigest() == digest
