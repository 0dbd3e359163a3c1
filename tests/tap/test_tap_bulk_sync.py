"""The tap's Bulk Read backfill end to end against the emulator over real HTTP.

Bulk output equals REST output; ``auto`` counts once and picks bulk only for large modules
without a bookmark; failures fall back to REST; changes made while the export runs arrive over
REST in the same sync; the next sync is REST incremental. Emulated jobs take a fraction of a
second and the tap polls fast; no assertion is about wall-clock time.
"""

from __future__ import annotations

import json
import logging

import pytest
from tap_complete_kit import deselect, only_streams, zoho_value

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.bulk import BulkReadClient

STREAMS = {"leads": "Leads", "contacts": "Contacts", "deals": "Deals"}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    """Poll jobs every few milliseconds."""
    monkeypatch.setattr(BulkReadClient, "POLL_FIRST_SECONDS", 0.005)
    monkeypatch.setattr(BulkReadClient, "POLL_MAX_SECONDS", 0.02)


def canonical(record):
    """JSON text of a record: types count (1 vs 1.0, true vs 1), key order does not."""
    return json.dumps(record, sort_keys=True)


def by_id(records):
    """Canonical records by id, the last one emitted winning (as a target's upsert does)."""
    return {r["id"]: canonical(r) for r in records}


def bookmark(run, stream):
    return run.state["bookmarks"][stream].get("replication_key_value")


def newest(records):
    return max((r["Modified_Time"] for r in records), key=parse_instant)


def bulk_calls(emu):
    return {k: v for k, v in emu.stats()["calls"].items() if k.startswith("bulk_")}


def record_calls(emu):
    """Calls but the deletion listing (one per stream per sync) and users (selected by default)."""
    return {
        k: v
        for k, v in emu.stats()["calls"].items()
        if not k.startswith("deleted:") and k != "users"
    }


# ---- equivalence ---------------------------------------------------------------------------


@pytest.mark.slow
def test_bulk_backfill_emits_exactly_what_rest_emits(start_emulator, tap_config, run_tap):
    emu = start_emulator(
        seed=51,
        sizes={"Leads": 430, "Contacts": 230, "Deals": 160},
        converted_fraction=0.1,
        bulk_job_seconds=0.05,
    )
    rest = run_tap(tap_config(emu, backfill_method="rest"))
    assert bulk_calls(emu) == {}
    emu.reset_stats()
    bulk = run_tap(tap_config(emu, backfill_method="bulk"))

    calls = emu.stats()["calls"]
    assert calls["bulk_read_create"] == 3  # one job per stream
    assert calls["bulk_read_download"] == 3
    for stream, module in STREAMS.items():
        rest_records = sorted(rest.records(stream), key=lambda r: r["id"])
        bulk_records = sorted(bulk.records(stream), key=lambda r: r["id"])
        assert len(bulk_records) == len(emu.records(module))
        # Every record, every field, every type.
        assert [canonical(r) for r in bulk_records] == [canonical(r) for r in rest_records]
        assert bulk.schema(stream) == rest.schema(stream)
        assert bookmark(bulk, stream) == bookmark(rest, stream) == newest(rest_records)
        # After the export, one REST call finds nothing newer (a 304).
        assert calls[f"records:{module}"] == 1


def test_equivalence_holds_with_deselected_fields_start_date_and_unconverted_leads(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(
        seed=52, sizes={"Leads": 260}, converted_fraction=0.2, bulk_job_seconds=0.05
    )
    settings = {"start_date": "2024-09-01T00:00:00Z", "include_converted_leads": False}
    catalog = only_streams(discover_catalog(tap_config(emu)), "leads")
    catalog = deselect(catalog, "leads", "Owner.email", "Email", "Interests")
    rest = run_tap(tap_config(emu, backfill_method="rest", **settings), catalog=catalog)
    bulk = run_tap(tap_config(emu, backfill_method="bulk", **settings), catalog=catalog)

    assert emu.stats()["calls"]["bulk_read_create"] == 1
    assert by_id(bulk.records("leads")) == by_id(rest.records("leads"))
    records = bulk.records("leads")
    assert 0 < len(records) < 260  # the start date and the converted leads narrowed it
    assert not any(r["Converted__s"] for r in records)
    assert all("Email" not in r and "email" not in r["Owner"] for r in records)
    assert bookmark(bulk, "leads") == bookmark(rest, "leads")


# ---- auto ----------------------------------------------------------------------------------


def test_auto_counts_once_and_uses_bulk_only_above_the_threshold(
    start_emulator, tap_config, run_tap, discover_catalog, caplog
):
    emu = start_emulator(
        seed=53, sizes={"Leads": 320, "Contacts": 40, "Deals": 20}, bulk_job_seconds=0.05
    )
    config = tap_config(emu, bulk_threshold=100)  # backfill_method: auto (the default)
    catalog = discover_catalog(config)
    emu.reset_stats()
    with caplog.at_level(logging.INFO):
        first = run_tap(config, catalog=catalog)
    calls = emu.stats()["calls"]
    assert calls["count:Leads"] == calls["count:Contacts"] == calls["count:Deals"] == 1
    assert calls["bulk_read_create"] == 1  # Leads only: 320 > 100
    assert calls["records:Leads"] == 1  # the REST continuation after the export
    assert calls["records:Contacts"] == calls["records:Deals"] == 1  # REST backfills
    for stream, module in STREAMS.items():
        assert {r["id"] for r in first.records(stream)} == {r["id"] for r in emu.records(module)}
    messages = [r.getMessage() for r in caplog.records]
    assert any("Leads holds 320 records, more than bulk_threshold 100" in m for m in messages)
    assert any("Bulk Read backfill of Leads done: 320 records in 1 jobs" in m for m in messages)

    # With bookmarks: no count, no job, REST incremental only.
    emu.reset_stats()
    run_tap(config, catalog=catalog, state=first.state)
    assert record_calls(emu) == {
        "oauth_token": 1,
        "records:Leads": 1,
        "records:Contacts": 1,
        "records:Deals": 1,
    }


def test_auto_keeps_small_modules_on_rest_with_the_default_threshold(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=54)
    run = run_tap(tap_config(emu))
    assert bulk_calls(emu) == {}
    assert all(emu.stats()["calls"][f"count:{m}"] == 1 for m in STREAMS.values())
    assert len(run.records("leads")) == len(emu.records("Leads"))


def test_rest_method_makes_no_count_call(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=55)
    run_tap(tap_config(emu, backfill_method="rest"))
    assert not any(k.startswith(("count:", "bulk_")) for k in emu.stats()["calls"])


# ---- nothing missed --------------------------------------------------------------------------


def test_changes_after_the_snapshot_arrive_over_rest_in_the_same_sync(
    start_emulator, tap_config, run_tap, discover_catalog, monkeypatch
):
    emu = start_emulator(seed=56, sizes={"Leads": 350}, bulk_job_seconds=0.05, bulk_page_size=150)
    changed: list[str] = []
    deleted: list[str] = []
    create = BulkReadClient.create_job

    def first_ids_of(emu):
        return sorted(r["id"] for r in emu.records("Leads"))

    def create_then_change(self, query):
        answer = create(self, query)  # the job has taken its snapshot
        if len(changed) == 0:
            # Change records the first job exports with their old values, add new ones.
            first_ids = sorted(r["id"] for r in emu.records("Leads"))[:150]
            changed.extend(emu.mutate("edit", module="Leads", ids=first_ids[:3]))
        elif len(changed) == 3:
            # Between two jobs: an earlier page's record changes, one is converted.
            changed.extend(emu.mutate("edit", module="Leads", count=2))
            changed.extend(emu.mutate("convert", count=1))
            changed.extend(emu.mutate("create", module="Leads", count=2))
        else:
            # After the last job's snapshot, exported records are deleted: the next sync
            # reports the deletions (a first sync reads none; its deletion start is before
            # the snapshot). (A deletion *between* jobs would shift the next job's offset
            # page: a documented limit of Zoho's paging.)
            deleted.extend(emu.mutate("delete", module="Leads", ids=first_ids_of(emu)[5:7]))
        return answer

    monkeypatch.setattr(BulkReadClient, "create_job", create_then_change)
    config = tap_config(emu, backfill_method="bulk")
    catalog = only_streams(discover_catalog(config), "leads")
    run = run_tap(config, catalog=catalog)

    assert emu.stats()["calls"]["bulk_read_create"] == 3
    truth = emu.records("Leads")
    emitted = by_id(run.records("leads"))
    assert len(deleted) == 2
    # The records deleted after the snapshot arrive live (as exported), then as deletions
    # from the first sync's recycle-bin read (one call).
    assert emu.stats()["calls"]["deleted:Leads"] == 1
    for record_id in deleted:
        assert json.loads(emitted.pop(record_id))["_sdc_deleted_at"] is not None
    # Every record arrives, each in its latest version (targets upsert on id).
    assert set(emitted) == {r["id"] for r in truth}
    expected = {r["id"]: {k: zoho_value(r, k) for k in json.loads(emitted[r["id"]])} for r in truth}
    for record_id, text in emitted.items():
        record = json.loads(text)
        assert record == {**expected[record_id], "_sdc_deleted_at": None}, record_id
    assert set(changed) <= set(emitted)
    assert bookmark(run, "leads") == newest(truth)

    # The next sync is REST incremental: nothing changed, the deletions were already read.
    monkeypatch.setattr(BulkReadClient, "create_job", create)
    emu.reset_stats()
    again = run_tap(config, catalog=catalog, state=run.state)
    assert again.records("leads") == []
    assert emu.stats()["calls"]["deleted:Leads"] == 1
    assert record_calls(emu) == {"oauth_token": 1, "records:Leads": 1}


def test_next_sync_after_a_bulk_backfill_is_rest_incremental(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(seed=57, sizes={"Contacts": 220}, bulk_job_seconds=0.05)
    config = tap_config(emu, backfill_method="bulk")
    catalog = only_streams(discover_catalog(config), "contacts")
    first = run_tap(config, catalog=catalog)
    assert len(first.records("contacts")) == 220
    edited = emu.mutate("edit", module="Contacts", count=3)
    emu.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.state)
    assert sorted(second.ids("contacts")) == sorted(edited)
    assert bulk_calls(emu) == {}
    assert parse_instant(bookmark(second, "contacts")) > parse_instant(bookmark(first, "contacts"))


def test_no_checkpoint_is_written_before_the_export_is_complete(
    start_emulator, tap_config, run_tap, discover_catalog
):
    # Exported records are in id order: a mid-export bookmark could skip older records.
    emu = start_emulator(seed=58, sizes={"Leads": 300}, bulk_job_seconds=0.05)
    config = tap_config(emu, backfill_method="bulk", page_size=25)  # STATE every 25 records
    catalog = only_streams(discover_catalog(config), "leads")
    run = run_tap(config, catalog=catalog)
    seen = 0
    states_during_export = 0
    for message in run.messages:
        if message["type"] == "RECORD":
            seen += 1
        elif message["type"] == "STATE" and seen < 300:
            states_during_export += 1
            leads = message["value"].get("bookmarks", {}).get("leads", {})
            assert not leads.get("replication_key_value")
    assert states_during_export >= 1
    assert run.messages[-1]["type"] == "STATE"
    assert bookmark(run, "leads") == newest(emu.records("Leads"))


# ---- failures fall back to REST --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("faults", "settings", "reason"),
    [
        ({"bulk_fail": 1.0}, {}, "FAILURE"),
        ({"bulk_job_seconds": 600}, {"bulk_max_wait_seconds": 0.2}, "bulk_max_wait_seconds"),
        ({"bulk_result_ttl_seconds": 0}, {}, "EXPIRED_VALUE"),
    ],
    ids=["failed-job", "slow-job", "expired-download"],
)
def test_a_failed_export_falls_back_to_rest_with_a_warning(
    start_emulator, tap_config, run_tap, discover_catalog, caplog, faults, settings, reason
):
    emu = start_emulator(seed=59, sizes={"Deals": 180}, **{"bulk_job_seconds": 0.05, **faults})
    config = tap_config(emu, backfill_method="bulk", **settings)
    catalog = only_streams(discover_catalog(config), "deals")
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, catalog=catalog)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "Bulk Read backfill of Deals abandoned" in w and reason in w and "Falling back" in w
        for w in warnings
    )
    truth = emu.records("Deals")
    assert {r["id"] for r in run.records("deals")} == {r["id"] for r in truth}
    assert bookmark(run, "deals") == newest(truth)
    assert emu.stats()["calls"]["records:Deals"] == 1  # REST read all 180 in one page


def test_missing_bulk_scope_falls_back_to_rest(start_emulator, tap_config, run_tap, caplog):
    emu = start_emulator(
        seed=60, sizes={"Leads": 50}, scopes=("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL")
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emu, backfill_method="bulk"))
    assert any("ZohoCRM.bulk.READ" in r.getMessage() for r in caplog.records)
    assert len(run.records("leads")) == 50


def test_a_module_wider_than_50_fields_exports_whole_and_equals_rest(
    start_emulator, tap_config, run_tap, discover_catalog
):
    # REST reads Projects' 64 fields in chunks of 50; one Bulk Read job asks for all of them.
    emu = start_emulator(seed=61, sizes={"Projects": 230}, bulk_job_seconds=0.05)
    settings = {"modules": ["Projects"]}
    catalog = only_streams(discover_catalog(tap_config(emu, **settings)), "projects")
    rest = run_tap(tap_config(emu, backfill_method="rest", **settings), catalog=catalog)
    emu.reset_stats()
    bulk = run_tap(tap_config(emu, backfill_method="bulk", **settings), catalog=catalog)
    assert emu.stats()["calls"]["bulk_read_create"] == 1
    records = bulk.records("projects")
    assert len(records) == 230
    assert len(records[0]) == 69  # id, 64 fields, 3 zoho_* record keys, _sdc_deleted_at
    assert by_id(records) == by_id(rest.records("projects"))
    assert bookmark(bulk, "projects") == bookmark(rest, "projects")
