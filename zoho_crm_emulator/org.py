"""The org's reference data: users, the org, roles, profiles, currencies, territories.

Shapes follow Zoho's (``users`` list with ``info``, ``org`` list of one object, ``roles``,
``profiles``, ``currencies``, ``territories``); values come from the emulator's fixed users
and config, so they are stable across runs. Territories need an edition with Territory
Management (Enterprise and up); other editions answer ``FEATURE_NOT_SUPPORTED``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoho_crm_emulator.auth import settings_scopes
from zoho_crm_emulator.config import EmulatorConfig
from zoho_crm_emulator.data import API_USER, USERS
from zoho_crm_emulator.errors import ZohoError, invalid_data
from zoho_crm_emulator.messages import Request, Response
from zoho_crm_emulator.timeutil import parse_iso

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
    raw_since = request.headers.get("if-modified-since")
    if raw_since and raw_since.strip():
        since = parse_iso(raw_since.strip())
        data = [user for user in data if parse_iso(user["Modified_Time"]) > since]
        if not data:
            return Response(304)
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


_ROLE_IDS = {"CEO": "5725767000000026005", "Manager": "5725767000000026008"}
_PROFILE_IDS = {"Administrator": "5725767000000026011", "Standard": "5725767000000026014"}
_CREATED = "2024-01-01T00:00:00+00:00"
#: Editions with Territory Management.
TERRITORY_EDITIONS = frozenset({"enterprise", "ultimate", "cx"})


def _by(user: dict[str, str]) -> dict[str, str]:
    return {"name": user["name"], "id": user["id"]}


def roles(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/settings/roles``."""
    ceo = {
        "id": _ROLE_IDS["CEO"], "name": "CEO", "display_label": "CEO", "reporting_to": None,
        "share_with_peers": True, "description": "The top of the hierarchy", "admin_user": True,
    }  # fmt: skip
    manager = {
        "id": _ROLE_IDS["Manager"], "name": "Manager", "display_label": "Manager",
        "reporting_to": {"name": "CEO", "id": _ROLE_IDS["CEO"]}, "share_with_peers": False,
        "description": "Sales managers", "admin_user": False,
    }  # fmt: skip
    return Response(200, {"roles": [ceo, manager]})


def profiles(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/settings/profiles``."""
    data = [
        {
            "id": profile_id,
            "name": name,
            "display_label": name,
            "default": name == "Administrator",
            "description": f"{name} profile",
            "category": name == "Administrator",
            "created_time": _CREATED,
            "modified_time": _CREATED,
            "created_by": _by(API_USER),
            "modified_by": _by(API_USER),
        }
        for name, profile_id in _PROFILE_IDS.items()
    ]
    return Response(200, {"profiles": data})


def currencies(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/org/currencies`` (the base currency and one other)."""

    def currency(iso: str, name: str, symbol: str, rate: str, base: bool, cid: str) -> dict:
        return {
            "id": cid, "name": name, "iso_code": iso, "symbol": symbol, "exchange_rate": rate,
            "is_active": True, "is_base": base, "prefix_symbol": True,
            "format": {"decimal_separator": "Period", "thousand_separator": "Comma",
                       "decimal_places": "2"},
            "created_time": _CREATED, "modified_time": _CREATED,
            "created_by": _by(API_USER), "modified_by": _by(API_USER),
        }  # fmt: skip

    return Response(
        200,
        {
            "currencies": [
                currency("USD", "US Dollar - USD", "$", "1.000000000", True, "5725767000000027001"),
                currency("EUR", "Euro - EUR", "€", "0.920000000", False, "5725767000000027004"),
            ]
        },
    )


def territories(request: Request, config: EmulatorConfig) -> Response:
    """Answer ``GET /crm/v8/settings/territories`` (Enterprise and up)."""
    if config.edition.lower() not in TERRITORY_EDITIONS:
        raise ZohoError(
            400,
            "FEATURE_NOT_SUPPORTED",
            "Territory Management is not enabled for this organization",
        )
    root = {
        "id": "5725767000000028001", "name": "Global", "parent_id": None,
        "manager": _by(API_USER), "reporting_to": None, "permission_type": "read_write",
        "description": "All regions", "created_time": _CREATED, "modified_time": _CREATED,
        "created_by": _by(API_USER), "modified_by": _by(API_USER),
    }  # fmt: skip
    emea = {
        **root, "id": "5725767000000028004", "name": "EMEA", "parent_id": root["id"],
        "reporting_to": {"name": "Global", "id": root["id"]}, "description": "Europe",
    }  # fmt: skip
    return Response(200, {"territories": [root, emea]})


#: Path under /crm/v8 -> (endpoint name for the counters, scopes, handler).
REFERENCE: dict[str, tuple[str, list[str], Callable[[Request, EmulatorConfig], Response]]] = {
    "/users": ("users", USERS_SCOPES, users),
    "/org": ("org", ORG_SCOPES, org),
    "/org/currencies": ("currencies", ORG_SCOPES, currencies),
    "/settings/roles": ("roles", ["ZohoCRM.users.READ", *settings_scopes("roles")], roles),
    "/settings/profiles": ("profiles", settings_scopes("profiles"), profiles),
    "/settings/territories": ("territories", settings_scopes("territories"), territories),
}
