"""Deletions: read from /{Module}/deleted after the records, incrementally, into the audit trail."""

import copy
import datetime
import logging

from tap_complete_kit import (
    RequestLog,
    deletion_records,
    last_sync_history,
    live_records,
    load_into_audit,
    query,
    stream_state,
)

import tap_zohocrm.streams as module_streams
from tap_zohocrm.bookmarks import parse_instant

SMALL = {"Leads": 250, "Contacts": 30, "Deals": 20}


def deleted_entry(emu, module, record_id):
    return next(d for d in emu.deleted(module) if d["id"] == record_id)


def test_a_deleted_lead_reaches_the_audit_history_as_delete(
    start_emulator, tap_config, run_tap, tmp_path
):
    emu = start_emulator(seed=61, sizes=SMALL, deleted_fraction=0.05)
    config = tap_config(emu)
    database = tmp_path / "audit.sqlite"
    first = run_tap(config)
    # A first sync reads the whole recycle bin (the destination may hold those records); the
    # audit target ignores deletions of keys it never held.
    assert emu.deleted("Leads")
    assert {r["id"] for r in deletion_records(first, "leads")} == {
        d["id"] for d in emu.deleted("Leads")
    }
    load_into_audit(database, first)
    deletes = "SELECT count(*) AS n FROM leads_history WHERE change_type = 'delete'"
    assert query(database, deletes)[0]["n"] == 0
    before = {r["id"]: r for r in first.records("leads")}

    [victim] = emu.mutate("delete", module="Leads", count=1)
    second = run_tap(config, state=first.state)

    [deletion] = deletion_records(second, "leads")
    assert deletion["id"] == victim
    assert deletion["_sdc_deleted_at"] == deleted_entry(emu, "Leads", victim)["deleted_time"]
    # A complete record like every other one of the stream: all other properties null.
    assert set(deletion) == set(second.schema("leads")["properties"])
    assert all(v is None for k, v in deletion.items() if k not in {"id", "_sdc_deleted_at"})
    assert live_records(second, "leads") == []

    load_into_audit(database, second)
    history = last_sync_history(database, "leads")
    assert [(row["id"], row["change_type"]) for row in history] == [(victim, "delete")]
    # The delete row carries the last known values.
    assert history[0]["email"] == before[victim]["Email"]
    assert history[0]["last_name"] == before[victim]["Last_Name"]
    [row] = query(database, "SELECT _deleted_at FROM leads WHERE id = ?", (victim,))
    assert parse_instant(row["_deleted_at"]) == parse_instant(deletion["_sdc_deleted_at"])


def test_a_first_sync_reads_the_recycle_bin_and_the_next_sync_gets_later_deletions(
    start_emulator, tap_config, run_tap, tmp_path, monkeypatch
):
    emu = start_emulator(seed=62, sizes=SMALL)
    config = tap_config(emu)
    during = []
    original = module_streams.deletion_records

    def delete_after_the_records(reader, *args, **kwargs):
        # The records pass of the module is over: delete one record it emitted.
        if reader.module == "Leads" and not during:
            during.extend(emu.mutate("delete", module="Leads", count=1))
        return original(reader, *args, **kwargs)

    monkeypatch.setattr(module_streams, "deletion_records", delete_after_the_records)
    emu.reset_stats()
    first = run_tap(config)
    # No bookmark: the whole recycle bin is read once per module, after the records, so a
    # record read and then deleted during the first sync arrives deleted in it.
    for module in ("Leads", "Contacts", "Deals"):
        assert emu.stats()["calls"][f"deleted:{module}"] == 1
    [read_then_deleted] = during
    assert [r["id"] for r in deletion_records(first, "leads")] == [read_then_deleted]
    for stream in ("leads", "contacts", "deals"):
        assert {"deleted_time", "deleted_synced_at"} <= set(stream_state(first, stream))
    assert read_then_deleted in first.ids("leads")
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, first)

    monkeypatch.setattr(module_streams, "deletion_records", original)
    [after] = emu.mutate("delete", module="Leads", count=1)
    emu.reset_stats()
    second = run_tap(config, state=first.state)
    stats = emu.stats()
    for module in ("Leads", "Contacts", "Deals"):
        assert stats["calls"][f"deleted:{module}"] == 1
    # Only what was deleted after the first sync's deletion pass arrives.
    assert [r["id"] for r in deletion_records(second, "leads")] == [after]
    assert deletion_records(second, "contacts") == []
    load_into_audit(database, second)
    for victim in (read_then_deleted, after):
        [row] = query(database, "SELECT _deleted_at FROM leads WHERE id = ?", (victim,))
        assert row["_deleted_at"] is not None


def test_the_deletion_bookmark_is_incremental(start_emulator, tap_config, run_tap, monkeypatch):
    emu = start_emulator(seed=63, sizes=SMALL)
    config = tap_config(emu)
    first = run_tap(config)
    start = stream_state(first, "leads")
    assert "deleted_time" in start
    assert "deleted_synced_at" in start

    leads = emu.mutate("delete", module="Leads", count=3)
    contacts = emu.mutate("delete", module="Contacts", count=1, type="permanent")
    second = run_tap(config, state=first.state)
    assert [r["id"] for r in deletion_records(second, "leads")] == leads  # oldest first
    assert [r["id"] for r in deletion_records(second, "contacts")] == contacts
    assert deletion_records(second, "deals") == []
    bookmark = stream_state(second, "leads")
    assert bookmark["deleted_time"] == deleted_entry(emu, "Leads", leads[-1])["deleted_time"]
    # The records bookmark is left alone by deletions.
    assert bookmark["replication_key_value"] == start["replication_key_value"]

    # Third run: the deletions are not read again; one empty answer per stream.
    log = RequestLog().install(monkeypatch)
    emu.reset_stats()
    third = run_tap(config, state=second.state)
    assert [m for m in third.messages if m["type"] == "RECORD"] == []
    stats = emu.stats()
    for module in ("Leads", "Contacts", "Deals"):
        assert stats["calls"][f"deleted:{module}"] == 1
    # 200s: the token and the field metadata (no catalog); then a 304 and a 204 per stream,
    # and a 304 for users (selected by default, incremental).
    assert stats["status_counts"] == {"200": 4, "304": 4, "204": 3}
    [(params, headers)] = log.to("/Leads/deleted")
    assert params["type"] == "all"
    assert parse_instant(headers["If-Modified-Since"]) == parse_instant(bookmark["deleted_time"])


def test_a_state_without_a_deletion_bookmark_reads_deletions_since_the_records_bookmark(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=64, sizes=SMALL, deleted_fraction=0.3)
    config = tap_config(emu)
    first = run_tap(config)
    state = copy.deepcopy(first.state)
    for bookmark in state["bookmarks"].values():
        bookmark.pop("deleted_time", None)
        bookmark.pop("deleted_synced_at", None)
    second = run_tap(config, state=state)
    since = parse_instant(state["bookmarks"]["leads"]["replication_key_value"])
    expected = {d["id"] for d in emu.deleted("Leads") if parse_instant(d["deleted_time"]) > since}
    assert {r["id"] for r in deletion_records(second, "leads")} == expected


def test_a_last_sync_older_than_the_recycle_bin_retention_warns(
    start_emulator, tap_config, run_tap, caplog
):
    emu = start_emulator(seed=65, sizes=SMALL)
    config = tap_config(emu)
    first = run_tap(config)
    now = datetime.datetime.now(datetime.timezone.utc)
    state = copy.deepcopy(first.state)
    days = datetime.timedelta(days=1)
    state["bookmarks"]["leads"]["deleted_synced_at"] = (now - 75 * days).isoformat()
    state["bookmarks"]["contacts"]["deleted_synced_at"] = (now - 20 * days).isoformat()
    with caplog.at_level(logging.WARNING):
        run_tap(config, state=state)
    warnings = [r.getMessage() for r in caplog.records if "recycle-bin" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("Stream leads last read deletions 75 days ago")
    assert "60-day" in warnings[0]

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run_tap(config, state=first.state)
    assert not [r for r in caplog.records if "recycle-bin" in r.getMessage()]


def test_include_deleted_false_reads_no_deletions(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=66, sizes=SMALL)
    config = tap_config(emu, include_deleted=False)
    first = run_tap(config)
    emu.mutate("delete", module="Leads", count=2)
    second = run_tap(config, state=first.state)
    assert deletion_records(second, "leads") == []
    assert not any(key.startswith("deleted:") for key in emu.stats()["calls"])
    assert "deleted_time" not in stream_state(second, "leads")


def test_deletions_made_while_the_state_was_lost_reach_the_audit_db(
    start_emulator, tap_config, run_tap, tmp_path
):
    """Sync, delete 5 leads, lose the state, sync again: the 5 deletions are not lost."""
    emu = start_emulator(seed=67, sizes=SMALL)
    config = tap_config(emu)
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, run_tap(config))
    victims = emu.mutate("delete", module="Leads", count=5)

    again = run_tap(config)  # no state: Meltano's state was dropped
    assert sorted(r["id"] for r in deletion_records(again, "leads")) == sorted(victims)
    load_into_audit(database, again)
    rows = query(
        database,
        "SELECT id FROM leads_history WHERE change_type = 'delete' ORDER BY id",
    )
    assert [r["id"] for r in rows] == sorted(victims)
    marked = query(database, "SELECT id FROM leads WHERE _deleted_at IS NOT NULL ORDER BY id")
    assert [r["id"] for r in marked] == sorted(victims)
