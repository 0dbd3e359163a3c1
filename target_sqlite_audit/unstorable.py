"""Which record and property a batch SQLite refused to bind holds, in one sentence.

Only after a batch failed: the rows are tried value by value against a scratch connection.
"""

from __future__ import annotations

import sqlite3
import typing as t

from target_sqlite_audit.connection import _BINDING_ERRORS
from target_sqlite_audit.errors import InputError
from target_sqlite_audit.tables import StreamTable

if t.TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["describe_unstorable"]


def describe_unstorable(
    table: StreamTable,
    rows: Sequence[Sequence[t.Any]],
    lines: Sequence[int],
) -> InputError | None:
    """Find the record and property behind a binding error and describe it."""
    scratch = sqlite3.connect(":memory:")
    try:
        for row, line in zip(rows, lines, strict=True):
            for prop, value in zip(table.props, row, strict=True):
                try:
                    scratch.execute("SELECT ?", (value,))
                except _BINDING_ERRORS as bad:
                    return InputError(
                        f"Record on line {line} of stream {table.stream!r} cannot be "
                        f"stored: property {prop!r} {_why_unstorable(value, bad)}."
                    )
    finally:
        scratch.close()
    return None


def _why_unstorable(value: t.Any, exc: BaseException) -> str:
    if isinstance(exc, OverflowError):
        return "holds an integer outside SQLite's 64-bit range"
    if isinstance(exc, UnicodeEncodeError):
        return "holds text that is not valid Unicode"
    if isinstance(exc, sqlite3.DataError) or "too big" in str(exc):
        return "holds a value larger than SQLite's maximum size"
    return f"holds a {type(value).__name__} value, which SQLite cannot store"
