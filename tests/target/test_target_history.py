"""History analysts can use: is_current, the <stream>_changes view, point in time, upgrades."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from tap_complete_kit import load_into_audit

from target_sqlite_audit.migrations import CURRENT_VERSION
from target_sqlite_audit.policy import FAR_FUTURE

FIXTURES = Path(__file__).parent.parent / "fixtures"
FIXTURE = FIXTURES / "audit-format-1.sqlite"
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
    start_emulator, tap_config, run_tap, tmp_path
):
    emu = start_emulator(seed=31, sizes={"Leads": 120, "Contacts": 10, "Deals": 10})
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
    assert audit.scalar("PRAGMA user_version") == CURRENT_VERSION
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


@pytest.mark.parametrize("fixture", ["audit-format-1.sqlite", "audit-format-2.sqlite"])
def test_every_older_format_upgrades_with_its_rows_and_gains_the_sync_foreign_keys(audit, fixture):
    shutil.copy(FIXTURES / fixture, audit.database)
    tables = ("leads", "leads_history", "sync_log", "sync_log_streams")
    before = {name: audit.query(f'SELECT * FROM "{name}" ORDER BY rowid') for name in tables}
    run = audit.run([audit.schema("leads", {"id": "string", "Last_Name": "string"})])
    assert run.error is None, run.error
    assert audit.scalar("PRAGMA user_version") == CURRENT_VERSION
    for name in tables:
        after = audit.query(f'SELECT * FROM "{name}" ORDER BY rowid')[: len(before[name])]
        assert [{k: row[k] for k in old} for row, old in zip(after, before[name], strict=True)] == (
            before[name]
        ), name  # every row and value survives, in order
    for table, column in (("leads", "_sync_id"), ("leads_history", "sync_id")):
        links = audit.query(f'PRAGMA foreign_key_list("{table}")')
        assert [(r["table"], r["from"], r["to"]) for r in links] == [("sync_log", column, "id")]
    assert audit.query("PRAGMA foreign_key_check") == []
    assert audit.scalar("SELECT count(*) FROM leads_changes") >= 0  # the view survived
    # and it keeps working: a new version lands with the right links
    run = audit.run(
        [
            audit.schema("leads", {"id": "string", "Last_Name": "string"}),
            audit.record("leads", {"id": "99", "Last_Name": "Again"}),
        ]
    )
    assert run.error is None, run.error
    assert audit.query("PRAGMA foreign_key_check") == []


def test_a_new_file_declares_the_sync_foreign_keys(audit):
    audit.run([audit.schema("s", LEAD), audit.record("s", {"id": "a", "status": "new"})])
    for table, column in (("s", "_sync_id"), ("s_history", "sync_id")):
        links = audit.query(f'PRAGMA foreign_key_list("{table}")')
        assert [(r["table"], r["from"], r["to"]) for r in links] == [("sync_log", column, "id")]


NOISY = {
    "id": "string",
    "status": "string",
    "Last_Activity_Time": {"type": ["null", "string"]},
    "Modified_Time": {"type": ["null", "string"]},
    "Modified_By": {"type": ["null", "string"]},
}


def _noisy(audit, status, activity, modified="2025-01-01T00:00:00Z", by="ann"):
    return audit.record(
        "s",
        {
            "id": "a",
            "status": status,
            "Last_Activity_Time": activity,
            "Modified_Time": modified,
            "Modified_By": by,
        },
    )


def test_a_change_of_ignored_columns_only_updates_the_row_in_place_and_writes_no_version(audit):
    schema = audit.schema("s", NOISY, bookmarks=["Modified_Time"])
    audit.run([schema, _noisy(audit, "new", "2025-01-02T00:00:00Z")])
    second = audit.run([schema, _noisy(audit, "new", "2025-01-05T00:00:00Z")])
    assert second.error is None, second.error
    assert audit.scalar("SELECT count(*) FROM s_history") == 1  # no new version
    assert audit.scalar("SELECT last_activity_time FROM s") == "2025-01-05T00:00:00Z"
    assert audit.scalar("SELECT records_updated FROM sync_log WHERE id = 2") == 0
    # a replay of the same record writes nothing at all
    before = audit.query("SELECT * FROM s")
    audit.run([schema, _noisy(audit, "new", "2025-01-05T00:00:00Z")])
    assert audit.query("SELECT * FROM s") == [{**before[0], "_sync_id": before[0]["_sync_id"]}]
    assert audit.scalar("SELECT count(*) FROM s_history") == 1
    # a real change makes a version that carries the newest ignored value too
    audit.run([schema, _noisy(audit, "won", "2025-01-09T00:00:00Z", "2025-01-09T00:00:00Z")])
    [latest] = audit.query("SELECT * FROM s_history WHERE is_current = 1")
    assert latest["status"] == "won"
    assert latest["last_activity_time"] == "2025-01-09T00:00:00Z"
    assert json.loads(latest["changed_fields"]) == ["status"]  # no bookkeeping, no ignored


def test_ignore_columns_is_a_setting_and_empty_versions_every_change(audit):
    schema = audit.schema("s", NOISY, bookmarks=["Modified_Time"])
    audit.run([schema, _noisy(audit, "new", "1")], ignore_columns={})
    audit.run([schema, _noisy(audit, "new", "2")], ignore_columns={})
    assert audit.scalar("SELECT count(*) FROM s_history") == 2
    audit.run([schema, _noisy(audit, "new", "2", by="bob")], ignore_columns={"s": ["Modified_By"]})
    assert audit.scalar("SELECT count(*) FROM s_history") == 2
    assert audit.scalar("SELECT modified_by FROM s") == "bob"


def test_bookkeeping_is_listed_in_changed_fields_only_when_asked(audit):
    schema = audit.schema("s", NOISY, bookmarks=["Modified_Time"])
    audit.run([schema, _noisy(audit, "new", "1")])
    audit.run([schema, _noisy(audit, "open", "1", "2025-02-01T00:00:00Z", "bob")])
    audit.run(
        [schema, _noisy(audit, "won", "1", "2025-03-01T00:00:00Z", "cid")],
        changed_fields_include_bookkeeping=True,
    )
    listed = [
        json.loads(r["changed_fields"])
        for r in audit.query("SELECT changed_fields FROM s_history WHERE change_type = 'update'")
    ]
    assert listed == [["status"], ["status", "modified_time", "modified_by"]]


def test_far_future_valid_to_marks_open_versions_and_switches_both_ways(audit):
    schema = audit.schema("s", LEAD, bookmarks=["Modified_Time"])
    rec = lambda i, s, t: audit.record("s", {"id": i, "status": s, "Modified_Time": t})  # noqa: E731
    audit.run(
        [schema, rec("a", "new", "2025-01-01T00:00:00Z"), rec("b", "new", "2025-01-01T00:00:00Z")]
    )
    audit.run([schema, rec("a", "won", "2025-02-01T00:00:00Z")], far_future_valid_to=True)
    open_to = lambda: {  # noqa: E731
        (r["id"], r["status"]): r["valid_to"] for r in audit.query("SELECT * FROM s_history")
    }
    assert open_to() == {
        ("a", "new"): "2025-02-01T00:00:00.000Z",
        ("a", "won"): FAR_FUTURE,
        ("b", "new"): FAR_FUTURE,  # written before the switch, rewritten once
    }
    audit.run([schema, audit.record("s", {"id": "b", "_sdc_deleted_at": "2025-03-01T00:00:00Z"})],
              far_future_valid_to=True)  # fmt: skip
    versions = audit.query("SELECT change_type, valid_to FROM s_history WHERE id = 'b'")
    assert [(v["change_type"], v["valid_to"]) for v in versions] == [
        ("insert", "2025-03-01T00:00:00.000Z"),
        ("delete", FAR_FUTURE),  # the open delete version
    ]
    # the deleted key comes back: its open delete version is found and closed
    audit.run([schema, rec("b", "back", "2025-04-01T00:00:00Z")], far_future_valid_to=True)
    assert audit.scalar("SELECT count(*) FROM s_history WHERE valid_to = ?", [FAR_FUTURE]) == 2
    audit.run([schema], far_future_valid_to=False)
    assert audit.scalar("SELECT count(*) FROM s_history WHERE valid_to IS NULL") == 2
    assert audit.scalar("SELECT count(*) FROM s_history WHERE valid_to = ?", [FAR_FUTURE]) == 0


def test_the_seed_views_expose_the_crm_sync_names(audit):
    schema = audit.schema("leads", NOISY, bookmarks=["Modified_Time"])
    rec = lambda s, m: audit.record(  # noqa: E731
        "leads", {"id": "a", "status": s, "Modified_Time": m, "Modified_By": "ann"}
    )
    audit.run([schema, rec("new", "2025-01-01T00:00:00Z")])
    audit.run([schema, rec("won", "2025-02-01T00:00:00Z")])
    [row] = audit.query("SELECT * FROM leads_audit")
    [current] = audit.query("SELECT * FROM leads")
    assert row["created_at"] == current["_first_seen_at"]
    assert row["updated_at"] == current["_last_changed_at"]
    assert row["zoho_modified_time"] == "2025-02-01T00:00:00Z"
    assert row["status"] == "won"
    assert row["deleted_at"] is None
    versions = audit.query("SELECT * FROM leads_audit_history ORDER BY history_id")
    assert [(v["change_type"], v["zoho_modified_time"]) for v in versions] == [
        ("insert", "2025-01-01T00:00:00Z"),
        ("update", "2025-02-01T00:00:00Z"),
    ]
    assert all(v["captured_at"] for v in versions)
    # a new column reaches the views
    wider = audit.schema("leads", {**NOISY, "Email": "string"}, bookmarks=["Modified_Time"])
    audit.run([wider, audit.record("leads", {"id": "b", "status": "new", "Email": "x@y.z"})])
    assert {"email"} <= set(audit.query("SELECT * FROM leads_audit")[0])


@pytest.mark.slow
def test_the_summary_counts_errors(audit):
    ok = audit.cli(audit.lines([audit.schema("s", LEAD), audit.record("s", {"id": "a"})]))
    assert ", 0 errors, database" in ok.stderr.decode()
    bad = audit.cli(audit.lines([audit.record("nope", {"id": "a"})]))
    assert bad.returncode != 0
    assert ", 1 error, database" in bad.stderr.decode()


def test_current_rows_are_the_last_versions_however_a_batch_is_written(audit):
    """Unique keys copy a range of history ids; repeats and deletions go by the list of finals."""
    schema = audit.schema("s", LEAD, bookmarks=["Modified_Time"])
    rec = lambda i, s, t: audit.record("s", {"id": i, "status": s, "Modified_Time": t})  # noqa: E731
    gone = lambda i, t: audit.record("s", {"id": i, "_sdc_deleted_at": t})  # noqa: E731
    batches = [
        [rec("a", "new", "1"), rec("b", "new", "1"), rec("c", "new", "1")],  # inserts
        [rec("a", "open", "2"), rec("d", "new", "2")],  # an update and an insert
        [rec("b", "open", "2"), rec("b", "won", "3"), gone("c", "3"), rec("e", "new", "3")],
        [rec("c", "back", "4"), rec("a", "lost", "4")],  # an undelete and an update
    ]
    for batch in batches:
        assert audit.run([schema, *batch]).error is None
        current = {
            row["id"]: (row["status"], row["_history_id"], row["_deleted_at"])
            for row in audit.query('SELECT id, status, _history_id, _deleted_at FROM "s"')
        }
        last = {
            row["id"]: (row["status"], row["history_id"])
            for row in audit.query(
                'SELECT id, status, history_id FROM "s_history" AS h WHERE history_id = '
                '(SELECT max(history_id) FROM "s_history" WHERE id = h.id)'
            )
        }
        assert {key: value[:2] for key, value in current.items()} == last
        deleted = {key for key, value in current.items() if value[2] is not None}
        assert deleted == ({"c"} if batch is batches[2] else set())
    assert {row["id"]: row["status"] for row in audit.query('SELECT id, status FROM "s"')} == {
        "a": "lost", "b": "won", "c": "back", "d": "new", "e": "new"
    }  # fmt: skip


def test_the_history_refuses_an_unknown_change_type(audit):
    audit.run([audit.schema("s", LEAD), audit.record("s", {"id": "a", "status": "new"})])
    with sqlite3.connect(audit.database) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE s_history SET change_type = 'upsert'")
