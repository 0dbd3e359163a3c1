"""Modified_Time bookmarks compared as instants, checkpointed only where complete.

Two facts shape this module:

1. Zoho renders datetimes in the API user's time zone, so the offset changes across daylight
   saving: ``2024-11-03T01:30:00-07:00`` is *earlier* than ``2024-11-03T01:10:00-08:00`` although
   it sorts later as a string. Every comparison here is between timezone-aware datetimes.
2. ``If-Modified-Since`` may be exclusive (the emulator's reading; Zoho's is unverified). Records
   sharing one second can straddle a page boundary, so a checkpoint written mid-stream must
   not claim a second that may still have unread records: mid-stream the tracker checkpoints
   the newest instant *strictly older* than the newest one seen. Only when the stream is
   complete is the newest instant itself the bookmark. Resuming from a checkpoint may read the
   boundary records again; it never skips one.
"""

from __future__ import annotations

import datetime
import logging
import typing as t

__all__ = ["BookmarkTracker", "keyset_since", "parse_instant", "to_header_value"]

_UTC = datetime.timezone.utc


def parse_instant(value: str) -> datetime.datetime:
    """Parse an ISO-8601 datetime (or date) into a timezone-aware datetime.

    Values without an offset (a ``start_date`` such as ``2024-01-01``) are taken as UTC.

    Args:
        value: E.g. ``2024-01-20T04:01:48-08:00``.

    Returns:
        A timezone-aware datetime.
    """
    parsed = datetime.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def to_header_value(value: str) -> str:
    """Render a bookmark or start date as Zoho's ``If-Modified-Since`` wants it.

    Zoho's own values (``2024-01-20T04:01:48-08:00``) come back unchanged; other ISO forms
    (``2024-01-01``, ``...Z``, fractions of a second) become seconds with an offset.

    Args:
        value: An ISO-8601 datetime or date.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS+HH:MM``.
    """
    return parse_instant(value).isoformat(timespec="seconds")


class BookmarkTracker:
    """Follows the replication key of the records of one stream run.

    Attributes:
        start_value: The value the run started from (bookmark or start date), if any.
        max_value: The newest value seen, as Zoho rendered it (or ``start_value``).
        safe_value: The newest value such that every record up to it has been seen.
        unsorted: Whether records arrived out of order within one query; mid-stream
            checkpoints then stop advancing (the final bookmark is still exact).
    """

    __slots__ = (
        "_logger",
        "_max_dt",
        "_max_from_record",
        "_prev_dt",
        "_safe_from_record",
        "max_value",
        "records_seen",
        "safe_value",
        "start_value",
        "unsorted",
    )

    def __init__(self, start_value: str | None, logger: logging.Logger | None = None) -> None:
        """Start tracking.

        Args:
            start_value: The bookmark or start date the run starts from.
            logger: Where to warn about unsorted data.
        """
        self._logger = logger or logging.getLogger(__name__)
        self.start_value = start_value
        self.max_value: str | None = start_value
        self._max_dt = parse_instant(start_value) if start_value else None
        self.safe_value: str | None = start_value
        self._prev_dt: datetime.datetime | None = None
        self._max_from_record = False
        self._safe_from_record = False
        self.unsorted = False
        self.records_seen = 0

    def new_query(self) -> None:
        """Note that a new query started (its first record may precede the last one seen)."""
        self._prev_dt = None

    def observe(self, value: str | None) -> None:
        """Account for one record's replication key value, in the order records arrive.

        Args:
            value: The record's ``Modified_Time`` as Zoho sent it.
        """
        if value is None:
            return
        self.records_seen += 1
        instant = parse_instant(value)
        prev = self._prev_dt
        self._prev_dt = instant
        if prev is not None and instant < prev and not self.unsorted:
            self.unsorted = True
            self._logger.warning(
                "Records arrived out of Modified_Time order (%s after a newer one); "
                "checkpoints stop advancing until the stream completes",
                value,
            )
        max_dt = self._max_dt
        if max_dt is None or instant > max_dt:
            if max_dt is not None and not self.unsorted:
                # Every record up to the previous newest instant has been seen: later
                # records are all newer (sorted ascending).
                self.safe_value = self.max_value
                self._safe_from_record = self._max_from_record
            self.max_value, self._max_dt = value, instant
            self._max_from_record = True

    @property
    def checkpoint(self) -> str | None:
        """The value to store mid-stream, or ``None`` while nothing past the start is safe."""
        return self.safe_value if self._safe_from_record else None

    @property
    def final(self) -> str | None:
        """The value to store once the stream is complete, or ``None`` if nothing was seen."""
        return self.max_value if self._max_from_record else None


def keyset_since(values: list[str | None], current_since: str | None) -> str | None:
    """The ``If-Modified-Since`` of the query that reads the page after these records.

    Keyset paging: the next page is a new query from the newest instant of the page that is
    strictly older than its last (newest) record, so the records sharing the last second are
    read again (never skipped, whether Zoho's ``If-Modified-Since`` is inclusive or exclusive),
    and a record that changed meanwhile cannot shift an unread one past the page boundary
    (the position of a ``page_token`` can). ``None`` when no such instant makes progress past
    ``current_since`` (the whole page shares one second): then the ``page_token`` is followed.

    Args:
        values: The page's ``Modified_Time`` values, in Zoho's (ascending) order.
        current_since: The ``If-Modified-Since`` of the query the page answered.

    Returns:
        Zoho's rendering of that instant, or ``None``.
    """
    parsed = [(parse_instant(v), v) for v in values if v]
    if not parsed:
        return None
    newest = max(instant for instant, _ in parsed)
    floor = parse_instant(current_since) if current_since else None
    best: tuple[datetime.datetime, str] | None = None
    for instant, value in parsed:
        newer_than_best = best is None or instant > best[0]
        if instant < newest and (floor is None or instant > floor) and newer_than_best:
            best = (instant, value)
    return best[1] if best else None


class FutureGuard:
    """Keeps a Modified_Time later than Zoho's own clock (+1 day) from becoming the bookmark.

    One record dated 9999 would otherwise freeze the stream: every later sync would ask for
    records modified after it. The record is emitted; its time is not a bookmark, and it is
    warned about once.
    """

    MARGIN = datetime.timedelta(days=1)

    def __init__(self, logger: logging.Logger, module: str) -> None:
        """Guard one module's stream (``module`` names it in the warning)."""
        self._logger = logger
        self._module = module
        self._warned: set[t.Any] = set()

    def beyond(self, value: str, record_id: t.Any, now: datetime.datetime | None) -> bool:
        """Whether ``value`` is past Zoho's clock ``now`` (None: not known yet) + the margin."""
        if now is None:
            return False
        try:
            instant = parse_instant(value)
        except (TypeError, ValueError):
            return False
        if instant <= now + self.MARGIN:
            return False
        if record_id not in self._warned:
            self._warned.add(record_id)
            self._logger.warning(
                "Record %s of %s has Modified_Time %s, later than Zoho's clock (%s); it is "
                "emitted but not used as the bookmark",
                record_id,
                self._module,
                value,
                now.isoformat(),
            )
        return True
