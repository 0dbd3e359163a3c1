"""The modules setting: any supported module (custom ones included) as a snake-case stream."""

import copy
import json

import pytest
from tap_cli_kit import assert_one_sentence_error, run_cli
from tap_complete_kit import (
    RequestLog,
    entry,
    live_records,
    module_streams,
    only_streams,
    stream_state,
)

from tap_zohocrm.errors import ZohoConfigError
from tap_zohocrm.schema import SYSTEM_KEYS
from tap_zohocrm.tap import TapZohoCRM

EXTRA = {
    "Accounts": "accounts",
    "Tasks": "tasks",
    "Calls": "calls",
    "Events": "events",
    "Campaigns": "campaigns",
    "Products": "products",
    "Quotes": "quotes",
    "Vendors": "vendors",
    "Projects": "projects",
}
SIZES = {"Leads": 30, "Contacts": 30, "Deals": 30, "Accounts": 230, "Projects": 40}


def test_extra_modules_sync_as_snake_case_streams(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(seed=81, sizes=SIZES)
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
    assert module_streams(streams) == {"leads", "contacts", "deals", *EXTRA.values()}
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
                source = SYSTEM_KEYS.get(name, name)  # zoho_se_module is Zoho's $se_module
                assert record[name] == truth[record["id"]].get(source), (stream, name)
        assert stream_state(run, stream)["replication_key_value"]
    assert len(live_records(run, "accounts")) == 230  # paged past one page


def test_a_custom_module_syncs_incrementally(start_emulator, tap_config, run_tap, discover_catalog):
    emu = start_emulator(seed=82, sizes=SIZES)
    config = tap_config(emu, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), "projects")
    first = run_tap(config, catalog=catalog)
    assert len(live_records(first, "projects")) == 40
    created = emu.mutate("create", module="Projects", count=2)
    edited = emu.mutate("edit", module="Projects", count=1)
    second = run_tap(config, catalog=catalog, state=first.state)
    assert sorted(r["id"] for r in live_records(second, "projects")) == sorted(created + edited)


@pytest.mark.slow
def test_unknown_and_unsupported_modules_are_one_sentence_errors(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=83)
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
    start_emulator, tap_config, discover_catalog
):
    emu = start_emulator(seed=84)
    catalog = discover_catalog(tap_config(emu))  # without the modules setting
    emu.reset_stats()
    tap = TapZohoCRM(config=tap_config(emu, modules=["Bogus"]), catalog=catalog)
    with pytest.raises(ZohoConfigError, match="'Bogus' \\(unknown\\)"):
        tap.sync_all()
    assert emu.stats()["calls"]["settings_modules"] == 1


def test_a_module_without_modified_time_syncs_full_table(
    start_emulator, tap_config, run_tap, discover_catalog, monkeypatch
):
    emu = start_emulator(seed=85, sizes=SIZES)
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


@pytest.mark.slow
@pytest.mark.parametrize("refusing", ["Functions__s", "Locking_Information__s"])
def test_a_listed_module_that_zoho_refuses_is_one_warning_and_the_rest_syncs(
    refusing, start_emulator, tap_config, tmp_path
):
    """Zoho lists it as api_supported, then refuses it (INVALID_MODULE or NO_PERMISSION)."""
    emu = start_emulator(seed=84, sizes=SIZES)
    config = tap_config(emu, modules=["Accounts", refusing])
    result = run_cli(tmp_path, config)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if f"refuses the {refusing}" in line]
    assert len(warnings) == 1, result.stderr
    assert "skipped and the other streams sync" in warnings[0]
    assert "Traceback" not in result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    ids = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    for module in ("Leads", "Contacts", "Deals", "Accounts"):
        assert {r["id"] for r in emu.records(module)} <= ids, module
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert set(states[-1]["bookmarks"]) >= {"leads", "contacts", "deals", "accounts"}


def test_a_refused_module_in_the_catalog_is_skipped_at_sync_time(
    start_emulator, tap_config, run_tap, caplog
):
    """With a catalog (Meltano's way) no metadata call happens: the records call is refused."""
    emu = start_emulator(seed=85, sizes=SIZES)
    config = tap_config(emu, modules=["Functions__s"])
    catalog = TapZohoCRM(config=config, setup_mapper=False).catalog_dict
    emu.reset_stats()
    with caplog.at_level("WARNING"):
        run = run_tap(config, catalog=catalog)
    calls = emu.stats()["calls"]
    # The first call of its stream (the record count of backfill_method auto) was refused.
    assert calls.get("count:Functions__s", 0) + calls.get("records:Functions__s", 0) == 1
    assert run.records("functions_s") == []
    assert len(run.ids("leads")) == 30
    assert len([r for r in caplog.records if "refuses the Functions__s" in r.getMessage()]) == 1


@pytest.mark.slow
def test_leads_refused_still_fails_the_run(start_emulator, tap_config, tmp_path):
    """The refusal of a default module is not skipped: the tap exists to read it."""
    emu = start_emulator(seed=86, sizes=SIZES, scopes=("ZohoCRM.settings.ALL",))
    result = run_cli(tmp_path, tap_config(emu))
    assert result.returncode == 1
