"""refresh_formula_fields: a formula change Zoho does not date reaches the audit trail once."""

import json
import math

from tap_complete_kit import (
    RequestLog,
    entry,
    last_sync_history,
    live_records,
    load_into_audit,
    only_streams,
    query,
    stream_state,
)

SIZES = {"Leads": 450, "Contacts": 30, "Deals": 20, "Projects": 260}


def test_discovery_marks_formula_fields(start_emulator, tap_config, discover_catalog):
    emu = start_emulator(seed=90, sizes=SIZES)
    catalog = discover_catalog(tap_config(emu, modules=["Projects"]))
    leads = entry(catalog, "leads")["schema"]["properties"]
    assert leads["Lead_Age_Days"]["description"].startswith("Zoho computed field (formula)")
    projects = entry(catalog, "projects")["schema"]["properties"]
    assert projects["Budget_Remaining"]["description"].startswith("Zoho computed field")
    marked = [
        n
        for n, p in leads.items()
        if str(p.get("description", "")).startswith("Zoho computed field")
    ]
    assert marked == ["Lead_Age_Days"]
    # Lookups name the module they point at (the COQL reader asks for its name field).
    assert leads["Converted_Deal"]["description"] == "Zoho lookup to Deals."


def test_a_formula_change_becomes_exactly_one_update_history_row(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path, monkeypatch
):
    emu = start_emulator(seed=91, sizes=SIZES)
    config = tap_config(emu, refresh_formula_fields=True)
    catalog = discover_catalog(config)
    database = tmp_path / "audit.sqlite"
    first = run_tap(config, catalog=catalog)
    load_into_audit(database, first)

    [changed] = emu.mutate("formula", module="Leads", count=1)
    truth = next(r for r in emu.records("Leads") if r["id"] == changed)
    before = next(r for r in first.records("leads") if r["id"] == changed)
    assert before["Modified_Time"] == truth["Modified_Time"]  # Zoho did not date the change
    assert before["Lead_Age_Days"] != truth["Lead_Age_Days"]

    log = RequestLog().install(monkeypatch)
    emu.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.state)
    # Leads has a formula field: read whole (the first query has no If-Modified-Since; keyset
    # pages continue from the newest complete second), complete records.
    leads = live_records(second, "leads")
    assert len(leads) == 450
    assert set(leads[0]) == set(second.schema("leads")["properties"])
    assert "If-Modified-Since" not in log.to("/crm/v8/Leads")[0][1]
    calls = emu.stats()["calls"]
    assert math.ceil(450 / 200) <= calls["records:Leads"] <= math.ceil(450 / 200) + 1
    # Contacts and Deals have none: they stay incremental (one 304 each).
    assert calls["records:Contacts"] == calls["records:Deals"] == 1
    assert live_records(second, "contacts") == []
    # The bookmark still follows Modified_Time.
    assert (
        stream_state(second, "leads")["replication_key_value"]
        == (stream_state(first, "leads")["replication_key_value"])
    )

    load_into_audit(database, second)
    history = last_sync_history(database, "leads")
    assert [(row["id"], row["change_type"]) for row in history] == [(changed, "update")]
    assert json.loads(history[0]["changed_fields"]) == ["lead_age_days"]
    [row] = query(database, "SELECT lead_age_days FROM leads WHERE id = ?", (changed,))
    assert row["lead_age_days"] == truth["Lead_Age_Days"]


def test_without_the_setting_a_formula_change_goes_unseen(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(seed=92, sizes=SIZES)
    config = tap_config(emu)
    catalog = discover_catalog(config)
    first = run_tap(config, catalog=catalog)
    emu.mutate("formula", module="Leads", count=1)
    second = run_tap(config, catalog=catalog, state=first.state)
    assert live_records(second, "leads") == []  # why refresh_formula_fields exists


def test_a_wide_module_formula_refresh_is_one_update(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path
):
    emu = start_emulator(seed=93, sizes=SIZES)
    config = tap_config(emu, modules=["Projects"], refresh_formula_fields=True)
    catalog = only_streams(discover_catalog(config), "projects")
    database = tmp_path / "audit.sqlite"
    first = run_tap(config, catalog=catalog)
    load_into_audit(database, first)
    [changed] = emu.mutate("formula", module="Projects", count=1)
    emu.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.state)
    assert len(live_records(second, "projects")) == 260
    # Every page in two chunks (65 fields), the whole module each run.
    assert emu.stats()["calls"]["records:Projects"] == 2 * math.ceil(260 / 200)
    load_into_audit(database, second)
    history = last_sync_history(database, "projects")
    assert [(row["id"], row["change_type"]) for row in history] == [(changed, "update")]
    assert json.loads(history[0]["changed_fields"]) == ["budget_remaining"]
