"""The sync log: a run's row, its checkpoints (STATE) and counts, and how it ended."""

from __future__ import annotations

import json
import sqlite3
import typing as t

import orjson

from target_sqlite_audit.bookkeeping import BatchCounts
from target_sqlite_audit.connection import (
    StoreConnection,
)
from target_sqlite_audit.tables import StreamTable


class SyncLogStore(StoreConnection):
    """The sync log of the run (``sync_log``, ``sync_log_streams``)."""

    def begin_sync(self) -> int:
        """Start a sync-log row; mark runs left ``running`` by dead processes.

        A ``running`` row can only belong to a process that died (this one holds the
        writer lock), so it becomes ``interrupted``.  The failed and interrupted syncs
        immediately before this one form the *replay window*: a rerun that replays
        their input skips versions they already wrote.

        Returns:
            The new sync id.
        """
        now = self._clock()
        with self._transaction(f"Starting a sync in {self.path}") as conn:
            conn.execute(
                "UPDATE sync_log SET status = 'interrupted', error_message = "
                "COALESCE(error_message, 'The run stopped before completing (killed or "
                "crashed); found by a later run.') WHERE status = 'running'"
            )
            cursor = conn.execute(
                "INSERT INTO sync_log (started_at, status) VALUES (?, 'running')", (now,)
            )
            sync_id = int(cursor.lastrowid or 0)
            window: list[int] = []
            marks: dict[int, dict[int, int]] = {}
            previous = conn.execute(
                "SELECT id, status, state IS NOT NULL FROM sync_log WHERE id < ? "
                "ORDER BY id DESC LIMIT 1000",
                (sync_id,),
            ).fetchall()
            for previous_id, status, checkpointed in previous:
                if status not in {"failed", "interrupted"}:
                    break
                window.append(int(previous_id))
                marks[int(previous_id)] = dict(
                    conn.execute(
                        "SELECT stream_id, history_id FROM _audit_checkpoints WHERE sync_id = ?",
                        (previous_id,),
                    ).fetchall()
                )
                if checkpointed:
                    # A rerun resumes from this sync's last STATE at the earliest: what the
                    # syncs before it wrote is covered by that STATE, not replayed.
                    break
        self.sync_id = sync_id
        self.replay_window = window
        self.replay_marks = marks
        return sync_id

    def checkpoint(self, state: t.Any) -> None:
        """Record the latest committed STATE in the sync log (before it is emitted).

        Args:
            state: The STATE message's value.
        """
        self.check_file()
        # The batches this STATE covers are already durable (synchronous=FULL); the checkpoint
        # row itself is committed without waiting for the disk, so that the STATE is printed
        # right after it: a kill in between makes Meltano resume from the STATE before, and
        # the versions after that come again (repeated, never lost).
        self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            self._write_checkpoint(state)
        finally:
            self._conn.execute("PRAGMA synchronous = FULL")

    def _write_checkpoint(self, state: t.Any) -> None:
        try:
            text = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # integers beyond 64 bits: the json module keeps them exact
            text = json.dumps(state, separators=(",", ":"), default=str)
        with self._transaction(f"Saving the STATE to {self.path}") as conn:
            conn.execute("UPDATE sync_log SET state = ? WHERE id = ?", (text, self.sync_id))
            conn.executemany(
                "INSERT OR REPLACE INTO _audit_checkpoints (sync_id, stream_id, history_id) "
                "VALUES (?, ?, ?)",
                [(self.sync_id, stream, mark) for stream, mark in self._covered.items()],
            )

    def note_covered(self, table: StreamTable) -> None:
        """A STATE was read while nothing of the stream was queued: it covers all written."""
        self._covered[table.stream_id] = int(
            self._conn.execute(table.max_history_sql).fetchone()[0]
        )

    def finish_sync(self, status: str, error_message: str | None = None) -> None:
        """Set the final status of this run's sync-log row.

        Args:
            status: ``completed``, ``failed`` or ``interrupted``.
            error_message: The one-sentence error, if any.
        """
        if status == "completed":
            self.check_file()
        completed_at = None if status == "interrupted" else self._clock()
        with self._transaction(f"Closing the sync log in {self.path}") as conn:
            conn.execute(
                "UPDATE sync_log SET status = ?, completed_at = ?, error_message = ? WHERE id = ?",
                (status, completed_at, error_message, self.sync_id),
            )

    def _add_counts(
        self, conn: sqlite3.Connection, table: StreamTable, counts: BatchCounts
    ) -> None:
        values = counts.as_tuple()
        conn.execute(
            "INSERT INTO sync_log_streams (sync_id, stream, table_name, records_fetched, "
            "records_inserted, records_updated, records_unchanged, records_deleted, "
            "records_stale) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sync_id, stream) DO UPDATE SET "
            "records_fetched = records_fetched + excluded.records_fetched, "
            "records_inserted = records_inserted + excluded.records_inserted, "
            "records_updated = records_updated + excluded.records_updated, "
            "records_unchanged = records_unchanged + excluded.records_unchanged, "
            "records_deleted = records_deleted + excluded.records_deleted, "
            "records_stale = records_stale + excluded.records_stale",
            (self.sync_id, table.stream, table.table, *values),
        )
        conn.execute(
            "UPDATE sync_log SET records_fetched = records_fetched + ?, "
            "records_inserted = records_inserted + ?, records_updated = records_updated + ?, "
            "records_unchanged = records_unchanged + ?, "
            "records_deleted = records_deleted + ?, records_stale = records_stale + ? "
            "WHERE id = ?",
            (*values, self.sync_id),
        )

    # -- streams ----------------------------------------------------------------------
