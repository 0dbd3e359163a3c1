"""What a record does to the stored version of its key (pure functions, no SQL).

The store calls these per record, in input order, with a small decision state per key:
``[content hash, replication-key value, deletion marker, known]``.
"""

from __future__ import annotations

import typing as t

from target_sqlite_audit.instants import (
    compare_replication_values,
)

WRITES = frozenset({"insert", "update", "delete"})


def initial_state(found: tuple[t.Any, ...] | None) -> list[t.Any]:
    """Decision state of a stored key: [hash, replication key, deleted marker, known]."""
    if found is None:
        return [None, None, None, False]
    return [found[0], found[1], found[2], True]


def decide(state: list[t.Any], digest: str, marker: t.Any, rk: t.Any) -> str:
    """What a record does to a key in ``state`` (see :meth:`AuditStore.apply_batch`)."""
    if marker is not None:
        if not state[3] or state[2] is not None:
            return "unchanged"
        return "stale" if older(marker, state[1]) else "delete"
    if not state[3]:
        return "insert"
    if older(rk, state[1]) or (state[2] is not None and older(rk, state[2])):
        return "stale"
    return "unchanged" if state[0] == digest else "update"


def replay(
    writes: list[tuple[bool, str, t.Any, str]],
    replayed: dict[t.Any, list[t.Any]],
    key: t.Any,
    verdict: str,
    digest: str,
    state: list[t.Any],
    stored: dict[t.Any, tuple[t.Any, ...]],
) -> str:
    """Recognise a write that a failed or interrupted sync already made.

    A rerun after a kill receives (part of) the same input again.  A write it would
    make that matches one of the versions the earlier runs wrote for this key (in order,
    from the last one matched) is a replay: it is skipped and the decision state follows
    the earlier run's version, across batches, until the last of those versions is
    matched (the database's own state).  On the first write that matches none of them
    the input has diverged, and decisions continue from the database's state.

    Args:
        writes: The window's versions of this key: (is_delete, hash, rk, valid_from).
        replayed: Per key, [versions matched so far, decision state or None] (updated).
        key: The record's key.
        verdict: The write the record would make (insert, update or delete).
        digest: The record's content hash.
        state: The key's decision state (updated in place).
        stored: The database's state per key.

    Returns:
        ``"unchanged"`` for a replay, otherwise ``verdict`` (to be decided again).
    """
    progress = replayed.setdefault(key, [0, None])
    start = progress[0]
    deleting = verdict == "delete"
    wanted = state[0] if deleting else digest
    for j in range(start, len(writes)):
        is_delete, hash_, rk, valid_from = writes[j]
        if is_delete == deleting and hash_ == wanted:
            state[:] = [hash_, rk, valid_from if is_delete else None, True]
            done = j + 1 == len(writes)
            progress[0], progress[1] = j + 1, (None if done else state)
            return "unchanged"
    if start < len(writes):
        # Diverged: decisions continue from the database's state (the state may have been
        # the one at the failed run's last STATE).
        progress[0], progress[1] = len(writes), None
        state[:] = initial_state(stored.get(key))
    return verdict


def starts(candidate: str, previous: str, captured: str) -> str:
    """Choose ``valid_from`` for a new version.

    Its source instant if that moved past the previous version's start, else the capture
    time (formula updates keep ``Modified_Time``), never before the previous version's start.
    """
    if candidate > previous:
        return candidate
    return max(captured, previous)


def older(value: t.Any, reference: t.Any) -> bool:
    """True if ``value`` is a strictly earlier replication-key value than ``reference``."""
    if value is None or reference is None or value == reference:
        return False
    return (compare_replication_values(value, reference) or 0) < 0
