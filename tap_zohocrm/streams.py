"""Zoho CRM module streams (Get Records) and the field-metadata reader.

:class:`ZohoModuleStream` syncs any module; ``leads``, ``contacts`` and ``deals`` are instances
of it. Later features slot in as overrides of small methods: extra request parameters
(:meth:`ZohoModuleStream.get_url_params`), more than 50 fields (:meth:`field_chunks`), extra
record sources after the module's records (deletions) in :meth:`get_records`.
"""

from __future__ import annotations

import re
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.helpers._util import utc_now
from singer_sdk.pagination import SinglePagePaginator
from typing_extensions import override

from tap_zohocrm.bookmarks import BookmarkTracker, to_header_value
from tap_zohocrm.client import ZohoPage, ZohoPaginator, ZohoStream
from tap_zohocrm.schema import REPLICATION_KEY

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    import requests
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.pagination import BaseAPIPaginator
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_zohocrm.tap import TapZohoCRM

__all__ = [
    "MAX_FIELDS_PER_CALL",
    "ContactsStream",
    "DealsStream",
    "FieldsMetadataStream",
    "LeadsStream",
    "ZohoModuleStream",
    "stream_name_for",
]

#: Zoho's cap on the ``fields`` parameter of Get Records.
MAX_FIELDS_PER_CALL = 50
#: Fields every request must carry: the key and the replication key.
ALWAYS_FIELDS = ("id", REPLICATION_KEY)


def stream_name_for(module: str) -> str:
    """Stream name of a module: its API name in snake case (``Leads`` -> ``leads``).

    Args:
        module: Module API name, e.g. ``Price_Books`` or ``SalesOrders``.

    Returns:
        E.g. ``price_books``, ``sales_orders``.
    """
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", module)
    return re.sub(r"_+", "_", name).lower()


class FieldsMetadataStream(ZohoStream):
    """Reads ``/settings/fields?module=...``; used by the tap to build schemas, never synced."""

    name = "_zoho_settings_fields"
    path = "/settings/fields"
    required_scope = "ZohoCRM.settings.fields.READ"
    records_key = "fields"

    def __init__(self, tap: TapZohoCRM) -> None:
        """Create the reader.

        Args:
            tap: The tap.
        """
        super().__init__(tap, schema={"type": "object", "properties": {}})

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None
        return {"module": context["module"]}

    @override
    def get_new_paginator(self) -> BaseAPIPaginator:
        return SinglePagePaginator()

    def fetch(self, module: str) -> list[dict[str, t.Any]]:
        """The field metadata of one module (one API call).

        Args:
            module: Module API name.

        Returns:
            The ``fields`` list.
        """
        self.what = f"the {module} field metadata"
        return list(self.request_records({"module": module}))


class ZohoModuleStream(ZohoStream):
    """Records of one Zoho CRM module, incremental on ``Modified_Time``.

    Requests ``fields=<selected fields>&per_page=<page_size>&sort_by=Modified_Time&
    sort_order=asc`` with ``If-Modified-Since`` from the bookmark, pages with ``page_token``,
    and emits complete records: every selected field, ``null`` where Zoho sent nothing, and
    none of Zoho's ``$`` system keys.
    """

    #: The module's API name, e.g. ``Leads``.
    module: str = ""

    def __init__(self, tap: TapZohoCRM, module: str | None = None) -> None:
        """Create the stream.

        Args:
            tap: The tap.
            module: Module API name; defaults to the class's :attr:`module`.
        """
        self.module = module or self.module
        if not self.module:
            msg = "A module stream needs a module API name."
            raise ValueError(msg)
        super().__init__(tap, name=stream_name_for(self.module), path=f"/{self.module}")
        self.primary_keys = ["id"]
        self.replication_key = REPLICATION_KEY
        self.what = f"the {self.module} records"
        self.required_scope = f"ZohoCRM.modules.READ (or ZohoCRM.modules.{self.module}.READ)"
        self.page_size = int(self.config.get("page_size") or 200)
        # One STATE message per full page: a killed run resumes at the page it was reading.
        self.STATE_MSG_FREQUENCY = self.page_size
        self._record_fields: tuple[str, ...] = ()
        self._request_fields: tuple[str, ...] = ()
        self._nested_off: dict[str, frozenset[str]] = {}
        self._tracker: BookmarkTracker | None = None

    # -- schema --------------------------------------------------------------------------

    @property
    @override
    def schema(self) -> dict:
        """The stream's schema, built on first use.

        With an input catalog (Meltano always passes one) the catalog's schema is used as is
        and no metadata call is made, so a sync costs only its Get Records calls. Without
        one, the schema comes from ``/settings/fields`` (one call per module per process).
        """
        if self._schema is None:
            if self._input_schema is not None:
                self._schema = self._input_schema
            elif self._tap_input_catalog is not None:
                # Not in the input catalog, hence not selected: no reason to spend a call.
                self._schema = self.zoho_tap.standard_module_schema(self.name)
            else:
                self._schema = self.zoho_tap.module_schema(self.module, self.name)
        return self._schema

    @property
    @override
    def is_sorted(self) -> bool:
        # sort_by=Modified_Time&sort_order=asc: the SDK may treat the stream as resumable.
        return True

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        # The SDK's signpost caps bookmarks of *unsorted* streams and is compared to record
        # values as a string; this stream is sorted and checkpoints only complete instants
        # (see bookmarks.py), so the signpost would add nothing but a wrong comparison.
        return None

    # -- fields --------------------------------------------------------------------------

    def selected_properties(self) -> tuple[str, ...]:
        """Names of the schema properties selected in the catalog, in schema order."""
        mask = self.mask
        names = [
            name
            for name in self.schema.get("properties", {})
            if mask.get(("properties", name), True) or name in self.primary_keys
        ]
        if REPLICATION_KEY not in names:
            names.append(REPLICATION_KEY)
        return tuple(names)

    def field_chunks(self) -> list[tuple[str, ...]]:
        """Selected Zoho fields split into requests of at most 50 (Zoho's cap).

        The first chunk always holds ``id`` and ``Modified_Time`` and drives paging and
        bookmarks. Reading further chunks is not implemented yet (issue 6): their fields are
        emitted as null, with a warning.

        Returns:
            One tuple of API names per request.
        """
        zoho_fields = [
            name
            for name in self.selected_properties()
            if not name.startswith("_sdc_") and name not in ALWAYS_FIELDS
        ]
        first_size = MAX_FIELDS_PER_CALL - len(ALWAYS_FIELDS)
        chunks = [ALWAYS_FIELDS + tuple(zoho_fields[:first_size])]
        rest = zoho_fields[first_size:]
        chunks.extend(
            tuple(rest[i : i + MAX_FIELDS_PER_CALL])
            for i in range(0, len(rest), MAX_FIELDS_PER_CALL)
        )
        return chunks

    # -- requests ------------------------------------------------------------------------

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: ZohoPage | None
    ) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {
            "fields": ",".join(self._request_fields),
            "per_page": self.page_size,
            "sort_by": REPLICATION_KEY,
            "sort_order": "asc",
        }
        if next_page_token is not None and next_page_token.page_token:
            params["page_token"] = next_page_token.page_token
        return params

    @override
    def get_http_request(self, *, page: PageContext[ZohoPage]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        token = page.next_page_token
        if token is not None and token.modified_since:
            request.headers["If-Modified-Since"] = to_header_value(token.modified_since)
        # Keep commas in the fields list readable (and the URL short): Zoho accepts both.
        request.safe_query_chars = ","
        return request

    @override
    def get_new_paginator(self) -> ZohoPaginator:
        return ZohoPaginator(
            ZohoPage(modified_since=self._tracker.start_value if self._tracker else None),
            restart_since=self._restart_since,
            logger=self.logger,
        )

    def _restart_since(self) -> str | None:
        assert self._tracker is not None
        self._tracker.new_query()
        return self._tracker.safe_value

    def nested_deselections(self) -> dict[str, frozenset[str]]:
        """Deselected sub-properties of object properties (e.g. ``Owner.email``), by property.

        Zoho's objects (lookups) are one level deep, so one level is all there is to check.
        """
        mask = self.mask
        properties = self.schema.get("properties", {})
        result: dict[str, frozenset[str]] = {}
        for name in self._record_fields:
            sub = properties.get(name, {}).get("properties")
            if isinstance(sub, dict):
                off = frozenset(
                    key
                    for key in sub
                    if not mask.get(("properties", name, "properties", key), True)
                )
                if off:
                    result[name] = off
        return result

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # Projection onto the selected properties: drops Zoho's "$" system keys and anything
        # deselected, fills absent fields with null (complete records), one pass per record.
        fields = self._record_fields
        records = [
            {name: raw.get(name) for name in fields} for raw in super().parse_response(response)
        ]
        if self._nested_off:
            for record in records:
                for name, off in self._nested_off.items():
                    value = record.get(name)
                    if isinstance(value, dict):
                        record[name] = {k: v for k, v in value.items() if k not in off}
        return records

    @override
    def _generate_record_messages(
        self, record: Record
    ) -> Generator[singer.RecordMessage, None, None]:
        # The SDK's version first walks every record to pop deselected properties and to
        # conform types; parse_response has done both already (projection above; Zoho's JSON
        # types need no conversion), and that walk was the largest per-record cost left.
        # Stream maps apply as in the SDK.
        version = self._stream_version
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=version,
                    time_extracted=utc_now(),
                )

    # -- records and bookmarks -----------------------------------------------------------

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        start = self.get_starting_replication_key_value(context)
        self._tracker = tracker = BookmarkTracker(start, self.logger)
        self._record_fields = self.selected_properties()
        self._nested_off = self.nested_deselections()
        chunks = self.field_chunks()
        self._request_fields = chunks[0]
        if len(chunks) > 1:
            dropped = [name for chunk in chunks[1:] for name in chunk]
            self.logger.warning(
                "%s has %d selected fields, more than Zoho's %d per call; these are emitted "
                "as null for now: %s",
                self.module,
                sum(len(c) for c in chunks),
                MAX_FIELDS_PER_CALL,
                ", ".join(dropped),
            )
        calls_before, credits_before = self.api_calls, self.api_credits
        yield from self.request_records(context)

        # The stream is complete: every record up to the newest instant has been read.
        if tracker.final is not None:
            state = self.get_context_state(context)
            state["replication_key"] = REPLICATION_KEY
            state["replication_key_value"] = tracker.final
        self.log_usage(
            records=tracker.records_seen,
            calls=self.api_calls - calls_before,
            credits=self.api_credits - credits_before,
        )

    def log_usage(self, *, records: int, calls: int, credits: int) -> None:
        """Log the stream's API economy: calls made and credits spent (issue: API economy).

        Args:
            records: Records emitted.
            calls: Get Records calls (retries and refused calls included).
            credits: Credits those calls spent.
        """
        metadata = self.zoho_tap.metadata_calls(self.module)
        self.logger.info(
            "Stream %s done: %d records; %d API calls (%d Get Records, %d field metadata), "
            "%d credits spent; %d token requests in this run so far%s",
            self.name,
            records,
            calls + metadata,
            calls,
            metadata,
            credits + self.zoho_tap.metadata_credits(self.module),
            self.authenticator.token_requests,
            self.credits_left(),
        )

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Replaces the SDK's increment_state, which compares replication key values as
        # strings (wrong across DST offset changes, and it raises InvalidStreamSortException
        # for a correctly sorted "-08:00" after a "-07:00") and bookmarks the newest value even
        # when that second may continue on the next page. The tracker compares instants and
        # checkpoints only complete seconds.
        tracker = self._tracker
        if tracker is None:  # pragma: no cover - get_records always sets it
            return
        tracker.observe(latest_record.get(REPLICATION_KEY))
        checkpoint = tracker.checkpoint
        if checkpoint is not None:
            state = self.get_context_state(context)
            state["replication_key"] = REPLICATION_KEY
            state["replication_key_value"] = checkpoint


class LeadsStream(ZohoModuleStream):
    """Leads, converted ones included (Zoho hides them unless ``converted=both``)."""

    module = "Leads"

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: ZohoPage | None
    ) -> dict[str, t.Any]:
        params = super().get_url_params(context, next_page_token)
        if self.config.get("include_converted_leads", True):
            params["converted"] = "both"
        return params


class ContactsStream(ZohoModuleStream):
    """Contacts."""

    module = "Contacts"


class DealsStream(ZohoModuleStream):
    """Deals."""

    module = "Deals"
