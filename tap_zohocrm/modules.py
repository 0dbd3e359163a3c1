"""Modules: the ``modules`` setting, stream names, field metadata, and modules Zoho refuses.

The ``modules`` setting's extra modules are checked against ``/settings/modules``.

Zoho lists every module of the org there, with ``api_supported`` telling whether the REST API
serves its records (Home, Feeds, Reports, ... do not). A name in ``modules`` must be the API
name of a supported module, exactly as Zoho spells it; anything else is a one-sentence error
naming the valid ones, before any record is read.
"""

from __future__ import annotations

import re
import threading
import typing as t
from http import HTTPStatus

from tap_zohocrm.client import ZohoStream, response_payload
from tap_zohocrm.errors import ZohoAPIError, ZohoConfigError, ZohoScopeError

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tap_zohocrm.run import ZohoRun

__all__ = [
    "KNOWN_REFUSING_MODULES",
    "SettingsApi",
    "module_refused",
    "resolve_modules",
    "stream_name_for",
]

#: Modules Zoho lists as API-supported whose records endpoint is known to refuse every call.
KNOWN_REFUSING_MODULES = frozenset(
    {
        "CTI_Entry",
        "Email_Analytics",
        "Email_Template_Analytics",
        "Functions__s",
        "Email_Sentiment",
        "Locking_Information__s",
    }
)
#: Zoho codes that mean "this org or user cannot read this module at all".
MODULE_REFUSED_CODES = frozenset(
    {"INVALID_MODULE", "NO_PERMISSION", "FEATURE_NOT_SUPPORTED", "NOT_SUPPORTED", "NOT_ALLOWED"}
)


def module_refused(module: str, ex: ZohoAPIError) -> bool:
    """Whether an error says the module cannot be read at all (not a passing failure)."""
    if isinstance(ex, ZohoScopeError) or ex.status is None:
        return False
    if ex.code in MODULE_REFUSED_CODES or ex.status == HTTPStatus.FORBIDDEN:
        return True
    return module in KNOWN_REFUSING_MODULES and HTTPStatus.BAD_REQUEST <= ex.status < 500


def stream_name_for(module: str) -> str:
    """Stream name of a module: its API name in snake case (``Leads`` -> ``leads``).

    Args:
        module: Module API name, e.g. ``Price_Books`` or ``SalesOrders``.

    Returns:
        E.g. ``price_books``, ``sales_orders``.
    """
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", module)
    return re.sub(r"_+", "_", name).lower()


class SettingsApi(ZohoStream):
    """The ``/settings`` endpoints the tap reads for itself: field metadata, the module list.

    One client with a method per endpoint, never synced: each call goes through
    :meth:`ZohoStream.send` (the same retries, error sentences and credit meter as every call).
    """

    name = "_zoho_settings"
    path = "/settings"
    #: One answer per call: no ``info`` (paging) object to check.
    paged = False

    def __init__(self, tap: ZohoRun) -> None:
        """Create the client.

        Args:
            tap: The tap run.
        """
        super().__init__(tap, schema={"type": "object", "properties": {}})
        #: The call's names below are attributes the shared checks read: one call at a time
        #: (Bulk Read backfills of several modules may ask for their fields at once).
        self._calling = threading.Lock()

    def fields(self, module: str) -> list[dict[str, t.Any]]:
        """The field metadata of one module (``/settings/fields?module=``, one call)."""
        return self._list(
            "/settings/fields",
            {"module": module},
            "fields",
            what=f"the {module} field metadata",
            scope="ZohoCRM.settings.fields.READ",
        )

    def modules(self) -> list[dict[str, t.Any]]:
        """The org's modules (``/settings/modules``, one call)."""
        return self._list(
            "/settings/modules",
            None,
            "modules",
            what="the module list",
            scope="ZohoCRM.settings.modules.READ",
        )

    def _list(
        self, path: str, params: dict[str, t.Any] | None, key: str, *, what: str, scope: str
    ) -> list[dict[str, t.Any]]:
        # The answer's list is checked like a page's (``records_key``); ``what``, ``path`` and
        # ``required_scope`` name the call in error sentences.
        with self._calling, self.zoho_tap.emit.pinned():
            self.records_key, self.path, self.what, self.required_scope = key, path, what, scope
            payload = response_payload(self.send("GET", path, params=params))
        items = payload.get(key) if isinstance(payload, dict) else None
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def resolve_modules(
    requested: Sequence[str],
    available: Iterable[Mapping[str, t.Any]],
    *,
    always: Sequence[str] = (),
) -> list[str]:
    """The extra modules to sync, checked against the org's module list.

    Args:
        requested: The ``modules`` setting.
        available: The ``modules`` list of ``/settings/modules``.
        always: Modules synced anyway (Leads, Contacts, Deals): named again, they are skipped.

    Returns:
        Module API names, in the order asked, without duplicates.

    Raises:
        ZohoConfigError: When a name is unknown or its module is not served by the API.
    """
    supported: list[str] = []
    unsupported: set[str] = set()
    for module in available:
        name = module.get("api_name")
        if not isinstance(name, str) or not name:
            continue
        if module.get("api_supported") is False:
            unsupported.add(name)
        else:
            supported.append(name)
    wanted = [name for name in dict.fromkeys(requested) if name not in always]
    unknown = [name for name in wanted if name not in supported]
    if unknown:
        described = ", ".join(
            f"'{name}' ({'not served by the API' if name in unsupported else 'unknown'})"
            for name in unknown
        )
        valid = ", ".join(sorted(supported))
        msg = (
            f"The modules setting names {described}; valid module API names in this org "
            f"(case-sensitive) are: {valid}."
        )
        raise ZohoConfigError(msg)
    return wanted
