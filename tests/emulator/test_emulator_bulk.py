"""Bulk Read in the emulator: job life cycle, zipped CSV, paging across jobs, failures, limits."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import datetime

import requests

LEAD_FIELDS = ["Last_Name", "Email", "Owner", "Referred_Account", "Interests", "Is_VIP"]


def _session(emu):
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
    return session


def _create(session, base_url, query):
    response = session.post(f"{base_url}/crm/bulk/v8/read", json={"query": query}, timeout=10)
    assert response.status_code == 201, response.text
    details = response.json()["data"][0]["details"]
    assert details["state"] == "ADDED"
    return details["id"]


def _wait(session, base_url, job_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    states = []
    while time.monotonic() < deadline:
        job = session.get(f"{base_url}/crm/bulk/v8/read/{job_id}", timeout=10).json()["data"][0]
        if not states or states[-1] != job["state"]:
            states.append(job["state"])
        if job["state"] in ("COMPLETED", "FAILURE"):
            return job, states
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stuck in {states}")


def _rows(session, base_url, job):
    response = session.get(f"{base_url}{job['result']['download_url']}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [f"{job['id']}.csv"]
    return list(csv.DictReader(io.StringIO(archive.read(f"{job['id']}.csv").decode())))


def test_job_moves_through_states_and_exports_zipped_csv(start_emulator):
    emu = start_emulator(sizes={"Leads": 120}, bulk_job_seconds=0.3)
    base_url = emu.base_url
    session = _session(emu)
    job_id = _create(session, base_url, {"module": {"api_name": "Leads"}, "fields": LEAD_FIELDS})
    job, states = _wait(session, base_url, job_id)
    assert states[-1] == "COMPLETED"
    assert "IN PROGRESS" in states
    result = job["result"]
    assert result["count"] == 120
    assert result["more_records"] is False
    assert result["next_page_token"] is None
    rows = _rows(session, base_url, job)
    # then the record keys of analytic value, as $ columns
    assert list(rows[0]) == ["Id", *LEAD_FIELDS, "$state", "$approval_state", "$currency_symbol"]
    assert {r["Id"] for r in rows} == {r["id"] for r in emu.records("Leads")}


def test_csv_values_follow_zoho_export_rules(start_emulator):
    emu = start_emulator(sizes={"Leads": 60}, bulk_job_seconds=0.05)
    base_url = emu.base_url
    session = _session(emu)
    fields = [*LEAD_FIELDS, "Referred_Account.Account_Name", "Owner.last_name", "Modified_Time"]
    job_id = _create(session, base_url, {"module": {"api_name": "Leads"}, "fields": fields})
    job, _ = _wait(session, base_url, job_id)
    truth = {r["id"]: r for r in emu.records("Leads")}
    for row in _rows(session, base_url, job):
        record = truth[row["Id"]]
        assert row["Last_Name"] == record["Last_Name"]
        assert row["Email"] == (record["Email"] or "")
        assert row["Owner"] == record["Owner"]["id"]
        assert row["Owner.last_name"] == record["Owner"]["name"].split()[-1]
        account = record["Referred_Account"]
        assert row["Referred_Account"] == (account["id"] if account else "")
        assert row["Referred_Account.Account_Name"] == (account["name"] if account else "")
        assert row["Interests"] == ";".join(record["Interests"])
        assert row["Is_VIP"] == ("true" if record["Is_VIP"] else "false")
        assert row["Modified_Time"] == record["Modified_Time"]


def test_criteria_select_by_modified_time_as_instants(start_emulator):
    emu = start_emulator(sizes={"Leads": 200}, bulk_job_seconds=0.05)
    base_url = emu.base_url
    session = _session(emu)
    since = "2025-01-01T00:00:00+00:00"
    query = {
        "module": {"api_name": "Leads"},
        "fields": ["Modified_Time"],
        "criteria": {
            "group_operator": "and",
            "group": [
                {
                    "field": {"api_name": "Modified_Time"},
                    "comparator": "greater_than",
                    "value": since,
                }
            ],
        },
    }
    job, _ = _wait(session, base_url, _create(session, base_url, query))
    expected = {
        r["id"]
        for r in emu.records("Leads")
        if datetime.fromisoformat(r["Modified_Time"]) > datetime.fromisoformat(since)
    }
    assert {r["Id"] for r in _rows(session, base_url, job)} == expected
    assert 0 < len(expected) < 200


def test_paging_across_jobs_with_page_token_and_page(start_emulator):
    emu = start_emulator(sizes={"Leads": 250}, bulk_job_seconds=0.05, bulk_page_size=100)
    base_url = emu.base_url
    session = _session(emu)
    query = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}
    ids: list[str] = []
    counts = []
    job, _ = _wait(session, base_url, _create(session, base_url, query))
    while True:
        ids += [r["Id"] for r in _rows(session, base_url, job)]
        counts.append(job["result"]["count"])
        if not job["result"]["more_records"]:
            break
        next_query = {**query, "page_token": job["result"]["next_page_token"]}
        job, _ = _wait(session, base_url, _create(session, base_url, next_query))
    assert counts == [100, 100, 50]
    assert len(ids) == len(set(ids)) == 250
    page_two, _ = _wait(session, base_url, _create(session, base_url, {**query, "page": 2}))
    assert [r["Id"] for r in _rows(session, base_url, page_two)] == ids[100:200]
    other = {"module": {"api_name": "Leads"}, "fields": ["Email"], "page_token": "x"}
    bound = session.post(f"{base_url}/crm/bulk/v8/read", json={"query": other}, timeout=10)
    assert bound.status_code == 400


def test_job_is_a_snapshot_taken_at_creation(start_emulator):
    emu = start_emulator(sizes={"Leads": 30}, bulk_job_seconds=0.2)
    base_url = emu.base_url
    session = _session(emu)
    job_id = _create(session, base_url, {"module": {"api_name": "Leads"}, "fields": ["Email"]})
    created = emu.mutate("create", count=1)
    job, _ = _wait(session, base_url, job_id)
    assert created[0] not in {r["Id"] for r in _rows(session, base_url, job)}


def test_failed_job(start_emulator):
    emu = start_emulator(sizes={"Leads": 20}, bulk_job_seconds=0.05, bulk_fail=1.0)
    base_url = emu.base_url
    session = _session(emu)
    job_id = _create(session, base_url, {"module": {"api_name": "Leads"}})
    job, _ = _wait(session, base_url, job_id)
    assert job["state"] == "FAILURE"
    assert "result" not in job
    download = session.get(f"{base_url}/crm/bulk/v8/read/{job_id}/result", timeout=10)
    assert download.status_code == 400
    assert download.json()["code"] == "INVALID_REQUEST"


def test_slow_job_is_not_downloadable_before_it_completes(start_emulator):
    emu = start_emulator(sizes={"Leads": 20}, bulk_job_seconds=60)
    base_url = emu.base_url
    session = _session(emu)
    job_id = _create(session, base_url, {"module": {"api_name": "Leads"}})
    time.sleep(0.05)
    job = session.get(f"{base_url}/crm/bulk/v8/read/{job_id}", timeout=10).json()["data"][0]
    assert job["state"] in ("ADDED", "QUEUED", "IN PROGRESS")
    download = session.get(f"{base_url}/crm/bulk/v8/read/{job_id}/result", timeout=10)
    assert download.status_code == 400


def test_downloads_per_minute_and_expiry(start_emulator):
    emu = start_emulator(sizes={"Leads": 20}, bulk_job_seconds=0.05, bulk_downloads_per_minute=2)
    base_url = emu.base_url
    session = _session(emu)
    job, _ = _wait(session, base_url, _create(session, base_url, {"module": {"api_name": "Leads"}}))
    url = f"{base_url}{job['result']['download_url']}"
    assert [session.get(url, timeout=10).status_code for _ in range(3)] == [200, 200, 429]
    emu.set_faults(bulk_downloads_per_minute=100, bulk_result_ttl_seconds=0.0)
    expired = session.get(url, timeout=10)
    assert expired.status_code == 400
    assert expired.json()["code"] == "EXPIRED_VALUE"


def test_bad_requests(emulator):
    emu, base_url = emulator, emulator.base_url
    session = _session(emu)
    url = f"{base_url}/crm/bulk/v8/read"
    not_json = session.post(url, data="query=1", timeout=10)
    assert not_json.status_code == 415
    cases = {
        "REQUIRED_PARAM_MISSING": {"fields": ["Last_Name"]},
        "INVALID_MODULE": {"query": {"module": {"api_name": "Nope"}}},
        "INVALID_DATA": {"query": {"module": {"api_name": "Leads"}, "fields": ["Nope"]}},
    }
    for code, body in cases.items():
        response = session.post(url, json=body, timeout=10)
        assert response.status_code == 400
        assert response.json()["code"] == code
    criteria = {"field": {"api_name": "Modified_Time"}, "comparator": "after", "value": "x"}
    bad = session.post(
        url, json={"query": {"module": {"api_name": "Leads"}, "criteria": criteria}}, timeout=10
    )
    assert bad.json()["code"] == "INVALID_DATA"
    unknown = session.get(f"{url}/123", timeout=10)
    assert unknown.status_code == 400


def test_bulk_credits_calls_and_scope(start_emulator):
    emu = start_emulator(sizes={"Leads": 20}, bulk_job_seconds=0.05)
    base_url = emu.base_url
    session = _session(emu)
    job, _ = _wait(session, base_url, _create(session, base_url, {"module": {"api_name": "Leads"}}))
    _rows(session, base_url, job)
    stats = emu.stats()
    status_calls = stats["calls"]["bulk_read_status"]
    assert stats["calls"]["bulk_read_create"] == 1
    assert stats["calls"]["bulk_read_download"] == 1
    assert stats["credits"] == 50 + status_calls + 1

    emu2 = start_emulator(scopes=("ZohoCRM.modules.ALL",))
    base_url2 = emu2.base_url
    response = _session(emu2).post(
        f"{base_url2}/crm/bulk/v8/read", json={"query": {"module": {"api_name": "Leads"}}}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
