"""The emulator's COQL: Zoho's query subset, shapes, limits, errors and credits by LIMIT."""

from __future__ import annotations

import email.utils

import pytest
import requests

from zoho_crm_emulator import Emulator, EmulatorConfig
from zoho_crm_emulator.timeutil import parse_iso


@pytest.fixture(scope="module")
def org():
    emu = Emulator(EmulatorConfig(seed=11, sizes={"Leads": 600, "Deals": 40, "Tasks": 30}))
    with emu.serve() as base_url:
        session = requests.Session()
        session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
        yield emu, base_url, session


def coql(org, query):
    _emu, base_url, session = org
    return session.post(f"{base_url}/crm/v8/coql", json={"select_query": query}, timeout=30)


def error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["status"] == "error"
    return body


def test_lookups_answer_an_id_and_dot_columns_flat_keys(org):
    emu = org[0]
    truth = {r["id"]: r for r in emu.records("Leads")}
    converted = next(r for r in truth.values() if r.get("Converted_Deal"))
    answer = coql(
        org,
        "select Last_Name, Owner, Owner.full_name, Owner.email, Converted_Deal, "
        f"Converted_Deal.Deal_Name from Leads where id = {converted['id']}",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["info"] == {"count": 1, "more_records": False}
    row = body["data"][0]
    assert row["Owner"] == {"id": converted["Owner"]["id"]}
    assert row["Owner.full_name"] == converted["Owner"]["name"]
    assert row["Owner.email"] == converted["Owner"]["email"]
    assert row["Converted_Deal"] == {"id": converted["Converted_Deal"]["id"]}
    assert row["Converted_Deal.Deal_Name"] == converted["Converted_Deal"]["name"]
    assert row["Last_Name"] == converted["Last_Name"]


def test_where_with_and_or_parentheses_in_and_null_matches_a_python_filter(org):
    emu = org[0]
    leads = emu.records("Leads")
    sources = ["Web Download", "Trade Show"]
    expected = sorted(
        int(r["id"])
        for r in leads
        if (r["Lead_Source"] in sources or r["Email"] is None)
        and parse_iso(r["Modified_Time"]) >= parse_iso("2024-06-01T00:00:00+00:00")
    )
    answer = coql(
        org,
        "select Last_Name from Leads where (Lead_Source in ('Web Download', 'Trade Show') "
        "or Email is null) and Modified_Time >= '2024-06-01T00:00:00+00:00' limit 2000",
    )
    got = [int(row["id"]) for row in answer.json()["data"]] if answer.status_code == 200 else []
    assert got == expected  # default order: id ascending
    assert got


def test_keyset_order_by_modified_time_then_id_with_offset(org):
    emu = org[0]
    leads = sorted(
        emu.records("Leads"), key=lambda r: (parse_iso(r["Modified_Time"]), int(r["id"]))
    )
    answer = coql(
        org,
        "SELECT Modified_Time FROM Leads WHERE id is not null "
        "ORDER BY Modified_Time asc, id asc LIMIT 5 OFFSET 10",
    )
    assert [row["id"] for row in answer.json()["data"]] == [r["id"] for r in leads[10:15]]
    last = leads[99]
    after = coql(
        org,
        f"select Modified_Time from Leads where Modified_Time >= '{last['Modified_Time']}' and "
        f"(Modified_Time > '{last['Modified_Time']}' or id > {last['id']}) "
        "order by Modified_Time, id limit 3",
    )
    assert [row["id"] for row in after.json()["data"]] == [r["id"] for r in leads[100:103]]


@pytest.mark.parametrize(("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1000, 2), (2000, 3)])
def test_credits_follow_the_limit(org, limit, credits):
    emu = org[0]
    before = emu.stats()["credits"]
    answer = coql(org, f"select Last_Name from Leads where id is not null limit {limit}")
    assert answer.status_code == 200
    assert emu.stats()["credits"] - before == credits


def test_nothing_matching_is_204(org):
    answer = coql(org, "select Last_Name from Leads where Last_Name = 'no such name at all'")
    assert answer.status_code == 204
    assert answer.content == b""


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select Last_Name from Leads", "SYNTAX_ERROR"),  # WHERE is required
        ("selct Last_Name from Leads where id is not null", "SYNTAX_ERROR"),
        ("select Last_Name from Leads where (id is not null", "SYNTAX_ERROR"),
        ("select Nope from Leads where id is not null", "INVALID_QUERY"),
        ("select Last_Name from Leads where Nope = 1", "INVALID_QUERY"),
        ("select Owner.nope from Leads where id is not null", "INVALID_QUERY"),
        ("select Note_Title from Notes where id is not null", "INVALID_QUERY"),
        ("select Last_Name from Nowhere where id is not null", "INVALID_QUERY"),
        ("select Last_Name from Leads where id is not null limit 2001", "LIMIT_EXCEEDED"),
        (
            "select Last_Name from Leads where id is not null limit 1000 offset 99500",
            "LIMIT_EXCEEDED",
        ),
    ],
)
def test_zoho_errors(org, query, code):
    error(coql(org, query), 400, code)


def test_more_columns_than_the_cap_is_limit_exceeded(org):
    columns = ", ".join(["Last_Name"] * 51)
    body = error(
        coql(org, f"select {columns} from Leads where id is not null"), 400, "LIMIT_EXCEEDED"
    )
    assert body["details"]["limit"] == 50


def test_more_than_25_criteria_is_limit_exceeded(org):
    where = " or ".join(f"id = {n}" for n in range(26))
    error(coql(org, f"select Last_Name from Leads where {where}"), 400, "LIMIT_EXCEEDED")


def test_missing_select_query_is_required_param_missing(org):
    _emu, base_url, session = org
    answer = session.post(f"{base_url}/crm/v8/coql", json={}, timeout=30)
    error(answer, 400, "REQUIRED_PARAM_MISSING")


def test_the_coql_scope_is_required(start_emulator):
    emu = start_emulator(scopes=("ZohoCRM.modules.ALL",))
    base_url = emu.base_url
    answer = requests.post(
        f"{base_url}/crm/v8/coql",
        json={"select_query": "select Last_Name from Leads where id is not null"},
        headers={"Authorization": f"Zoho-oauthtoken {emu.access_token()}"},
        timeout=30,
    )
    body = error(answer, 401, "OAUTH_SCOPE_MISMATCH")
    assert body["details"]["scope"] == "ZohoCRM.coql.READ"


def test_the_date_header_is_never_behind_the_newest_write(start_emulator):
    emu = start_emulator(sizes={"Leads": 20})
    base_url = emu.base_url
    for _ in range(5):  # each write is a second after the previous one, ahead of the clock
        emu.mutate("edit", module="Leads", count=1)
    newest = max(parse_iso(r["Modified_Time"]) for r in emu.records("Leads"))
    answer = requests.get(f"{base_url}/crm/v8/Leads", timeout=30)
    served = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert served > newest


def test_a_spent_daily_budget_answers_429_with_none_remaining(start_emulator):
    emu = start_emulator(sizes={"Leads": 20}, daily_credits=4)
    base_url = emu.base_url
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
    query = {"select_query": "select Last_Name from Leads where id is not null limit 1000"}
    first = session.post(f"{base_url}/crm/v8/coql", json=query, timeout=30)
    assert first.status_code == 200
    assert first.headers["X-API-CREDITS-REMAINING"] == "2"
    session.post(f"{base_url}/crm/v8/coql", json=query, timeout=30)
    spent = session.post(f"{base_url}/crm/v8/coql", json=query, timeout=30)
    error(spent, 429, "TOO_MANY_REQUESTS")
    assert spent.headers["X-API-CREDITS-REMAINING"] == "0"
    assert emu.stats()["credits"] == 4
