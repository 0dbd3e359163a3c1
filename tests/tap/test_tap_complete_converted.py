"""Converted leads stay in `leads`: the conversion arrives as an update, never a disappearance."""

import json

from tap_complete_kit import (
    RequestLog,
    deletion_records,
    last_sync_history,
    live_records,
    load_into_audit,
    query,
)

SIZES = {"Leads": 300, "Contacts": 40, "Deals": 20}


def test_a_converted_lead_stays_with_its_conversion_recorded(
    start_emulator, tap_config, run_tap, tmp_path, monkeypatch
):
    emu = start_emulator(seed=101, sizes=SIZES, converted_fraction=0.1)
    config = tap_config(emu)
    database = tmp_path / "audit.sqlite"
    first = run_tap(config)
    # Leads converted before the first sync are there too (Zoho hides them by default).
    assert {r["id"] for r in first.records("leads")} == {r["id"] for r in emu.records("Leads")}
    assert any(r["Converted__s"] for r in first.records("leads"))
    load_into_audit(database, first)

    [lead_id] = emu.mutate("convert", count=1)
    truth = next(r for r in emu.records("Leads") if r["id"] == lead_id)
    log = RequestLog().install(monkeypatch)
    second = run_tap(config, state=first.state)
    assert all(params["converted"] == "both" for params, _ in log.to("/crm/v8/Leads"))
    [record] = live_records(second, "leads")
    assert record["id"] == lead_id
    assert record["Converted__s"] is True
    assert record["Converted_Date_Time"] == truth["Converted_Date_Time"] == truth["Modified_Time"]
    assert deletion_records(second, "leads") == []  # a conversion is no deletion
    [contact] = live_records(second, "contacts")  # the contact made from the lead

    load_into_audit(database, second)
    [update] = last_sync_history(database, "leads")
    assert (update["id"], update["change_type"]) == (lead_id, "update")
    assert {"converted__s", "converted_date_time", "converted_contact"} <= set(
        json.loads(update["changed_fields"])
    )  # modified_time is bookkeeping, left out
    [row] = query(database, "SELECT converted__s, _deleted_at FROM leads WHERE id = ?", (lead_id,))
    assert row == {"converted__s": 1, "_deleted_at": None}
    [insert] = last_sync_history(database, "contacts")
    assert (insert["id"], insert["change_type"]) == (contact["id"], "insert")


def test_include_converted_leads_false_leaves_them_out(
    start_emulator, tap_config, run_tap, monkeypatch
):
    emu = start_emulator(seed=102, sizes=SIZES, converted_fraction=0.1)
    log = RequestLog().install(monkeypatch)
    run = run_tap(tap_config(emu, include_converted_leads=False))
    assert all("converted" not in params for params, _ in log.to("/crm/v8/Leads"))
    expected = {r["id"] for r in emu.records("Leads") if not r["Converted__s"]}
    assert {r["id"] for r in run.records("leads")} == expected
