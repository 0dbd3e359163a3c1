"""Failures as one sentence: any exception mapped to an AuditError, and the log filters."""

from __future__ import annotations

import logging
import signal
import sqlite3

from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_sqlite_audit.errors import AuditError, InputError, StorageError, TerminatedError
from target_sqlite_audit.reader import stream_hint
from target_sqlite_audit.report import redact

__all__ = ["describe_failure", "first_line", "redacting_filter", "without_sink_setup_noise"]


def describe_failure(
    exc: BaseException,
    line: int,
    raw: bytes | str | None,
    database: str,
    logger: logging.Logger,
) -> AuditError:
    """Map any exception at input line ``line`` to an :class:`AuditError` with one sentence.

    Args:
        exc: What was raised.
        line: The input line being processed.
        raw: That line, when known (it names the stream).
        database: The database setting, for storage errors.
        logger: Where an unexpected error's traceback goes.

    Returns:
        The error to report.
    """
    if isinstance(exc, AuditError):
        return exc
    stream = stream_hint(raw)
    where = f" (stream {stream!r})" if stream else ""
    if isinstance(exc, KeyboardInterrupt):
        return TerminatedError(
            f"Stopped by SIGINT at input line {line}; everything committed up to the "
            "last emitted STATE is kept.",
            signal.SIGINT,
        )
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"Line {line + 1} is not valid UTF-8 text.")
    if isinstance(exc, InvalidJSONSchema):
        return InputError(
            f"The SCHEMA on line {line}{where} is not a valid JSON schema: {first_line(exc)}."
        )
    if isinstance(exc, InvalidInputLine):
        return InputError(f"Line {line}{where} is not a valid Singer message: {first_line(exc)}.")
    if isinstance(exc, sqlite3.Error):
        return StorageError(f"Writing to {database} failed: {exc}.")
    if isinstance(exc, OSError):
        return StorageError(f"Input/output failed at line {line}{where}: {exc}.")
    if isinstance(exc, RecursionError):
        return InputError(
            f"Line {line}{where} nests objects or schemas too deeply to process; flatten "
            "them (at most a few hundred levels)."
        )
    if isinstance(exc, ValueError) and "Duplicate column name" in str(exc):
        return InputError(
            f"The SCHEMA on line {line}{where} cannot be flattened: {first_line(exc)} "
            "(a property and a flattened object make the same name); rename one or "
            "lower flattening_max_depth."
        )
    logger.error("Unexpected %s at input line %d", type(exc).__name__, line, exc_info=exc)
    return InputError(
        f"Processing line {line}{where} failed unexpectedly: "
        f"{type(exc).__name__}: {first_line(exc)}."
    )


def redacting_filter(record: logging.LogRecord) -> bool:
    """Logging filter: redact e-mail addresses and phone numbers in a log line.

    Returns:
        Always True (the line is kept, redacted).
    """
    message = record.getMessage()
    redacted = redact(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    return True


def without_sink_setup_noise(record: logging.LogRecord) -> bool:
    """Logging filter: drop the SDK's "Error initializing target sink ..." line.

    singer-sdk logs it before re-raising any error of a sink's ``setup`` (where the
    target creates a stream's tables). It names the target instead of the stream and
    says nothing the next line does not: the failure is logged right after as one
    sentence naming the stream and the line (or, if unexpected, with its traceback).
    """
    return record.msg != "Error initializing target sink '%s'"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, without its final full stop."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else type(exc).__name__
