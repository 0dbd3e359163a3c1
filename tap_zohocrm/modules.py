"""The ``modules`` setting: extra modules checked against ``/settings/modules``.

Zoho lists every module of the org there, with ``api_supported`` telling whether the REST API
serves its records (Home, Feeds, Reports, ... do not). A name in ``modules`` must be the API
name of a supported module, exactly as Zoho spells it; anything else is a one-sentence error
naming the valid ones, before any record is read.
"""

from __future__ import annotations

import typing as t

from tap_zohocrm.client import SettingsReader
from tap_zohocrm.errors import ZohoConfigError

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["ModulesMetadataReader", "resolve_modules"]


class ModulesMetadataReader(SettingsReader):
    """Reads ``/settings/modules`` (one call); used by the tap, never synced."""

    name = "_zoho_settings_modules"
    path = "/settings/modules"
    required_scope = "ZohoCRM.settings.modules.READ"
    records_key = "modules"
    what = "the module list"

    def fetch(self) -> list[dict[str, t.Any]]:
        """The org's modules (one API call)."""
        return list(self.request_records(None))


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
