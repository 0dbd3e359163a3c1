"""Zoho CRM module streams (Get Records) and the field-metadata reader.

:class:`ZohoModuleStream` syncs any module; ``leads``, ``contacts``, ``deals`` and the modules
of the ``modules`` setting are instances of it. One stream run reads, in this order:

1. the module's records, incremental on ``Modified_Time`` (or the whole module when
   ``refresh_formula_fields`` applies, or full table for a module without ``Modified_Time``),
   every selected field, in chunks of 50 when the module is wider (:mod:`tap_zohocrm.wide`);
2. the deletions since the last sync (:mod:`tap_zohocrm.deletions`), emitted in the same
   stream as ``{"id", "_sdc_deleted_at"}``.
"""

from __future__ import annotations

import datetime
import typing as t
from http import HTTPStatus

from typing_extensions import override

from tap_zohocrm.bookmarks import BookmarkTracker, FutureGuard, parse_instant
from tap_zohocrm.bulk import BulkBackfill
from tap_zohocrm.chunks import MAX_FIELDS_PER_CALL
from tap_zohocrm.concurrency import StateStep, applied
from tap_zohocrm.coql_reader import CoqlReader, CoqlUnsuitable, coql_reads
from tap_zohocrm.deletions import (
    DELETED_BOOKMARK,
    DeletedRecordsReader,
    deletion_records,
    deletions_start,
    warn_if_retention_passed,
)
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.module_pages import ModulePagesStream
from tap_zohocrm.modules import (
    KNOWN_REFUSING_MODULES,
    module_refused,
    stream_name_for,
)
from tap_zohocrm.read_plan import ReadPlan, nested_deselections, plan_read, selected_properties
from tap_zohocrm.schema import DELETED_AT, REPLICATION_KEY
from tap_zohocrm.wide import ChunkedReader

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context, Record

    from tap_zohocrm.run import ZohoRun

__all__ = [
    "KNOWN_REFUSING_MODULES",
    "MAX_FIELDS_PER_CALL",
    "ContactsStream",
    "DealsStream",
    "LeadsStream",
    "ZohoModuleStream",
    "module_refused",
    "stream_name_for",
]

_UTC = datetime.timezone.utc


def _coql_refused(ex: ZohoAPIError) -> bool:
    """Whether ``auto`` should take REST after this COQL failure (scope, query or module)."""
    return ex.status in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


class ZohoModuleStream(ModulePagesStream):
    """Records of one Zoho CRM module, incremental on ``Modified_Time``, then its deletions.

    Requests ``fields=<selected fields>&per_page=<page_size>&sort_by=Modified_Time&
    sort_order=asc`` with ``If-Modified-Since`` from the bookmark, pages with ``page_token``,
    and emits complete records: every selected field, ``null`` where Zoho sent nothing, and
    none of Zoho's ``$`` system keys.
    """

    def __init__(self, tap: ZohoRun, module: str | None = None) -> None:
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
        self._deletion_state: dict[str, t.Any] | None = None
        self._records_emitted = 0
        self._read_label = "Get Records"
        #: The module's record count, when this run asked Zoho for it (the backfill plan).
        self.module_count: int | None = None
        self._future = FutureGuard(self.logger, self.module)

    # -- sync ----------------------------------------------------------------------------

    def optional(self) -> bool:
        """Whether the module comes from the ``modules`` setting (any-module mode).

        Such a module that Zoho refuses is skipped with one warning; Leads, Contacts and
        Deals are what the tap is for, so a refusal of one of them fails the run.
        """
        return self.module in self.zoho_tap.optional_modules()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The module's records then its deletions; a refused optional module yields none."""
        refused = self.zoho_tap.refused_modules.get(self.module)
        if refused is not None:
            self.logger.info("Stream %s skipped: Zoho refused its module (warned above)", self.name)
            return
        try:
            yield from self.within_budget(applied(self.read_module(context)), context)
        except ZohoAPIError as ex:
            if not (self.optional() and module_refused(self.module, ex)):
                raise
            self.zoho_tap.refuse_module(self.module, ex)

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

    @property  # type: ignore[override]
    @override
    def replication_key(self) -> str | None:
        """``Modified_Time``, or ``None`` (full table) for a module whose schema lacks it."""
        key = self._replication_key or None
        if key is not None and key not in self.schema.get("properties", {}):
            return None
        return key

    @replication_key.setter
    def replication_key(self, new_value: str | None) -> None:
        self._replication_key = new_value

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
        if self.plan is not None:
            return self.plan.record_fields
        return selected_properties(
            list(self.schema.get("properties", {})),
            self.mask,
            self.primary_keys,
            incremental=bool(self.replication_key),
        )

    def nested_deselections(self) -> dict[str, frozenset[str]]:
        """Deselected sub-properties of object properties (e.g. ``Owner.email``)."""
        return nested_deselections(self.schema, self.selected_properties(), self.mask)

    def plan_read(self, context: Context | None) -> ReadPlan:
        """This run's read: fields, chunks, starting point and deletions (read_plan.py)."""
        state = self.get_context_state(context)
        incremental = self.replication_key is not None
        return plan_read(
            schema=self.schema,
            mask=self.mask,
            primary_keys=self.primary_keys,
            stored=state.get("replication_key_value"),
            deletions_listed=bool(state.get(DELETED_BOOKMARK)),
            start=self.get_starting_replication_key_value(context) if incremental else None,
            incremental=incremental,
            refresh_formulas=self.settings.refresh_formula_fields,
            include_deleted=self.settings.include_deleted,
        )

    # -- requests ------------------------------------------------------------------------

    def coql_criteria(self) -> list[str]:
        """COQL criteria every query of the module carries (the REST ``extra_params``)."""
        return []

    def read_records(self, context: Context | None, *, large: bool) -> Iterator[dict[str, t.Any]]:
        """The records from ``_query_since`` on, through COQL when it applies, else REST.

        COQL answers that cannot match Get Records' (no ``$`` keys, a refused scope or query
        in ``auto``) switch to REST before any record is emitted.
        """
        reads = coql_reads(self)
        if reads is None:
            self._read_label = "Get Records"
            yield from self.request_records(context)
            return
        self._read_label = "COQL"
        self._wide = None
        reader = CoqlReader(
            self,
            reads,
            since=self._query_since,
            large=large,
            max_fields=self.settings.coql_max_fields,
        )
        pages = reader.pages()
        try:
            first = next(pages, None)
        except (CoqlUnsuitable, ZohoAPIError) as ex:
            auto = self.settings.read_method == "auto"
            if isinstance(ex, ZohoAPIError) and not (auto and _coql_refused(ex)):
                raise
            reason = ex.sentence if isinstance(ex, ZohoAPIError) else str(ex)
            self.logger.warning(
                "Stream %s reads over REST (Get Records) instead of COQL: %s", self.name, reason
            )
            self._read_label = "Get Records"
            yield from self.request_records(context)
            return
        if first is not None:
            yield from self.project(first)
        for page in pages:
            yield from self.project(page)
        if reader.left_for_next_run:
            self.logger.info(
                "Stream %s: %d records changed while their fields were read in batches; "
                "they are past this run's upper bound and the next run reads them",
                self.name,
                reader.left_for_next_run,
            )

    def _note_deletion_start(self) -> None:
        """Put where this run's deletion listing starts into the state (a state step)."""
        state, started = self._deletion_state, self._server_time
        if state is None or started is None:
            return
        if not state.get(DELETED_BOOKMARK):
            state[DELETED_BOOKMARK] = deletions_start(
                state, records_bookmark=self.plan.stored if self.plan else None, run_started=started
            )
        self._deletion_state = None

    # -- records and bookmarks -----------------------------------------------------------

    def read_module(self, context: Context | None) -> Iterator[t.Any]:
        """The records (incremental), then the deletions, and the state steps between them.

        It never writes the state itself: each bookmark change is a :class:`StateStep`,
        run in record order.
        """
        state = self.get_context_state(context)
        plan = self.plan = self.plan_read(context)
        self._wide = (
            ChunkedReader(self, list(plan.chunks), self.replication_key)
            if len(plan.chunks) > 1
            else None
        )
        if plan.formulas:
            self.logger.info(
                "Stream %s reads all %s records (refresh_formula_fields: %s can change without "
                "Modified_Time)",
                self.name,
                self.module,
                ", ".join(plan.formulas),
            )
        self._query_since = plan.since
        self._tracker = BookmarkTracker(plan.since, self.logger)
        self._server_time = None
        self._records_emitted = 0
        self._previous_page = {}
        deletions = plan.deletions
        self._deletion_state = state if deletions else None
        if deletions:
            warn_if_retention_passed(
                state, now=datetime.datetime.now(_UTC), stream_name=self.name, logger=self.logger
            )
        calls_before, credits_before = self.api_calls, self.api_credits
        backfill = BulkBackfill.plan(self, context)
        if backfill is not None:
            # First sync of a large module: export it with Bulk Read, then continue over REST
            # from the export's snapshot on (bulk.py); REST from the start if it failed.
            self._tracker = backfill.tracker
            yield from self._noting_deletion_start(backfill.records())

            def after_export() -> None:
                # Needs every exported record counted by the tracker (so: a step).
                self._tracker = backfill.rest_tracker()
                self._query_since = self._tracker.start_value
                self._server_time = self._server_time or backfill.started_at

            yield StateStep(after_export)

        yield from self._noting_deletion_start(
            self.read_records(context, large=backfill is None and plan.whole_module)
        )
        if self._wide is not None:
            yield from self.project(self._wide.leftovers())
        counts: dict[str, int] = {}

        def records_complete() -> None:
            # Every record up to the newest instant has been read.
            final = self._tracker.final if self._tracker is not None else None
            if final is not None and self._above_floor(final):
                state["replication_key"] = REPLICATION_KEY
                state["replication_key_value"] = final
            counts["records"] = self._records_emitted

        yield StateStep(records_complete)
        deleted_calls = deleted_credits = 0
        if deletions:
            reader = DeletedRecordsReader(self.zoho_tap, self.module)
            yield from deletion_records(
                reader,
                state,
                plan.stored,
                first_sync=plan.first_sync,
                run_started=self._server_time or datetime.datetime.now(_UTC),
                fields=plan.record_fields,
                logger=self.logger,
            )
            deleted_calls, deleted_credits = reader.api_calls, reader.api_credits
        calls, spent = self.api_calls - calls_before, self.api_credits - credits_before

        def report() -> None:
            self.log_usage(
                records=counts["records"],
                deletions=self._records_emitted - counts["records"],
                calls=calls,
                credits=spent,
                deleted_calls=deleted_calls,
                deleted_credits=deleted_credits,
            )

        yield StateStep(report)

    def _noting_deletion_start(self, items: Iterable[t.Any]) -> Iterator[t.Any]:
        """The items, with the deletion listing's start put into the state before the first.

        At once, not after the records: a run killed before its deletion pass then resumes
        from the same point, instead of treating the next run as a first sync.
        """
        pending = self._deletion_state is not None
        for item in items:
            if pending:
                pending = False
                yield StateStep(self._note_deletion_start)
            yield item
        if pending:
            yield StateStep(self._note_deletion_start)

    def _above_floor(self, value: str) -> bool:
        floor = self.plan.floor if self.plan is not None else None
        return floor is None or parse_instant(value) > floor

    def log_usage(
        self,
        *,
        records: int,
        deletions: int,
        calls: int,
        credits: int,
        deleted_calls: int,
        deleted_credits: int,
    ) -> None:
        """Log the stream's API economy: calls made and credits spent, by endpoint.

        For a module wider than 50 fields, also what the fields past the first chunk cost.

        Args:
            records: Records emitted (deletions excluded).
            deletions: Deletion records emitted.
            calls: Get Records calls (retries and refused calls included).
            credits: Credits those calls spent.
            deleted_calls: Calls to the deleted-records endpoint.
            deleted_credits: Credits those calls spent.
        """
        metadata = self.zoho_tap.metadata_calls(self.module)
        wide = f"; {self._wide.usage()}" if self._wide is not None else ""
        self.logger.info(
            "Stream %s done: %d records, %d deletions; %d API calls (%d %s, "
            "%d deleted records, %d field metadata), %d credits spent; %d token requests in "
            "this run so far%s%s",
            self.name,
            records,
            deletions,
            calls + deleted_calls + metadata,
            calls,
            self._read_label,
            deleted_calls,
            metadata,
            credits + deleted_credits + self.zoho_tap.metadata_credits(self.module),
            self.authenticator.token_requests,
            wide,
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
        self._records_emitted += 1
        tracker = self._tracker
        if tracker is None or latest_record.get(DELETED_AT) is not None:
            return
        value = latest_record.get(REPLICATION_KEY)
        wide = self._wide
        if wide is not None and wide.positions:
            record_id = latest_record.get("id")
            if record_id in wide.positions:
                # Re-read because it changed meanwhile: the bookmark follows its place in
                # the first chunk's order (None: emitted out of order, not a position).
                value = wide.positions.pop(record_id)
        if value is not None and self._future.beyond(
            str(value), latest_record.get("id"), self._server_time
        ):
            return
        tracker.observe(value)
        checkpoint = tracker.checkpoint
        if checkpoint is not None and self._above_floor(checkpoint):
            state = self.get_context_state(context)
            state["replication_key"] = REPLICATION_KEY
            state["replication_key_value"] = checkpoint


class LeadsStream(ZohoModuleStream):
    """Leads, converted ones included (Zoho hides them unless ``converted=both``)."""

    module = "Leads"

    @override
    def extra_params(self) -> dict[str, t.Any]:
        if self.settings.include_converted_leads:
            return {"converted": "both"}
        return {}

    @override
    def coql_criteria(self) -> list[str]:
        # COQL reads converted leads like any other; Get Records hides them by default.
        if self.settings.include_converted_leads:
            return []
        return ["Converted__s = false"]


class ContactsStream(ZohoModuleStream):
    """Contacts."""

    module = "Contacts"


class DealsStream(ZohoModuleStream):
    """Deals."""

    module = "Deals"
