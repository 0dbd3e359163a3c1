"""No record lost while the org is busy: records edited while the tap pages (churn mode).

The emulator's ``page_token`` is a position in the current sorted result, so an edit of a record
already read moves every later record up one place, and token paging skips the record that
slides across the page boundary for good (its ``Modified_Time`` stays below the bookmark).
Keyset paging starts every page as a new query and must lose nothing, narrow or wide.
"""

from __future__ import annotations

import pytest
from tap_complete_kit import live_records, only_streams, zoho_value

from tap_zohocrm.bookmarks import parse_instant

SIZES = {"Leads": 10_000, "Projects": 3_000, "Contacts": 5, "Deals": 5}


def newest_versions(*runs, stream):
    """Per id, the newest version emitted by any of the runs."""
    newest: dict[str, dict] = {}
    for run in runs:
        for record in live_records(run, stream):
            known = newest.get(record["id"])
            if known is None or parse_instant(record["Modified_Time"]) >= parse_instant(
                known["Modified_Time"]
            ):
                newest[record["id"]] = record
    return newest


def ties_at_page_boundaries(emu, module, page=200):
    """Page boundaries (every ``page`` records in Modified_Time order) inside one second."""
    times = sorted(parse_instant(r["Modified_Time"]) for r in emu.records(module))
    return sum(1 for i in range(page, len(times), page) if times[i - 1] == times[i])


def churned_org(start_emulator, seed):
    emu = start_emulator(
        seed=seed,
        sizes=SIZES,
        shared_second_fraction=0.5,
        churn_modules=("Leads", "Projects"),
    )
    assert ties_at_page_boundaries(emu, "Leads") >= 5
    assert ties_at_page_boundaries(emu, "Projects") >= 1
    return emu


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 23])
def test_records_edited_mid_sync_lose_nothing_narrow_or_wide(
    seed, start_emulator, tap_config, run_tap, discover_catalog
):
    emu = churned_org(start_emulator, seed)
    config = tap_config(emu, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), "leads", "projects")
    emu.set_faults(churn_every_calls=3)
    first = run_tap(config, catalog=catalog)
    assert emu.churn.edits >= 40  # the org really was busy
    emu.set_faults(churn_every_calls=None)
    second = run_tap(config, catalog=catalog, state=first.state)

    for module, stream in (("Leads", "leads"), ("Projects", "projects")):
        truth = {r["id"]: r for r in emu.records(module)}
        got = newest_versions(first, second, stream=stream)
        assert set(got) == set(truth), (stream, len(set(truth) - set(got)))
        properties = set(first.schema(stream)["properties"]) - {"_sdc_deleted_at"}
        for record_id, expected in truth.items():
            for name in properties:
                assert got[record_id][name] == zoho_value(expected, name), (stream, record_id, name)
    # Each version comes once per run although every page re-reads the boundary second (a
    # record edited after it was read comes again, with its new Modified_Time).
    versions = [(r["id"], r["Modified_Time"]) for r in live_records(first, "leads")]
    assert len(versions) == len(set(versions))


@pytest.mark.slow
def test_token_paging_loses_records_under_the_same_churn(
    start_emulator, tap_config, run_tap, discover_catalog
):
    """The failure keyset paging fixes, reproduced: the emulator's churn is a real threat."""
    emu = churned_org(start_emulator, 5)
    config = tap_config(emu, pagination="page_token")
    catalog = only_streams(discover_catalog(config), "leads")
    emu.set_faults(churn_every_calls=3)
    first = run_tap(config, catalog=catalog)
    emu.set_faults(churn_every_calls=None)
    second = run_tap(config, catalog=catalog, state=first.state)
    truth = {r["id"] for r in emu.records("Leads")}
    lost = truth - set(newest_versions(first, second, stream="leads"))
    assert len(lost) > 0
