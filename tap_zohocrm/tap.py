"""tap-zohocrm: Singer tap for Zoho CRM (Leads, Contacts, Deals), built on singer-sdk."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import typing as t
from functools import cached_property

import click
from singer_sdk.streams import Stream
from typing_extensions import override

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.config_schema import CONFIG_SCHEMA
from tap_zohocrm.errors import ZohoAPIError, ZohoConfigError, ZohoError, ZohoScopeError
from tap_zohocrm.line_items import LINE_ITEM_STREAMS, custom_subform_stream
from tap_zohocrm.modules import SettingsApi, resolve_modules
from tap_zohocrm.reference import REFERENCE_STREAMS
from tap_zohocrm.related import DealStageHistoryStream, timeline_stream
from tap_zohocrm.run import ZohoRun
from tap_zohocrm.schema import minimal_schema, module_schema, standard_schema
from tap_zohocrm.settings import describe_settings_errors
from tap_zohocrm.streams import (
    ContactsStream,
    DealsStream,
    LeadsStream,
    ZohoModuleStream,
    module_refused,
    stream_name_for,
)
from tap_zohocrm.writer import flush_writers

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.streams import Stream

__all__ = ["TapZohoCRM"]

FIELDS_SCOPE = "ZohoCRM.settings.fields.READ"


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn an expected failure into one line on stderr and exit status 1.

    Expected failures (bad credentials, wrong data centre, missing scope, a Zoho error that
    retrying does not fix) are explained by the exception's sentence; a stack trace would only
    bury it. Unexpected exceptions keep the SDK's handling (logged with their traceback).
    """
    try:
        yield
    except ZohoError as ex:
        click.echo(f"tap-zohocrm: error: {ex.sentence}", err=True)
        sys.exit(1)
    finally:  # a failed run's held RECORD lines still reach the target
        flush_writers()


class TapZohoCRM(ZohoRun):
    """Zoho CRM records (Leads, Contacts, Deals, any other module) and their deletions."""

    name = "tap-zohocrm"
    package_name = "tap-zohocrm"

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the tap (see :class:`singer_sdk.Tap`)."""
        self._module_schemas: dict[str, dict] = {}
        self._module_fields: dict[str, list[dict[str, t.Any]]] = {}
        self._fields_lock = threading.Lock()
        super().__init__(*args, **kwargs)
        self._check_start_date()

    def concurrent_streams(self) -> dict[str, t.Callable[[], None]]:
        """The selected module streams in sync order: name -> singer-sdk's sync of it.

        Asked on the main thread when the first of them is due (see concurrency.py).
        """
        return {
            stream.name: functools.partial(Stream.sync, stream)
            for stream in self.streams.values()
            if isinstance(stream, ZohoModuleStream)
            and stream.selected
            and stream.module not in self.refused_modules
        }

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # One sentence naming each bad setting and its environment variable, never a secret
        # value, in discovery and sync alike (the SDK only warns in discovery).
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        sentence = describe_settings_errors(self.config, schema, "TAP_ZOHOCRM_")
        if sentence is None:
            method = self.config.get("auth_method") or "refresh_token"
            needed = "refresh_token" if method == "refresh_token" else "soid"
            if not self.config.get(needed):
                sentence = (
                    f"The {needed} setting is missing, and auth_method {method} needs it (set "
                    f"it, e.g. as TAP_ZOHOCRM_{needed.upper()}; tap-zohocrm auth makes a "
                    "refresh token)."
                )
        if sentence is not None:
            raise ZohoConfigError(sentence)
        return []

    def _check_start_date(self) -> None:
        """Refuse a ``start_date`` that is not an ISO-8601 date or datetime, in one sentence.

        The settings schema says ``date-time``, but JSON Schema formats are not enforced, so a
        value such as ``yesterday`` would otherwise fail with a stack trace mid-sync.

        Raises:
            ZohoConfigError: The value cannot be parsed.
        """
        value = self.config.get("start_date")
        if value is None or value == "":
            return
        try:
            parse_instant(str(value))
        except (TypeError, ValueError) as ex:
            msg = (
                f"The start_date setting {str(value)!r} is not an ISO-8601 date or datetime "
                f"({ex}); use e.g. 2024-01-01 or 2024-01-01T00:00:00+00:00."
            )
            raise ZohoConfigError(msg) from None

    # -- connection --------------------------------------------------------------------

    # -- schemas -----------------------------------------------------------------------

    def module_schema(self, module: str, stream_name: str) -> dict:
        """A module's schema from its field metadata, read once per process.

        Falls back to the bundled standard fields when the metadata cannot be read for lack
        of permission, with a warning naming the missing scope.

        Args:
            module: Module API name.
            stream_name: Stream name (for the bundled schema file).

        Returns:
            The JSON Schema of the stream.
        """
        if module in self._module_schemas:
            return self._module_schemas[module]
        try:
            fields = self.module_fields(module)
        except ZohoScopeError:
            schema = self._fallback_schema(
                module,
                stream_name,
                f"the refresh token lacks the {FIELDS_SCOPE} scope",
            )
        except ZohoAPIError as ex:
            if module in self.optional_modules() and module_refused(module, ex):
                self.refuse_module(module, ex)
                schema = minimal_schema()
            elif ex.status == 403:
                schema = self._fallback_schema(
                    module,
                    stream_name,
                    f"Zoho denied it ({ex.code}: {ex.zoho_message}); the Zoho user needs "
                    f"permission and the refresh token the {FIELDS_SCOPE} scope",
                )
            else:
                raise
        else:
            if fields:
                schema = module_schema(fields)
            else:
                schema = self._fallback_schema(module, stream_name, "Zoho returned no fields")
        self._module_schemas[module] = schema
        return schema

    @override
    def module_fields(self, module: str) -> list[dict[str, t.Any]]:
        """A module's ``/settings/fields``, read once per run (schema and Bulk Read share it)."""
        # Streams syncing on threads may ask too: one call, counted once (pinned: the wait
        # for Zoho keeps the emit lock, as another thread may want this lock meanwhile).
        with self._fields_lock, self.emit.pinned():
            if module not in self._module_fields:
                api = self.settings_api
                calls_before, credits_before = api.api_calls, api.api_credits
                try:
                    self._module_fields[module] = api.fields(module)
                finally:
                    self.count_metadata(
                        module, api.api_calls - calls_before, api.api_credits - credits_before
                    )
            return self._module_fields[module]

    @cached_property
    def settings_api(self) -> SettingsApi:
        """The client of the ``/settings`` endpoints."""
        return SettingsApi(self)

    def optional_modules(self) -> frozenset[str]:
        """Modules named by the ``modules`` setting besides Leads, Contacts and Deals."""
        base = {LeadsStream.module, ContactsStream.module, DealsStream.module}
        return frozenset(self.settings.modules) - base

    #: (accounts server, module) pairs warned about in this process: the SDK's CLI may build
    #: the tap more than once per run, and the warning is given once.
    _warned_refusals: t.ClassVar[set[tuple[str, str]]] = set()

    def refuse_module(self, module: str, ex: ZohoAPIError) -> None:
        """Give the one warning for a module Zoho refuses; its stream is then skipped."""
        if module in self.refused_modules:
            return
        sentence = (
            f"Zoho CRM refuses the {module} module ({ex.code or f'HTTP {ex.status}'}: "
            f"{ex.zoho_message or ex.sentence}), so its stream {stream_name_for(module)} is "
            f"skipped and the other streams sync; remove {module} from the modules setting "
            "to silence this"
        )
        self.refused_modules[module] = sentence
        where = (self.settings.accounts_url or self.settings.data_center, module)
        if where not in self._warned_refusals:
            self._warned_refusals.add(where)
            self.logger.warning("%s.", sentence)

    def _fallback_schema(self, module: str, stream_name: str, reason: str) -> dict:
        self.logger.warning(
            "Cannot read the %s field metadata: %s. Using the standard %s fields from "
            "schemas/%s.json; custom fields are missing until %s is granted.",
            module,
            reason,
            module,
            stream_name,
            FIELDS_SCOPE,
        )
        return self.standard_module_schema(stream_name)

    def standard_module_schema(self, stream_name: str) -> dict:
        """The bundled schema of a stream's standard fields (no API call).

        Args:
            stream_name: Stream name.

        Returns:
            The JSON Schema; for a module without a bundled schema (custom modules), just
            ``id``, ``Modified_Time`` and ``_sdc_deleted_at``.
        """
        try:
            return standard_schema(stream_name)
        except FileNotFoundError:
            return minimal_schema()

    # -- streams -----------------------------------------------------------------------

    @override
    def discover_streams(self) -> list[Stream]:
        """The module streams, then the reference streams (users, org, roles, ...).

        Module streams: Leads, Contacts, Deals and the ``modules`` setting's; of the reference
        streams only ``users`` is selected by default. Schemas are built when first needed.
        The only call made here is one to
        ``/settings/modules``, to check the ``modules`` setting, and only when a module it
        names is not already in the input catalog (a catalog is made by a discovery that
        checked it).
        """
        # Every setting is checked before the first call (discovery makes the first ones).
        self._check_start_date()
        streams: list[ZohoModuleStream] = [
            LeadsStream(self),
            ContactsStream(self),
            DealsStream(self),
        ]
        streams.extend(ZohoModuleStream(self, module=name) for name in self.extra_modules())
        related: list[Stream] = [DealStageHistoryStream(self)]
        related.extend(declared(self) for declared in LINE_ITEM_STREAMS)
        related.extend(custom_subform_stream(self, spec) for spec in self.settings.subforms)
        for module in self.settings.timeline_modules:
            related.append(timeline_stream(self, module, f"{stream_name_for(module)}_timeline"))
        return [*streams, *(declared(self) for declared in REFERENCE_STREAMS), *related]

    def extra_modules(self) -> list[str]:
        """The ``modules`` setting, checked against the org's modules when needed.

        Returns:
            Module API names besides Leads, Contacts and Deals.

        Raises:
            ZohoConfigError: When a module is unknown or not served by the API.
        """
        requested = list(self.settings.modules)
        base = (LeadsStream.module, ContactsStream.module, DealsStream.module)
        wanted = [name for name in dict.fromkeys(requested) if name not in base]
        if not wanted:
            return []
        catalog = self.input_catalog
        if catalog is not None and all(catalog.get_stream(stream_name_for(m)) for m in wanted):
            return wanted
        api = self.settings_api
        calls_before = api.api_calls
        available = api.modules()
        self.logger.info(
            "Checked the modules setting against /settings/modules (%d API call)",
            api.api_calls - calls_before,
        )
        return resolve_modules(wanted, available, always=base)

    # -- CLI: expected errors as one sentence ------------------------------------------

    @classmethod
    @override
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        with _user_errors():
            super().invoke(*args, **kwargs)

    @classmethod
    @override
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        with _user_errors():
            super().cb_discover(ctx, param, value)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with _user_errors():
            super().cb_test(ctx, param, value)


if __name__ == "__main__":  # pragma: no cover
    TapZohoCRM.cli()
