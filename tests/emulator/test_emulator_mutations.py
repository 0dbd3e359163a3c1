"""Mutations between syncs (Python API, control endpoint), determinism and generation speed."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
import requests

from zoho_crm_emulator import Emulator, EmulatorConfig, MutationError
from zoho_crm_emulator.data import API_USER


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _newest(emu: Emulator, module: str = "Leads") -> datetime:
    return max(_instant(r["Modified_Time"]) for r in emu.records(module))


def _by_id(emu: Emulator, module: str = "Leads") -> dict[str, dict]:
    return {r["id"]: r for r in emu.records(module)}


def _get(emu, base_url, module="Leads", headers=None, **params):
    params.setdefault("fields", "Last_Name,Modified_Time")
    return requests.get(
        f"{base_url}/crm/v8/{module}",
        params=params,
        headers={"Authorization": f"Zoho-oauthtoken {emu.access_token()}", **(headers or {})},
        timeout=10,
    )


def test_edit_changes_fields_and_bumps_modified_time(emulator):
    emu, base_url = emulator, emulator.base_url
    before = _by_id(emu)
    newest = _newest(emu)
    ids = emu.mutate("edit", module="Leads", count=3)
    assert len(ids) == 3
    after = _by_id(emu)
    for record_id in ids:
        old, new = before[record_id], after[record_id]
        assert _instant(new["Modified_Time"]) > newest
        assert new["Modified_By"] == API_USER
        changed = {k for k in new if new[k] != old[k]} - {"Modified_Time", "Modified_By"}
        assert changed
    untouched = set(before) - set(ids)
    assert all(before[i] == after[i] for i in untouched)
    response = _get(
        emu, base_url, converted="both", headers={"If-Modified-Since": newest.isoformat()}
    )
    assert {r["id"] for r in response.json()["data"]} == set(ids)


def test_edit_with_explicit_values(emulator):
    emu, _ = emulator, emulator.base_url
    [record_id] = emu.mutate("edit", module="Contacts", count=1, values={"Department": "Legal"})
    assert _by_id(emu, "Contacts")[record_id]["Department"] == "Legal"
    with pytest.raises(MutationError):
        emu.mutate("edit", module="Contacts", values={"No_Such_Field": 1})


def test_mutation_timestamps_are_strictly_increasing(emulator):
    emu, _ = emulator, emulator.base_url
    ids = emu.mutate("edit", count=5) + emu.mutate("create", count=2)
    records = _by_id(emu)
    times = [_instant(records[i]["Modified_Time"]) for i in ids]
    assert times == sorted(times)
    assert len(set(times)) == len(times)


def test_create_adds_new_records(emulator):
    emu, base_url = emulator, emulator.base_url
    before = _by_id(emu, "Deals")
    newest = _newest(emu, "Deals")
    ids = emu.mutate("create", module="Deals", count=2)
    after = _by_id(emu, "Deals")
    assert set(after) == set(before) | set(ids)
    for record_id in ids:
        assert len(record_id) == 19
        assert int(record_id) > max(int(i) for i in before)
        record = after[record_id]
        assert record["Created_Time"] == record["Modified_Time"]
        assert _instant(record["Modified_Time"]) > newest
        assert record["Deal_Name"]
    response = _get(
        emu,
        base_url,
        "Deals",
        fields="Deal_Name",
        headers={"If-Modified-Since": newest.isoformat()},
    )
    assert {r["id"] for r in response.json()["data"]} == set(ids)


@pytest.mark.parametrize("kind", ["recycle", "permanent"])
def test_delete_moves_records_to_deleted(emulator, kind):
    emu, base_url = emulator, emulator.base_url
    target = emu.records("Leads")[5]
    assert emu.mutate("delete", module="Leads", ids=[target["id"]], type=kind) == [target["id"]]
    assert target["id"] not in _by_id(emu)
    response = requests.get(
        f"{base_url}/crm/v8/Leads/deleted",
        params={"type": kind},
        headers={"Authorization": f"Zoho-oauthtoken {emu.access_token()}"},
        timeout=10,
    )
    entry = response.json()["data"][0]
    assert entry["id"] == target["id"]
    assert entry["type"] == kind
    assert entry["display_name"] == target["Full_Name"]
    assert entry["deleted_by"] == {"name": API_USER["name"], "id": API_USER["id"]}
    assert _instant(entry["deleted_time"]) > _instant(target["Modified_Time"])


def test_convert_marks_the_lead_and_creates_a_contact(emulator):
    emu, base_url = emulator, emulator.base_url
    contacts_before = set(_by_id(emu, "Contacts"))
    [lead_id] = emu.mutate("convert", module="Leads", count=1)
    lead = _by_id(emu)[lead_id]
    assert lead["Converted__s"] is True
    assert lead["Converted_Date_Time"] == lead["Modified_Time"]
    new_contacts = [c for i, c in _by_id(emu, "Contacts").items() if i not in contacts_before]
    assert len(new_contacts) == 1
    assert new_contacts[0]["Full_Name"] == lead["Full_Name"]
    assert new_contacts[0]["Email"] == lead["Email"]
    default = {r["id"] for r in _get(emu, base_url).json()["data"]}
    both_ids = set()
    for page in (1, 2):
        response = _get(emu, base_url, converted="both", page=page)
        if response.status_code == 200:
            both_ids |= {r["id"] for r in response.json()["data"]}
    assert lead_id not in default
    assert lead_id in both_ids
    with pytest.raises(MutationError):
        emu.mutate("convert", module="Contacts")


def test_formula_change_keeps_modified_time(emulator):
    emu, base_url = emulator, emulator.base_url
    before = _by_id(emu)
    newest = _newest(emu)
    ids = emu.mutate("formula", module="Leads", count=4)
    after = _by_id(emu)
    for record_id in ids:
        assert after[record_id]["Lead_Age_Days"] == round(before[record_id]["Lead_Age_Days"] + 1, 2)
        assert after[record_id]["Modified_Time"] == before[record_id]["Modified_Time"]
    response = _get(emu, base_url, headers={"If-Modified-Since": newest.isoformat()})
    assert response.status_code == 304
    [project] = emu.mutate(
        "formula", module="Projects", count=1, field="Budget_Remaining", delta=-5
    )
    assert project
    with pytest.raises(MutationError):
        emu.mutate("formula", module="Deals")


def test_unknown_action_or_module_is_rejected(emulator):
    emu, _ = emulator, emulator.base_url
    with pytest.raises(MutationError):
        emu.mutate("explode", module="Leads")
    with pytest.raises(MutationError):
        emu.mutate("edit", module="Nope")
    with pytest.raises(MutationError):
        emu.mutate("delete", ids=["1"])


def test_mutate_control_endpoint(emulator):
    emu, base_url = emulator, emulator.base_url
    response = requests.post(
        f"{base_url}/_emulator/mutate",
        json={"action": "delete", "module": "Deals", "count": 2, "type": "permanent"},
        timeout=10,
    )
    assert response.status_code == 200
    ids = response.json()["ids"]
    assert len(ids) == 2
    assert not set(ids) & set(_by_id(emu, "Deals"))
    bad = requests.post(f"{base_url}/_emulator/mutate", json={"action": "explode"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_DATA"
    assert bad.json()["status"] == "error"
    truth = requests.get(f"{base_url}/_emulator/records/Deals", timeout=10).json()["data"]
    assert truth == emu.records("Deals")


def test_same_seed_same_data_other_seed_other_data():
    one = Emulator(EmulatorConfig(seed=3, sizes={"Leads": 50}))
    two = Emulator(EmulatorConfig(seed=3, sizes={"Leads": 50}))
    other = Emulator(EmulatorConfig(seed=4, sizes={"Leads": 50}))
    assert one.records("Leads") == two.records("Leads")
    assert one.records("Projects") == two.records("Projects")
    assert one.deleted("Leads") == two.deleted("Leads")
    assert one.mutate("edit", count=3) == two.mutate("edit", count=3)
    assert one.records("Leads") != other.records("Leads")


def test_sizes_are_configurable():
    emu = Emulator(EmulatorConfig(sizes={"Leads": 10, "Tasks": 0, "Projects": 3}))
    assert len(emu.records("Leads")) == 10
    assert emu.records("Tasks") == []
    assert len(emu.records("Projects")) == 3
    assert len(emu.records("Vendors")) == 20


@pytest.mark.slow
def test_generating_100k_leads_gives_100k_sorted_rows():
    # How fast is a benchmark's question (benchmarks/), not a test's.
    emu = Emulator(EmulatorConfig(sizes={"Leads": 100_000}))
    rows = emu.store.query("Leads", sort_by="Modified_Time", sort_order="asc", converted="both")
    assert len(rows) == 100_000
    assert all(a.modified <= b.modified for a, b in itertools.pairwise(rows))
