"""Get Record Count and the tags list in the emulator: answers, scopes, credits."""

from __future__ import annotations

import requests

from zoho_crm_emulator.data import TAGS


def _session(emu):
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
    return session


def test_count_answers_the_number_of_live_records_for_one_credit(start_emulator):
    emu = start_emulator(sizes={"Leads": 137, "Deals": 12}, converted_fraction=0.2)
    base_url = emu.base_url
    session = _session(emu)
    emu.reset_stats()
    leads = session.get(f"{base_url}/crm/v8/Leads/actions/count", timeout=10)
    assert leads.status_code == 200
    # Converted leads are live records too.
    assert leads.json() == {"count": 137}
    assert len(emu.records("Leads")) == 137
    deals = session.get(f"{base_url}/crm/v8/deals/actions/count", timeout=10)
    assert deals.json() == {"count": 12}
    stats = emu.stats()
    assert stats["calls"]["count:Leads"] == 1
    assert stats["calls"]["count:Deals"] == 1
    assert stats["credits"] == 2


def test_count_follows_deletions_and_creations(start_emulator):
    emu = start_emulator(sizes={"Contacts": 40})
    base_url = emu.base_url
    session = _session(emu)
    emu.mutate("delete", module="Contacts", count=3)
    emu.mutate("create", module="Contacts", count=5)
    response = session.get(f"{base_url}/crm/v8/Contacts/actions/count", timeout=10)
    assert response.json() == {"count": 42}


def test_count_checks_module_and_scope(start_emulator):
    emu = start_emulator(scopes=("ZohoCRM.settings.ALL",))
    base_url = emu.base_url
    session = _session(emu)
    response = session.get(f"{base_url}/crm/v8/Leads/actions/count", timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    emu2 = start_emulator()
    base_url2 = emu2.base_url
    unknown = _session(emu2).get(f"{base_url2}/crm/v8/Nope/actions/count", timeout=10)
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "INVALID_MODULE"


def test_tags_list_names_and_ids(start_emulator):
    emu = start_emulator()
    base_url = emu.base_url
    session = _session(emu)
    emu.reset_stats()
    response = session.get(
        f"{base_url}/crm/v8/settings/tags", params={"module": "Leads"}, timeout=10
    )
    assert response.status_code == 200
    tags = response.json()["tags"]
    assert [(t["name"], t["id"]) for t in tags] == [(t["name"], t["id"]) for t in TAGS]
    # Every tag a record carries is listed.
    listed = {t["id"] for t in tags}
    assert {tag["id"] for r in emu.records("Leads") for tag in r["Tag"]} <= listed
    assert emu.stats()["calls"]["settings_tags:Leads"] == 1
    assert emu.stats()["credits"] == 1
    missing = session.get(f"{base_url}/crm/v8/settings/tags", timeout=10)
    assert missing.status_code == 400
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
