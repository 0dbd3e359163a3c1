"""Parsing and formatting of instants (timezone-aware points in time).

Replication keys such as Zoho's ``Modified_Time`` carry UTC offsets that change across
DST (``2024-11-03T01:30:00-07:00`` is *earlier* than ``2024-11-03T01:10:00-08:00``), so
they are compared as instants, never as strings.  Bookkeeping timestamps are written in
one fixed-width UTC format so that plain string comparison in SQL orders them correctly.
"""

from __future__ import annotations

from datetime import datetime, timezone

_UTC = timezone.utc


def format_instant(moment: datetime) -> str:
    """Format an aware datetime as fixed-width UTC text, e.g. ``2024-11-03T09:30:00.000Z``.

    Args:
        moment: An aware (or UTC-naive) datetime.

    Returns:
        ISO 8601 UTC text with milliseconds and a ``Z`` suffix.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(_UTC)
    return _utc_text(moment)


_TWO = [f"{i:02d}" for i in range(100)]
_THREE = [f"{i:03d}" for i in range(1000)]


def _utc_text(u: datetime) -> str:
    """Fixed-width text of a UTC (or naive) datetime, milliseconds truncated.

    Why not ``isoformat`` or ``%``: both format every field through C formatting calls
    (about 3x the time of joining precomputed digits); this runs for every version written.
    """
    year = u.year
    return (
        f"{year if year >= 1000 else f'{year:04d}'}-{_TWO[u.month]}-{_TWO[u.day]}T"
        f"{_TWO[u.hour]}:{_TWO[u.minute]}:{_TWO[u.second]}.{_THREE[u.microsecond // 1000]}Z"
    )


def utc_now_text() -> str:
    """Return the current time in the bookkeeping format."""
    return format_instant(datetime.now(_UTC))


def parse_instant(value: object) -> datetime | None:
    """Parse an ISO 8601 date or date-time into an aware datetime.

    Naive values are taken as UTC.  Anything that is not a parseable string gives
    ``None`` so that callers can fall back to another comparison.

    Args:
        value: The raw value, usually a string from a record.

    Returns:
        An aware datetime, or None.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text[-1:] in {"Z", "z"}:
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        import pendulum

        try:
            parsed = pendulum.parse(value, strict=True)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            return None
        if not isinstance(parsed, datetime):
            return None
        moment = parsed
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    try:
        moment.astimezone(_UTC)
    except OverflowError:
        # Year 1 east of UTC or year 9999 west of it: no UTC instant exists; the value is
        # stored as sent and simply not compared (as any other unparseable value).
        return None
    return moment


def instant_text(value: object) -> str | None:
    """``format_instant(parse_instant(value))``, or None when the value is no instant.

    Why: it runs for every version written; an offset-aware ISO 8601 string (what Zoho
    and most taps send) takes one C parse and one conversion instead of the general path.
    """
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return _utc_text(moment.astimezone(_UTC))
        except (ValueError, OverflowError):
            pass  # the general path decides (other formats; no UTC instant)
    parsed = parse_instant(value)
    return format_instant(parsed) if parsed is not None else None


def compare_replication_values(new: object, old: object) -> int | None:
    """Compare two replication-key values.

    Numbers compare numerically, date-time strings as instants; equal values are equal
    whatever their type.  Values that cannot be compared give ``None`` (callers then do
    not treat the record as stale).

    Args:
        new: The incoming record's value.
        old: The stored value.

    Returns:
        -1, 0 or 1 as ``new`` is older than, equal to or newer than ``old``; or None.
    """
    if new is None or old is None:
        return None
    if new == old:
        return 0
    if _is_number(new) and _is_number(old):
        return -1 if new < old else 1  # type: ignore[operator]
    new_at = parse_instant(new)
    old_at = parse_instant(old)
    if new_at is None or old_at is None:
        return None
    if new_at == old_at:
        return 0
    return -1 if new_at < old_at else 1


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
