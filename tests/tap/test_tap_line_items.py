"""Line items (subform rows) as child streams, tap | target: initial, changes, removed rows."""

from __future__ import annotations

import json

from tap_complete_kit import load_into_audit, only_streams, query

SIZES = {"Leads": 5, "Contacts": 5, "Deals": 5, "Quotes": 150, "Products": 40}
FIELDS = ("Quantity", "List_Price", "Discount", "Total", "Description", "Sequence_Number")


def truth(emu):
    """The emulator's rows in the stream's shape (without the bookmark columns)."""
    return {
        row["id"]: {
            "parent_id": row["Parent_Id"]["id"],
            "Product_Name": row["Product_Name"],
            **{name: row[name] for name in FIELDS},
        }
        for row in emu.subform_rows("Quoted_Items")
    }


def current(database):
    rows = query(
        database,
        "SELECT id, parent_id, parent_module, product_name, quantity, list_price, discount, "
        "total, description, sequence_number FROM quoted_items WHERE _deleted_at IS NULL",
    )
    return {
        row["id"]: {
            "parent_id": row["parent_id"],
            "Product_Name": json.loads(row["product_name"]) if row["product_name"] else None,
            "Quantity": row["quantity"],
            "List_Price": row["list_price"],
            "Discount": row["discount"],
            "Total": row["total"],
            "Description": row["description"],
            "Sequence_Number": row["sequence_number"],
        }
        for row in rows
        if row["parent_module"] == "Quotes"
    }


def test_line_items_initial_changed_and_removed_rows_through_the_target(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "quoted_items")
    emu.reset_stats()
    first = run_tap(config, catalog=catalog)
    # 150 quotes listed in one Get Records page, their rows in 3 COQL queries of 50 parents.
    assert emu.stats()["calls"] == {"oauth_token": 1, "records:Quotes": 1, "coql:Quoted_Items": 3}
    assert emu.stats()["credits"] == 1 + 3
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, first)
    assert current(database) == truth(emu)

    quotes = [r["id"] for r in emu.records("Quotes")]
    before = {row["id"] for row in emu.subform_rows("Quoted_Items")}
    emu.mutate("line_items", module="Quotes", ids=quotes[:3])  # a row removed, one added
    emu.mutate("delete", module="Quotes", ids=quotes[10:11])  # every row of it goes
    removed = before - {row["id"] for row in emu.subform_rows("Quoted_Items")}
    assert len(removed) >= 3
    emu.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.state)
    # Incremental: the changed quotes (1 call), their rows (1), the deleted quotes (2 credits).
    assert emu.stats()["calls"] == {
        "oauth_token": 1,
        "records:Quotes": 1,
        "coql:Quoted_Items": 1,
        "deleted:Quotes": 1,
    }
    deletions = {r["id"] for r in second.records("quoted_items") if r["_sdc_deleted_at"]}
    assert deletions == removed
    load_into_audit(database, second)
    assert current(database) == truth(emu)
    gone = query(database, "SELECT id FROM quoted_items WHERE _deleted_at IS NOT NULL")
    assert {row["id"] for row in gone} == removed
    history = query(
        database, "SELECT change_type FROM quoted_items_history WHERE id = ?", (sorted(removed)[0],)
    )
    assert [row["change_type"] for row in history][-1] == "delete"

    # Nothing changed: no row read, the Quotes listing and the recycle bin only.
    third = run_tap(config, catalog=catalog, state=second.state)
    assert all(r["parent_id"] in quotes[:3] for r in third.records("quoted_items"))


def test_a_stop_mid_run_then_resume_emits_every_removal(
    start_emulator, tap_config, run_tap, discover_catalog, tmp_path
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "quoted_items")
    first = run_tap(config, catalog=catalog)
    quotes = [r["id"] for r in emu.records("Quotes")]
    before = {row["id"] for row in emu.subform_rows("Quoted_Items")}
    emu.mutate("line_items", module="Quotes", ids=quotes[:120])
    removed = before - {row["id"] for row in emu.subform_rows("Quoted_Items")}
    # 2 credits: the listing and one query of 50 parents, then the budget stops the run.
    stopped = run_tap({**config, "max_credits_per_run": 2}, catalog=catalog, state=first.state)
    resumed = run_tap(config, catalog=catalog, state=stopped.state)
    database = tmp_path / "audit.sqlite"
    for run in (first, stopped, resumed):
        load_into_audit(database, run)
    assert current(database) == truth(emu)
    gone = query(database, "SELECT id FROM quoted_items WHERE _deleted_at IS NOT NULL")
    assert {row["id"] for row in gone} == removed


def test_an_org_without_the_parent_module_gets_one_warning(
    start_emulator, tap_config, run_tap, discover_catalog, caplog
):
    emu = start_emulator(sizes=SIZES)
    config = tap_config(emu)
    catalog = only_streams(discover_catalog(config), "ordered_items")
    run = run_tap(config, catalog=catalog)
    assert run.records("ordered_items") == []
    warnings = [
        r.getMessage() for r in caplog.records if "ordered_items is empty" in r.getMessage()
    ]
    assert len(warnings) == 1


def test_a_custom_subform_from_the_subforms_setting(start_emulator, tap_config, run_tap, tmp_path):
    emu = start_emulator(sizes={**SIZES, "Accounts": 30})
    config = tap_config(emu, subforms=["Accounts.Renewals"])
    first = run_tap(config)  # discovery reads the subform's fields; the stream is selected
    rows = {r["id"]: r for r in first.records("renewals")}
    truth_rows = {row["id"]: row for row in emu.subform_rows("Renewals")}
    assert set(rows) == set(truth_rows)
    for row_id, row in rows.items():
        expected = truth_rows[row_id]
        assert row["parent_id"] == expected["Parent_Id"]["id"]
        assert row["parent_module"] == "Accounts"
        for name in ("Plan", "Renewal_Date", "Amount", "Signed"):
            assert row[name] == expected[name], name
    schema = first.schema("renewals")["properties"]
    assert schema["Amount"]["type"] == ["number", "null"]
    assert schema["Signed"]["type"] == ["boolean", "null"]

    accounts = [r["id"] for r in emu.records("Accounts")]
    before = set(truth_rows)
    emu.mutate("line_items", module="Accounts", ids=accounts[:4])
    removed = before - {row["id"] for row in emu.subform_rows("Renewals")}
    second = run_tap(config, state=first.state)
    assert {r["id"] for r in second.records("renewals") if r["_sdc_deleted_at"]} == removed
    database = tmp_path / "audit.sqlite"
    load_into_audit(database, first)
    load_into_audit(database, second)
    live = query(database, "SELECT id FROM renewals WHERE _deleted_at IS NULL")
    assert {row["id"] for row in live} == {row["id"] for row in emu.subform_rows("Renewals")}
