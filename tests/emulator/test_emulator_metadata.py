"""Settings endpoints and the deleted-records endpoint of the emulator."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from zoho_crm_emulator import Emulator, EmulatorConfig
from zoho_crm_emulator.metadata import REFUSING_MODULES

CONTRACT_MODULES = {
    "Leads",
    "Contacts",
    "Deals",
    "Accounts",
    "Tasks",
    "Calls",
    "Events",
    "Campaigns",
    "Products",
    "Quotes",
    "Vendors",
    "Notes",
    "Projects",
}
_STANDARD = (
    "First_Name Last_Name Full_Name Company Email Phone Mobile Lead_Source Lead_Status "
    "Description Owner Industry Annual_Revenue No_of_Employees Rating Website Street City State "
    "Zip_Code Country Email_Opt_Out Designation Salutation Converted__s Converted_Date_Time "
    "Created_Time Modified_Time Tag"
)
LEADS_STANDARD = set(_STANDARD.split())
JSON_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "jsonarray": lambda v: isinstance(v, list),
    "jsonobject": lambda v: isinstance(v, dict),
}


@pytest.fixture(scope="module")
def org():
    emu = Emulator(EmulatorConfig(sizes={"Leads": 1000}))
    with emu.serve() as base_url:
        session = requests.Session()
        session.headers["Authorization"] = f"Zoho-oauthtoken {emu.access_token()}"
        yield emu, base_url, session


def _fields(org, module):
    _, base_url, session = org
    response = session.get(
        f"{base_url}/crm/v8/settings/fields", params={"module": module}, timeout=10
    )
    assert response.status_code == 200
    return response.json()["fields"]


def test_settings_modules_lists_supported_custom_and_unsupported(org):
    _, base_url, session = org
    modules = session.get(f"{base_url}/crm/v8/settings/modules", timeout=10).json()["modules"]
    by_name = {m["api_name"]: m for m in modules}
    supported = {name for name, m in by_name.items() if m["api_supported"]}
    assert supported == CONTRACT_MODULES | set(REFUSING_MODULES)
    assert any(not m["api_supported"] for m in modules)
    assert by_name["Projects"]["generated_type"] == "custom"
    assert by_name["Leads"]["generated_type"] == "default"
    for m in modules:
        assert {"api_name", "module_name", "singular_label", "plural_label", "id"} <= set(m)


def test_leads_fields_fit_one_call_and_have_standard_custom_and_formula(org):
    fields = _fields(org, "Leads")
    names = [f["api_name"] for f in fields]
    assert len(names) < 50
    assert set(names) >= LEADS_STANDARD
    by_name = {f["api_name"]: f for f in fields}
    assert by_name["Last_Name"]["system_mandatory"] is True
    assert by_name["Lead_Age_Days"]["data_type"] == "formula"
    assert by_name["Lead_Age_Days"]["formula"]["return_type"] == "double"
    assert by_name["Lead_Age_Days"]["custom_field"] is True
    assert by_name["Referred_Account"]["lookup"]["module"]["api_name"] == "Accounts"
    assert by_name["Owner"]["data_type"] == "ownerlookup"
    assert by_name["Interests"]["json_type"] == "jsonarray"
    assert [v["actual_value"] for v in by_name["Interests"]["pick_list_values"]]
    assert by_name["Converted__s"]["data_type"] == "boolean"
    assert by_name["Modified_Time"]["read_only"] is True
    custom = {f["api_name"] for f in fields if f["custom_field"]}
    assert {"Budget", "Interests", "Lead_Age_Days"} <= custom
    assert "Last_Name" not in custom


def test_fields_cover_zoho_data_types(org):
    data_types = {
        f["data_type"] for module in ("Leads", "Projects", "Accounts") for f in _fields(org, module)
    }
    assert {
        "text",
        "email",
        "phone",
        "website",
        "textarea",
        "picklist",
        "multiselectpicklist",
        "integer",
        "bigint",
        "double",
        "currency",
        "percent",
        "autonumber",
        "date",
        "datetime",
        "boolean",
        "lookup",
        "ownerlookup",
        "formula",
    } <= data_types


def test_custom_module_is_wider_than_the_fields_cap(org):
    fields = _fields(org, "Projects")
    assert len(fields) == 64
    assert any(f["data_type"] == "formula" for f in fields)
    assert sum(f["custom_field"] for f in fields) > 40


def test_every_supported_module_has_fields_and_records(org):
    _, base_url, session = org
    for module in CONTRACT_MODULES:
        names = [f["api_name"] for f in _fields(org, module)]
        for start in range(0, len(names), 50):
            response = session.get(
                f"{base_url}/crm/v8/{module}",
                params={"fields": ",".join(names[start : start + 50])},
                timeout=10,
            )
            assert response.status_code == 200, (module, response.text)
            assert response.json()["data"]


def test_record_values_match_their_json_type(org):
    emu, _, _ = org
    for module in CONTRACT_MODULES:
        fields = _fields(org, module)
        for record in emu.records(module)[:40]:
            for f in fields:
                value = record[f["api_name"]]
                if value is not None:
                    assert JSON_CHECKS[f["json_type"]](value), (module, f["api_name"], value)
                if f["data_type"] == "datetime" and value is not None:
                    assert datetime.fromisoformat(value).tzinfo is not None
                if f["data_type"] == "lookup" and value is not None:
                    assert set(value) == {"name", "id"}
                if f["data_type"] == "ownerlookup":
                    assert set(value) == {"name", "id", "email"}


def test_fields_needs_a_known_module(org):
    _, base_url, session = org
    missing = session.get(f"{base_url}/crm/v8/settings/fields", timeout=10)
    assert missing.status_code == 400
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    unknown = session.get(
        f"{base_url}/crm/v8/settings/fields", params={"module": "Nope"}, timeout=10
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "INVALID_MODULE"


def _deleted(org, headers=None, **params):
    _, base_url, session = org
    return session.get(
        f"{base_url}/crm/v8/Leads/deleted", params=params, headers=headers, timeout=10
    )


def test_deleted_lists_recycle_and_permanent_entries(org):
    entries = _deleted(org, per_page=200).json()["data"]
    assert len(entries) == 50
    assert {e["type"] for e in entries} == {"recycle", "permanent"}
    for entry in entries:
        assert set(entry) == {
            "id",
            "deleted_time",
            "deleted_by",
            "display_name",
            "type",
            "created_by",
        }
        assert entry["deleted_by"] is None or set(entry["deleted_by"]) == {"name", "id"}
    recycle = _deleted(org, type="recycle").json()["data"]
    permanent = _deleted(org, type="permanent").json()["data"]
    assert {e["type"] for e in recycle} == {"recycle"}
    assert {e["type"] for e in permanent} == {"permanent"}
    assert len(recycle) + len(permanent) == 50
    assert _deleted(org, type="bogus").json()["code"] == "INVALID_DATA"


def test_deleted_ids_are_not_live_records(org):
    emu, _, _ = org
    live = {r["id"] for r in emu.records("Leads")}
    assert not live & {e["id"] for e in _deleted(org).json()["data"]}


def test_deleted_pages(org):
    first = _deleted(org, per_page=20, page=1).json()
    third = _deleted(org, per_page=20, page=3).json()
    assert first["info"] == {"per_page": 20, "count": 20, "page": 1, "more_records": True}
    assert third["info"]["count"] == 10
    assert third["info"]["more_records"] is False
    second = _deleted(org, per_page=20, page=2).json()
    ids = [e["id"] for page in (first, second, third) for e in page["data"]]
    assert len(set(ids)) == 50
    assert _deleted(org, per_page=20, page=4).status_code == 204


def test_deleted_if_modified_since_is_exclusive_on_deleted_time(org):
    entries = _deleted(org).json()["data"]
    times = sorted(datetime.fromisoformat(e["deleted_time"]) for e in entries)
    boundary = times[-5]
    expected = {e["id"] for e in entries if datetime.fromisoformat(e["deleted_time"]) > boundary}
    response = _deleted(org, headers={"If-Modified-Since": boundary.isoformat()})
    assert {e["id"] for e in response.json()["data"]} == expected
    newest = _deleted(org, headers={"If-Modified-Since": times[-1].isoformat()})
    assert newest.status_code == 204


def test_every_field_has_zoho_s_integer_length_and_type_details(org):
    for module in ("Leads", "Projects", "Accounts", "Deals"):
        for f in _fields(org, module):
            assert isinstance(f["length"], int), (module, f["api_name"])
            assert f["data_type"] != "decimal"  # Zoho calls its Decimal fields double
            if f["data_type"] == "autonumber":
                assert f["auto_number"]["prefix"]
            if f["data_type"] == "currency":
                assert f["currency"]["precision"] == 2
                assert f["decimal_place"] == 2


def test_one_module_s_settings_name_it_and_unknown_ones_are_invalid(org):
    _, base_url, session = org
    answer = session.get(f"{base_url}/crm/v8/settings/modules/Deals", timeout=10)
    [deals] = answer.json()["modules"]
    assert deals["api_name"] == "Deals"
    assert deals["related_lists"][0]["api_name"] == "Stage_History"
    wrong = session.get(f"{base_url}/crm/v8/settings/modules/Nope", timeout=10)
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "INVALID_MODULE"
