"""What makes a version and what ``changed_fields`` lists (settings, read once; no I/O)."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Columns whose changes alone make no version, per stream (``*``: every stream). Zoho
#: moves ``Last_Activity_Time`` whenever a note, call or e-mail touches a record.
DEFAULT_IGNORE_COLUMNS: dict[str, list[str]] = {"*": ["Last_Activity_Time"]}
#: Properties left out of ``changed_fields`` (with the stream's replication key): they
#: change with every edit and bury the business change.
BOOKKEEPING_PROPERTIES = ("Modified_Time", "Modified_By")
#: ``valid_to`` of open versions when ``far_future_valid_to`` is on (sorts after any instant).
FAR_FUTURE = "9999-12-31T23:59:59.999Z"


@dataclass(frozen=True)
class HistoryPolicy:
    """How the target turns changes into versions.

    Attributes:
        ignore_columns: Stream name (or ``*``) to properties whose changes alone update the
            current row in place, with no new version.
        bookkeeping_in_changes: List bookkeeping properties in ``changed_fields`` too.
        far_future_valid_to: Give open versions :data:`FAR_FUTURE` instead of NULL.
    """

    ignore_columns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {k: tuple(v) for k, v in DEFAULT_IGNORE_COLUMNS.items()}
    )
    bookkeeping_in_changes: bool = False
    far_future_valid_to: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> HistoryPolicy:
        """Read the target's settings (absent ones take their defaults)."""
        raw: t.Any = config.get("ignore_columns")
        if raw is None:
            raw = DEFAULT_IGNORE_COLUMNS
        if isinstance(raw, list):
            raw = {"*": raw}  # a plain list applies to every stream
        ignore = {str(k): tuple(str(p) for p in v or ()) for k, v in dict(raw).items()}
        return cls(
            ignore_columns=ignore,
            bookkeeping_in_changes=bool(config.get("changed_fields_include_bookkeeping", False)),
            far_future_valid_to=bool(config.get("far_future_valid_to", False)),
        )

    @property
    def open_valid_to(self) -> str | None:
        """``valid_to`` of a version that is still open."""
        return FAR_FUTURE if self.far_future_valid_to else None

    def ignored(self, stream: str, properties: Sequence[str]) -> frozenset[str]:
        """The stream's properties whose changes alone make no version (case-insensitive)."""
        wanted = {p.casefold() for p in self.ignore_columns.get("*", ())}
        wanted |= {p.casefold() for p in self.ignore_columns.get(stream, ())}
        return frozenset(p for p in properties if p.casefold() in wanted)

    def quiet(self, properties: Sequence[str], replication_key: str | None) -> frozenset[str]:
        """The properties ``changed_fields`` leaves out (bookkeeping), unless asked not to."""
        if self.bookkeeping_in_changes:
            return frozenset()
        wanted = {p.casefold() for p in BOOKKEEPING_PROPERTIES}
        if replication_key:
            wanted.add(replication_key.casefold())
        return frozenset(p for p in properties if p.casefold() in wanted)
