"""Reading every field of a module wider than Zoho's 50-field cap, page by page.

The first field chunk is the stream's own query: it pages (``page_token``), restarts and
bookmarks exactly like a narrow module. For each of its pages, :class:`ChunkedReader` asks for
the same page of every other chunk: the same query (``sort_by=Modified_Time&sort_order=asc``,
the same ``If-Modified-Since``), each chunk following its own ``page_token`` chain (tokens are
bound to the ``fields`` parameter). Parts are merged by id; a record is emitted only when all its
parts carry the same ``Modified_Time`` (see :mod:`tap_zohocrm.chunks`).

What happens when records change between the chunk requests:

- *A record modified between two chunk requests*: its parts disagree on ``Modified_Time``. It
  is re-read by id (``ids=``, every chunk, at most 100 ids per call) until all parts agree, and
  the newest version is emitted, still at its place in the first chunk's order (the bookmark
  follows the first chunk's values, so checkpoints stay exact). Never a half-old record.
- *Pages that shifted*: a modification or deletion moves records out of the middle of the
  sorted result, so a later chunk's page may lack a record of the first chunk's page (it is
  re-read by id) or hold one the first chunk will never see on any page (kept aside and, at
  the end of the stream, re-read by id and emitted: a record the narrow query would have
  missed is saved).
- *A record deleted meanwhile*: absent from the re-read; dropped here, reported by the
  deletion pass that follows the records.
- *A chunk's token chain unusable* (expired, capped, out of step after a restart): the pages
  of that chunk are replaced by re-reads by id (2 calls per 200 records instead of 1).

A record that changes again during every re-read (3 rounds) is skipped with a warning naming
it; it is newer than the position it was read at, so the next sync reads it.
"""

from __future__ import annotations

import dataclasses
import typing as t
from http import HTTPStatus

from tap_zohocrm.chunks import MAX_FIELDS_PER_CALL, PartsPool, batched
from tap_zohocrm.client import is_restart, page_info

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Sequence

    import requests

    from tap_zohocrm.client import ZohoPage


class ChunkSource(t.Protocol):
    """What the chunked reader needs of a module stream (``ModulePagesStream`` is one)."""

    module: str
    api_calls: int
    api_credits: int

    @property
    def logger(self) -> logging.Logger:
        """The stream's logger."""
        ...

    def list_params(self, fields: Sequence[str]) -> dict[str, t.Any]:
        """Parameters of a listing query with these fields."""
        ...

    def ids_params(self, fields: Sequence[str], ids: Sequence[str]) -> dict[str, t.Any]:
        """Parameters of a read of given records."""
        ...

    def send_get(self, params: dict[str, t.Any], modified_since: str | None) -> requests.Response:
        """One Get Records call."""
        ...

    def raw_records(self, response: requests.Response) -> list[dict[str, t.Any]]:
        """The records of an answer, as Zoho sent them."""
        ...


__all__ = ["MAX_IDS_PER_CALL", "MAX_REREAD_ROUNDS", "ChunkedReader"]

#: Zoho's cap on the ``ids`` parameter of Get Records.
MAX_IDS_PER_CALL = 100
#: Re-reads by id before a record that keeps changing is left to the next sync.
MAX_REREAD_ROUNDS = 3


@dataclasses.dataclass
class _Chain:
    """Where one chunk's ``page_token`` chain stands."""

    query: int = -1
    token: str | None = None
    open: bool = False


class ChunkedReader:
    """Completes the first chunk's pages with the other chunks' fields.

    Args:
        stream: The module stream (sends the requests, builds their parameters).
        chunks: Field chunks; the first is the stream's own query.
        version_key: ``Modified_Time``, or ``None`` for a module without it.
    """

    def __init__(
        self,
        stream: ChunkSource,
        chunks: Sequence[tuple[str, ...]],
        version_key: str | None,
    ) -> None:
        """Create the reader (see the class docstring)."""
        self.stream = stream
        self.chunks = list(chunks)
        self.version_key = version_key
        self.pool = PartsPool(len(self.chunks), version_key)
        self._chains = [_Chain() for _ in self.chunks]
        #: Ids emitted with another Modified_Time than their place in the first chunk's order
        #: (re-read because they changed): the value the bookmark tracker should see instead,
        #: ``None`` for records emitted out of order (rescued at the end).
        self.positions: dict[str, str | None] = {}
        #: Calls and credits beyond the first chunk's (other chunks, re-reads).
        self.extra_calls = 0
        self.extra_credits = 0
        #: Records re-read by id, and records given up (changed during every re-read).
        self.reread = 0
        self.skipped: list[str] = []

    # -- pages -----------------------------------------------------------------------

    def usage(self) -> str:
        """What the fields past the first chunk cost this run, for the stream's usage line."""
        fields = len({name for chunk in self.chunks for name in chunk})
        return (
            f"{fields} fields read in {len(self.chunks)} chunks of at most "
            f"{MAX_FIELDS_PER_CALL}: {self.extra_calls} of the Get Records calls "
            f"({self.extra_credits} credits) were for the fields past the first chunk, "
            f"{self.reread} records re-read by id"
        )

    def complete_page(
        self, driver: list[dict[str, t.Any]], page: ZohoPage | None
    ) -> list[dict[str, t.Any]]:
        """The whole records of one page of the first chunk, in its order.

        Args:
            driver: The raw records of the first chunk's page.
            page: The page those records answered.

        Returns:
            Whole raw records (every chunk's fields), without the ones deleted meanwhile.
        """
        pool = self.pool
        pool.add(0, driver)
        for index in range(1, len(self.chunks)):
            pool.add(index, self._chunk_page(index, page))
        whole: list[dict[str, t.Any] | None] = []
        missing: list[str] = []
        for raw in driver:
            record_id = str(raw["id"])
            merged = pool.take(record_id)
            if merged is None:
                missing.append(record_id)
            whole.append(merged)
        if not missing:
            return t.cast("list[dict[str, t.Any]]", whole)

        fixed = self._reread(missing)
        for record_id in missing:
            pool.discard(record_id)
        result: list[dict[str, t.Any]] = []
        key = self.version_key
        for raw, merged in zip(driver, whole, strict=True):
            if merged is None:
                record_id = str(raw["id"])
                merged = fixed.get(record_id)
                if merged is None:
                    continue
                if key is not None and merged.get(key) != raw.get(key):
                    self.positions[record_id] = raw.get(key)
            result.append(merged)
        return result

    def leftovers(self) -> list[dict[str, t.Any]]:
        """Records a later chunk read that the first chunk never did, re-read whole by id.

        Called once the first chunk's query is exhausted. These records moved into a later
        chunk's page while the first chunk paged past them (see the module docstring).

        Returns:
            Whole raw records, to emit out of order.
        """
        ids = self.pool.ids()
        if not ids:
            return []
        self.stream.logger.info(
            "%d %s records were on a later field chunk's page but on none of the first "
            "chunk's (records moved while paging); re-reading them by id",
            len(ids),
            self.stream.module,
        )
        fixed = self._reread(ids)
        for record_id in ids:
            self.pool.discard(record_id)
        result = []
        for record_id in ids:
            merged = fixed.get(record_id)
            if merged is not None:
                self.positions[record_id] = None
                result.append(merged)
        return result

    # -- requests --------------------------------------------------------------------

    def _chunk_page(self, index: int, page: ZohoPage | None) -> list[dict[str, t.Any]]:
        """The same page as the first chunk's, read with chunk ``index``'s fields.

        Returns:
            Its raw records; empty when the chunk's token chain cannot follow (the page's
            records are then re-read by id).
        """
        if page is None:  # pragma: no cover - get_http_request always records the page
            return []
        chain = self._chains[index]
        if page.page_token is None:  # the first page of a query: a new chain
            chain.query, chain.token, chain.open = page.query, None, True
        elif chain.query != page.query or not chain.open or chain.token is None:
            return []
        params = self.stream.list_params(self.chunks[index])
        if chain.token is not None:
            params["page_token"] = chain.token
        response = self._get(params, page.modified_since)
        if is_restart(response) or response.status_code in {
            HTTPStatus.NO_CONTENT,
            HTTPStatus.NOT_MODIFIED,
        }:
            chain.open, chain.token = False, None
            return []
        info = page_info(response)
        token = info.get("next_page_token")
        chain.token = str(token) if (info.get("more_records") and token) else None
        chain.open = chain.token is not None
        return self.stream.raw_records(response)

    def _reread(self, ids: Sequence[str]) -> dict[str, dict[str, t.Any]]:
        """Read records by id with every chunk until their parts agree (bounded rounds).

        Returns:
            Whole raw records by id; ids deleted meanwhile, or still changing after
            :data:`MAX_REREAD_ROUNDS` rounds, are absent.
        """
        result: dict[str, dict[str, t.Any]] = {}
        pending = list(dict.fromkeys(ids))
        self.reread += len(pending)
        for _ in range(MAX_REREAD_ROUNDS):
            pool = PartsPool(len(self.chunks), self.version_key)
            for index, fields in enumerate(self.chunks):
                for batch in batched(pending, MAX_IDS_PER_CALL):
                    params = self.stream.ids_params(fields, batch)
                    pool.add(index, self.stream.raw_records(self._get(params, None)))
            still = []
            for record_id in pending:
                merged = pool.take(record_id)
                if merged is not None:
                    result[record_id] = merged
                elif pool.has_any(record_id):
                    still.append(record_id)
                # else: deleted meanwhile; the deletion pass reports it.
            pending = still
            if not pending:
                break
        if pending:
            self.skipped.extend(pending)
            self.stream.logger.warning(
                "%d %s records changed during each of %d re-reads by id and are skipped in "
                "this sync (the next sync reads them): %s",
                len(pending),
                self.stream.module,
                MAX_REREAD_ROUNDS,
                ", ".join(pending),
            )
        return result

    def _get(self, params: dict[str, t.Any], modified_since: str | None) -> t.Any:
        stream = self.stream
        calls, credits = stream.api_calls, stream.api_credits
        try:
            return stream.send_get(params, modified_since)
        finally:
            self.extra_calls += stream.api_calls - calls
            self.extra_credits += stream.api_credits - credits
