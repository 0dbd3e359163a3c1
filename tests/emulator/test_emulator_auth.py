"""The emulator's OAuth rules: token grant, credential errors, expiry, header scheme, scopes."""

from __future__ import annotations

import time

import requests

from zoho_crm_emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

GRANT = {
    "grant_type": "refresh_token",
    "client_id": DEFAULT_CLIENT_ID,
    "client_secret": DEFAULT_CLIENT_SECRET,
    "refresh_token": DEFAULT_REFRESH_TOKEN,
}


def _token(base_url: str) -> str:
    response = requests.post(f"{base_url}/oauth/v2/token", params=GRANT, timeout=10)
    return response.json()["access_token"]


def _leads(base_url: str, token: str, scheme: str = "Zoho-oauthtoken") -> requests.Response:
    return requests.get(
        f"{base_url}/crm/v8/Leads",
        params={"fields": "Last_Name"},
        headers={"Authorization": f"{scheme} {token}"},
        timeout=10,
    )


def test_token_grant_with_query_parameters(emulator):
    base_url = emulator.base_url
    response = requests.post(f"{base_url}/oauth/v2/token", params=GRANT, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["api_domain"] == base_url
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "ZohoCRM.modules.ALL" in body["scope"]
    assert _leads(base_url, body["access_token"]).status_code == 200


def test_token_grant_with_form_parameters(emulator):
    base_url = emulator.base_url
    response = requests.post(f"{base_url}/oauth/v2/token", data=GRANT, timeout=10)
    assert response.status_code == 200
    assert response.json()["access_token"].startswith("1000.")


def test_wrong_client_is_http_200_invalid_client(emulator):
    base_url = emulator.base_url
    for wrong in ({"client_id": "other"}, {"client_secret": "other"}):
        response = requests.post(
            f"{base_url}/oauth/v2/token", params={**GRANT, **wrong}, timeout=10
        )
        assert response.status_code == 200
        assert response.json() == {"error": "invalid_client"}


def test_wrong_refresh_token_is_http_200_invalid_code(emulator):
    base_url = emulator.base_url
    response = requests.post(
        f"{base_url}/oauth/v2/token", data={**GRANT, "refresh_token": "revoked"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json() == {"error": "invalid_code"}


def test_token_expires_after_configured_number_of_calls(start_emulator):
    base_url = start_emulator(token_lifetime_calls=3).base_url
    token = _token(base_url)
    assert [_leads(base_url, token).status_code for _ in range(3)] == [200, 200, 200]
    expired = _leads(base_url, token)
    assert expired.status_code == 401
    assert expired.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }
    assert _leads(base_url, _token(base_url)).status_code == 200


def test_token_expires_after_configured_seconds(start_emulator):
    base_url = start_emulator(token_lifetime_seconds=0.4).base_url
    response = requests.post(f"{base_url}/oauth/v2/token", params=GRANT, timeout=10)
    token = response.json()["access_token"]
    assert _leads(base_url, token).status_code == 200
    time.sleep(0.5)
    expired = _leads(base_url, token)
    assert expired.status_code == 401
    assert expired.json()["code"] == "INVALID_TOKEN"


def test_bearer_scheme_is_rejected(emulator):
    base_url = emulator.base_url
    token = _token(base_url)
    response = _leads(base_url, token, scheme="Bearer")
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"


def test_missing_authorization_is_authentication_failure(emulator):
    base_url = emulator.base_url
    response = requests.get(f"{base_url}/crm/v8/Leads", params={"fields": "Last_Name"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "AUTHENTICATION_FAILURE"


def test_unknown_token_is_invalid_token(emulator):
    base_url = emulator.base_url
    assert _leads(base_url, "1000.not.issued").json()["code"] == "INVALID_TOKEN"


def test_missing_fields_scope_is_scope_mismatch(start_emulator):
    base_url = start_emulator(
        scopes=("ZohoCRM.modules.READ", "ZohoCRM.settings.modules.READ")
    ).base_url
    token = _token(base_url)
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    fields = requests.get(
        f"{base_url}/crm/v8/settings/fields",
        params={"module": "Leads"},
        headers=headers,
        timeout=10,
    )
    assert fields.status_code == 401
    assert fields.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    assert fields.json()["status"] == "error"
    modules = requests.get(f"{base_url}/crm/v8/settings/modules", headers=headers, timeout=10)
    assert modules.status_code == 200
    assert _leads(base_url, token).status_code == 200


def test_missing_modules_scope_is_scope_mismatch(start_emulator):
    base_url = start_emulator(scopes=("ZohoCRM.settings.ALL",)).base_url
    token = _token(base_url)
    response = _leads(base_url, token)
    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    deleted = requests.get(
        f"{base_url}/crm/v8/Leads/deleted",
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=10,
    )
    assert deleted.json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_all_scopes_and_per_module_scopes_imply_reads(start_emulator):
    base_url = start_emulator(
        scopes=("ZohoCRM.modules.leads.READ", "ZohoCRM.settings.ALL")
    ).base_url
    token = _token(base_url)
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    assert _leads(base_url, token).status_code == 200
    contacts = requests.get(
        f"{base_url}/crm/v8/Contacts", params={"fields": "Last_Name"}, headers=headers, timeout=10
    )
    assert contacts.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    fields = requests.get(
        f"{base_url}/crm/v8/settings/fields",
        params={"module": "Leads"},
        headers=headers,
        timeout=10,
    )
    assert fields.status_code == 200


def test_refreshing_too_often_is_access_denied(start_emulator):
    base_url = start_emulator(token_requests_per_minute=2).base_url
    statuses = [
        requests.post(f"{base_url}/oauth/v2/token", params=GRANT, timeout=10) for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 400]
    assert statuses[2].json()["error"] == "Access Denied"
