"""SQL identifier quoting and deterministic table/column naming.

Identifiers are never pasted raw into SQL: :func:`quote_ident` wraps them in double
quotes with embedded quotes doubled, which is SQLite's only escaping rule for quoted
identifiers.  Values are always bound parameters and never go through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_WORD = re.compile(r"[^\w]+")
_FALLBACK_COLUMN = "column"


def quote_ident(name: str) -> str:
    """Quote an SQL identifier for SQLite.

    Args:
        name: Any identifier text (quotes, spaces, semicolons, unicode, keywords).

    Returns:
        The identifier in double quotes, with embedded double quotes doubled.
    """
    return '"' + name.replace('"', '""') + '"'


def snake_case(name: str) -> str:
    """Convert a property name to a lower snake-case column name.

    ``First_Name`` -> ``first_name``, ``clientName`` -> ``client_name``,
    ``HTTPServer`` -> ``http_server``, ``agent:os:version`` -> ``agent_os_version``.
    Existing underscores (including leading ones such as ``_sdc_extracted_at`` and
    doubled ones from flattening such as ``owner__id``) are kept; every run of other
    non-word characters becomes one underscore and is dropped at either end.  Unicode
    letters and digits are kept, lower-cased.

    Args:
        name: The property name.

    Returns:
        The snake-case name; ``"column"`` if nothing word-like is left.
    """
    out: list[str] = []
    last = len(name) - 1
    for i, ch in enumerate(name):
        if ch.isupper():
            prev = name[i - 1] if i else ""
            nxt = name[i + 1] if i < last else ""
            if (
                prev
                and prev != "_"
                and (prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()))
            ):
                out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    words = [part for part in _NON_WORD.split("".join(out).lower()) if part]
    return "_".join(words) or _FALLBACK_COLUMN


def table_name_for(stream: str) -> str:
    """Return the preferred table name of a stream: the stream name itself.

    SQLite cannot hold NUL in identifiers and reserves the ``sqlite_`` prefix, so those
    two cases are adjusted; everything else is kept verbatim (and quoted when used).

    Args:
        stream: The Singer stream name.

    Returns:
        The table name to try first.
    """
    name = stream.replace("\x00", "_") or "stream"
    name = name.encode("utf-8", "replace").decode("utf-8")
    if name.lower().startswith(("sqlite_", "_audit")):
        # SQLite's own names, and the target's bookkeeping (its temp table _audit_final).
        name = "stream_" + name
    return name


def unique_name(base: str, taken: set[str]) -> str:
    """Return ``base`` or the first free ``base_2``, ``base_3``, ... (case-insensitive).

    Args:
        base: The preferred name.
        taken: Lower-cased names already in use; the chosen name is added to it.

    Returns:
        A name whose lower-case form was not in ``taken``.
    """
    candidate = base
    suffix = 2
    while candidate.lower() in taken:
        candidate = f"{base}_{suffix}"
        suffix += 1
    taken.add(candidate.lower())
    return candidate


def assign_column_names(properties: Iterable[str], taken: set[str]) -> dict[str, str]:
    """Assign column names to new properties, deterministically.

    Properties whose snake-case names collide are resolved the same way whatever their
    order in the schema: a property already spelled exactly like the snake-case name
    wins it, the others get ``_2``, ``_3``, ... in code-point order of their original
    names.  Names in ``taken`` (existing columns and bookkeeping columns) are never
    reused, so an existing column never changes name.

    Args:
        properties: Property names that have no column yet.
        taken: Lower-cased names already in use; updated in place.

    Returns:
        Mapping of property name to column name.
    """
    groups: dict[str, list[str]] = {}
    for prop in properties:
        groups.setdefault(snake_case(prop), []).append(prop)
    result: dict[str, str] = {}
    for base in sorted(groups):
        members = sorted(groups[base], key=lambda prop: (prop != base, prop))
        for prop in members:
            result[prop] = unique_name(base, taken)
    return result
