"""What a record does to the stored version of its key (pure functions, no SQL).

The store calls these per record, in input order, with a small decision state per key
(:class:`KeyState`); each decision is a :class:`Verdict`.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

from target_sqlite_audit.instants import (
    compare_replication_values,
)


class Verdict(str, enum.Enum):
    """What a record does to its key; the value is the history row's ``change_type``."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    STALE = "stale"


class StoredKey(t.NamedTuple):
    """A key's stored version, as the batch reads it (``StreamTable.state_sql``/``gone_sql``)."""

    digest: str | None
    rk: t.Any
    #: When it was deleted (for a hard-deleted key, its delete version's ``valid_from``).
    deleted: t.Any
    sync_id: int | None
    history_id: int
    #: Whether a current row holds it (False: hard-deleted, only in the history).
    alive: bool
    #: Always True: a stored key has a version (fields, not properties, as in
    #: :class:`KeyState`, because :func:`decide` reads them for every record).
    known: bool = True


class Version(t.Protocol):
    """What :func:`decide` reads of a key: a :class:`KeyState` or a :class:`StoredKey`."""

    @property
    def digest(self) -> str | None:
        """Content hash of the current version."""

    @property
    def rk(self) -> t.Any:
        """Its replication-key value."""

    @property
    def deleted(self) -> t.Any:
        """When it was deleted (None: live)."""

    @property
    def known(self) -> bool:
        """Whether the key has a version at all."""


#: The verdicts that write a history row.
WRITES = frozenset({Verdict.INSERT, Verdict.UPDATE, Verdict.DELETE})


@dataclass(slots=True)
class KeyState:
    """A key's stored version as the decisions see it (updated as a batch is decided)."""

    #: Content hash of the current version.
    digest: str | None
    #: Its replication-key value.
    rk: t.Any
    #: When it was deleted (None: live).
    deleted: t.Any
    #: Whether the key has a version at all.
    known: bool

    def write(self, digest: str, rk: t.Any) -> None:
        """Take the values of a live version just written."""
        self.digest, self.rk, self.deleted, self.known = digest, rk, None, True

    def become(self, other: KeyState) -> None:
        """Take another state's values (in place: the batch holds this object)."""
        self.digest, self.rk, self.deleted, self.known = (
            other.digest,
            other.rk,
            other.deleted,
            other.known,
        )


#: The decision state of a key with no version (read only: :func:`initial_state` makes new ones).
UNKNOWN = KeyState(None, None, None, False)


def initial_state(found: StoredKey | None) -> KeyState:
    """Decision state of a stored key (or of a new one)."""
    if found is None:
        return KeyState(None, None, None, False)
    return KeyState(found.digest, found.rk, found.deleted, True)


def decide(state: Version, digest: str, marker: t.Any, rk: t.Any) -> Verdict:
    """What a record does to a key in ``state`` (see :meth:`AuditStore.apply_batch`).

    ``state`` may be the stored version itself: a key's first record in a batch needs no
    state of its own unless it writes.
    """
    if marker is not None:
        if not state.known or state.deleted is not None:
            return Verdict.UNCHANGED
        return Verdict.STALE if older(marker, state.rk) else Verdict.DELETE
    if not state.known:
        return Verdict.INSERT
    stored_rk = state.rk
    if (rk != stored_rk and older(rk, stored_rk)) or (
        state.deleted is not None and older(rk, state.deleted)
    ):
        return Verdict.STALE
    return Verdict.UNCHANGED if state.digest == digest else Verdict.UPDATE


def replay(
    writes: list[tuple[bool, str, t.Any, str]],
    replayed: dict[t.Any, list[t.Any]],
    key: t.Any,
    verdict: Verdict,
    digest: str,
    state: KeyState,
    stored: dict[t.Any, StoredKey],
) -> Verdict:
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
        ``Verdict.UNCHANGED`` for a replay, otherwise ``verdict`` (to be decided again).
    """
    progress = replayed.setdefault(key, [0, None])
    start = progress[0]
    deleting = verdict is Verdict.DELETE
    wanted = state.digest if deleting else digest
    for j in range(start, len(writes)):
        is_delete, hash_, rk, valid_from = writes[j]
        if is_delete == deleting and hash_ == wanted:
            state.become(KeyState(hash_, rk, valid_from if is_delete else None, True))
            done = j + 1 == len(writes)
            progress[0], progress[1] = j + 1, (None if done else state)
            return Verdict.UNCHANGED
    if start < len(writes):
        # Diverged: decisions continue from the database's state (the state may have been
        # the one at the failed run's last STATE).
        progress[0], progress[1] = len(writes), None
        state.become(initial_state(stored.get(key)))
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
