"""The SQLite store: current tables, history tables and the sync log (the bottom layer).

Everything that touches SQLite lives here; the Singer side (target, sinks) only hands
over batches of plain records.  Design points:

* **One writer.**  :class:`~target_sqlite_audit.locking.WriterLock` is held from
  :meth:`AuditStore.open` to :meth:`AuditStore.close`; the file is in WAL mode so that
  readers (``report``) never block the writer.
* **A batch is one transaction.**  History rows, current rows and the sync-log counts of
  a batch commit together or not at all, so a SIGKILL leaves either the whole batch or
  none of it.  With ``synchronous=FULL`` a commit is durable before the target emits the
  STATE that covers it.
* **No per-record round trips.**  Per batch: one query for the stored hashes of the
  batch's keys, one for the previous rows of the records that change (only those), then
  ``executemany`` for the writes.
* **Idempotent replay.**  A record whose content hash equals the stored one writes
  nothing.  A rerun resumed from the last STATE an interrupted or failed sync emitted
  also skips, in order, the versions that run wrote *after* that STATE (see
  :meth:`AuditStore.begin_sync`), so resuming after a kill adds no history.  Versions a
  STATE already covered are never taken for replays: a value that changes back (A, B, A)
  without its replication key moving is a real change.
"""

from __future__ import annotations

import sqlite3
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from target_sqlite_audit.batch import PreparedBatch
from target_sqlite_audit.bookkeeping import (
    BatchCounts,
    chunks,
    close_history_row,
    history_row,
    line_span,
)
from target_sqlite_audit.connection import (
    _BINDING_ERRORS,
    DELETED_MARKER,
    RESERVED_TABLES,
)
from target_sqlite_audit.decisions import (
    UNKNOWN,
    WRITES,
    KeyState,
    StoredKey,
    Verdict,
    decide,
    initial_state,
    replay,
    starts,
)
from target_sqlite_audit.instants import instant_text
from target_sqlite_audit.keyreads import fetch_by_key, fetch_state
from target_sqlite_audit.registry import StreamRegistry
from target_sqlite_audit.tables import StreamTable
from target_sqlite_audit.unstorable import describe_unstorable

__all__ = ["DELETED_MARKER", "RESERVED_TABLES", "AuditStore", "BatchCounts", "StreamTable"]


@dataclass(slots=True)
class _Latest:
    """A key's latest version while a batch is written."""

    data: list[t.Any]
    digest: str | None
    #: Its history row, when this batch wrote it (still in memory, closed in place).
    history: list[t.Any] | None
    valid_from: str
    history_id: int | None


class AuditStore(StreamRegistry):
    """The audit database of one run: open, write batches and sync-log rows, close."""

    def apply_batch(
        self,
        batch: PreparedBatch,
        *,
        covered: int | None = None,
    ) -> BatchCounts:
        """Apply a batch of one stream's records in one transaction.

        Records are applied in input order (so a key may appear several times); each
        is an insert, an update, a delete, unchanged or stale:

        * a live record for an unknown key is an insert;
        * one whose replication key is older than the stored version's (or, for a
          deleted record, older than the deletion) is stale;
        * one with the stored content is unchanged (a deleted record sent again with
          its last known content is a replay, also unchanged);
        * anything else is an update (a deleted record coming back is an update);
        * a deletion of a live record is a delete, unless it is older than the stored
          version; deletions of unknown or deleted records are unchanged.

        History rows, the current rows and the sync-log counts commit together.

        Args:
            batch: Validated records of one stream, in input order, as rows of its table
                (from :meth:`register_stream`).
            covered: How many of the records precede the latest STATE message read (None:
                none was read since the previous batch). The history id that STATE covers is
                kept for :meth:`checkpoint`: a rerun resumed from it replays only later ones.

        Returns:
            The batch's counts.

        Raises:
            InputError: A record holds a value SQLite refuses to bind.
        """
        table = batch.table
        counts = BatchCounts(fetched=len(batch))
        if not batch:
            if covered is not None:
                self.note_covered(table)
            return counts
        lines = batch.lines
        what = f"Writing stream {table.stream!r} ({line_span(lines)}) to {self.path}"
        captured = self._clock()

        rows, hashes, keys, deleted, rks = (
            batch.rows, batch.hashes, batch.keys, batch.deleted, batch.rks
        )  # fmt: skip

        try:
            with self._transaction(what) as conn:
                unique_keys = list(dict.fromkeys(keys))
                unique = len(unique_keys) == len(keys)  # no key twice in the batch
                stored = self._fetch_state(conn, table, unique_keys)
                if self.hard_delete or self._hard_deleted:
                    gone = [key for key in unique_keys if key not in stored]
                    stored.update(self._fetch_gone(conn, table, gone))
                window = self._fetch_window(conn, table, unique_keys)
                replayed = self._replayed.setdefault(table.stream_id, {})

                # Pass 1: decide what each record does, following in-batch duplicates.
                sim: dict[t.Any, KeyState] = {}
                actions: list[tuple[int, Verdict]] = []
                for i, key in enumerate(keys):
                    digest = hashes[i]
                    marker = deleted[i]
                    rk = rks[i] if marker is None else None
                    state = sim.get(key)
                    if state is None and key not in window:
                        # The key's first record in the batch, no replay: decided on the
                        # stored version; a state of its own only if it writes.
                        found = stored.get(key)
                        verdict = decide(UNKNOWN if found is None else found, digest, marker, rk)
                        if not unique and verdict in WRITES:  # a later record may follow it
                            state = sim[key] = initial_state(found)
                    else:
                        if state is None:
                            progress = replayed.get(key)
                            if progress is not None and progress[1] is not None:
                                state = progress[1]  # a replay in progress since an earlier batch
                            elif progress is None:
                                # First sight of a key the failed run wrote after its last
                                # STATE: decide from where that run started (_state_at_mark).
                                state = self._state_at_mark(conn, table, key)
                                replayed[key] = [0, state]
                            else:
                                state = initial_state(stored.get(key))
                            sim[key] = state
                        verdict = decide(state, digest, marker, rk)
                        if key in window and verdict in WRITES:
                            verdict = replay(
                                window[key], replayed, key, verdict, digest, state, stored
                            )
                            if verdict in WRITES:
                                verdict = decide(state, digest, marker, rk)
                    if verdict is Verdict.UNCHANGED:
                        counts.unchanged += 1
                    elif verdict is Verdict.STALE:
                        counts.stale += 1
                    else:
                        actions.append((i, verdict))
                        if verdict is Verdict.DELETE:
                            counts.deleted += 1
                            if state is not None:
                                state.deleted = marker
                        else:
                            if verdict is Verdict.INSERT:
                                counts.inserted += 1
                            else:
                                counts.updated += 1
                            if state is not None:
                                state.write(digest, rk)

                # Previous versions read once per batch, by history id (both steps need them).
                versions: dict[int, t.Any] = {}
                if table.has_gone and actions:
                    actions = self._drop_spurious_updates(
                        conn, table, rows, actions, keys, hashes, stored, counts, versions
                    )
                if covered is not None:
                    # History ids are given in action order, from the current maximum on.
                    before = int(conn.execute(table.max_history_sql).fetchone()[0])
                    self._covered[table.stream_id] = before + sum(
                        1 for index, _ in actions if index < covered
                    )
                if actions:
                    self._write_actions(
                        conn, table, rks, rows, actions, keys, hashes, deleted, stored,
                        captured, versions, unique,
                    )  # fmt: skip
                self._add_counts(conn, table, counts)
        except _BINDING_ERRORS:
            described = describe_unstorable(table, rows, lines)
            if described is None:
                raise
            raise described from None
        return counts

    def _drop_spurious_updates(
        self,
        conn: sqlite3.Connection,
        table: StreamTable,
        rows: list[list[t.Any]],
        actions: list[tuple[int, Verdict]],
        keys: list[t.Any],
        hashes: list[str],
        stored: dict[t.Any, StoredKey],
        counts: BatchCounts,
        versions: dict[int, t.Any],
    ) -> list[tuple[int, Verdict]]:
        """Updates whose only differences are ignored columns or ones gone from the SCHEMA.

        They write no version: the current row's ignored columns and stored hash are
        refreshed instead, so the next sync finds them unchanged at once.
        """
        seen: set[t.Any] = set()
        candidates: dict[int, int] = {}
        for i, action in actions:
            key = keys[i]
            found = stored.get(key)
            if (
                action is Verdict.UPDATE
                and key not in seen
                and found is not None
                and not found.deleted
            ):
                candidates[i] = found.history_id
            seen.add(key)
        if not candidates:
            return actions
        versions.update(self._fetch_versions(conn, table, list(candidates.values())))
        previous = versions
        spurious = {
            i
            for i, history_id in candidates.items()
            if history_id in previous
            and not table.versioned_changes(previous[history_id][0], rows[i])
        }
        if not spurious:
            return actions
        # Ignored columns take their new values in place; the hash follows them, so a replay
        # of the same record is unchanged at once.
        conn.executemany(
            table.touch_sql, [table.touch_params(rows[i], hashes[i], keys[i]) for i in spurious]
        )
        counts.updated -= len(spurious)
        counts.unchanged += len(spurious)
        return [(i, action) for i, action in actions if i not in spurious]

    def _write_actions(
        self,
        conn: sqlite3.Connection,
        table: StreamTable,
        rks: list[t.Any],
        rows: list[list[t.Any]],
        actions: list[tuple[int, Verdict]],
        keys: list[t.Any],
        hashes: list[str],
        deleted: list[t.Any],
        stored: dict[t.Any, StoredKey],
        captured: str,
        versions: dict[int, t.Any],
        unique: bool,
    ) -> None:
        """Write the history versions and current rows of a batch's actions.

        ``unique``: no key occurs twice in the batch, so no action follows another of its
        key (nothing to carry from one to the next in memory).
        """
        sync_id = self.sync_id
        hard = self.hard_delete
        rk_prop = table.replication_key

        # The previous version's data is needed only where a stored record changes.
        if unique:
            wanted = [stored[keys[i]].history_id for i, a in actions if a is not Verdict.INSERT]
        else:
            first_action: dict[t.Any, Verdict] = {}
            for i, action in actions:
                first_action.setdefault(keys[i], action)
            wanted = [
                stored[k].history_id for k, a in first_action.items() if a is not Verdict.INSERT
            ]
        missing = [history_id for history_id in wanted if history_id not in versions]
        if missing:
            versions.update(self._fetch_versions(conn, table, missing))
        previous = versions

        first_id = next_id = int(conn.execute(table.max_history_sql).fetchone()[0]) + 1
        history_rows: list[list[t.Any]] = []
        new_versions: list[list[t.Any]] = []  # open inserts, for insert_new_sql
        closes: list[tuple[str, int]] = []
        removed: list[t.Any] = []
        live: dict[t.Any, _Latest] = {}
        # key -> (history_id of its last version, deleted_at); None when hard-deleted
        final: dict[t.Any, tuple[int, t.Any] | None] = {}
        deleting = False

        for i, action in actions:
            key = keys[i]
            current = live.get(key)
            if current is None and action is not Verdict.INSERT:
                found = stored[key]
                row, valid_from = previous[found.history_id]
                current = _Latest(row, found.digest, None, valid_from or "", found.history_id)
            if action is Verdict.DELETE:
                assert current is not None
                deleting = True
                valid_from = starts(
                    instant_text(deleted[i]) or captured, current.valid_from, captured
                )
                self._close(current, valid_from, closes)
                history = history_row(
                    next_id, current.data, current.digest, Verdict.DELETE.value, captured,
                    sync_id, "[]", 0, valid_from, table.open_valid_to,
                )  # fmt: skip
                history_rows.append(history)
                live[key] = _Latest(current.data, current.digest, history, valid_from, next_id)
                if hard:
                    final[key] = None
                    if key in stored and stored[key].alive:
                        removed.append(key)
                else:
                    final[key] = (next_id, _storable(deleted[i]))
            else:
                row = rows[i]
                valid_from = (instant_text(rks[i]) if rk_prop else None) or captured
                changed: str | None = None
                if current is not None:
                    valid_from = starts(valid_from, current.valid_from, captured)
                    self._close(current, valid_from, closes)
                    changed = orjson.dumps(table.changed_columns(current.data, row)).decode()
                digest = hashes[i]
                if unique and action is Verdict.INSERT:  # open, and no later action closes it
                    new_versions.append(
                        table.new_version(next_id, row, digest, captured, sync_id, valid_from)
                    )
                else:
                    history = history_row(
                        next_id, row, digest, action.value, captured, sync_id, changed, 1,
                        valid_from, table.open_valid_to,
                    )  # fmt: skip
                    history_rows.append(history)
                    if not unique:
                        live[key] = _Latest(row, digest, history, valid_from, next_id)
                final[key] = (next_id, None)
            next_id += 1

        if new_versions:
            conn.executemany(table.insert_new_sql, new_versions)
        if history_rows:
            conn.executemany(table.insert_history_sql, history_rows)
        if closes:
            conn.executemany(table.close_history_sql, closes)
        if removed:
            conn.executemany(table.delete_sql, [table.key_params(k) for k in removed])
            if not self._hard_deleted:
                conn.execute(
                    "INSERT OR REPLACE INTO _audit_meta (key, value) VALUES ('hard_deleted', '1')"
                )
                self._hard_deleted = True
        if unique and not deleting:
            # Every version written is its key's last, none deleted: the current rows are
            # the batch's range of history ids (no list of them to write first).
            conn.execute(table.upsert_range_sql, (first_id, next_id - 1))
            return
        finals = [version for version in final.values() if version]
        if finals:
            conn.executemany(
                "INSERT INTO temp._audit_final (history_id, deleted_at) VALUES (?, ?)", finals
            )
            conn.execute(table.upsert_from_history_sql)
            conn.execute("DELETE FROM temp._audit_final")

    @staticmethod
    def _close(current: _Latest, valid_to: str, closes: list[tuple[str, int]]) -> None:
        """End the validity of a key's latest version at ``valid_to``."""
        if current.history is not None:  # written earlier in this batch: still in memory
            close_history_row(current.history, valid_to)
        elif current.history_id is not None:
            closes.append((valid_to, current.history_id))

    # -- batch reads ------------------------------------------------------------------

    def _fetch_state(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, StoredKey]:
        """The stored version of each key that has a current row."""
        return fetch_state(conn, table, keys, utf8=self.utf8)

    def _fetch_gone(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, StoredKey]:
        """Like :meth:`_fetch_state`, for keys hard-deleted earlier (from the history).

        The deletion marker is the delete version's ``valid_from``; ``alive`` is False
        because there is no current row.
        """
        width = len(table._hist_key_columns)
        return fetch_by_key(conn, table, keys, width, table.gone_sql, False)

    def _fetch_versions(
        self, conn: sqlite3.Connection, table: StreamTable, history_ids: Sequence[int]
    ) -> dict[int, tuple[list[t.Any], str | None]]:
        """Data columns and ``valid_from`` of history versions, by history id."""
        found: dict[int, tuple[list[t.Any], str | None]] = {}
        for chunk in chunks(history_ids):
            for row in conn.execute(table.versions_sql(len(chunk)), list(chunk)):
                found[int(row[0])] = (list(row[1:-1]), row[-1])
        return found

    def _fetch_window(
        self, conn: sqlite3.Connection, table: StreamTable, keys: Sequence[t.Any]
    ) -> dict[t.Any, list[tuple[bool, str, t.Any, str]]]:
        """Versions the replay window's syncs wrote, per key, in order.

        Each is (is_delete, content_hash, replication key, valid_from).
        """
        found: dict[t.Any, list[tuple[bool, str, t.Any, str]]] = {}
        window = self.replay_window
        if not window or not keys:
            return found
        width = len(table._hist_key_columns)
        after = [
            value
            for sync in window
            for value in (sync, self.replay_marks.get(sync, {}).get(table.stream_id, 0))
        ]
        for chunk in chunks(keys):
            params = [*after, *(v for key in chunk for v in table.key_params(key))]
            for row in conn.execute(table.window_sql(len(chunk), len(window)), params):
                key = row[0] if width == 1 else tuple(row[:width])
                hash_, kind, rk, valid_from, history_id = row[width:]
                found.setdefault(key, []).append((kind == "delete", hash_, rk, valid_from))
                self._window_first.setdefault(table.stream_id, {}).setdefault(key, history_id)
        return found

    def _state_at_mark(self, conn: sqlite3.Connection, table: StreamTable, key: t.Any) -> KeyState:
        """Decision state of a window key as it was before the failed run's first version.

        A resumed run's input is decided against this, as the failed run decided it: a
        record it found unchanged (and wrote nothing for) is unchanged again, not taken
        for a change against the newer version the failed run wrote later.
        """
        first = self._window_first.get(table.stream_id, {}).get(key)
        row = None
        if first is not None:
            row = conn.execute(table.base_sql, (*table.key_params(key), first)).fetchone()
        if row is None:
            return initial_state(None)
        hash_, kind, rk, valid_from = row
        return KeyState(hash_, rk, valid_from if kind == "delete" else None, True)


def _storable(value: t.Any) -> t.Any:
    """Return a deletion marker as something SQLite stores (JSON text for containers)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value
