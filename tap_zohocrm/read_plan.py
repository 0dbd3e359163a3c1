"""What one run of a module stream reads, fixed before its first call (pure, no I/O).

The plan is frozen: the fields, chunks, formulas that force a full read, the bookmark the
records are read from and whether deletions are read are decided once from the catalog, the
settings and the state, and the readers (REST pages, COQL, Bulk Read, wide chunks) take it
as it is. What changes while the run reads (the bookmark tracker, Zoho's clock) lives on the
stream's cursor, not here.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing as t

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.chunks import plan_chunks
from tap_zohocrm.schema import DELETED_AT, REPLICATION_KEY, SYSTEM_KEYS, computed_properties

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ReadPlan",
    "field_chunks",
    "nested_deselections",
    "plan_read",
    "selected_properties",
]

#: The catalog's selection: ``mask.get(("properties", name), True)`` (singer-sdk's mask).
Mask = t.Mapping[tuple[str, ...], bool]


@dataclasses.dataclass(frozen=True)
class ReadPlan:
    """One run's read of a module: fields, chunks, starting point, deletions."""

    #: The selected properties, in schema order: every record carries exactly these.
    record_fields: tuple[str, ...]
    #: Get Records' field chunks (50 fields at most); the first drives paging and bookmarks.
    chunks: tuple[tuple[str, ...], ...]
    #: Deselected sub-properties of object properties (``Owner.email``), by property.
    nested_off: Mapping[str, frozenset[str]]
    #: Selected formula fields that make this run read the whole module.
    formulas: tuple[str, ...]
    #: Where the records are read from (``None``: the whole module).
    since: str | None
    #: The bookmark stored by earlier runs.
    stored: str | None
    #: A full read's bookmark never goes at or below this (the stored bookmark).
    floor: datetime.datetime | None
    #: Whether the run reads deletions, and whether it reads the whole recycle bin.
    deletions: bool
    first_sync: bool

    @property
    def request_fields(self) -> tuple[str, ...]:
        """The fields of the paging requests (the first chunk)."""
        return self.chunks[0]

    @property
    def whole_module(self) -> bool:
        """Whether the run reads every record (a first sync or a formula refresh)."""
        return not self.stored or bool(self.formulas)


def selected_properties(
    properties: Sequence[str], mask: Mask, primary_keys: Sequence[str], *, incremental: bool
) -> tuple[str, ...]:
    """Names of the properties selected in the catalog, in schema order (keys always)."""
    names = [
        name for name in properties if mask.get(("properties", name), True) or name in primary_keys
    ]
    if incremental and REPLICATION_KEY not in names:
        names.append(REPLICATION_KEY)
    return tuple(names)


def nested_deselections(
    schema: Mapping[str, t.Any], record_fields: Sequence[str], mask: Mask
) -> dict[str, frozenset[str]]:
    """Deselected sub-properties of object properties, by property.

    Zoho's objects (lookups) are one level deep, so one level is all there is to check.
    """
    properties = schema.get("properties", {})
    result: dict[str, frozenset[str]] = {}
    for name in record_fields:
        sub = properties.get(name, {}).get("properties")
        if isinstance(sub, dict):
            off = frozenset(
                key for key in sub if not mask.get(("properties", name, "properties", key), True)
            )
            if off:
                result[name] = off
    return result


def field_chunks(record_fields: Sequence[str], *, incremental: bool) -> list[tuple[str, ...]]:
    """Selected Zoho fields split into requests of at most 50 (Zoho's cap).

    Every chunk holds ``id`` (and ``Modified_Time`` when incremental).
    """
    always = ("id", REPLICATION_KEY) if incremental else ("id",)
    zoho_fields = [
        name for name in record_fields if not name.startswith("_sdc_") and name not in SYSTEM_KEYS
    ]
    return plan_chunks(zoho_fields, always)


def refreshed_formulas(
    schema: Mapping[str, t.Any], record_fields: Sequence[str], *, refresh: bool, incremental: bool
) -> tuple[str, ...]:
    """The selected formula fields that make an incremental run read the whole module.

    Only with ``refresh_formula_fields``: a formula's value changes without
    ``Modified_Time`` changing, so an incremental read misses it.
    """
    if not refresh or not incremental:
        return ()
    selected = set(record_fields)
    return tuple(name for name in computed_properties(dict(schema)) if name in selected)


def plan_read(
    *,
    schema: Mapping[str, t.Any],
    mask: Mask,
    primary_keys: Sequence[str],
    stored: str | None,
    deletions_listed: bool,
    start: str | None,
    incremental: bool,
    refresh_formulas: bool,
    include_deleted: bool,
) -> ReadPlan:
    """The plan of one run of a module stream.

    Args:
        schema: The stream's schema.
        mask: The catalog's selection mask.
        primary_keys: The stream's keys (always selected).
        stored: The records bookmark earlier runs stored.
        deletions_listed: Whether earlier runs stored a deletions bookmark.
        start: The starting bookmark (the stored one, else ``start_date``).
        incremental: Whether the module has ``Modified_Time``.
        refresh_formulas: The ``refresh_formula_fields`` setting.
        include_deleted: The ``include_deleted`` setting.

    Returns:
        The plan.
    """
    fields = selected_properties(
        list(schema.get("properties", {})), mask, primary_keys, incremental=incremental
    )
    stored = stored if incremental else None
    formulas = refreshed_formulas(schema, fields, refresh=refresh_formulas, incremental=incremental)
    # A full read sends no If-Modified-Since but still advances the bookmark, never below
    # the stored one (it is where an incremental run would resume).
    return ReadPlan(
        record_fields=fields,
        chunks=tuple(field_chunks(fields, incremental=incremental)),
        nested_off=nested_deselections(schema, fields, mask),
        formulas=formulas,
        since=None if formulas else (start if incremental else None),
        stored=stored,
        floor=parse_instant(stored) if formulas and stored else None,
        deletions=include_deleted and DELETED_AT in fields,
        # No deletion bookmark and no records bookmark: a first sync, or a destination whose
        # state was lost; it may hold records deleted since, so the whole recycle bin is read.
        first_sync=not deletions_listed and not stored,
    )
