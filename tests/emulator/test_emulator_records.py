"""Get Records rules of the emulator: fields, paging limits, page tokens, sorting, 304/204."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from zoho_crm_emulator import Emulator, EmulatorConfig


@pytest.fixture(scope="module")
def big():
    """A read-only emulator with 2,600 unconverted-by-default Leads, shared by the module."""
    emu = Emulator(EmulatorConfig(seed=7, sizes={"Leads": 2600}, converted_fraction=0.0))
    with emu.serve() as base_url:
        session = requests.Session()
        session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
        yield emu, base_url, session


def _session(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
    return session


def _get(session, base_url, module="Leads", headers=None, **params):
    params.setdefault("fields", "Last_Name,Modified_Time")
    return session.get(f"{base_url}/crm/v8/{module}", params=params, headers=headers, timeout=30)


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["status"] == "error"
    assert set(body) == {"code", "details", "message", "status"}
    return body


def test_fields_parameter_is_mandatory(big):
    _, base_url, session = big
    response = session.get(f"{base_url}/crm/v8/Leads", timeout=10)
    body = _error(response, 400, "REQUIRED_PARAM_MISSING")
    assert body["details"] == {"param": "fields"}
    _error(_get(session, base_url, fields=""), 400, "REQUIRED_PARAM_MISSING")


def test_at_most_50_fields(big):
    emu, base_url, session = big
    projects = [f.api_name for f in emu.store.module("Projects").fields]
    assert len(projects) == 64
    response = _get(session, base_url, module="Projects", fields=",".join(projects[:51]))
    _error(response, 400, "LIMIT_EXCEEDED")
    ok = _get(session, base_url, module="Projects", fields=",".join(projects[:50]))
    assert ok.status_code == 200
    assert set(ok.json()["data"][0]) >= {"id", *projects[:50]}


def test_unknown_field_is_invalid_data(big):
    _, base_url, session = big
    body = _error(_get(session, base_url, fields="Last_Name,No_Such_Field"), 400, "INVALID_DATA")
    assert body["details"]["api_name"] == "No_Such_Field"


def test_per_page_at_most_200(big):
    _, base_url, session = big
    _error(_get(session, base_url, per_page=201), 400, "INVALID_DATA")
    body = _get(session, base_url, per_page=200).json()
    assert body["info"]["per_page"] == 200
    assert body["info"]["count"] == 200


def test_page_reaches_only_the_first_2000_records(big):
    _, base_url, session = big
    last = _get(session, base_url, page=10, per_page=200)
    assert last.status_code == 200
    assert last.json()["info"]["more_records"] is True
    assert last.json()["info"]["next_page_token"]
    body = _error(
        _get(session, base_url, page=11, per_page=200), 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    )
    assert body["details"]["limit"] == 2000
    _error(
        _get(session, base_url, page=21, per_page=100), 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    )


def test_page_token_pages_through_2600_records_without_gaps(big):
    emu, base_url, session = big
    params = {"sort_by": "Modified_Time", "sort_order": "asc"}
    ids: list[str] = []
    response = _get(session, base_url, **params)
    pages = 0
    while True:
        assert response.status_code == 200
        body = response.json()
        ids += [r["id"] for r in body["data"]]
        pages += 1
        if not body["info"]["more_records"]:
            assert body["info"]["next_page_token"] is None
            break
        response = _get(session, base_url, page_token=body["info"]["next_page_token"], **params)
    assert pages == 13
    assert len(ids) == len(set(ids)) == 2600
    assert set(ids) == {r["id"] for r in emu.records("Leads")}


def test_page_token_is_bound_to_the_other_parameters(big):
    _, base_url, session = big
    first = _get(session, base_url, sort_by="Modified_Time", sort_order="asc").json()
    token = first["info"]["next_page_token"]
    response = _get(session, base_url, sort_by="Modified_Time", sort_order="desc", page_token=token)
    _error(response, 400, "TOKEN_BOUND_DATA_MISMATCH")
    other_fields = _get(
        session,
        base_url,
        fields="Last_Name",
        sort_by="Modified_Time",
        sort_order="asc",
        page_token=token,
    )
    _error(other_fields, 400, "TOKEN_BOUND_DATA_MISMATCH")


def test_forged_page_token_is_invalid_data(big):
    _, base_url, session = big
    _error(_get(session, base_url, page_token="bm90LWEtdG9rZW4"), 400, "INVALID_DATA")


def test_page_and_page_token_together_are_ambiguous(big):
    _, base_url, session = big
    token = _get(session, base_url).json()["info"]["next_page_token"]
    _error(_get(session, base_url, page=2, page_token=token), 400, "AMBIGUITY_DURING_PROCESSING")


def test_page_tokens_expire(start_emulator):
    emu = start_emulator(sizes={"Leads": 400}, page_token_ttl_seconds=0.3)
    base_url = emu.base_url
    session = _session(emu)
    token = _get(session, base_url, per_page=100).json()["info"]["next_page_token"]
    assert _get(session, base_url, per_page=100, page_token=token).status_code == 200
    time.sleep(0.4)
    _error(_get(session, base_url, per_page=100, page_token=token), 400, "EXPIRED_VALUE")


def test_page_token_chain_is_capped(start_emulator):
    emu = start_emulator(sizes={"Leads": 700}, converted_fraction=0, page_token_cap=500)
    base_url = emu.base_url
    session = _session(emu)
    body = _get(session, base_url).json()
    seen = len(body["data"])
    while True:
        response = _get(session, base_url, page_token=body["info"]["next_page_token"])
        if response.status_code != 200:
            break
        body = response.json()
        seen += len(body["data"])
    assert seen == 500
    error = _error(response, 400, "PAGINATION_LIMIT_EXCEEDED")
    assert error["details"]["limit"] == 500


def test_info_block_has_zoho_keys(big):
    _, base_url, session = big
    info = _get(session, base_url, sort_by="Modified_Time", sort_order="asc", per_page=5).json()[
        "info"
    ]
    assert set(info) == {
        "per_page",
        "count",
        "page",
        "sort_by",
        "sort_order",
        "more_records",
        "next_page_token",
        "previous_page_token",
        "page_token_expiry",
    }
    assert info["sort_by"] == "Modified_Time"
    assert info["sort_order"] == "asc"
    assert info["page"] == 1
    assert info["previous_page_token"] is None
    assert datetime.fromisoformat(info["page_token_expiry"]).tzinfo is not None


def test_default_sort_is_id_descending(big):
    _, base_url, session = big
    body = _get(session, base_url, per_page=50).json()
    ids = [int(r["id"]) for r in body["data"]]
    assert ids == sorted(ids, reverse=True)
    assert body["info"]["sort_by"] == "id"
    assert body["info"]["sort_order"] == "desc"


def test_invalid_sort_by_is_invalid_data(big):
    _, base_url, session = big
    _error(_get(session, base_url, sort_by="Last_Name"), 400, "INVALID_DATA")


def test_sort_by_modified_time_compares_instants_across_dst(big):
    _, base_url, session = big
    params = {"sort_by": "Modified_Time", "sort_order": "asc"}
    times = []
    body = _get(session, base_url, **params).json()
    while True:
        times += [r["Modified_Time"] for r in body["data"]]
        if not body["info"]["more_records"]:
            break
        body = _get(session, base_url, page_token=body["info"]["next_page_token"], **params).json()
    offsets = {t[-6:] for t in times}
    assert {"-08:00", "-07:00"} <= offsets
    instants = [datetime.fromisoformat(t) for t in times]
    assert instants == sorted(instants)
    # Strings in two offsets do not sort like instants: the trap this rule guards against.
    # Around the end of DST, the strings do not sort like the instants: the trap this guards.
    assert times != sorted(times)


def test_records_share_seconds(big):
    emu, _, _ = big
    times = [r["Modified_Time"] for r in emu.records("Leads")]
    shared = len(times) - len(set(times))
    assert 0.03 * len(times) < shared < 0.2 * len(times)


def test_record_shape(big):
    emu, base_url, session = big
    fields = [f.api_name for f in emu.store.module("Leads").fields]
    record = _get(session, base_url, fields=",".join(fields)).json()["data"][0]
    assert isinstance(record["id"], str)
    assert len(record["id"]) == 19
    assert record["id"].isdigit()
    assert set(record["Owner"]) == {"name", "id", "email"}
    assert set(record["Created_By"]) == {"name", "id", "email"}
    assert isinstance(record["Interests"], list)
    assert isinstance(record["Tag"], list)
    assert record["Converted__s"] is False
    assert record["$approved"] is True
    assert all(key.startswith("$") for key in set(record) - {"id", *fields})
    datetime.fromisoformat(record["Modified_Time"])


def test_ids_parameter_fetches_just_those(big):
    emu, base_url, session = big
    wanted = [r["id"] for r in emu.records("Leads")[:3]]
    body = _get(session, base_url, ids=",".join(wanted)).json()
    assert sorted(r["id"] for r in body["data"]) == sorted(wanted)


def test_if_modified_since_without_changes_is_304(big):
    emu, base_url, session = big
    newest = max(emu.records("Leads"), key=lambda r: datetime.fromisoformat(r["Modified_Time"]))
    response = _get(session, base_url, headers={"If-Modified-Since": newest["Modified_Time"]})
    assert response.status_code == 304
    assert response.content == b""


def test_if_modified_since_is_exclusive(big):
    emu, base_url, session = big
    records = sorted(emu.records("Leads"), key=lambda r: datetime.fromisoformat(r["Modified_Time"]))
    boundary = records[-10]["Modified_Time"]
    expected = {
        r["id"]
        for r in records
        if datetime.fromisoformat(r["Modified_Time"]) > datetime.fromisoformat(boundary)
    }
    body = _get(session, base_url, headers={"If-Modified-Since": boundary}).json()
    assert {r["id"] for r in body["data"]} == expected
    assert 0 < len(expected) < 10
    # The same instant written in another offset selects the same records.
    utc = datetime.fromisoformat(boundary).astimezone().isoformat()
    other = _get(session, base_url, headers={"If-Modified-Since": utc}).json()
    assert {r["id"] for r in other["data"]} == expected


def test_empty_result_is_204(start_emulator):
    emu = start_emulator(sizes={"Vendors": 0})
    base_url = emu.base_url
    response = _get(_session(emu), base_url, module="Vendors", fields="Vendor_Name")
    assert response.status_code == 204
    assert response.content == b""


def test_page_past_the_end_is_204(emulator):
    emu, base_url = emulator, emulator.base_url
    response = _get(_session(emu), base_url, module="Deals", fields="Deal_Name", page=5)
    assert response.status_code == 204


def test_converted_leads_filter(start_emulator):
    emu = start_emulator(sizes={"Leads": 200}, converted_fraction=0.1)
    base_url = emu.base_url
    session = _session(emu)
    every = emu.records("Leads")
    converted = {r["id"] for r in every if r["Converted__s"]}
    assert len(converted) == 20

    def ids(**params):
        return {
            r["id"] for r in _get(session, base_url, fields="Converted__s", **params).json()["data"]
        }

    assert ids() == {r["id"] for r in every} - converted
    assert ids(converted="false") == ids()
    assert ids(converted="true") == converted
    assert ids(converted="both") == {r["id"] for r in every}
    _error(_get(session, base_url, converted="maybe"), 400, "INVALID_DATA")


def test_unknown_module_is_invalid_module(big):
    _, base_url, session = big
    body = _error(_get(session, base_url, module="Nope"), 400, "INVALID_MODULE")
    assert body["message"]
    _error(_get(session, base_url, module="Home"), 400, "INVALID_MODULE")


def test_module_names_are_case_insensitive(big):
    _, base_url, session = big
    assert _get(session, base_url, module="leads").status_code == 200


def test_unknown_url_is_invalid_url_pattern(big):
    _, base_url, session = big
    for response in (
        session.get(f"{base_url}/crm/v8/Leads/123/Notes/x", timeout=10),
        session.get(f"{base_url}/nothing/here", timeout=10),
        session.post(f"{base_url}/crm/v8/Leads", json={"data": []}, timeout=10),
    ):
        _error(response, 404, "INVALID_URL_PATTERN")
