"""``GET /crm/v8/users`` and ``GET /crm/v8/org``: the org's users and the org itself.

Shapes follow Zoho's (``users`` list with ``info``, ``org`` list of one object); values come
from the emulator's fixed users and config, so they are stable across runs.
"""

from __future__ import annotations

from typing import Any

from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import API_USER, USERS
from zoho_crm_emulator.errors import invalid_data
from zoho_crm_emulator.messages import Request, Response

USER_TYPES = (
    "AllUsers",
    "ActiveUsers",
    "DeactiveUsers",
    "ConfirmedUsers",
    "NotConfirmedUsers",
    "DeletedUsers",
    "ActiveConfirmedUsers",
    "AdminUsers",
    "ActiveConfirmedAdmins",
    "CurrentUser",
)
USERS_SCOPES = ["ZohoCRM.users.READ", "ZohoCRM.users.ALL"]
ORG_SCOPES = ["ZohoCRM.org.READ", "ZohoCRM.org.ALL", "ZohoCRM.settings.ALL"]


def _user(user: dict[str, str], config: EmulatorConfig) -> dict[str, Any]:
    first, _, last = user["name"].partition(" ")
    admin = user["id"] == API_USER["id"]
    return {
        "id": user["id"],
        "first_name": first,
        "last_name": last,
        "full_name": user["name"],
        "email": user["email"],
        "status": "active",
        "confirm": True,
        "role": {"name": "CEO" if admin else "Manager", "id": "5725767000000026005"},
        "profile": {"name": "Administrator" if admin else "Standard", "id": "5725767000000026011"},
        "time_zone": config.timezone,
        "Modified_Time": "2024-01-01T00:00:00+00:00",
    }


def users(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/users`` (``type`` as Zoho's, ``CurrentUser`` the API user)."""
    kind = request.params.get("type") or "AllUsers"
    if kind not in USER_TYPES:
        raise invalid_data("invalid type", param="type", supported=list(USER_TYPES))
    chosen = [API_USER] if kind in ("CurrentUser", "AdminUsers", "ActiveConfirmedAdmins") else USERS
    if kind in ("DeactiveUsers", "NotConfirmedUsers", "DeletedUsers"):
        chosen = ()
    if not chosen:
        return Response(204)
    data = [_user(user, config) for user in chosen]
    info = {"per_page": 200, "count": len(data), "page": 1, "more_records": False}
    return Response(200, {"users": data, "info": info})


def org(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/org``: one org object."""
    body = {
        "id": config.org_id,
        "domain_name": f"org{config.org_id}",
        "company_name": "Emulated Org",
        "primary_email": API_USER["email"],
        "time_zone": config.timezone,
        "currency": "US Dollar - USD",
        "iso_code": "USD",
        "currency_symbol": "$",
        "country_code": "US",
        "zgid": config.org_id,
        "type": "production",
    }
    return Response(200, {"org": [body]})
