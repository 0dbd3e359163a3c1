"""Human-readable summaries: the end-of-run table and the ``report`` command.

Both go to people (terminals, CI logs, scheduler e-mails), so free text in them (stream
names, error messages) has e-mail addresses and phone numbers redacted unless
``redact_pii`` is false.  Counts and our own timestamps are never redacted.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import typing as t
from pathlib import Path

from target_sqlite_audit.errors import StorageError
from target_sqlite_audit.naming import quote_ident

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from target_sqlite_audit.store import AuditStore, BatchCounts

EMAIL_PLACEHOLDER = "<email>"
PHONE_PLACEHOLDER = "<phone>"

#: Local part: every character RFC 5322 allows unquoted ("atext" and dots), not just the usual
#: ones, so that an address such as ``*@example.com`` or ``a#b@example.com`` is hidden whole.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_CANDIDATE = re.compile(r"(?<![\w.+-])(?:\+|00)?\(?\d[\d\s().-]{5,}\d(?![\w-])")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_GROUP_SPLIT = re.compile(r"[\s().-]+")
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15
_MIN_PHONE_GROUPS = 3

_COUNT_HEADERS = ("fetched", "inserted", "updated", "unchanged", "deleted", "stale")


def _is_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return False
    if _DATE_LIKE.search(candidate):
        return False
    if candidate.startswith(("+", "00", "(")):
        return True
    groups = [group for group in _GROUP_SPLIT.split(candidate.strip()) if group]
    return len(groups) >= _MIN_PHONE_GROUPS


def redact(text: str) -> str:
    """Replace e-mail addresses and phone numbers in free text with placeholders.

    Phone numbers are recognised when they have 7-15 digits and either start with
    ``+``/``00``/``(`` or are written in three or more groups (``555-123-4567``,
    ``555 123 4567``).  Bare digit runs are left alone: in these messages they are far
    more often record ids, line numbers and counts than phone numbers.  Dates are never
    taken for phone numbers.

    Args:
        text: Any text.

    Returns:
        The text with e-mails as ``<email>`` and phone numbers as ``<phone>``.
    """
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)

    def _phone(match: re.Match[str]) -> str:
        found = match.group(0)
        stripped = found.rstrip(" .-(")
        if _is_phone(stripped):
            return PHONE_PLACEHOLDER + found[len(stripped) :]
        return found

    return _PHONE_CANDIDATE.sub(_phone, text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""Text with control characters (ANSI escapes, ...) shown as ``\x..``, not obeyed.

    Stream names and error messages come from the input; printed raw, an escape sequence
    would recolour or rewrite the user's terminal.
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as a plain aligned text table (numbers right-aligned).

    Args:
        headers: Column headers.
        rows: Rows of cells.

    Returns:
        The table, one line per row plus a header and a rule, ending in a newline.
    """
    cells = [[("" if cell is None else printable(str(cell))) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(headers))
    ]

    def _line(values: Sequence[str], *, header: bool = False) -> str:
        parts = []
        for i, value in enumerate(values):
            right = numeric[i] and not header
            parts.append(value.rjust(widths[i]) if right else value.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    lines = [_line(headers, header=True), "  ".join("-" * w for w in widths)]
    lines.extend(_line(row) for row in cells)
    return "\n".join(lines) + "\n"


def format_run_summary(
    *,
    sync_id: int | None,
    status: str,
    database: str,
    counts: Mapping[str, BatchCounts],
    tables: Mapping[str, str],
    seconds: float,
    error: str | None,
    redact_pii: bool,
) -> str:
    """Format the end-of-run summary written to stderr.

    Args:
        sync_id: The run's sync-log id (None if the database was never opened).
        status: Final status.
        database: Database path.
        counts: Committed counts per stream.
        tables: Current table per stream.
        seconds: Run time.
        error: The error sentence, if the run failed.
        redact_pii: Redact e-mails and phone numbers in free text.

    Returns:
        The summary text.
    """
    clean = (lambda text: printable(redact(text))) if redact_pii else printable
    title = f"sync {sync_id}" if sync_id is not None else "sync"
    errors = 1 if error else 0  # the target stops at its first error
    lines = [
        f"target-sqlite-audit: {title} {status} in {seconds:.1f} s, {errors} "
        f"error{'' if errors == 1 else 's'}, database {clean(database)}"
    ]
    rows: list[list[object]] = []
    total = None
    for stream in sorted(counts):
        stream_counts = counts[stream]
        rows.append([clean(stream), clean(tables.get(stream, "")), *stream_counts.as_tuple()])
        if total is None:
            total = list(stream_counts.as_tuple())
        else:
            total = [a + b for a, b in zip(total, stream_counts.as_tuple(), strict=True)]
    if len(rows) > 1 and total is not None:
        rows.append(["(total)", "", *total])
    body = format_table(("stream", "table", *_COUNT_HEADERS), rows) if rows else "(no records)\n"
    text = lines[0] + "\n" + body
    if error:
        text += f"error: {clean(error)}\n"
    return text


def build_report(database: str | Path, *, limit: int = 10, redact_pii: bool = True) -> str:
    """Describe the recent syncs, their per-stream counts and the tables of a database.

    The file is opened read-only, so a report can run while a sync is writing.

    Args:
        database: Path of the audit database.
        limit: Number of recent syncs to show.
        redact_pii: Redact e-mails and phone numbers in free text.

    Returns:
        The report text.

    Raises:
        StorageError: The file is missing or is not an audit database.
    """
    path = Path(database)
    if not path.is_file():
        msg = f"No audit database at {path}."
        raise StorageError(msg)
    clean = (lambda text: printable(redact(text))) if redact_pii else printable
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        msg = f"Cannot open {path}: {exc}."
        raise StorageError(msg) from exc
    try:
        return _report(conn, path, limit, clean)
    except sqlite3.Error as exc:
        msg = f"Cannot read the sync log of {path}: {exc}."
        raise StorageError(msg) from exc
    finally:
        conn.close()


def _report(conn: sqlite3.Connection, path: Path, limit: int, clean: t.Callable[[str], str]) -> str:
    syncs = conn.execute(
        "SELECT id, started_at, completed_at, status, records_fetched, records_inserted, "
        "records_updated, records_unchanged, records_deleted, records_stale, error_message "
        "FROM sync_log ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    out = [f"Audit database {clean(str(path))}: {len(syncs)} most recent syncs\n"]
    out.append(
        format_table(
            ("sync", "started_at", "completed_at", "status", *_COUNT_HEADERS, "errors"),
            [[*row[:10], 1 if row[10] else 0] for row in syncs],
        )
    )
    errors = [(row[0], row[10]) for row in syncs if row[10]]
    for sync_id, message in errors:
        out.append(f"sync {sync_id}: {clean(str(message))}\n")
    if syncs:
        ids = [row[0] for row in syncs]
        streams = conn.execute(
            "SELECT sync_id, stream, records_fetched, records_inserted, records_updated, "
            "records_unchanged, records_deleted, records_stale FROM sync_log_streams "
            f"WHERE sync_id IN ({', '.join('?' * len(ids))}) ORDER BY sync_id DESC, stream",
            ids,
        ).fetchall()
        out.append("\nChanges per stream\n")
        out.append(
            format_table(
                ("sync", "stream", *_COUNT_HEADERS),
                [[row[0], clean(str(row[1])), *row[2:]] for row in streams],
            )
        )
    tables = conn.execute(
        "SELECT stream, table_name, history_table FROM _audit_streams ORDER BY stream"
    ).fetchall()
    if tables:
        rows = []
        for stream, table, history in tables:
            live, gone = conn.execute(
                f'SELECT COUNT(*) - COUNT("_deleted_at"), COUNT("_deleted_at") '
                f"FROM {quote_ident(table)}"
            ).fetchone()
            versions = conn.execute(f"SELECT COUNT(*) FROM {quote_ident(history)}").fetchone()[0]
            rows.append([clean(str(stream)), clean(str(table)), live, gone, versions])
        out.append("\nTables\n")
        out.append(format_table(("stream", "table", "live", "deleted", "versions"), rows))
    return "".join(out)


def print_run_summary(
    store: AuditStore,
    *,
    status: str,
    counts: t.Mapping[str, BatchCounts],
    tables: t.Mapping[str, str],
    seconds: float,
    error: str | None,
    redact_pii: bool,
) -> None:
    """Write the end-of-run summary of a sync to stderr (stdout carries only STATE)."""
    text = format_run_summary(
        sync_id=store.sync_id,
        status=status,
        database=str(store.path),
        counts=counts,
        tables=tables,
        seconds=seconds,
        error=error,
        redact_pii=redact_pii,
    )
    sys.stderr.write(text)
    sys.stderr.flush()
