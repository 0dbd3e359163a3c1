"""The backfill: the jobs of one export, and whether a stream backfills in bulk."""

from __future__ import annotations

import datetime
import logging
import typing as t
from http import HTTPStatus

from typing_extensions import override

from tap_zohocrm.bookmarks import BookmarkTracker, parse_instant, to_header_value
from tap_zohocrm.errors import ZohoAPIError, ZohoError
from tap_zohocrm.schema import REPLICATION_KEY

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

    from tap_zohocrm.run import ZohoRun

from tap_zohocrm.bulk.client import BulkReadClient, BulkReadError
from tap_zohocrm.bulk.constants import (
    BACKFILL_METHODS,
    DEFAULT_BULK_MAX_WAIT_SECONDS,
    NOT_IN_BULK_READ,
)
from tap_zohocrm.bulk.convert import RecordPlan
from tap_zohocrm.sources import ModuleSource


class BackfillSource(ModuleSource, t.Protocol):
    """What a Bulk Read backfill needs of a module stream (``ZohoModuleStream`` is one).

    It reads the stream's state (is there a bookmark?) but never writes it; it sets
    ``module_count`` when the ``auto`` plan asked Zoho for it.
    """

    zoho_tap: ZohoRun
    required_scope: str

    def get_context_state(self, context: Context | None) -> dict:
        """The stream's state (read only here)."""
        ...

    def get_starting_replication_key_value(self, context: Context | None) -> t.Any:
        """The bookmark the stream starts from."""
        ...

    def nested_deselections(self) -> dict[str, frozenset[str]]:
        """Deselected sub-properties of object properties."""
        ...


class BulkReader:
    """The jobs of one module export: create, wait, download, parse; next job while more.

    Attributes:
        jobs: Jobs created so far.
        first_created_time: Zoho's ``created_time`` of the first job: the snapshot time after
            which changes must come from REST.
        records_read: Records yielded.
    """

    def __init__(
        self,
        client: BulkReadClient,
        module: str,
        plan: RecordPlan,
        *,
        criteria: dict[str, t.Any] | None = None,
        max_wait: float = DEFAULT_BULK_MAX_WAIT_SECONDS,
        logger: logging.Logger | None = None,
    ) -> None:
        """Prepare the export.

        Args:
            client: The Bulk Read client.
            module: Module API name.
            plan: Columns to ask for and how to rebuild records.
            criteria: The query's criteria (e.g. ``Modified_Time`` after the start date).
            max_wait: Seconds to wait at most for each job.
            logger: Where progress is logged.
        """
        self.client = client
        self.module = module
        self.plan = plan
        self.criteria = criteria
        self.max_wait = max_wait
        self.logger = logger or logging.getLogger(__name__)
        self.jobs = 0
        self.first_created_time: str | None = None
        self.records_read = 0

    def query(self, page: int | None = None, page_token: str | None = None) -> dict[str, t.Any]:
        """The ``query`` of a job.

        Args:
            page: Page of the selection (after the first job, when no token is sent).
            page_token: The previous job's ``next_page_token``.

        Returns:
            The query object.
        """
        query: dict[str, t.Any] = {
            "module": {"api_name": self.module},
            "fields": list(self.plan.columns),
        }
        if self.criteria:
            query["criteria"] = self.criteria
        if page_token:
            query["page_token"] = page_token
        else:
            query["page"] = page or 1
        return query

    def records(self) -> Iterator[dict[str, t.Any]]:
        """Run the export job by job and yield its records.

        Yields:
            Records as Get Records would render them, in the export's (id) order.

        Raises:
            BulkReadError: For a failed, expired or overdue job (and ZohoAPIError for calls
                Zoho refuses).
        """
        query = self.query()
        while True:
            job_id, created = self.client.create_job(query)
            self.jobs += 1
            if self.first_created_time is None:
                self.first_created_time = created
            self.logger.info(
                "Bulk Read job %s for %s created (page %s); waiting at most %g s",
                job_id,
                self.module,
                query.get("page") or "from token",
                self.max_wait,
            )
            result = self.client.wait(job_id, self.max_wait)
            self.logger.info(
                "Bulk Read job %s completed with %d records; downloading", job_id, result.count
            )
            with self.client.download(result) as archive:
                for record in self.plan.records(archive):
                    self.records_read += 1
                    yield record
            if not result.more_records:
                return
            if result.count == 0:
                msg = (
                    f"Zoho CRM's Bulk Read job {job_id} exported no records yet claims more; "
                    "stopping to avoid an endless export."
                )
                raise BulkReadError(msg)
            if result.next_page_token:
                query = self.query(page_token=result.next_page_token)
            else:
                query = self.query(page=result.page + 1)


# -- the stream's backfill -----------------------------------------------------------------


class _AfterBulkTracker(BookmarkTracker):
    """The bookmark tracker of the REST part that follows a completed bulk export.

    REST starts at ``since`` (everything up to it is in the export), so ``since`` is a safe
    checkpoint from the start; the final bookmark is the newest Modified_Time seen, by the
    export or by REST, compared as instants.
    """

    def __init__(
        self,
        since: str,
        bulk_max: str | None,
        bulk_records: int,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(since, logger)
        self._max_from_record = True
        self._safe_from_record = True
        self.records_seen = bulk_records
        self._bulk_max = bulk_max
        self._observed = False

    @override
    def observe(self, value: str | None) -> None:
        if value is not None:
            self._observed = True
        super().observe(value)

    @property
    @override
    def final(self) -> str | None:
        rest = self.max_value if self._observed else None
        if rest is None or self._bulk_max is None:
            return rest or self._bulk_max
        return rest if parse_instant(rest) >= parse_instant(self._bulk_max) else self._bulk_max


class BulkBackfill:
    """A stream's first sync through Bulk Read, then REST from the export's snapshot on.

    Use :meth:`plan` (``None`` when the stream syncs over REST), give :attr:`tracker` to the
    stream for the export's records (unsorted: it never checkpoints mid-export, so a killed
    run starts the backfill again rather than skip anything), yield :meth:`records`, then
    continue over REST with :meth:`rest_tracker`.

    Attributes:
        tracker: Follows Modified_Time during the export (never checkpoints).
        failure: Why the export was abandoned for REST, if it was.
    """

    def __init__(
        self,
        stream: BackfillSource,
        context: Context | None,
        client: BulkReadClient,
        start: str | None,
    ) -> None:
        """Prepare the backfill (see :meth:`plan`).

        Args:
            stream: The module stream.
            context: The stream context.
            client: The Bulk Read client.
            start: The run's start (``start_date``), or ``None`` for all history.
        """
        self.stream = stream
        self.context = context
        self.client = client
        self.start = start
        self.logger = stream.logger
        self.tracker = BookmarkTracker(None, self.logger)
        self.tracker.unsorted = True  # export order is by id: no mid-stream checkpoints
        self.failure: ZohoError | None = None
        #: Records this backfill yielded (the tracker counts them as they are emitted).
        self.records_read = 0
        self.reader: BulkReader | None = None

    @property
    def started_at(self) -> datetime.datetime | None:
        """When Zoho answered the backfill's first call: before the export's snapshot."""
        return self.client.first_answer_at

    @classmethod
    def plan(cls, stream: BackfillSource, context: Context | None) -> BulkBackfill | None:
        """Decide how the stream backfills, from ``backfill_method`` and the module's size.

        ``rest``: never bulk. ``bulk``: bulk whenever the stream has no bookmark. ``auto``:
        bulk when the stream has no bookmark and one record count (1 credit) says the module
        holds more than ``bulk_threshold`` records.

        Args:
            stream: The module stream.
            context: The stream context.

        Returns:
            The backfill to run, or ``None`` for REST.
        """
        method = stream.settings.backfill_method
        if method not in BACKFILL_METHODS:
            msg = f"backfill_method must be one of {', '.join(BACKFILL_METHODS)}, not {method!r}."
            raise BulkReadError(msg)
        if method == "rest" or not stream.replication_key:
            return None  # a module without Modified_Time is read whole every run, over REST
        if stream.module in NOT_IN_BULK_READ:
            stream.logger.info("%s is not in Bulk Read: backfilling over REST", stream.module)
            return None
        if stream.get_context_state(context).get("replication_key_value"):
            return None  # incremental: REST from the bookmark
        client = BulkReadClient(stream.zoho_tap)
        start = stream.get_starting_replication_key_value(context)
        if method == "auto":
            threshold = stream.settings.bulk_threshold
            try:
                count = client.count(stream.module, stream.required_scope)
            except ZohoAPIError as ex:
                if ex.status not in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED):
                    raise  # Get Records would be refused the same way
                stream.logger.warning(
                    "Cannot count the %s records (%s); backfilling with Get Records (REST)",
                    stream.module,
                    ex.sentence,
                )
                return None
            bulk = count > threshold
            stream.module_count = count
            stream.logger.info(
                "%s holds %d records, %s bulk_threshold %d: backfilling with %s "
                "(1 credit for the count)",
                stream.module,
                count,
                "more than" if bulk else "not more than",
                threshold,
                "Bulk Read" if bulk else "its read_method (REST or COQL)",
            )
            if not bulk:
                return None
        return cls(stream, context, client, start)

    def criteria(self) -> dict[str, t.Any] | None:
        """The export's criteria: after the start date; converted leads when they are not."""
        group: list[dict[str, t.Any]] = []
        if self.start:
            group.append(
                {
                    "field": {"api_name": REPLICATION_KEY},
                    "comparator": "greater_than",
                    "value": to_header_value(self.start),
                }
            )
        stream = self.stream
        if stream.module == "Leads" and not stream.settings.include_converted_leads:
            group.append(
                {"field": {"api_name": "Converted__s"}, "comparator": "equal", "value": False}
            )
        if not group:
            return None
        if len(group) == 1:
            return group[0]
        return {"group_operator": "and", "group": group}

    def records(self) -> Iterator[dict[str, t.Any]]:
        """Export the module and yield its records; on failure, warn and stop.

        Yields:
            Records identical to Get Records output.
        """
        stream = self.stream
        module = stream.module
        max_wait = stream.settings.bulk_max_wait_seconds
        self.logger.info("Backfilling %s with Bulk Read", module)
        try:
            metadata = self.client.field_metadata(module)
            plan = RecordPlan(
                stream.selected_properties(),
                stream.schema.get("properties", {}),
                metadata,
                nested_off=stream.nested_deselections(),
            )
            if plan.needs_tags:
                plan.tag_ids = self._tag_ids(module)
            self.reader = reader = BulkReader(
                self.client,
                module,
                plan,
                criteria=self.criteria(),
                max_wait=max_wait,
                logger=self.logger,
            )
            for record in reader.records():
                self.records_read += 1
                yield record
        except (BulkReadError, ZohoAPIError) as ex:
            self.failure = ex
            self.logger.warning(
                "Bulk Read backfill of %s abandoned: %s Falling back to Get Records (REST) "
                "from %s; the %d records already emitted come again.",
                module,
                ex.sentence,
                self.start or "the beginning",
                self.records_read,
            )
        finally:
            self.logger.info(
                "Bulk Read backfill of %s %s: %d records in %d jobs; %s",
                module,
                "abandoned" if self.failure else "done",
                self.records_read,
                self.reader.jobs if self.reader else 0,
                self.client.usage(),
            )

    def _tag_ids(self, module: str) -> dict[str, str]:
        try:
            return self.client.tag_ids(module)
        except ZohoAPIError as ex:
            self.logger.warning(
                "Cannot read the %s tags (%s); Bulk Read exports tag names only, so tag ids "
                "are null in this backfill.",
                module,
                ex.sentence,
            )
            return {}

    def rest_tracker(self) -> BookmarkTracker:
        """The bookmark tracker for the REST part, which starts where the export ends.

        After a complete export, REST asks for records modified after the earlier of the
        newest exported Modified_Time and one second before the first job's creation (its
        snapshot): a record changed while the jobs ran, even one exported earlier with its old
        values, comes again with its new ones. After a failed export, REST starts over from
        the run's start.

        Returns:
            The tracker; its ``start_value`` is the ``If-Modified-Since`` of the REST part.
        """
        if self.failure is not None or self.reader is None:
            return BookmarkTracker(self.start, self.logger)
        bulk_max = self.tracker.final
        candidates = [value for value in (bulk_max, self._snapshot_bound()) if value]
        if not candidates:  # an empty export without a snapshot time: REST from the start
            return BookmarkTracker(self.start, self.logger)
        since = min(candidates, key=parse_instant)
        if self.start and parse_instant(self.start) > parse_instant(since):
            since = to_header_value(self.start)
        # Everything up to `since` has been emitted: checkpoint it now, so that a run killed
        # during the REST part does not repeat the export.
        state = self.stream.get_context_state(self.context)
        state["replication_key"] = REPLICATION_KEY
        state["replication_key_value"] = since
        self.logger.info(
            "Continuing %s over Get Records with If-Modified-Since %s (newest exported "
            "Modified_Time %s)",
            self.stream.module,
            since,
            bulk_max,
        )
        return _AfterBulkTracker(since, bulk_max, self.tracker.records_seen, self.logger)

    def _snapshot_bound(self) -> str | None:
        created = self.reader.first_created_time if self.reader else None
        if not created:
            return None
        try:
            instant = parse_instant(created) - datetime.timedelta(seconds=1)
        except ValueError:
            return None
        return instant.isoformat(timespec="seconds")
