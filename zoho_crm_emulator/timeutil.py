"""Instants as integer epoch seconds, rendered the way Zoho renders them.

The store keeps every timestamp as epoch seconds so that comparisons and sorting are on
instants; only rendering applies the API user's time zone (with daylight saving), exactly
the trap a client comparing strings would fall into.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from zoho_crm_emulator.errors import invalid_data


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name, cached because lookups read tz files."""
    return ZoneInfo(name)


def render(ts: int, tz: str) -> str:
    """Render epoch seconds like Zoho: ``2024-01-20T04:01:48-08:00`` in the user's zone."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat(timespec="seconds")


def render_date(ts: int, tz: str) -> str:
    """Render the calendar date of an instant in the user's zone, e.g. ``2024-10-09``."""
    return datetime.fromtimestamp(ts, zone(tz)).date().isoformat()


def parse_iso(value: str, *, param: str = "If-Modified-Since") -> int:
    """Parse an ISO-8601 datetime with an offset into epoch seconds.

    A value without an offset is read as UTC rather than rejected, because Zoho is lenient
    there too; a value that is not a datetime at all is a 400 INVALID_DATA.

    Args:
        value: The text to parse, e.g. ``2019-07-25T15:26:49+05:30`` or ``...Z``.
        param: The parameter or header name reported in the error details.

    Returns:
        Epoch seconds (fractions truncated).

    Raises:
        ZohoError: INVALID_DATA when the value cannot be parsed.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_data("invalid datetime", param=param, value=value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())
