"""Field selection and singer-sdk stream maps, deletions and wide modules included."""

import hashlib

from tap_complete_kit import (
    RequestLog,
    deletion_records,
    deselect,
    live_records,
    only_streams,
)


def requested_fields(log, path):
    return [set(params["fields"].split(",")) for params, _ in log.to(path)]


def test_deselected_fields_are_neither_requested_nor_emitted(
    start_emulator, tap_config, run_tap, discover_catalog, monkeypatch
):
    emu = start_emulator(seed=111, sizes={"Leads": 120, "Projects": 230})
    config = tap_config(emu, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), "leads", "projects")
    catalog = deselect(catalog, "leads", "Email", "Phone", "Lead_Age_Days", "Owner.email")
    # Projects: one field of the first chunk and one of the second.
    catalog = deselect(catalog, "projects", "Secondary_Email", "Attribute_29")
    log = RequestLog().install(monkeypatch)
    first = run_tap(config, catalog=catalog)

    for fields in requested_fields(log, "/crm/v8/Leads"):
        assert not fields & {"Email", "Phone", "Lead_Age_Days"}
        assert {"id", "Modified_Time", "Last_Name", "Owner"} <= fields
    leads_schema = first.schema("leads")["properties"]
    assert not {"Email", "Phone", "Lead_Age_Days"} & set(leads_schema)
    for record in first.records("leads"):
        assert not {"Email", "Phone", "Lead_Age_Days"} & set(record)
        assert set(record["Owner"]) == {"name", "id"}

    project_requests = requested_fields(log, "/crm/v8/Projects")
    assert len(project_requests) == 2 * 2  # still two chunks per page (63 fields)
    for fields in project_requests:
        assert not fields & {"Secondary_Email", "Attribute_29"}
    truth = {r["id"]: r for r in emu.records("Projects")}
    for record in first.records("projects"):
        assert not {"Secondary_Email", "Attribute_29"} & set(record)
        assert record["Attribute_28"] == truth[record["id"]]["Attribute_28"]

    # Deletions carry the selected properties only, too.
    emu.mutate("delete", module="Leads", count=1)
    second = run_tap(config, catalog=catalog, state=first.state)
    [deletion] = deletion_records(second, "leads")
    assert set(deletion) == set(leads_schema)


def test_stream_maps_hash_and_drop_properties_of_records_and_deletions(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=112, sizes={"Leads": 150, "Contacts": 10, "Deals": 10})
    maps = {
        "leads": {"Email": "md5(Email) if Email else None", "Phone": None},
        "deals": None,  # a whole stream left out
    }
    config = tap_config(emu, stream_maps=maps)
    first = run_tap(config)
    assert "Phone" not in first.schema("leads")["properties"]
    assert first.records("deals") == []
    truth = {r["id"]: r for r in emu.records("Leads")}
    for record in first.records("leads"):
        assert "Phone" not in record
        email = truth[record["id"]]["Email"]
        expected = hashlib.md5(email.encode()).hexdigest() if email else None
        assert record["Email"] == expected

    [victim] = emu.mutate("delete", module="Leads", count=1)
    second = run_tap(config, state=first.state)
    [deletion] = deletion_records(second, "leads")
    assert deletion["id"] == victim
    assert "Phone" not in deletion
    assert deletion["Email"] is None
    assert live_records(second, "leads") == []
