"""The modules setting: any supported module (custom ones included) as a snake-case stream."""

import copy

import pytest
from tap_complete_kit import RequestLog, entry, live_records, only_streams, stream_state
from test_tap_cli import assert_one_sentence_error, run_cli

from tap_zohocrm.errors import ZohoConfigError
from tap_zohocrm.tap import TapZohoCRM

EXTRA = {
    "Accounts": "accounts",
    "Tasks": "tasks",
    "Calls": "calls",
    "Meetings": "meetings",
    "Campaigns": "campaigns",
    "Products": "products",
    "Quotes": "quotes",
    "Vendors": "vendors",
    "Projects": "projects",
}
SIZES = {"Leads": 30, "Contacts": 30, "Deals": 30, "Accounts": 230, "Projects": 40}


def test_extra_modules_sync_as_snake_case_streams(
    tap_emulator, tap_config, run_tap, discover_catalog
):
    emu = tap_emulator(seed=81, sizes=SIZES)
    config = tap_config(emu, modules=list(EXTRA))
    catalog = discover_catalog(config)

    # Discovery: one module list call, one field metadata call per module, no records.
    calls = emu.stats()["calls"]
    assert calls["settings_modules"] == 1
    fields_calls = {k: v for k, v in calls.items() if k.startswith("settings_fields:")}
    modules = ["Leads", "Contacts", "Deals", *EXTRA]
    assert fields_calls == {f"settings_fields:{m}": 1 for m in modules}
    assert not any(k.startswith("records:") for k in calls)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {"leads", "contacts", "deals", *EXTRA.values()}
    for stream in EXTRA.values():
        assert streams[stream]["replication_key"] == "Modified_Time"
        assert streams[stream]["key_properties"] == ["id"]
    # The custom module's fields, typed from its metadata.
    projects = streams["projects"]["schema"]["properties"]
    assert projects["Budget_Remaining"]["type"] == ["number", "null"]
    assert projects["Account"]["properties"]["id"]["type"] == ["string", "null"]

    emu.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert "settings_modules" not in emu.stats()["calls"]  # the catalog names them all
    for module, stream in EXTRA.items():
        truth = {r["id"]: r for r in emu.records(module)}
        records = live_records(run, stream)
        assert {r["id"] for r in records} == set(truth), stream
        properties = set(run.schema(stream)["properties"]) - {"_sdc_deleted_at"}
        for record in records:
            for name in properties:
                assert record[name] == truth[record["id"]].get(name), (stream, name)
        assert stream_state(run, stream)["replication_key_value"]
    assert len(live_records(run, "accounts")) == 230  # paged past one page


def test_a_custom_module_syncs_incrementally(tap_emulator, tap_config, run_tap, discover_catalog):
    emu = tap_emulator(seed=82, sizes=SIZES)
    config = tap_config(emu, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), "projects")
    first = run_tap(config, catalog=catalog)
    assert len(live_records(first, "projects")) == 40
    created = emu.mutate("create", module="Projects", count=2)
    edited = emu.mutate("edit", module="Projects", count=1)
    second = run_tap(config, catalog=catalog, state=first.state)
    assert sorted(r["id"] for r in live_records(second, "projects")) == sorted(created + edited)


def test_unknown_and_unsupported_modules_are_one_sentence_errors(
    tap_emulator, tap_config, tmp_path
):
    emu = tap_emulator(seed=83)
    result = run_cli(tmp_path, tap_config(emu, modules=["Projects", "Nope", "Home"]), "--discover")
    line = assert_one_sentence_error(
        result,
        "The modules setting names 'Nope' (unknown), 'Home' (not served by the API)",
        "valid module API names in this org (case-sensitive) are: Accounts, CTI_Entry, Calls, "
        "Campaigns, Contacts, Deals, Email_Analytics,",
    )
    assert line.count(".") == line.rstrip(".").count(".") + 1  # one sentence, one full stop
    assert "records:" not in str(emu.stats()["calls"])

    with pytest.raises(ZohoConfigError, match="'projects' \\(unknown\\)"):
        TapZohoCRM(config=tap_config(emu, modules=["projects"]))


def test_a_sync_with_a_catalog_lacking_a_module_checks_the_setting(
    tap_emulator, tap_config, discover_catalog
):
    emu = tap_emulator(seed=84)
    catalog = discover_catalog(tap_config(emu))  # without the modules setting
    emu.reset_stats()
    tap = TapZohoCRM(config=tap_config(emu, modules=["Bogus"]), catalog=catalog)
    with pytest.raises(ZohoConfigError, match="'Bogus' \\(unknown\\)"):
        tap.sync_all()
    assert emu.stats()["calls"]["settings_modules"] == 1


def test_a_module_without_modified_time_syncs_full_table(
    tap_emulator, tap_config, run_tap, discover_catalog, monkeypatch
):
    emu = tap_emulator(seed=85, sizes=SIZES)
    config = tap_config(emu, modules=["Projects"])
    catalog = copy.deepcopy(only_streams(discover_catalog(config), "projects"))
    projects = entry(catalog, "projects")
    # A module whose metadata has no Modified_Time: no replication key in its catalog entry.
    del projects["schema"]["properties"]["Modified_Time"]
    projects["replication_key"] = None
    projects["replication_method"] = "FULL_TABLE"
    projects["metadata"] = [
        m for m in projects["metadata"] if m["breadcrumb"] != ["properties", "Modified_Time"]
    ]
    for m in projects["metadata"]:
        if m["breadcrumb"] == []:
            m["metadata"].pop("replication-key", None)
            m["metadata"].pop("valid-replication-keys", None)
            m["metadata"]["forced-replication-method"] = "FULL_TABLE"
    log = RequestLog().install(monkeypatch)
    first = run_tap(config, catalog=catalog)
    assert {r["id"] for r in live_records(first, "projects")} == {
        r["id"] for r in emu.records("Projects")
    }
    assert "Modified_Time" not in first.records("projects")[0]
    params, headers = log.to("/crm/v8/Projects")[0]
    assert params["sort_by"] == "id"
    assert "Modified_Time" not in params["fields"].split(",")
    assert "If-Modified-Since" not in headers
    state = stream_state(first, "projects")
    assert "replication_key_value" not in state
    assert "deleted_time" in state  # deletions are still incremental

    log.clear()
    second = run_tap(config, catalog=catalog, state=first.state)
    assert len(live_records(second, "projects")) == 40  # full table: everything again
    assert all("If-Modified-Since" not in h for _, h in log.to("/crm/v8/Projects"))
