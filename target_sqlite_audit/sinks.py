"""The batch sink: validates records as they arrive and hands batches to the store.

The SDK's per-record path (``Target._process_record_message``) copies each record, runs
the ``jsonschema`` validator and parses every date-time string into a ``datetime``; the
audit trail stores values verbatim, so the target calls :meth:`AuditSink.accept`
instead, which keeps the SDK's contract (metadata handling, validation, key check,
tallies and metrics) at a fraction of the cost.
"""

from __future__ import annotations

import decimal
import sys
import typing as t

from singer_sdk.sinks import BatchSink

from target_sqlite_audit.batch import PreparedBatch
from target_sqlite_audit.bookkeeping import SDK_METADATA
from target_sqlite_audit.errors import InputError, MissingKeyError
from target_sqlite_audit.store import DELETED_MARKER, StreamTable
from target_sqlite_audit.validation import (
    FastValidator,
    describe_validation_error,
    record_schema,
)

if sys.version_info >= (3, 12):  # pragma: no cover
    from typing import override
else:  # pragma: no cover
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_sqlite_audit.run import AuditRun

_SDC_DROPPED = tuple(sorted(SDK_METADATA))
#: Top-level schema keywords that look at a record's property names: with any of them, SDK
#: metadata properties must be gone before validation.
_NAME_RULES = frozenset(
    {
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "maxProperties",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
    }
)


class AuditSink(BatchSink):
    """Collects one stream's records into batches applied by the audit store."""

    MAX_SIZE_DEFAULT = 5000

    def __init__(
        self,
        target: AuditRun,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        """Create the sink (the tables are created in :meth:`setup`).

        Args:
            target: The target.
            stream_name: Stream name.
            schema: Stream schema (after stream maps).
            key_properties: Key properties.
        """
        self.audit_target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.replication_key: str | None = target.replication_key_for(stream_name)
        self.table: StreamTable | None = None
        self._batch: PreparedBatch | None = None
        #: Queued records that precede the latest STATE message (None: no STATE since the
        #: last drain); the store turns it into the history id that STATE covers.
        self._state_boundary: int | None = None
        validator = self._validator
        self._check: t.Callable[[dict], t.Any] | None = None
        if isinstance(validator, FastValidator):
            self._check = validator.check  # the compiled check itself: one call a record
        elif validator is not None:
            self._check = validator.validate
        self._with_metadata = self.include_sdc_metadata_properties
        self._pop_sdc = True  # decided in setup()
        self.batch_limit = self.max_size

    # -- SDK hooks --------------------------------------------------------------------

    @override
    def _remove_sdc_metadata_from_schema(self) -> None:
        """Drop SDK metadata columns but keep the deletion marker (it drives deletes)."""
        marker = self.schema.get("properties", {}).get(DELETED_MARKER)
        super()._remove_sdc_metadata_from_schema()
        self.schema.setdefault("properties", {})[DELETED_MARKER] = (
            marker if marker is not None else {}
        )

    @override
    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        """Drop SDK metadata properties but keep the deletion marker."""
        for name in _SDC_DROPPED:
            record.pop(name, None)

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """Compiled validator (see :mod:`target_sqlite_audit.validation`), or None."""
        if not self.validate_schema:
            return None
        return FastValidator(record_schema(self.schema, DELETED_MARKER))

    @override
    def setup(self) -> None:
        """Create or extend this stream's tables (after a drain: no record is queued)."""
        self.table = self.audit_target.store.register_stream(
            self.stream_name,
            self.schema.get("properties", {}),
            list(self.key_properties),
            replication_key=self.replication_key,
            lenient=self._validator is None,
            line=self.audit_target.line_number or None,
        )
        if not self._batch:  # rows already queued keep the table they were built for
            self._batch = PreparedBatch(self.table)
        # SDK metadata in a record is left out of its row unless the table has such a column
        # (an older file) or the schema checks property names; only then are they popped.
        self._pop_sdc = not _NAME_RULES.isdisjoint(self.schema) or any(
            prop in SDK_METADATA for prop in self.table.props
        )

    def _queue(self) -> PreparedBatch:
        """The batch records are queued in (tables created on first use)."""
        if self._batch is None:
            self.setup()
        assert self._batch is not None
        return self._batch

    def set_replication_key(self, replication_key: str | None) -> None:
        """Switch the property used for the stale check (a SCHEMA changed it).

        Args:
            replication_key: The new replication key, or None.
        """
        self.replication_key = replication_key
        self.setup()

    # -- records ----------------------------------------------------------------------

    def accept(self, record: dict, line: int, message: dict) -> bool:
        """Validate and queue one record (the fast per-record path).

        Args:
            record: The record (already transformed by stream maps).
            line: Its input line.
            message: The RECORD message (for SDK metadata columns).

        Returns:
            True when the batch is full and should be drained.

        Raises:
            InputError: The record does not match the schema.
            MissingKeyError: A key property is absent or null.
        """
        if self._with_metadata:
            self._add_sdc_metadata_to_record(record, message, {})
        elif self._pop_sdc:
            for name in _SDC_DROPPED:
                record.pop(name, None)
        if self._check is not None:
            try:
                self._check(record)
            except Exception as exc:
                msg = (
                    f"Record on line {line} of stream {self.stream_name!r} does not match "
                    f"its schema: {describe_validation_error(exc)}."
                )
                raise InputError(msg) from exc
        for key in self._key_properties:
            if record.get(key) is None:
                state = "null" if key in record else "missing"
                msg = (
                    f"Record on line {line} of stream {self.stream_name!r} has key "
                    f"property {key!r} {state}."
                )
                raise MissingKeyError(msg)
        batch = self._batch if self._batch is not None else self._queue()
        batch.add(record, line)
        return len(batch.rows) >= self.batch_limit

    def note_state(self) -> None:
        """A STATE message was read: the records queued now are the ones it covers."""
        if self._batch:
            self._state_boundary = len(self._batch)
        elif self.table is not None:
            self._state_boundary = None
            self.audit_target.store.note_covered(self.table)

    @property
    @override
    def current_size(self) -> int:
        """Records queued and not yet drained."""
        return len(self._batch) if self._batch is not None else 0

    @override
    def process_record(self, record: dict, context: dict) -> None:
        """SDK per-record hook (not used by the target's fast path; kept for SDK tools).

        Args:
            record: The record.
            context: Batch context (unused).
        """
        self._queue().add(record, self.audit_target.line_number)

    @override
    def start_drain(self) -> dict:
        """Hand the queued records over for draining and start a new batch.

        Returns:
            The batch context: the ``batch`` (a :class:`PreparedBatch`) and ``covered``.
        """
        batch = self._queue()
        self._batch = PreparedBatch(batch.table)
        context = {"batch": batch, "covered": self._state_boundary}
        self._state_boundary = None
        self._context_draining = context
        # Tallies and the record-count metric are updated per batch, not per record.
        self.tally_record_read(len(batch))
        self._record_counter.increment(len(batch))
        return context

    @override
    def process_batch(self, context: dict) -> None:
        """Apply a batch to the store in one transaction.

        Args:
            context: The ``batch`` of :meth:`start_drain`, or the SDK's ``records`` of
                BATCH files.
        """
        batch: PreparedBatch | None = context.get("batch")
        if batch is None:  # BATCH messages: records come from files, not input lines
            line = self.audit_target.line_number
            stream_map = self.audit_target.batch_map(self.stream_name)
            # The SDK reads BATCH files with Decimal numbers and applies no stream map.
            records = [_plain_numbers(record) for record in context.get("records", [])]
            if stream_map is not None:
                mapped = (stream_map.transform(record) for record in records)
                records = [record for record in mapped if record is not None]
            batch = PreparedBatch(self._queue().table)
            for record in records:
                self._check_batch_file_record(record, line)
                batch.add(record, line)
        counts = self.audit_target.store.apply_batch(batch, covered=context.get("covered"))
        self.audit_target.add_counts(self.stream_name, batch.table.table, counts)

    def _check_batch_file_record(self, record: dict, line: int) -> None:
        if self._check is not None:
            try:
                self._check(record)
            except Exception as exc:
                msg = (
                    f"A record of the BATCH on line {line} (stream {self.stream_name!r}) "
                    f"does not match its schema: {describe_validation_error(exc)}."
                )
                raise InputError(msg) from exc
        for key in self._key_properties:
            if record.get(key) is None:
                msg = (
                    f"A record of the BATCH on line {line} (stream {self.stream_name!r}) "
                    f"has key property {key!r} missing or null."
                )
                raise MissingKeyError(msg)


def _plain_numbers(value: t.Any) -> t.Any:
    """JSON values with Decimals as the numbers a RECORD line would give (int or float)."""
    if isinstance(value, decimal.Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    return value
