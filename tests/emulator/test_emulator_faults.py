"""Fault injection, counters and error shapes of the emulator."""

from __future__ import annotations

import requests

from zoho_crm_emulator import Emulator


def _session(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
    return session


def _statuses(emu: Emulator, base_url: str, n: int) -> list[int]:
    session = _session(emu)
    return [
        session.get(
            f"{base_url}/crm/v8/Deals", params={"fields": "Deal_Name", "per_page": 1}, timeout=10
        ).status_code
        for _ in range(n)
    ]


def test_fraction_of_429_answers(start_emulator):
    emu = start_emulator(fail_429=0.3)
    base_url = emu.base_url
    statuses = _statuses(emu, base_url, 200)
    assert 40 <= statuses.count(429) <= 80
    assert set(statuses) == {200, 429}
    response = _session(emu).get(f"{base_url}/crm/v8/Deals", params={"fields": "Deal_Name"})
    while response.status_code != 429:
        response = _session(emu).get(f"{base_url}/crm/v8/Deals", params={"fields": "Deal_Name"})
    assert response.json()["code"] == "TOO_MANY_REQUESTS"
    assert response.json()["status"] == "error"


def test_fraction_of_500_answers(start_emulator):
    emu = start_emulator(fail_500=0.2)
    base_url = emu.base_url
    statuses = _statuses(emu, base_url, 200)
    assert 20 <= statuses.count(500) <= 60
    assert set(statuses) == {200, 500}


def test_faults_are_reproducible_with_a_seed(start_emulator):
    first = start_emulator(seed=5, fail_429=0.2, fail_500=0.1)
    second = start_emulator(seed=5, fail_429=0.2, fail_500=0.1)
    assert _statuses(first, first.base_url, 60) == _statuses(second, second.base_url, 60)


def test_latency_is_added_to_each_request(start_emulator):
    emu = start_emulator(latency_ms=150)
    base_url = emu.base_url
    session = _session(emu)
    session.get(f"{base_url}/crm/v8/Deals", params={"fields": "Deal_Name"}, timeout=10)
    session.get(f"{base_url}/crm/v8/Leads", params={"fields": "Last_Name"}, timeout=10)
    # The emulator's own account of the wait (what latency costs is a benchmark's subject).
    assert emu.stats()["latency_ms"] == 300


def test_faults_change_at_runtime(emulator):
    emu, base_url = emulator, emulator.base_url
    assert set(_statuses(emu, base_url, 20)) == {200}
    answer = requests.post(f"{base_url}/_emulator/faults", json={"fail_500": 1.0}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["fail_500"] == 1.0
    assert set(_statuses(emu, base_url, 5)) == {500}
    emu.set_faults(fail_500=0.0, token_lifetime_calls=2)
    assert _statuses(emu, base_url, 3) == [200, 200, 401]
    bad = requests.post(f"{base_url}/_emulator/faults", json={"fail_429": 7}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_DATA"
    unknown = requests.post(f"{base_url}/_emulator/faults", json={"nope": 1}, timeout=10)
    assert unknown.status_code == 400


def test_stats_count_calls_credits_and_statuses(emulator):
    emu, base_url = emulator, emulator.base_url
    grant = {
        "grant_type": "refresh_token",
        "client_id": emu.config.client_id,
        "client_secret": emu.config.client_secret,
        "refresh_token": emu.config.refresh_token,
    }
    token = requests.post(f"{base_url}/oauth/v2/token", data=grant, timeout=10).json()
    headers = {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}
    api = f"{base_url}/crm/v8"
    requests.get(f"{api}/Leads", params={"fields": "Last_Name"}, headers=headers, timeout=10)
    requests.get(f"{api}/Leads", params={"fields": "Last_Name", "page": 2}, headers=headers)
    requests.get(f"{api}/Leads", headers=headers, timeout=10)  # 400: fields missing
    requests.get(f"{api}/Leads/deleted", headers=headers, timeout=10)
    requests.get(f"{api}/settings/modules", headers=headers, timeout=10)
    requests.get(f"{api}/settings/fields", params={"module": "Leads"}, headers=headers)
    requests.get(f"{api}/Leads", params={"fields": "Last_Name"}, timeout=10)  # 401
    requests.get(f"{base_url}/_emulator/records/Leads", timeout=10)  # control: not counted
    stats = emu.stats()
    assert stats["calls"] == {
        "oauth_token": 1,
        "records:Leads": 4,
        "deleted:Leads": 1,
        "settings_modules": 1,
        "settings_fields:Leads": 1,
    }
    assert stats["credits"] == 6  # Zoho's table: the deleted-records call costs 2
    assert stats["status_counts"] == {"200": 6, "400": 1, "401": 1}
    assert stats["status_counts"][200] == 6
    assert requests.get(f"{base_url}/_emulator/stats", timeout=10).json() == stats
    assert requests.post(f"{base_url}/_emulator/stats/reset", timeout=10).status_code == 200
    assert emu.stats()["calls"] == {}
    assert emu.stats()["credits"] == 0
    requests.get(f"{api}/settings/modules", headers=headers, timeout=10)
    emu.reset_stats()
    assert emu.stats() == {
        "calls": {},
        "credits": 0,
        "status_counts": {},
        "requests": 0,
        "max_in_flight": 0,  # the most API calls open at once since the reset
        "latency_ms": 0.0,
    }


def test_internal_error_has_zoho_shape_and_no_trace(emulator, monkeypatch):
    emu, base_url = emulator, emulator.base_url

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(emu.api, "records", broken)
    response = _session(emu).get(f"{base_url}/crm/v8/Leads", params={"fields": "Last_Name"})
    assert response.status_code == 500
    assert response.json() == {
        "code": "INTERNAL_ERROR",
        "details": {},
        "message": "Internal Server Error",
        "status": "error",
    }
    assert "Traceback" not in response.text
    assert "boom" not in response.text


def test_malformed_input_never_leaks_a_trace(emulator):
    emu, base_url = emulator, emulator.base_url
    session = _session(emu)
    cases = [
        session.get(f"{base_url}/crm/v8/Leads", params={"fields": "Last_Name", "per_page": "x"}),
        session.get(f"{base_url}/crm/v8/Leads", params={"fields": "Last_Name", "page": "-1"}),
        session.get(
            f"{base_url}/crm/v8/Leads",
            params={"fields": "Last_Name"},
            headers={"If-Modified-Since": "yesterday"},
        ),
        requests.post(f"{base_url}/_emulator/mutate", data=b"{not json", timeout=10),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"code", "details", "message", "status"}
