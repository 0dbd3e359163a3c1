"""COQL reads of one module: keyset pages, field batches merged by id, Get Records' shapes.

The reader sends through its stream (same retries, token refresh, error sentences and credit
meter) and never writes state: it yields pages of records in (``Modified_Time``, ``id``)
order, and the stream's bookmark tracker sees them as it sees REST pages.

- The first query has no upper bound; its answer's ``Date`` (the server's current second)
  becomes the bound of every later query, and rows of that second or later are dropped: the
  open second is read by the next run, so no record written in it is ever skipped.
- A record whose batches disagree (changed or deleted between two batch queries) is left
  out: its new ``Modified_Time`` is past the bound, so the next run reads it.
"""

from __future__ import annotations

import datetime
import typing as t
from collections.abc import Iterator, Sequence
from http import HTTPStatus

from tap_zohocrm import coql
from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.client import answer_time, page_info, page_records
from tap_zohocrm.schema import REPLICATION_KEY, SYSTEM_KEYS
from tap_zohocrm.sources import ModuleSource

if t.TYPE_CHECKING:
    import requests

    from tap_zohocrm.auth import ZohoOAuthAuthenticator


class CoqlSource(ModuleSource, t.Protocol):
    """What the COQL reader needs of a module stream (``ZohoModuleStream`` is one)."""

    name: str

    @property
    def authenticator(self) -> ZohoOAuthAuthenticator:
        """The run's authenticator (its token's scopes)."""
        ...

    def coql_criteria(self) -> list[str]:
        """Criteria every query of the module carries."""
        ...

    def send_coql(self, query: str) -> requests.Response:
        """One COQL query."""
        ...


__all__ = ["CoqlReader", "CoqlUnsuitable", "coql_reads"]

#: How far past Zoho's clock a Modified_Time must be to count as a clock gone wrong.
FUTURE_MARGIN = datetime.timedelta(days=1)


class CoqlUnsuitable(Exception):
    """COQL cannot give this module's records as Get Records does; read it over REST."""


class CoqlReader:
    """One keyset read of a module through ``POST /coql``."""

    def __init__(
        self,
        stream: CoqlSource,
        reads: Sequence[coql.FieldRead],
        *,
        since: str | None,
        large: bool,
        max_fields: int,
    ) -> None:
        """Plan the read.

        Args:
            stream: The module stream the calls go through.
            reads: How each selected property is read (:func:`coql.plan_fields`).
            since: Records modified strictly after this, if any.
            large: Start at LIMIT 2,000 (a first sync or a full re-read) instead of 200.
            max_fields: Columns per query.
        """
        self.stream = stream
        self.incremental = stream.replication_key is not None
        always = ("id", REPLICATION_KEY) if self.incremental else ("id",)
        self.batches = coql.batches(reads, max_fields, always)
        self.since = since
        self.large = large
        #: Zoho's ``$`` keys the stream selects: COQL must send them, else REST is used.
        self.system_keys = sorted(
            {SYSTEM_KEYS[name] for name in stream.selected_properties() if name in SYSTEM_KEYS}
        )
        self.queries = 0
        self.rows_read = 0
        self.left_for_next_run = 0

    def pages(self) -> Iterator[list[dict[str, t.Any]]]:
        """The records, page by page, in Get Records' shape (``$`` keys included)."""
        after: tuple[str | None, str] | None = None
        bound: datetime.datetime | None = None
        first = True
        while True:
            remaining = None
            if self.large and self.stream.module_count is not None:
                remaining = max(1, self.stream.module_count - self.rows_read)
            limit = coql.ladder_limit(self.queries, large=self.large, remaining=remaining)
            response = self._query(self.batches[0], after, bound, limit)
            if bound is None and self.incremental:
                bound = answer_time(response)
            rows = page_records(response) if response.status_code == HTTPStatus.OK else []
            if not rows:
                return
            self.rows_read += len(rows)
            kept = [row for row in rows if self._before(row, bound)]
            if first and kept:
                self._check_system_keys(kept)
                first = False
            records = self._merge(kept, after, bound, limit)
            if records:
                yield records
            if len(kept) < len(rows) or not page_info(response).get("more_records"):
                return
            last = rows[-1]
            after = (last.get(REPLICATION_KEY), str(last.get("id")))

    # -- one page ------------------------------------------------------------------------

    def _merge(
        self,
        rows: list[dict[str, t.Any]],
        after: tuple[str | None, str] | None,
        bound: datetime.datetime | None,
        limit: int,
    ) -> list[dict[str, t.Any]]:
        records: dict[str, dict[str, t.Any]] = {}
        versions: dict[str, t.Any] = {}
        for row in rows:
            record_id = str(row.get("id"))
            record: dict[str, t.Any] = {}
            records[record_id] = record
            coql.rebuild(row, self.batches[0], record)
            versions[record_id] = row.get(REPLICATION_KEY)
        complete = set(records)
        for batch in self.batches[1:]:
            response = self._query(batch, after, bound, limit)
            seen: set[str] = set()
            for row in page_records(response) if response.status_code == HTTPStatus.OK else []:
                record_id = str(row.get("id"))
                if record_id in records and row.get(REPLICATION_KEY) == versions[record_id]:
                    coql.rebuild(row, batch, records[record_id])
                    seen.add(record_id)
            complete &= seen
        if len(complete) < len(records):
            self.left_for_next_run += len(records) - len(complete)
        return [record for record_id, record in records.items() if record_id in complete]

    def _query(
        self,
        batch: Sequence[coql.FieldRead],
        after: tuple[str | None, str] | None,
        bound: datetime.datetime | None,
        limit: int,
    ) -> requests.Response:
        query = coql.keyset_query(
            self.stream.module,
            coql.columns_of(batch),
            incremental=self.incremental,
            since=self.since,
            after=after,
            bound=bound.isoformat() if bound is not None else None,
            limit=limit,
            extra=self.stream.coql_criteria(),
        )
        if batch is self.batches[0]:
            self.queries += 1
        return self.stream.send_coql(query)

    def _before(self, row: dict[str, t.Any], bound: datetime.datetime | None) -> bool:
        """Whether a row is from a closed second (or dated past Zoho's clock by over a day).

        Rows of the open second and later are the next run's. A row dated a day or more past
        Zoho's own clock (a clock gone wrong) is kept, as Get Records would send it; the
        stream emits it without making it the bookmark. Later queries are bounded, so such
        rows come only with an unbounded first page (every run whose changes fit in it).
        """
        if bound is None:
            return True
        value = row.get(REPLICATION_KEY)
        if value is None:
            return True
        instant = parse_instant(str(value))
        return instant < bound or instant > bound + FUTURE_MARGIN

    def _check_system_keys(self, rows: list[dict[str, t.Any]]) -> None:
        missing = [key for key in self.system_keys if not any(key in row for row in rows)]
        if missing:
            msg = f"Zoho's COQL answer has no {', '.join(missing)}"
            raise CoqlUnsuitable(msg)


def coql_reads(stream: CoqlSource) -> list[coql.FieldRead] | None:
    """The COQL reads of the stream's selection, or None (with one log line) to use REST."""
    method = stream.settings.read_method
    if method == "rest":
        return None
    reason = None
    stream.authenticator.ensure_token()  # its answer says which scopes the token holds
    granted = stream.authenticator.granted_scopes
    if stream.module in coql.NOT_IN_COQL:
        reason = f"Zoho's COQL does not serve {stream.module}"
    elif method == "auto" and granted is not None and not _has_coql_scope(granted):
        reason = "the token lacks the ZohoCRM.coql.READ scope"
    reads, unsupported = coql.plan_fields(
        stream.schema.get("properties", {}), stream.selected_properties()
    )
    if reason is None and unsupported:
        reason = f"COQL cannot return {', '.join(unsupported)} as Get Records does"
    if reason is not None:
        log = stream.logger.warning if method == "coql" else stream.logger.info
        log("Stream %s reads over REST (Get Records): %s", stream.name, reason)
        return None
    return reads


def _has_coql_scope(granted: str) -> bool:
    scopes = {scope.strip().lower() for scope in granted.replace(",", " ").split()}
    return bool(scopes & {"zohocrm.coql.read", "zohocrm.coql.all"})
