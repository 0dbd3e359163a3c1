"""COQL read path: the same records as Get Records, a third of the credits, nothing lost.

Every test runs the tap in-process against the emulator over real HTTP; REST is the
reference (``read_method: rest``), COQL must give the same bytes after sorting.
"""

from __future__ import annotations

import json
import logging

import pytest
from tap_complete_kit import deselect, live_records, only_streams, zoho_value

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.errors import ZohoScopeError

SIZES = {"Leads": 2600, "Contacts": 300, "Deals": 250, "Projects": 450}
STREAMS = ("leads", "contacts", "deals", "projects")
CUSTOM_LEAD_FIELDS = (
    "Budget", "Interests", "Preferred_Contact_Date", "Next_Follow_Up", "Lead_Score",
    "Win_Probability", "Discount_Rate", "External_Ref", "Lead_Number", "Referred_Account",
    "Is_VIP", "Lead_Age_Days",
)  # fmt: skip


def lines(run, stream):
    """The stream's records as JSON text, sorted: the bytes a target would receive."""
    return sorted(json.dumps(record) for record in run.records(stream))


def coql_calls(emu):
    return {k: v for k, v in emu.stats()["calls"].items() if k.startswith("coql:")}


def rest_calls(emu):
    return {k: v for k, v in emu.stats()["calls"].items() if k.startswith("records:")}


@pytest.fixture
def org(start_emulator):
    return start_emulator(
        seed=31,
        sizes=SIZES,
        converted_fraction=0.2,
        deleted_fraction=0.02,
        shared_second_fraction=0.3,
    )


@pytest.fixture
def setup(org, tap_config, discover_catalog):
    config = tap_config(org, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), *STREAMS)
    return org, config, catalog


@pytest.mark.slow
def test_coql_records_equal_rest_records_initial_and_incremental(setup, run_tap):
    emu, config, catalog = setup
    rest = run_tap({**config, "read_method": "rest"}, catalog=catalog)
    emu.reset_stats()
    coql = run_tap({**config, "read_method": "coql"}, catalog=catalog)
    assert not rest_calls(emu)  # every module read through COQL
    assert set(coql_calls(emu)) == {"coql:Leads", "coql:Contacts", "coql:Deals", "coql:Projects"}
    for stream in STREAMS:
        assert lines(coql, stream) == lines(rest, stream), stream
    assert any(r["Converted_Deal"] for r in live_records(coql, "leads"))  # conversion links
    assert (
        coql.state["bookmarks"]["leads"]["replication_key_value"]
        == (rest.state["bookmarks"]["leads"]["replication_key_value"])
    )

    # Incremental: edits, new records, a conversion and deletions, read both ways.
    edited = emu.mutate("edit", module="Leads", count=30)
    emu.mutate("create", module="Projects", count=5)
    emu.mutate("convert", module="Leads", count=2)
    emu.mutate("delete", module="Contacts", count=3)
    rest_next = run_tap({**config, "read_method": "rest"}, catalog=catalog, state=rest.state)
    emu.reset_stats()
    coql_next = run_tap({**config, "read_method": "coql"}, catalog=catalog, state=coql.state)
    assert set(edited) <= {r["id"] for r in live_records(coql_next, "leads")}
    for stream in STREAMS:
        assert lines(coql_next, stream) == lines(rest_next, stream), stream
    # A small incremental: 1 credit per module (LIMIT 200) + the deleted-records call (2).
    calls = emu.stats()["calls"]
    assert calls["coql:Contacts"] == 1, calls
    assert calls["coql:Deals"] == 1
    assert calls["coql:Leads"] == 2  # 48 fields and 7 lookups: two column batches
    assert calls["coql:Projects"] == 2  # 64 fields
    assert emu.stats()["credits"] == (1 + 1 + 2 + 2) + 4 * 2, calls


@pytest.mark.slow
def test_wide_selections_are_read_in_column_batches_merged_by_id(setup, run_tap):
    emu, config, catalog = setup
    rest = run_tap({**config, "read_method": "rest"}, catalog=catalog)
    emu.reset_stats()
    narrow = run_tap({**config, "read_method": "coql", "coql_max_fields": 12}, catalog=catalog)
    # Projects: 64 fields and 3 lookups in queries of at most 12 columns.
    assert coql_calls(emu)["coql:Projects"] >= 6
    for stream in STREAMS:
        assert lines(narrow, stream) == lines(rest, stream), stream


@pytest.mark.slow
def test_a_first_sync_costs_under_a_third_of_get_records(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(seed=32, sizes={"Leads": 6000, "Contacts": 5, "Deals": 5})
    config = tap_config(emu, include_deleted=False, backfill_method="rest")
    full = only_streams(discover_catalog(config), "leads")
    # The standard fields: 36 + id, 6 user-lookup and 3 lookup name columns fit in 50.
    standard = deselect(full, "leads", *CUSTOM_LEAD_FIELDS)

    def credits(method, catalog):
        emu.reset_stats()
        run_tap({**config, "read_method": method}, catalog=catalog)
        return emu.stats()["credits"], emu.stats()["calls"]

    rest, _ = credits("rest", standard)
    coql, calls = credits("coql", standard)
    assert calls["coql:Leads"] == 3  # LIMIT 2,000 at 3 credits, one column batch
    assert coql <= 0.32 * rest, (coql, rest)
    # Every field: 12 custom fields more need a second column batch, at the same LIMIT price.
    rest_all, _ = credits("rest", full)
    coql_all, calls = credits("coql", full)
    assert calls["coql:Leads"] == 6
    assert coql_all <= 0.65 * rest_all, (coql_all, rest_all)


@pytest.mark.slow
def test_coql_under_churn_loses_nothing(start_emulator, tap_config, run_tap, discover_catalog):
    emu = start_emulator(
        seed=5,
        sizes={"Leads": 6000, "Projects": 1500, "Contacts": 5, "Deals": 5},
        shared_second_fraction=0.5,
        churn_modules=("Leads", "Projects"),
    )
    config = tap_config(emu, modules=["Projects"], read_method="coql", coql_max_fields=30)
    catalog = only_streams(discover_catalog(config), "leads", "projects")
    emu.set_faults(churn_every_calls=2)
    first = run_tap(config, catalog=catalog)
    assert emu.churn.edits >= 5
    emu.set_faults(churn_every_calls=None)
    second = run_tap(config, catalog=catalog, state=first.state)
    for module, stream in (("Leads", "leads"), ("Projects", "projects")):
        truth = {r["id"]: r for r in emu.records(module)}
        newest: dict[str, dict] = {}
        for run in (first, second):
            for record in live_records(run, stream):
                known = newest.get(record["id"])
                if known is None or parse_instant(record["Modified_Time"]) >= parse_instant(
                    known["Modified_Time"]
                ):
                    newest[record["id"]] = record
        assert set(newest) == set(truth), (stream, len(set(truth) - set(newest)))
        for record_id, expected in truth.items():
            for name in ("Modified_Time", "Owner", "Last_Name" if stream == "leads" else "Name"):
                assert newest[record_id][name] == zoho_value(expected, name), (record_id, name)


@pytest.mark.slow
def test_resume_from_every_checkpoint_equals_an_uninterrupted_run(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(
        seed=33, sizes={"Leads": 2200, "Contacts": 5, "Deals": 5}, shared_second_fraction=0.5
    )
    config = tap_config(emu, read_method="coql", include_deleted=False)
    catalog = only_streams(discover_catalog(config), "leads")
    whole = run_tap(config, catalog=catalog)
    truth = {r["id"]: json.dumps(r) for r in whole.records("leads")}
    checkpoints = [s for s in whole.states if s.get("bookmarks", {}).get("leads")]
    assert len(checkpoints) >= 3
    for state in checkpoints:
        value = state["bookmarks"]["leads"].get("replication_key_value")
        if value is None:
            continue
        # What the interrupted run had emitted up to this checkpoint, plus the resumed run.
        before = {
            r["id"]: json.dumps(r)
            for r in whole.records("leads")
            if parse_instant(r["Modified_Time"]) <= parse_instant(value)
        }
        resumed = run_tap(config, catalog=catalog, state=state)
        after = {r["id"]: json.dumps(r) for r in resumed.records("leads")}
        assert {**before, **after} == truth


@pytest.mark.slow
def test_a_credit_budget_stops_cleanly_and_the_next_run_resumes_there(
    start_emulator, tap_config, run_tap, discover_catalog, caplog
):
    emu = start_emulator(seed=34, sizes={"Leads": 7000, "Contacts": 40, "Deals": 30})
    config = tap_config(emu, read_method="coql", backfill_method="rest")
    catalog = only_streams(discover_catalog(config), "leads", "contacts", "deals")
    whole = run_tap(config, catalog=catalog)
    emu.reset_stats()
    with caplog.at_level(logging.WARNING):
        stopped = run_tap({**config, "max_credits_per_run": 20}, catalog=catalog)  # no exception
    assert emu.stats()["credits"] <= 20
    warnings = [r.getMessage() for r in caplog.records if "Stopped early" in r.getMessage()]
    assert len(warnings) == 1
    assert "max_credits_per_run (20) reached" in warnings[0]
    assert "Left unread from their last checkpoints" in warnings[0]
    runs = [stopped]
    state = stopped.state
    for _ in range(40):  # each run spends at most 20 credits, then stops at a checkpoint
        caplog.clear()
        runs.append(run_tap({**config, "max_credits_per_run": 20}, catalog=catalog, state=state))
        state = runs[-1].state
        if not any("Stopped early" in r.getMessage() for r in caplog.records):
            break
    else:
        pytest.fail("the budgeted runs never completed")
    assert len(runs) >= 3
    for stream in ("leads", "contacts", "deals"):
        got: dict[str, str] = {}
        for run in runs:
            got.update({r["id"]: json.dumps(r) for r in run.records(stream)})
        assert got == {r["id"]: json.dumps(r) for r in whole.records(stream)}, stream
        assert (
            state["bookmarks"][stream]["replication_key_value"]
            == (whole.state["bookmarks"][stream]["replication_key_value"])
        )


@pytest.mark.slow
def test_a_spent_daily_budget_stops_cleanly(start_emulator, tap_config, run_tap, caplog):
    emu = start_emulator(
        seed=35, sizes={"Leads": 3000, "Contacts": 5, "Deals": 5}, daily_credits=24
    )
    config = tap_config(emu, read_method="coql", backfill_method="rest")
    with caplog.at_level(logging.WARNING):
        run = run_tap(config)
    messages = [r.getMessage() for r in caplog.records]
    assert any("X-API-CREDITS-REMAINING: 0" in m and "Stopped early" in m for m in messages)
    assert run.records("leads")  # what was read before the budget ran out is kept
    assert emu.stats()["status_counts"].get("429") == 1  # no retries against a spent budget


def test_auto_uses_rest_when_coql_answers_lack_the_dollar_keys(
    start_emulator, tap_config, run_tap, caplog
):
    emu = start_emulator(
        seed=36, sizes={"Leads": 300, "Contacts": 5, "Deals": 5}, coql_system_keys=False
    )
    config = tap_config(emu, read_method="auto")
    with caplog.at_level(logging.WARNING):
        run = run_tap(config)
    reference = run_tap(tap_config(emu, read_method="rest"))
    assert lines(run, "leads") == lines(reference, "leads")
    assert any(
        "instead of COQL" in r.getMessage() and "$state" in r.getMessage() for r in caplog.records
    )


def test_auto_uses_rest_without_the_coql_scope_and_coql_names_it(
    start_emulator, tap_config, run_tap
):
    scopes = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.READ")
    emu = start_emulator(seed=37, sizes={"Leads": 50, "Contacts": 5, "Deals": 5}, scopes=scopes)
    run_tap(tap_config(emu, read_method="auto"))
    assert not coql_calls(emu)
    assert rest_calls(emu)
    with pytest.raises(ZohoScopeError) as excinfo:
        run_tap(tap_config(emu, read_method="coql"))
    assert "ZohoCRM.coql.READ" in str(excinfo.value)


def test_activities_and_notes_stay_on_rest(start_emulator, tap_config, run_tap, caplog):
    emu = start_emulator(
        seed=38, sizes={"Leads": 20, "Contacts": 5, "Deals": 5, "Tasks": 20, "Notes": 10}
    )
    with caplog.at_level(logging.INFO):
        run_tap(tap_config(emu, read_method="auto", modules=["Tasks", "Notes"]))
    calls = emu.stats()["calls"]
    assert "coql:Leads" in calls
    assert "records:Tasks" in calls
    assert "records:Notes" in calls
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "What_Id (its name field depends on each record's module)" in text
    assert "Zoho's COQL does not serve Notes" in text


@pytest.mark.slow
def test_formula_refresh_reads_through_coql(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=39, sizes={"Leads": 4000, "Contacts": 5, "Deals": 5})
    config = tap_config(emu, read_method="coql", include_deleted=False, backfill_method="rest")
    first = run_tap(config)
    emu.reset_stats()
    again = run_tap({**config, "refresh_formula_fields": True}, state=first.state)
    assert len(live_records(again, "leads")) == 4000  # every lead, for its formula values
    # Two pages of LIMIT 2,000 (3 credits each, field batches included) instead of 20+ pages.
    assert coql_calls(emu)["coql:Leads"] <= 4
    assert not rest_calls(emu)


@pytest.mark.slow
def test_a_storm_of_faults_changes_no_record(start_emulator, tap_config, run_tap, fast_backoff):
    sizes = {"Leads": 2600, "Contacts": 300, "Deals": 250}
    emu = start_emulator(seed=40, sizes=sizes)
    config = tap_config(emu, read_method="coql", backfill_method="rest", coql_max_fields=20)
    clean = run_tap(config)
    emu.set_faults(fail_429=0.2, fail_500=0.1, token_lifetime_calls=7)
    stormy = run_tap(config)
    statuses = emu.stats()["status_counts"]
    assert statuses.get("429", 0) > 0
    assert statuses.get("500", 0) > 0
    assert statuses.get("401", 0) > 0
    for stream in ("leads", "contacts", "deals"):
        assert lines(stormy, stream) == lines(clean, stream), stream


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["html", "truncated", "more_without_data", "bad_time", "no_id"])
def test_a_garbage_coql_page_is_retried_and_loses_nothing(
    kind, start_emulator, tap_config, run_tap, fast_backoff, caplog
):
    emu = start_emulator(seed=41, sizes={"Leads": 900, "Contacts": 5, "Deals": 5})
    config = tap_config(emu, read_method="coql", backfill_method="rest", coql_max_fields=10)
    clean = run_tap(config)
    emu.set_faults(fail_garbage=0.4)
    emu.config.garbage_kind = kind
    with caplog.at_level(logging.WARNING):
        stormy = run_tap(config)
    retried = [r.getMessage() for r in caplog.records if "Retrying POST /coql" in r.getMessage()]
    assert any("HTTP 200 but" in message for message in retried)
    assert lines(stormy, "leads") == lines(clean, "leads")
