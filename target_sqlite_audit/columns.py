"""Mapping JSON Schema property types to SQLite column declarations.

SQLite converts values to a column's *affinity*, so the declared type decides what
comes back: a TEXT column turns the integer 7 into ``'7'`` and an INTEGER column turns
the string ``'007'`` into ``7``.  Each kind below therefore declares the type whose
affinity keeps that kind's values verbatim, and mixed or unknown types get no declared
type at all (no conversion).  Integer columns are declared ``BIGINT`` (INTEGER affinity)
rather than ``INTEGER`` so that a single integer key never becomes a rowid alias.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

#: kind -> declared SQL type
DECLARED_TYPES: dict[str, str] = {
    "text": "TEXT",
    "json": "TEXT",
    "integer": "BIGINT",
    "number": "REAL",
    "boolean": "BOOLEAN",
    "any": "",
}

#: declared type -> affinity family used for the compatibility check
_FAMILY = {"TEXT": "text", "BIGINT": "numeric", "REAL": "numeric", "BOOLEAN": "numeric", "": ""}

KIND_DESCRIPTIONS = {
    "text": "string",
    "json": "object/array (JSON text)",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "any": "mixed types",
}


@dataclass
class Column:
    """One data column of a stream's current and history tables."""

    prop: str
    name: str
    kind: str
    declared_type: str
    position: int


def json_types(schema: t.Any) -> set[str]:
    """Collect the JSON types a property schema allows (``null`` excluded).

    ``anyOf``/``oneOf`` alternatives are merged; a schema (or alternative) without type
    information yields an empty set (any type).

    Args:
        schema: The property's JSON schema.

    Returns:
        The set of allowed non-null type names.
    """
    types = _raw_types(schema)
    if types is None:
        return set()
    types.discard("null")
    return types


def _raw_types(schema: t.Any) -> set[str] | None:
    """Allowed types including ``null``; None when anything is allowed."""
    if not isinstance(schema, dict):
        return None
    declared = schema.get("type")
    types: set[str] = set()
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(str(item) for item in declared)
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            for option in options:
                option_types = _raw_types(option)
                if option_types is None:
                    return None
                types |= option_types
    if not types:
        if "properties" in schema:
            return {"object"}
        if "items" in schema:
            return {"array"}
        return None
    return types


def column_kind(schema: t.Any) -> str:
    """Classify a property schema into a column kind.

    Args:
        schema: The property's JSON schema.

    Returns:
        One of ``text``, ``json``, ``integer``, ``number``, ``boolean``, ``any``.
    """
    types = json_types(schema)
    if not types:
        return "any"
    if types <= {"object", "array"}:
        return "json"
    if types == {"string"}:
        return "text"
    if types == {"integer"}:
        return "integer"
    if types <= {"integer", "number"}:
        return "number"
    if types == {"boolean"}:
        return "boolean"
    return "any"


def compatible(declared_type: str, new_kind: str) -> bool:
    """Tell whether an existing column can store values of a new kind verbatim.

    Args:
        declared_type: The column's declared SQL type (fixed once created).
        new_kind: The kind the latest schema gives the property.

    Returns:
        True if SQLite's affinity for the column will not alter the new values.
    """
    old_family = _FAMILY.get(declared_type, "")
    if old_family == "":
        return True
    return old_family == _FAMILY[DECLARED_TYPES[new_kind]]


def may_hold_containers(kind: str) -> bool:
    """Tell whether values of this kind may be objects or arrays (stored as JSON text).

    Args:
        kind: A column kind.

    Returns:
        True for ``json`` and ``any``.
    """
    return kind in {"json", "any"}
