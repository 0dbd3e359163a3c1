"""target-sqlite-audit: a Singer target that keeps a full audit trail in one SQLite file."""

from __future__ import annotations

import copy
import gc
import logging
import signal
import sys
import threading
import time
import types
import typing as t

from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.metrics import METRICS_LOGGER_NAME
from singer_sdk.target_base import Target

from target_sqlite_audit.config_schema import CONFIG_SCHEMA, DEFAULT_DATABASE
from target_sqlite_audit.errors import (
    AuditError,
    InputError,
    RecordBeforeSchemaError,
    TerminatedError,
)
from target_sqlite_audit.failures import (
    describe_failure,
    first_line,
    redacting_filter,
    without_sink_setup_noise,
)
from target_sqlite_audit.messages import (
    check_activate_version,
    check_batch,
    parse_schema_message,
    require_known_stream,
)
from target_sqlite_audit.policy import HistoryPolicy
from target_sqlite_audit.reader import AuditReader
from target_sqlite_audit.report import print_run_summary, redact
from target_sqlite_audit.run import AuditRun
from target_sqlite_audit.signals import SignalGate
from target_sqlite_audit.sinks import AuditSink
from target_sqlite_audit.store import AuditStore, BatchCounts

if sys.version_info >= (3, 12):  # pragma: no cover
    from typing import override
else:  # pragma: no cover
    from typing_extensions import override

if t.TYPE_CHECKING:
    from pathlib import PurePath
    from types import FrameType

    from singer_sdk.singerlib.encoding.base import GenericSingerReader

_GC_THRESHOLD = 100_000


class TargetSqliteAudit(AuditRun):
    """Singer target keeping current state, full history and a sync log in one SQLite file."""

    name = "target-sqlite-audit"
    #: The distribution that ships this target (for ``--version`` and ``--about``).
    package_name = "tap-zohocrm"

    capabilities: t.ClassVar[list] = [*Target.capabilities, TargetCapabilities.HARD_DELETE]

    config_jsonschema = CONFIG_SCHEMA

    default_sink_class = AuditSink
    message_reader_class = AuditReader

    def __init__(
        self,
        *,
        config: dict | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: GenericSingerReader | None = None,
    ) -> None:
        """Initialise the target; the database is opened when input starts.

        Args:
            config: Settings (dict, file path or list of file paths).
            parse_env_config: Also read settings from environment variables.
            validate_config: Validate the settings.
            setup_mapper: Set up stream maps.
            message_reader: A custom message reader (default: :class:`AuditReader`).
        """
        self._store: AuditStore | None = None
        self._finished = False
        self._bookmarks: dict[str, str | None] = {}
        self._counts: dict[str, BatchCounts] = {}
        self._tables: dict[str, str] = {}
        self._signals = SignalGate(self._stop)
        self._batch_stream: str | None = None
        self._started = time.monotonic()
        self._routes: dict[object, list[tuple[AuditSink, t.Any]]] = {}
        self._gc_thresholds: tuple[int, int, int] | None = None
        self._last_emitted_state: dict | None = None
        self._max_age_seconds = self._MAX_RECORD_AGE_IN_MINUTES * 60
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        # One SQLite connection, one writer: sinks are drained one after another.
        self.max_parallelism = 1
        self.logger.addFilter(without_sink_setup_noise)
        if self.redact_pii:
            # singer-sdk's METRIC lines carry stream names (free text) in their tags.
            metrics_logger = logging.getLogger(METRICS_LOGGER_NAME)
            if redacting_filter not in metrics_logger.filters:
                metrics_logger.addFilter(redacting_filter)
        if isinstance(self.message_reader, AuditReader):
            self.message_reader.listener = self
            #: What counts the input lines (its ``line_number``, read for every record).
            self._line_source: t.Any = self.message_reader
        else:
            self._line_source = types.SimpleNamespace(line_number=0)

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Add the SDK's built-in settings, except ``load_method``.

        Every load is an audited upsert, so the SDK's ``load_method`` choice
        (append-only/upsert/overwrite) would be misleading.

        Args:
            config_jsonschema: The settings schema to extend in place.
        """
        super().append_builtin_config(config_jsonschema)
        config_jsonschema["properties"].pop("load_method", None)

    # -- state shared with the sinks ----------------------------------------------------

    @property
    def line_number(self) -> int:
        """The input line being processed (0 before the first line)."""
        reader = self.message_reader
        return reader.line_number if isinstance(reader, AuditReader) else 0

    @property
    def store(self) -> AuditStore:
        """The open audit store (opened, and the sync started, on first use)."""
        if self._store is None:
            store = AuditStore(
                self.config.get("database") or DEFAULT_DATABASE,
                hard_delete=bool(self.config.get("hard_delete", False)),
                policy=HistoryPolicy.from_config(self.config),
            )
            try:
                sync_id = store.begin_sync()
            except BaseException:
                store.close()
                raise
            self._store = store
            self.logger.info("Sync %d started, writing to %s", sync_id, store.path)
        return self._store

    def replication_key_for(self, stream_name: str) -> str | None:
        """The stream's replication key: the first of its SCHEMA's bookmark properties.

        Args:
            stream_name: Stream name.

        Returns:
            The property name, or None.
        """
        return self._bookmarks.get(stream_name)

    def add_counts(self, stream_name: str, table_name: str, counts: BatchCounts) -> None:
        """Accumulate a committed batch's counts for the end-of-run summary.

        Args:
            stream_name: Stream name.
            table_name: Its current table.
            counts: The batch's counts.
        """
        self._counts.setdefault(stream_name, BatchCounts()).add(counts)
        self._tables[stream_name] = table_name

    @property
    def redact_pii(self) -> bool:
        """Whether summaries and logged errors redact e-mails and phone numbers."""
        return bool(self.config.get("redact_pii", True))

    # -- reader listener ----------------------------------------------------------------

    def on_input_start(self) -> None:
        """Open the database before the first line (fail fast if it is busy).

        Also raises the garbage collector's first threshold for the run: a batch keeps
        tens of thousands of records, rows and lists alive and creates no reference
        cycles, so the default threshold (700 allocations) makes the collector rescan
        them over and over (about a fifth of the CPU time of a large initial load).
        """
        if self._gc_thresholds is None:
            self._gc_thresholds = gc.get_threshold()
            gc.set_threshold(max(self._gc_thresholds[0], _GC_THRESHOLD), *self._gc_thresholds[1:])
        _ = self.store

    def on_input_end(self) -> None:
        """Nothing to do at the end of the input (drained in ``process_endofpipe``)."""

    def on_input_error(
        self, exc: BaseException, line_number: int, raw: bytes | str | None
    ) -> BaseException:
        """Turn any failure while reading input into one sentence and fail the sync.

        Args:
            exc: The exception.
            line_number: The line being processed.
            raw: The raw line, if one was read.

        Returns:
            The :class:`AuditError` to raise (``exc`` itself if it already is one).
        """
        error = self._describe(exc, line_number, raw)
        self._fail(error, exc)
        return error

    # -- message handling ---------------------------------------------------------------

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        """Register a SCHEMA; drain the stream's pending records first if it changed.

        The SDK keeps the old sink's records until the next full drain, which could
        commit newer records of the same stream before older ones; draining here keeps
        records in input order.  The stream's ``bookmark_properties`` are remembered
        for the stale check.

        Args:
            message_dict: The SCHEMA message.
        """
        stream, schema, keys, replication_key = parse_schema_message(message_dict, self.line_number)
        maps = self.mapper.stream_maps.get(stream)
        if maps and (maps[0].raw_schema != schema or maps[0].raw_key_properties != keys):
            for stream_map in maps:
                sink = self._sinks_active.get(stream_map.stream_alias)
                if sink is not None:
                    self.drain_one(sink)
        self._routes.pop(stream, None)
        self._bookmarks[stream] = replication_key
        for stream_map in maps or []:
            self._bookmarks[stream_map.stream_alias] = replication_key
        super()._process_schema_message(message_dict)
        for stream_map in self.mapper.stream_maps.get(stream, []):
            self._bookmarks[stream_map.stream_alias] = replication_key
            sink = self._sinks_active.get(stream_map.stream_alias)
            if isinstance(sink, AuditSink) and sink.replication_key != replication_key:
                self.drain_one(sink)
                sink.set_replication_key(replication_key)

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        """Validate and queue a RECORD (lean version of the SDK's per-record path).

        The SDK's version costs more per record than parsing and storing it together;
        this one keeps its semantics (stream maps, metadata, validation, key check,
        drain by age) with the routing looked up once per stream.

        When a batch is full, every sink is drained, not only the full one (the SDK's
        choice), so that the latest STATE is emitted after each full batch: otherwise a
        sync emits its first STATE only after 5 minutes or at its end, and a run killed
        before that restarts from scratch (spending the source's API credits again).

        Args:
            message_dict: The RECORD message.
        """
        stream = message_dict.get("stream")
        route = self._routes.get(stream)
        if route is None:
            route = self._route(stream)
        record = message_dict.get("record")
        line = self._line_source.line_number
        full = False
        if type(record) is not dict:
            msg = f"The RECORD message on line {line} (stream {stream!r}) has no record object."
            raise InputError(msg)
        for sink, stream_map in route:
            transformed = record
            if stream_map is not None:
                mapped = stream_map.transform(copy.copy(record))
                if mapped is None:
                    continue
                transformed = mapped
            if sink.accept(transformed, line, message_dict):
                full = True
        if full:
            self.drain_all()  # commits every sink, then emits the latest STATE
        elif time.time() - self._last_full_drain_at > self._max_age_seconds:
            self._handle_max_record_age()

    def _route(self, stream: object) -> list[tuple[AuditSink, t.Any]]:
        """Sinks (and stream maps, None for identity) that receive a stream's records."""
        line = self.line_number
        if not isinstance(stream, str):
            msg = f'The RECORD message on line {line} has no "stream" name.'
            raise InputError(msg)
        maps = self.mapper.stream_maps.get(stream)
        if not maps:
            msg = (
                f"The RECORD on line {line} for stream {stream!r} arrived before any "
                "SCHEMA for that stream."
            )
            raise RecordBeforeSchemaError(msg)
        route: list[tuple[AuditSink, t.Any]] = []
        for stream_map in maps:
            sink = self._sinks_active.get(stream_map.stream_alias)
            if not isinstance(sink, AuditSink):
                msg = (
                    f"The RECORD on line {line} for stream {stream_map.stream_alias!r} "
                    "arrived before any SCHEMA for that stream."
                )
                raise RecordBeforeSchemaError(msg)
            identity = (
                type(stream_map) is SameRecordTransform
                and not stream_map.flattening_enabled
                and len(maps) == 1
            )
            route.append((sink, None if identity else stream_map))
        self._routes[stream] = route
        return route

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        """Check the stream is known, then let the SDK handle ACTIVATE_VERSION.

        Args:
            message_dict: The ACTIVATE_VERSION message.
        """
        line = self.line_number
        require_known_stream(message_dict, "ACTIVATE_VERSION", line, self.mapper.stream_maps)
        check_activate_version(message_dict, line)
        super()._process_activate_version_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        """A BATCH, applied after the RECORDs queued before it, through the stream maps."""
        line = self.line_number
        require_known_stream(message_dict, "BATCH", line, self.mapper.stream_maps)
        stream, file_format = check_batch(message_dict, line)
        where = f"The BATCH message on line {line} (stream {stream!r})"
        self.drain_all()  # input order: what came before the BATCH is applied first
        self._batch_stream = stream
        try:
            super()._process_batch_message(message_dict)
        except AuditError:
            raise
        except (ValueError, OSError, EOFError, NotImplementedError) as exc:
            msg = f"{where} names a file that cannot be read as {file_format} records: "
            raise InputError(f"{msg}{type(exc).__name__}: {first_line(exc)}.") from exc
        finally:
            self._batch_stream = None

    def batch_map(self, alias: str) -> t.Any:
        """The stream map of the BATCH being read whose output is stream ``alias``."""
        for stream_map in self.mapper.stream_maps.get(self._batch_stream or "", []):
            if stream_map.stream_alias == alias:
                return stream_map
        return None

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        # Each sink notes which of its queued records this STATE covers, so that a rerun
        # resumed from it replays only the versions written after it (store.checkpoint).
        before = self._latest_state
        super()._process_state_message(message_dict)
        if self._latest_state is before:  # the same STATE again: it covers what it did
            return
        for sink in self._sinks_active.values():
            if isinstance(sink, AuditSink):
                sink.note_state()

    @override
    def _write_state_message(self, state: dict) -> None:
        """Save the STATE in the sync log, then emit it.

        Called by the SDK's ``drain_all`` only after every sink has committed, so the
        emitted STATE never covers uncommitted records.  Signals are deferred so that
        a stop never leaves half a line on stdout.

        Args:
            state: The latest STATE value.
        """
        if state == self._last_emitted_state:  # drained again, nothing new to report
            return
        with self._signals.deferred():
            self.store.checkpoint(state)
            super()._write_state_message(state)
            self._last_emitted_state = copy.deepcopy(state)

    @override
    def process_endofpipe(self) -> None:
        """Drain everything, emit the final STATE, close the sync log and print a summary.

        Raises:
            AuditError: Draining failed (the sync is marked failed first).
        """
        if self._finished:
            return
        try:
            _ = self.store
            super().process_endofpipe()
            with self._signals.deferred():
                self.store.finish_sync("completed")
                self._finished = True
        except BaseException as exc:
            error = self._describe(exc, self.line_number, None)
            self._fail(error, exc)
            if error is exc:
                raise
            raise error from exc
        self._close_store()
        self._print_summary("completed", None)

    # -- failure handling ---------------------------------------------------------------

    def _describe(self, exc: BaseException, line: int, raw: bytes | str | None) -> AuditError:
        """Map any exception to an :class:`AuditError` with one sentence."""
        return describe_failure(exc, line, raw, str(self.config.get("database")), self.logger)

    def _fail(self, error: AuditError, original: BaseException) -> None:
        """Log the sentence, mark the sync failed/interrupted, release the database."""
        if self._finished:
            return
        self._finished = True
        sentence = error.sentence
        shown = redact(sentence) if self.redact_pii else sentence
        self.logger.error("%s", shown)
        error.logged = True
        self.logger.debug("Traceback of the error above", exc_info=original)
        store = self._store
        with self._signals.deferred(drop=True):
            if store is not None:
                try:
                    store.finish_sync(error.sync_status, sentence)
                except AuditError as log_error:
                    self.logger.error("Could not record the failure in sync_log: %s", log_error)
                self._close_store()
            self._print_summary(error.sync_status, sentence)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)
            self._gc_thresholds = None

    def _print_summary(self, status: str, error: str | None) -> None:
        if self._store is not None:  # never opened (e.g. busy): the logged sentence says it all
            print_run_summary(
                self._store,
                status=status,
                counts=self._counts,
                tables=self._tables,
                seconds=time.monotonic() - self._started,
                error=error,
                redact_pii=self.redact_pii,
            )

    # -- signals --------------------------------------------------------------------------

    @override
    def _setup_signal_handlers(self) -> None:
        # SIGHUP (the terminal closed, a CI runner cancelled) stops the run the same way, so
        # its sync-log row says interrupted instead of staying running.
        super()._setup_signal_handlers()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._handle_termination)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Stop on SIGTERM/SIGINT/SIGHUP without draining from inside the signal handler.

        The SDK drains all sinks from the handler, which can re-enter a batch that is
        half-way through its transaction. Raising instead (``signals.SignalGate``) rolls
        back the open batch; everything up to the last emitted STATE is already committed,
        and a rerun redoes the rest.
        """
        self._signals.handle(signum)

    def _stop(self, signum: int) -> None:
        name = signal.Signals(signum).name
        msg = (
            f"Stopped by {name} at input line {self.line_number}; everything committed up "
            "to the last emitted STATE is kept."
        )
        raise TerminatedError(msg, signum)


__all__ = ["DEFAULT_DATABASE", "TargetSqliteAudit"]
