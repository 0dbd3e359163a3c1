"""Deal stage history and record timelines (one call per changed record), tap | target."""

from __future__ import annotations

import logging

from tap_complete_kit import load_into_audit, only_streams, query

SIZES = {"Leads": 6, "Contacts": 2, "Deals": 5, "Accounts": 2}


def _stage_rows(run):
    return run.records("deal_stage_history")


def test_stage_history_starts_its_bookmark_on_a_first_sync_then_reads_changed_deals(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path, caplog
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "deals", "deal_stage_history")
    with caplog.at_level(logging.WARNING):
        first = run_tap(config, catalog=catalog)
    assert _stage_rows(first) == []
    [estimate] = [r.getMessage() for r in caplog.records if "deal_stage_history" in r.getMessage()]
    assert "about 5 credits" in estimate
    assert "stage_history_backfill" in estimate
    assert emu.stats()["calls"].get("stage_history", 0) == 0
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, first)

    deal = emu.records("Deals")[0]["id"]
    emu.mutate("edit", module="Deals", ids=[deal], values={"Stage": "Closed Won"})
    second = run_tap(config, catalog=catalog, state=first.state)
    rows = _stage_rows(second)
    assert {r["deal_id"] for r in rows} == {deal}  # only the changed deal, one call
    assert emu.stats()["calls"]["stage_history"] == 1
    assert rows[-1]["Stage"] == "Closed Won"
    load_into_audit(database, second)
    stages = query(
        database,
        "SELECT stage, modified_time FROM deal_stage_history WHERE deal_id = ? "
        "ORDER BY modified_time",
        (deal,),
    )
    assert stages[-1]["stage"] == "Closed Won"
    # A third run with no change: at most the deal of the bookmark's second again (that
    # second may not have been over when the second run listed the deals), nothing new.
    third = run_tap(config, catalog=catalog, state=second.state)
    assert {r["id"] for r in _stage_rows(third)} <= {r["id"] for r in rows}
    assert emu.stats()["calls"]["stage_history"] <= 2


def test_stage_history_backfill_reads_every_deal_once(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu, stage_history_backfill=True)
    catalog = only_streams(discover_catalog(config), "deal_stage_history")
    run = run_tap(config, catalog=catalog)
    assert {r["deal_id"] for r in _stage_rows(run)} == {d["id"] for d in emu.records("Deals")}
    assert emu.stats()["calls"]["stage_history"] == 5
    assert all(r["Modified_Time"] and r["Stage"] for r in _stage_rows(run))


def test_a_timeline_stream_records_who_changed_what_between_two_syncs(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu, timeline_modules=["Leads"])
    catalog = only_streams(discover_catalog(config), "leads", "leads_timeline")
    first = run_tap(config, catalog=catalog)
    assert first.records("leads_timeline") == []  # the first sync starts the bookmark
    lead = emu.records("Leads")[0]["id"]
    emu.mutate("edit", module="Leads", ids=[lead], values={"Lead_Status": "Junk Lead"})
    emu.mutate("edit", module="Leads", ids=[lead], values={"Lead_Status": "Contacted"})
    second = run_tap(config, catalog=catalog, state=first.state)
    rows = second.records("leads_timeline")
    changes = [(r["field"], r["old_value"], r["new_value"]) for r in rows]
    assert changes[0][1:] == ("Junk Lead", "Contacted")  # newest first
    assert changes[1][2] == "Junk Lead"
    assert {r["record_id"] for r in rows} == {lead}
    assert all(r["done_by"]["name"] and r["action"] == "updated" for r in rows)
    assert emu.stats()["calls"]["timeline:Leads"] == 1  # one changed lead, one call
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, first)
    load_into_audit(database, second)
    stored = query(database, "SELECT field, old_value, new_value FROM leads_timeline")
    assert len(stored) == 2


def test_a_resume_from_any_state_of_a_stage_history_backfill_loses_no_row(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(sizes={**SIZES, "Deals": 40})
    config = tap_config(emu, stage_history_backfill=True)
    catalog = only_streams(discover_catalog(config), "deal_stage_history")
    full = run_tap(config, catalog=catalog)
    everything = {r["id"] for r in _stage_rows(full)}
    assert len({r["deal_id"] for r in _stage_rows(full)}) == 40
    # Every STATE the run emitted is a point a killed run resumes from: what was emitted before
    # it plus what a resumed run emits must be everything.
    positions = [i for i, m in enumerate(full.messages) if m["type"] == "STATE"]
    assert len(positions) >= 2
    for position in positions:
        before = {
            m["record"]["id"]
            for m in full.messages[:position]
            if m["type"] == "RECORD" and m["stream"] == "deal_stage_history"
        }
        state = full.messages[position]["value"]
        resumed = run_tap(config, catalog=catalog, state=state)
        assert before | {r["id"] for r in _stage_rows(resumed)} == everything, position
