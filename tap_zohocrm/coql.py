"""COQL, pure: which columns give records identical to Get Records', and the keyset queries.

Get Records returns a lookup as ``{name, id}`` (user lookups ``{name, id, email}``); COQL
returns ``{id}`` and the rest only as dot columns (``Owner.full_name``), under flat keys. So
each property becomes one or more columns, and each COQL row is rebuilt into Get Records'
shape. A lookup whose target is not known from the catalog, and the multi-module parents
(``What_Id``, ``Parent_Id``) whose name field depends on the row, cannot be rebuilt: a module
selecting one is read over REST (:func:`plan_fields` names them).

Keyset paging on (``Modified_Time``, ``id``), bounded above by the server's current second:
no offset (no drift, no 100,000 cap), and the open second is left for the next run.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping, Sequence

from tap_zohocrm.schema import (
    CUSTOM_DISPLAY_FIELD,
    DELETED_AT,
    DISPLAY_FIELDS,
    REPLICATION_KEY,
    SYSTEM_KEYS,
    lookup_target,
)

__all__ = [
    "LADDER",
    "NOT_IN_COQL",
    "FieldRead",
    "batches",
    "keyset_query",
    "ladder_limit",
    "plan_fields",
    "rebuild",
]

#: LIMIT of the first, second and later queries of an incremental read: a small increment
#: stays at 1 credit, a large one reaches 2,000 rows for 3 credits.
LADDER = (200, 1_000, 2_000)
#: Modules Zoho's COQL does not serve (its module list has no Notes).
NOT_IN_COQL = frozenset({"Notes"})
#: Lookups whose target module differs per record (``$se_module``).
MULTI_MODULE_LOOKUPS = frozenset({"What_Id", "Parent_Id"})
#: Get Records' user-lookup keys -> the users' COQL columns.
_USER_KEYS = (("name", "full_name"), ("id", None), ("email", "email"))


@dataclasses.dataclass(frozen=True)
class FieldRead:
    """How one property is read: its COQL columns and how they rebuild its value."""

    name: str
    columns: tuple[str, ...]
    kind: str = "plain"  # plain | user | lookup


def _object_keys(prop: Mapping[str, t.Any]) -> frozenset[str]:
    types = prop.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    sub = prop.get("properties")
    if "object" not in types or not isinstance(sub, dict):
        return frozenset()
    return frozenset(sub)


def plan_fields(
    properties: Mapping[str, Mapping[str, t.Any]], names: Sequence[str]
) -> tuple[list[FieldRead], list[str]]:
    """The reads of the selected properties, and those COQL cannot return as Get Records does.

    Args:
        properties: The stream schema's properties.
        names: The selected property names (system keys and ``_sdc_`` columns are skipped).

    Returns:
        ``(reads, unsupported)``: one read per property, and sentences naming the others.
    """
    reads: list[FieldRead] = []
    unsupported: list[str] = []
    for name in names:
        if name in SYSTEM_KEYS or name.startswith("_sdc_") or name == DELETED_AT:
            continue
        keys = _object_keys(properties.get(name) or {})
        if not keys:
            reads.append(FieldRead(name, (name,)))
        elif name in MULTI_MODULE_LOOKUPS:
            unsupported.append(f"{name} (its name field depends on each record's module)")
        elif keys == {"name", "id", "email"}:
            reads.append(FieldRead(name, (name, f"{name}.full_name", f"{name}.email"), "user"))
        elif keys == {"name", "id"}:
            target = lookup_target(properties.get(name) or {})
            if target is None:
                unsupported.append(f"{name} (the catalog does not say which module it points at)")
                continue
            display = DISPLAY_FIELDS.get(target, CUSTOM_DISPLAY_FIELD)
            reads.append(FieldRead(name, (name, f"{name}.{display}"), "lookup"))
        else:
            reads.append(FieldRead(name, (name,)))
    return reads, unsupported


def batches(
    reads: Sequence[FieldRead], max_columns: int, always: Sequence[str]
) -> list[list[FieldRead]]:
    """Split the reads into queries of at most ``max_columns`` columns, each with ``always``.

    A property's columns stay in one query; ``id`` and ``Modified_Time`` open every one.
    """
    fixed = [FieldRead(name, (name,)) for name in always]
    room = max_columns - len(fixed)
    result: list[list[FieldRead]] = []
    current: list[FieldRead] = []
    used = 0
    for read in reads:
        if read.name in always:
            continue
        width = len(read.columns)
        if current and used + width > room:
            result.append(fixed + current)
            current, used = [], 0
        current.append(read)
        used += width
    if current or not result:
        result.append(fixed + current)
    return result


def columns_of(batch: Sequence[FieldRead]) -> list[str]:
    """The SELECT list of one query."""
    return [column for read in batch for column in read.columns]


def rebuild(row: Mapping[str, t.Any], reads: Sequence[FieldRead], into: dict[str, t.Any]) -> None:
    """Put a COQL row's values into ``into`` in Get Records' shapes."""
    for read in reads:
        value = row.get(read.name)
        if read.kind == "plain":
            into[read.name] = value
        elif not isinstance(value, Mapping):
            into[read.name] = None
        elif read.kind == "user":
            into[read.name] = {
                key: value.get("id") if column is None else row.get(f"{read.name}.{column}")
                for key, column in _USER_KEYS
            }
        else:
            into[read.name] = {"name": row.get(read.columns[1]), "id": value.get("id")}
    for key, value in row.items():
        if key.startswith("$"):
            into[key] = value


def ladder_limit(query_number: int, *, large: bool, remaining: int | None = None) -> int:
    """LIMIT of the n-th query (0-based) of a read.

    With a known number of records still to read (a first sync counts its module), the
    cheapest LIMIT that covers them; else a first or full read starts at 2,000 and an
    incremental one climbs the ladder.
    """
    if remaining is not None:
        return next((limit for limit in LADDER if limit >= remaining), LADDER[-1])
    if large:
        return LADDER[-1]
    return LADDER[min(query_number, len(LADDER) - 1)]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def keyset_query(
    module: str,
    columns: Sequence[str],
    *,
    incremental: bool,
    since: str | None,
    after: tuple[str | None, str] | None,
    bound: str | None,
    limit: int,
    extra: Sequence[str] = (),
) -> str:
    """One page of a keyset read.

    Args:
        module: Module API name.
        columns: SELECT list.
        incremental: Whether the module has ``Modified_Time`` (else the keyset is ``id``).
        since: Records modified strictly after this (the bookmark or start date).
        after: ``(Modified_Time, id)`` of the previous page's last row.
        bound: Records modified strictly before this (the server's current second).
        limit: LIMIT.
        extra: More criteria (``Converted__s = false``).

    Returns:
        The ``select_query``.
    """
    criteria: list[str] = []
    if not incremental:
        criteria.append(f"id > {int(after[1])}" if after else "id is not null")
        order = "id asc"
    else:
        key = REPLICATION_KEY
        last_time = after[0] if after is not None else None
        if after is not None and last_time is not None:
            criteria.append(f"{key} >= {_quote(last_time)}")
            criteria.append(f"({key} > {_quote(last_time)} or id > {int(after[1])})")
        elif since:
            criteria.append(f"{key} > {_quote(since)}")
        else:
            criteria.append(f"{key} is not null")
        if bound:
            criteria.append(f"{key} < {_quote(bound)}")
        order = f"{key} asc, id asc"
    criteria.extend(extra)
    return (
        f"select {', '.join(columns)} from {module} where {' and '.join(criteria)} "
        f"order by {order} limit {limit}"
    )
