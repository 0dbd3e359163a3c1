"""Expected failures, each carrying one user-facing sentence.

Every error a user can cause (bad input, a busy or unwritable database, a stop signal)
is raised as an :class:`AuditError` whose message is a single sentence naming what went
wrong and where.  The CLI prints that sentence instead of a traceback; the traceback is
only logged at DEBUG level, because for these errors it helps nobody but a developer.
"""

from __future__ import annotations

from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException


class AuditError(Exception):
    """An expected failure whose message is one complete sentence."""

    #: Process exit code the CLI uses for this error.
    exit_code: int = 1
    #: Value written to ``sync_log.status`` when this error ends a run.
    sync_status: str = "failed"
    #: Set once the sentence has been logged (so the CLI does not print it twice).
    logged: bool = False

    @property
    def sentence(self) -> str:
        """The user-facing sentence (the exception message)."""
        return str(self.args[0]) if self.args else type(self).__name__


class InputError(AuditError):
    """The Singer input is malformed or cannot be stored."""


class RecordBeforeSchemaError(InputError, RecordsWithoutSchemaException):
    """A RECORD arrived for a stream whose SCHEMA has not been seen.

    Subclasses the SDK's exception so that SDK-based tooling (and the standard target
    tests) recognise it.
    """


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """A RECORD lacks a key property (or has it null)."""


class SchemaChangeError(InputError):
    """A SCHEMA change the existing tables cannot follow (key or column type change)."""


class StorageError(AuditError):
    """The SQLite file cannot be written (read-only, disk full, locked, I/O error)."""


class WriterBusyError(StorageError):
    """Another sync holds the writer lock of the same database file."""


class TerminatedError(AuditError):
    """The run was stopped by a signal; committed work is kept."""

    sync_status = "interrupted"

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
