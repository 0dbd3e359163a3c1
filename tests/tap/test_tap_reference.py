"""The reference streams (users, org, roles, profiles, currencies, territories), tap | target."""

from __future__ import annotations

import logging

from tap_complete_kit import entry, load_into_audit, only_streams, query

REFERENCE = ("users", "org", "roles", "profiles", "currencies", "territories")


def _selected(catalog, stream):
    meta = next(m for m in entry(catalog, stream)["metadata"] if m["breadcrumb"] == [])
    return meta["metadata"].get("selected", meta["metadata"].get("selected-by-default"))


def test_users_is_selected_by_default_and_the_rest_are_selectable(
    start_emulator, tap_config, discover_catalog
):
    emu = start_emulator(sizes={"Leads": 3, "Contacts": 1, "Deals": 1})
    catalog = discover_catalog(tap_config(emu))
    assert {s: _selected(catalog, s) for s in REFERENCE} == {
        "users": True, "org": False, "roles": False, "profiles": False,
        "currencies": False, "territories": False,
    }  # fmt: skip
    assert emu.stats()["calls"].keys() == {
        "oauth_token",
        "settings_fields:Leads",
        "settings_fields:Contacts",
        "settings_fields:Deals",
    }  # discovery of the reference streams costs nothing


def test_every_reference_stream_loads_into_the_audit_database(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path
):
    emu = start_emulator(sizes={"Leads": 3, "Contacts": 1, "Deals": 1})
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "leads", *REFERENCE)
    run = run_tap(config, catalog=catalog)
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, run)
    counts = {s: query(database, f"SELECT count(*) AS n FROM {s}")[0]["n"] for s in REFERENCE}
    assert counts == {
        "users": 5, "org": 1, "roles": 2, "profiles": 2, "currencies": 2, "territories": 2
    }  # fmt: skip
    [org] = query(database, "SELECT * FROM org")
    assert org["time_zone"] == "America/Los_Angeles"
    assert org["iso_code"] == "USD"
    euro = query(database, "SELECT exchange_rate FROM currencies WHERE iso_code = 'EUR'")
    assert euro == [{"exchange_rate": "0.920000000"}]
    roles = {r["name"]: r["reporting_to"] for r in query(database, "SELECT * FROM roles")}
    assert roles["CEO"] is None
    assert '"CEO"' in roles["Manager"]
    # an owner's name comes from users
    names = query(
        database,
        "SELECT l.id, u.full_name FROM leads AS l "
        "JOIN users AS u ON u.id = json_extract(l.owner, '$.id')",
    )
    assert len(names) == 3  # every lead's owner is a user
    assert all(n["full_name"] for n in names)


def test_users_are_incremental_by_if_modified_since(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(sizes={"Leads": 3, "Contacts": 1, "Deals": 1})
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "users")
    first = run_tap(config, catalog=catalog)
    assert len(first.records("users")) == 5
    assert first.state["bookmarks"]["users"]["replication_key_value"]
    second = run_tap(config, catalog=catalog, state=first.state)
    assert second.records("users") == []  # Zoho answered 304 Not Modified
    assert emu.stats()["calls"]["users"] == 2


def test_an_edition_without_territories_gets_one_warning_and_an_empty_stream(
    start_emulator, tap_config, run_tap, discover_catalog, caplog
):
    emu = start_emulator(sizes={"Leads": 3, "Contacts": 1, "Deals": 1}, edition="professional")
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "leads", "users", "territories")
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, catalog=catalog)
    assert run.records("territories") == []
    assert len(run.records("leads")) == 3
    assert len(run.records("users")) == 5
    warnings = [r.getMessage() for r in caplog.records if "territories" in r.getMessage()]
    assert len(warnings) == 1
    assert "FEATURE_NOT_SUPPORTED" in warnings[0]
    assert "Territory Management" in warnings[0]


def test_a_token_without_the_users_scope_leaves_users_empty_and_syncs_the_rest(
    start_emulator, tap_config, run_tap, caplog
):
    scopes = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL")
    emu = start_emulator(sizes={"Leads": 3, "Contacts": 1, "Deals": 1}, scopes=scopes)
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emu))
    assert run.records("users") == []
    assert len(run.records("leads")) == 3
    [warning] = [
        r.getMessage() for r in caplog.records if "Stream users is empty" in r.getMessage()
    ]
    assert "ZohoCRM.users.READ" in warning
