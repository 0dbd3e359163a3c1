"""The target as its sinks see it: the store, the input line, stream maps and the counts.

:class:`AuditRun` sits below the sinks; :class:`~target_sqlite_audit.target.TargetSqliteAudit`
implements it. The sinks take an ``AuditRun``, so nothing below ``target.py`` imports it.
"""

from __future__ import annotations

import abc
import typing as t

from singer_sdk import Target

if t.TYPE_CHECKING:
    from target_sqlite_audit.store import AuditStore, BatchCounts

__all__ = ["AuditRun"]


class AuditRun(Target):
    """What a sink needs of the run it belongs to."""

    @property
    @abc.abstractmethod
    def store(self) -> AuditStore:
        """The open audit store."""

    @property
    @abc.abstractmethod
    def line_number(self) -> int:
        """The input line being processed (0 before the first line)."""

    @abc.abstractmethod
    def batch_map(self, alias: str) -> t.Any:
        """The stream map of a stream alias (for error sentences)."""

    @abc.abstractmethod
    def replication_key_for(self, stream_name: str) -> str | None:
        """The stream's replication key, from its SCHEMA."""

    @abc.abstractmethod
    def add_counts(self, stream_name: str, table_name: str, counts: BatchCounts) -> None:
        """Accumulate a committed batch's counts for the end-of-run summary."""
