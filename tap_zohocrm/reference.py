"""The org's reference data as streams: users, roles, profiles, the org, currencies, territories.

Each is a small declaration on :class:`ZohoListStream` (path, records key, schema, paging,
scope); the base owns paging, ``If-Modified-Since`` bookmarks and the rule that an edition
or token without the feature gets one warning and an empty stream, never a failed run.
"""

from __future__ import annotations

import typing as t
from http import HTTPStatus

from singer_sdk import typing as th
from singer_sdk.pagination import PageNumberPaginator, SinglePagePaginator
from typing_extensions import override

from tap_zohocrm.bookmarks import to_header_value
from tap_zohocrm.client import ZohoStream, page_info
from tap_zohocrm.errors import ZohoAPIError, ZohoScopeError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_zohocrm.run import ZohoRun

#: Zoho codes that mean "this org (edition) or user has no such feature".
FEATURE_REFUSED_CODES = frozenset(
    {
        "NO_PERMISSION",
        "FEATURE_NOT_SUPPORTED",
        "NOT_SUPPORTED",
        "NOT_ALLOWED",
        "INVALID_URL_PATTERN",
    }
)

_Str = th.StringType
_Named = th.ObjectType(th.Property("id", _Str), th.Property("name", _Str))


class _MorePages(PageNumberPaginator):
    """``page=1, 2, ...`` while ``info.more_records`` is true."""

    @override
    def has_more(self, response: requests.Response) -> bool:
        # a 204 (no records at all) has no body
        return response.status_code == HTTPStatus.OK and bool(
            page_info(response).get("more_records")
        )


class ZohoListStream(ZohoStream):
    """A non-module list endpoint, declared by a subclass's class attributes."""

    #: JSON Schema properties of a record (every one is emitted, null when absent).
    properties: t.ClassVar[th.PropertiesList]
    #: Fixed query parameters.
    params: t.ClassVar[dict[str, str]] = {}
    #: Pages with ``page``/``per_page`` (``info.more_records``); otherwise one call.
    paged = False
    primary_keys: t.ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    selected_by_default = False
    #: What the warning calls the feature (``Territory Management``).
    feature: t.ClassVar[str] = ""

    def __init__(self, tap: ZohoRun) -> None:
        """Create the stream from its declaration."""
        super().__init__(tap, schema=self.properties.to_dict())
        self.what = f"the {self.name}"
        self._fields = tuple(self.schema["properties"])

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        params: dict[str, t.Any] = dict(self.params)
        if self.paged:
            params.update(page=next_page_token or 1, per_page=200)
        return params

    @override
    def get_new_paginator(self) -> PageNumberPaginator | SinglePagePaginator:
        return _MorePages(1) if self.paged else SinglePagePaginator()

    @override
    def get_http_request(self, *, page: PageContext[t.Any]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        if self.replication_key:
            since = self.get_starting_replication_key_value(page.stream_context)
            if since:
                request.headers["If-Modified-Since"] = to_header_value(str(since))
        return request

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        fields = self._fields
        return [
            {name: raw.get(name) for name in fields} for raw in super().parse_response(response)
        ]

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The endpoint's records; none, with one warning, where the org cannot have them."""
        try:
            yield from self.within_budget(super().get_records(context), context)
        except ZohoScopeError as ex:
            self.logger.warning(
                "Stream %s is empty: the refresh token lacks the %s scope (%s); add it to a "
                "new grant code to sync it, or deselect the stream.",
                self.name,
                ex.scope,
                ex.sentence.split(" (", 1)[0],
            )
        except ZohoAPIError as ex:
            refused = ex.code in FEATURE_REFUSED_CODES or ex.status == HTTPStatus.FORBIDDEN
            if not refused:
                raise
            self.logger.warning(
                "Stream %s is empty: Zoho CRM refuses it for this org (%s: %s)%s; deselect the "
                "stream to silence this.",
                self.name,
                ex.code or f"HTTP {ex.status}",
                ex.zoho_message or ex.sentence,
                f", {self.feature} needs a higher edition or must be turned on"
                if self.feature
                else "",
            )


class UsersStream(ZohoListStream):
    """Every user (``type=AllUsers``: active, inactive, unconfirmed), incremental."""

    name = "users"
    path = "/users"
    records_key = "users"
    params: t.ClassVar[dict[str, str]] = {"type": "AllUsers"}
    paged = True
    replication_key = "Modified_Time"
    selected_by_default = True
    required_scope = "ZohoCRM.users.READ"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("first_name", _Str),
        th.Property("last_name", _Str),
        th.Property("full_name", _Str),
        th.Property("email", _Str),
        th.Property("phone", _Str),
        th.Property("mobile", _Str),
        th.Property("status", _Str),
        th.Property("confirm", th.BooleanType),
        th.Property("role", _Named),
        th.Property("profile", _Named),
        th.Property("time_zone", _Str),
        th.Property("locale", _Str),
        th.Property("country", _Str),
        th.Property("zuid", _Str),
        th.Property("created_time", th.DateTimeType),
        th.Property("Modified_Time", th.DateTimeType),
    )

    @property
    @override
    def is_sorted(self) -> bool:
        return False


class OrgStream(ZohoListStream):
    """The org itself (one record): time zone, base currency, country."""

    name = "org"
    path = "/org"
    records_key = "org"
    required_scope = "ZohoCRM.org.READ"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("company_name", _Str),
        th.Property("domain_name", _Str),
        th.Property("primary_email", _Str),
        th.Property("time_zone", _Str),
        th.Property("currency", _Str),
        th.Property("iso_code", _Str),
        th.Property("currency_symbol", _Str),
        th.Property("country_code", _Str),
        th.Property("zgid", _Str),
        th.Property("type", _Str),
    )


class RolesStream(ZohoListStream):
    """The role hierarchy."""

    name = "roles"
    path = "/settings/roles"
    records_key = "roles"
    required_scope = "ZohoCRM.settings.roles.READ"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("name", _Str),
        th.Property("display_label", _Str),
        th.Property("reporting_to", _Named),
        th.Property("share_with_peers", th.BooleanType),
        th.Property("description", _Str),
        th.Property("admin_user", th.BooleanType),
    )


class ProfilesStream(ZohoListStream):
    """Permission profiles."""

    name = "profiles"
    path = "/settings/profiles"
    records_key = "profiles"
    required_scope = "ZohoCRM.settings.profiles.READ"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("name", _Str),
        th.Property("display_label", _Str),
        th.Property("default", th.BooleanType),
        th.Property("description", _Str),
        th.Property("category", th.BooleanType),
        th.Property("created_time", th.DateTimeType),
        th.Property("modified_time", th.DateTimeType),
        th.Property("created_by", _Named),
        th.Property("modified_by", _Named),
    )


class CurrenciesStream(ZohoListStream):
    """The org's currencies with their exchange rates to the base currency."""

    name = "currencies"
    path = "/org/currencies"
    records_key = "currencies"
    required_scope = "ZohoCRM.org.READ"
    feature = "multi-currency"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("name", _Str),
        th.Property("iso_code", _Str),
        th.Property("symbol", _Str),
        th.Property("exchange_rate", _Str, description="Zoho sends it as text, e.g. 0.92"),
        th.Property("is_active", th.BooleanType),
        th.Property("is_base", th.BooleanType),
        th.Property("created_time", th.DateTimeType),
        th.Property("modified_time", th.DateTimeType),
    )


class TerritoriesStream(ZohoListStream):
    """Territories (Enterprise and up, with Territory Management enabled)."""

    name = "territories"
    path = "/settings/territories"
    records_key = "territories"
    required_scope = "ZohoCRM.settings.territories.READ"
    feature = "Territory Management"
    properties = th.PropertiesList(
        th.Property("id", _Str, required=True),
        th.Property("name", _Str),
        th.Property("parent_id", _Str),
        th.Property("manager", _Named),
        th.Property("reporting_to", _Named),
        th.Property("permission_type", _Str),
        th.Property("description", _Str),
        th.Property("created_time", th.DateTimeType),
        th.Property("modified_time", th.DateTimeType),
    )


REFERENCE_STREAMS: tuple[type[ZohoListStream], ...] = (
    UsersStream,
    OrgStream,
    RolesStream,
    ProfilesStream,
    CurrenciesStream,
    TerritoriesStream,
)
