"""The tap against the Zoho CRM emulator over real HTTP: paging, bookmarks, auth, retries, costs."""

import collections
import logging
import math

import pytest
from tap_complete_kit import deselect, module_streams, only_streams, zoho_value

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError, ZohoScopeError

STREAMS = {"leads": "Leads", "contacts": "Contacts", "deals": "Deals"}

#: An org whose whole history lies around the end of daylight saving time in Los Angeles
#: (2024-11-03 02:00 PDT -> 01:00 PST): offsets -07:00 and -08:00 interleave, and the
#: string order of Modified_Time differs from the time order.
DST_WINDOW = {
    "start": "2024-11-03T07:30:00+00:00",
    "end": "2024-11-03T10:30:00+00:00",
    "shared_second_fraction": 0.5,
}


def ground_truth_ids(emu, module):
    return {r["id"] for r in emu.records(module)}


def record_calls(emu):
    calls = emu.stats()["calls"]
    return {stream: calls.get(f"records:{module}", 0) for stream, module in STREAMS.items()}


def status_count(emu, status):
    return emu.stats()["status_counts"].get(str(status), 0)


# ---- paging ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_pages_past_2000_records_with_page_token(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=3, sizes={"Leads": 2650})
    run = run_tap(tap_config(emu))

    ids = run.ids("leads")
    assert len(ids) == len(set(ids)) == 2650
    assert set(ids) == ground_truth_ids(emu, "Leads")
    # One call per 200 records, and never the 2,000-record `page` limit.
    assert record_calls(emu)["leads"] == math.ceil(2650 / 200)
    assert status_count(emu, 400) == 0
    # Records sorted by Modified_Time as instants.
    instants = [parse_instant(r["Modified_Time"]) for r in run.records("leads")]
    assert instants == sorted(instants)


def test_records_are_complete_and_free_of_system_keys(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=4)
    run = run_tap(tap_config(emu))
    for stream, module in STREAMS.items():
        properties = set(run.schema(stream)["properties"])
        truth = {r["id"]: r for r in emu.records(module)}
        for record in run.records(stream):
            assert set(record) == properties
            assert not any(key.startswith("$") for key in record)
            assert record["_sdc_deleted_at"] is None
            expected = truth[record["id"]]
            for key, value in record.items():
                if key != "_sdc_deleted_at":
                    assert value == zoho_value(expected, key), (stream, key)


def test_converted_leads_stay_in_the_leads_stream(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=5, sizes={"Leads": 400}, converted_fraction=0.2)
    run = run_tap(tap_config(emu))
    converted = [r for r in run.records("leads") if r["Converted__s"]]
    assert converted
    assert set(run.ids("leads")) == ground_truth_ids(emu, "Leads")


def test_start_date_limits_the_first_sync(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=6)
    start = "2025-03-01T00:00:00Z"
    run = run_tap(tap_config(emu, start_date=start))
    expected = {
        r["id"]
        for r in emu.records("Leads")
        if parse_instant(r["Modified_Time"]) > parse_instant(start)
    }
    assert set(run.ids("leads")) == expected
    assert 0 < len(expected) < len(emu.records("Leads"))


# ---- schema and discovery -------------------------------------------------------------------


def test_discovery_reads_field_metadata_once_per_module_and_no_records(
    start_emulator, tap_config, discover_catalog
):
    emu = start_emulator(seed=8)
    catalog = discover_catalog(tap_config(emu))
    calls = emu.stats()["calls"]
    assert calls == {
        "oauth_token": 1,
        "settings_fields:Leads": 1,
        "settings_fields:Contacts": 1,
        "settings_fields:Deals": 1,
    }
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert module_streams(streams) == set(STREAMS)
    leads = streams["leads"]["schema"]["properties"]
    # Custom fields, typed from the metadata.
    assert leads["Budget"]["type"] == ["number", "null"]
    assert leads["Lead_Age_Days"]["type"] == ["number", "null"]  # formula returning double
    assert leads["Interests"]["items"] == {"type": "string"}
    assert leads["External_Ref"]["type"] == ["string", "null"]  # bigint as a string
    assert leads["Referred_Account"]["properties"]["id"]["type"] == ["string", "null"]
    assert leads["Next_Follow_Up"]["format"] == "date-time"
    assert leads["Preferred_Contact_Date"]["format"] == "date"
    assert "Loyalty_Tier" in streams["contacts"]["schema"]["properties"]
    assert "Deal_Region" in streams["deals"]["schema"]["properties"]
    for name, entry in streams.items():
        if name not in STREAMS:
            continue  # the non-module streams: test_tap_reference.py, test_tap_related.py
        assert entry["key_properties"] == ["id"]
        assert entry["replication_key"] == "Modified_Time"
        assert entry["schema"]["properties"]["id"] == {"type": ["string"]}
        assert "_sdc_deleted_at" in entry["schema"]["properties"]


def test_missing_fields_scope_falls_back_to_standard_fields_with_a_warning(
    start_emulator, tap_config, run_tap, caplog
):
    emu = start_emulator(seed=9, scopes=("ZohoCRM.modules.ALL",))
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emu))
    warnings = [r.getMessage() for r in caplog.records if "field metadata" in r.getMessage()]
    assert len(warnings) == 3
    assert all("ZohoCRM.settings.fields.READ" in w for w in warnings)
    leads_schema = run.schema("leads")["properties"]
    assert "Budget" not in leads_schema  # custom fields need the metadata
    assert "Last_Name" in leads_schema
    assert set(run.ids("leads")) == ground_truth_ids(emu, "Leads")


def test_field_selection_narrows_the_request(start_emulator, tap_config, run_tap, discover_catalog):
    emu = start_emulator(seed=10)
    catalog = deselect(discover_catalog(tap_config(emu)), "leads", "Email", "Budget", "Phone")
    catalog = deselect(catalog, "leads", "Owner.email")
    run = run_tap(tap_config(emu), catalog=catalog)
    record = run.records("leads")[0]
    assert set(record["Owner"]) == {"name", "id"}  # the nested deselection holds too
    assert set(record["Created_By"]) == {"name", "id", "email"}
    assert "Email" not in record
    assert "Budget" not in record
    assert "Last_Name" in record
    assert "id" in record
    assert "Modified_Time" in record


# ---- API economy ----------------------------------------------------------------------------


def test_api_economy_initial_no_change_and_incremental(
    start_emulator, tap_config, run_tap, discover_catalog, caplog
):
    emu = start_emulator(seed=11, sizes={"Leads": 450, "Contacts": 200, "Deals": 150})
    config = tap_config(emu)
    # The module streams' economy (users, selected by default, costs one call per 200 users
    # and a 304 after: see test_tap_reference.py).
    catalog = only_streams(discover_catalog(config), *STREAMS)
    sizes = {stream: len(emu.records(module)) for stream, module in STREAMS.items()}

    emu.reset_stats()
    with caplog.at_level(logging.INFO):
        initial = run_tap(config, catalog=catalog)
    stats = emu.stats()
    assert stats["calls"]["oauth_token"] == 1
    assert not any(k.startswith("settings_") for k in stats["calls"])  # schema from the catalog
    assert record_calls(emu) == {s: math.ceil(n / 200) for s, n in sizes.items()}
    # One deleted-records call per stream on a first sync (include_deleted is on by default):
    # without a bookmark the destination may hold records deleted since, so the whole
    # recycle bin is read once.
    assert all(stats["calls"][f"deleted:{module}"] == 1 for module in STREAMS.values())
    # And one record count per stream: backfill_method auto sizes each module once on a
    # first sync (all below bulk_threshold here, so REST).
    assert all(stats["calls"][f"count:{module}"] == 1 for module in STREAMS.values())
    # Zoho's credit table: 1 per Get Records page and per count, 2 per deleted-records call.
    assert stats["credits"] == sum(math.ceil(n / 200) for n in sizes.values()) + 3 * 2 + 3
    done = [r.getMessage() for r in caplog.records if "done:" in r.getMessage()]
    assert len(done) == 3
    assert any(
        f"Stream leads done: {sizes['leads']} records, 0 deletions; 4 API calls (3 Get "
        "Records, 1 deleted records, 0 field metadata), 5 credits spent; 1 token requests" in line
        for line in done
    )

    # Nothing changed: one token request plus two calls per stream (a 304 for the records,
    # a 204 for the deletions), the minimum with deletions enabled.
    emu.reset_stats()
    run_tap(config, catalog=catalog, state=initial.state)
    stats = emu.stats()
    assert stats["calls"] == {
        "oauth_token": 1,
        "records:Leads": 1,
        "records:Contacts": 1,
        "records:Deals": 1,
        "deleted:Leads": 1,
        "deleted:Contacts": 1,
        "deleted:Deals": 1,
    }
    assert stats["credits"] == 3 + 3 * 2
    assert stats["status_counts"] == {"200": 1, "304": 3, "204": 3}

    # Without deletions: one call (the 304) per stream.
    emu.reset_stats()
    run_tap({**config, "include_deleted": False}, catalog=catalog, state=initial.state)
    assert emu.stats()["credits"] == 3

    # A few changes: exactly those records, one call per stream.
    changed = emu.mutate("edit", module="Leads", count=3)
    emu.reset_stats()
    third = run_tap(config, catalog=catalog, state=initial.state)
    assert sorted(third.ids("leads")) == sorted(changed)
    assert third.ids("contacts") == []
    assert record_calls(emu) == {"leads": 1, "contacts": 1, "deals": 1}


def test_without_a_catalog_the_metadata_is_read_once_per_module(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=12)
    run_tap(tap_config(emu))
    calls = emu.stats()["calls"]
    for module in STREAMS.values():
        assert calls[f"settings_fields:{module}"] == 1
    assert calls["oauth_token"] == 1


# ---- incremental: 304, 204, bookmarks across DST, resumption ---------------------------------


def test_304_and_204_mean_no_records(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=13, sizes={"Deals": 0})
    config = tap_config(emu)
    first = run_tap(config)
    assert first.ids("deals") == []
    assert "deals" not in (first.state or {}).get("bookmarks", {}) or not first.state["bookmarks"][
        "deals"
    ].get("replication_key_value")
    # Deals: no records at all, no If-Modified-Since (a 204); the recycle bins are empty
    # (a 204 each).
    assert emu.stats()["calls"]["records:Deals"] == 1
    assert status_count(emu, 204) == 4

    emu.reset_stats()
    second = run_tap(config, state=first.state)
    assert [m for m in second.messages if m["type"] == "RECORD"] == []
    assert status_count(emu, 304) == 3  # leads, contacts and users: nothing modified since
    assert status_count(emu, 204) == 1 + 3  # deals: still nothing at all; no deletions
    # The records bookmark and the deletion bookmark stay; only deleted_synced_at (when
    # deletions were last read, for the 60-day warning) moves with the clock.
    for key in ("replication_key_value", "deleted_time"):
        assert second.state["bookmarks"]["leads"].get(key) == first.state["bookmarks"]["leads"].get(
            key
        )


def test_bookmarks_compare_instants_across_daylight_saving(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=14, sizes={"Leads": 600}, **DST_WINDOW)
    config = tap_config(emu, page_size=50)
    run = run_tap(config)
    records = run.records("leads")
    assert {r["id"] for r in records} == ground_truth_ids(emu, "Leads")
    values = [r["Modified_Time"] for r in records]
    assert {v[-6:] for v in values} == {"-07:00", "-08:00"}
    # The data is in time order, which is not string order: string bookmarks would break.
    assert values != sorted(values)

    bookmarks = [s["bookmarks"].get("leads", {}).get("replication_key_value") for s in run.states]
    bookmarks = [b for b in bookmarks if b]
    instants = [parse_instant(b) for b in bookmarks]
    assert instants == sorted(instants)
    newest = max(values, key=parse_instant)
    assert run.state["bookmarks"]["leads"]["replication_key_value"] == newest
    assert "progress_markers" not in run.state["bookmarks"]["leads"]

    emu.reset_stats()
    again = run_tap(config, state=run.state)
    assert again.ids("leads") == []
    assert status_count(emu, 304) == 4  # the three modules and users

    changed = emu.mutate("edit", module="Leads", count=2)
    third = run_tap(config, state=again.state)
    assert sorted(third.ids("leads")) == sorted(changed)


@pytest.mark.slow
def test_resuming_from_any_state_message_loses_nothing(start_emulator, tap_config, run_tap):
    """A run interrupted right after any STATE message resumes without losing a record.

    Many records share a second and straddle page boundaries; with an exclusive
    If-Modified-Since, a checkpoint claiming the last second seen would skip the rest of it.
    """
    emu = start_emulator(seed=15, sizes={"Leads": 600}, **DST_WINDOW)
    config = tap_config(emu, page_size=50)
    full = run_tap(config)
    everything = ground_truth_ids(emu, "Leads")
    assert set(full.ids("leads")) == everything

    cut_points = [i for i, m in enumerate(full.messages) if m["type"] == "STATE"]
    assert len(cut_points) >= 10
    straddles = 0
    for cut in cut_points:
        before = full.messages[: cut + 1]
        seen = {
            m["record"]["id"] for m in before if m["type"] == "RECORD" and m["stream"] == "leads"
        }
        state = before[-1]["value"]
        resumed = run_tap(config, state=state)
        after = set(resumed.ids("leads"))
        assert seen | after == everything, f"records lost when resuming from {state}"
        bookmark = state.get("bookmarks", {}).get("leads", {}).get("replication_key_value")
        if bookmark and len(seen) < len(everything):
            # The resumed run re-reads at most the boundary second, not the whole history.
            assert len(after) < len(everything)
            straddles += len(seen & after)
    assert straddles > 0  # the boundary records do come twice: the test exercised the edge


@pytest.mark.slow
def test_token_cap_starts_a_new_query_without_loss(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=16, sizes={"Leads": 2600}, page_token_cap=500)
    run = run_tap(tap_config(emu, pagination="page_token"))
    ids = run.ids("leads")
    assert set(ids) == ground_truth_ids(emu, "Leads")
    assert status_count(emu, 400) >= 4  # PAGINATION_LIMIT_EXCEEDED, then a new query each time
    # Only boundary records (the last, possibly incomplete second) come twice.
    duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert len(duplicates) < 40
    instants = [parse_instant(r["Modified_Time"]) for r in run.records("leads")]
    assert run.state["bookmarks"]["leads"]["replication_key_value"] == max(
        (r["Modified_Time"] for r in run.records("leads")), key=parse_instant
    )
    assert max(instants) == instants[-1]


@pytest.mark.slow
def test_keyset_paging_never_reaches_the_token_cap(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=16, sizes={"Leads": 2600}, page_token_cap=500)
    run = run_tap(tap_config(emu))
    ids = run.ids("leads")
    assert len(ids) == len(set(ids)) == len(ground_truth_ids(emu, "Leads"))
    assert status_count(emu, 400) == 0


# ---- auth and retries -----------------------------------------------------------------------


@pytest.mark.slow
def test_token_expiring_mid_sync_is_refreshed_once_and_the_call_retried(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=17, sizes={"Leads": 2600}, token_lifetime_calls=5)
    run = run_tap(tap_config(emu))
    ids = run.ids("leads")
    assert len(ids) == len(set(ids))
    assert set(ids) == ground_truth_ids(emu, "Leads")
    stats = emu.stats()
    refreshes = stats["calls"]["oauth_token"] - 1
    assert refreshes >= 3
    # One rejected call per expiry and stream in flight (max_concurrent_requests, 3).
    assert refreshes <= stats["status_counts"]["401"] <= 3 * refreshes


@pytest.mark.slow
def test_token_refreshed_before_it_expires(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=18, sizes={"Leads": 1000}, token_lifetime_seconds=1, latency_ms=60)
    run = run_tap(tap_config(emu, page_size=100))
    assert set(run.ids("leads")) == ground_truth_ids(emu, "Leads")
    assert emu.stats()["calls"]["oauth_token"] >= 2


@pytest.mark.slow
def test_429_and_500_storm_is_retried_with_backoff(
    start_emulator, tap_config, run_tap, fast_backoff, caplog
):
    emu = start_emulator(seed=19, sizes={"Leads": 2600}, fail_429=0.3, fail_500=0.1)
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emu))
    ids = run.ids("leads")
    assert len(ids) == len(set(ids))
    assert set(ids) == ground_truth_ids(emu, "Leads")
    assert status_count(emu, 429) > 0
    assert status_count(emu, 500) > 0
    assert any("Retrying GET /Leads" in r.getMessage() for r in caplog.records)


def test_endless_429_gives_up_with_one_sentence(
    start_emulator, tap_config, run_tap, fast_backoff, monkeypatch
):
    monkeypatch.setattr(ZohoStream, "MAX_TRIES", 3)
    emu = start_emulator(seed=20, fail_429=1.0)
    with pytest.raises(ZohoAPIError) as excinfo:
        run_tap(tap_config(emu))
    message = str(excinfo.value)
    assert "TOO_MANY_REQUESTS" in message
    assert "3 attempts" in message
    assert "\n" not in message
    assert status_count(emu, 429) == 3


def test_missing_records_scope_names_it(start_emulator, tap_config, run_tap, discover_catalog):
    emu = start_emulator(seed=21, scopes=("ZohoCRM.settings.ALL",))
    with pytest.raises(ZohoScopeError) as excinfo:
        run_tap(tap_config(emu))
    assert "ZohoCRM.modules.READ" in str(excinfo.value)
    assert excinfo.value.scope == "ZohoCRM.modules.READ"
