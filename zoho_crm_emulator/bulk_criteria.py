"""Bulk Read criteria: Zoho's comparators compiled into record predicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoho_crm_emulator.errors import invalid_data
from zoho_crm_emulator.fielddefs import ModuleDef
from zoho_crm_emulator.model import Record
from zoho_crm_emulator.timeutil import parse_iso

#: Criteria comparators the emulator evaluates.
COMPARATORS = frozenset(
    {
        "equal",
        "not_equal",
        "in",
        "not_in",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "between",
        "contains",
        "starts_with",
        "ends_with",
    }
)
Getter = Callable[[Record], Any]
#: How to read a field for criteria, and how to convert criteria values to compare with it.
GetterFor = Callable[[ModuleDef, str], tuple[Getter, Callable[[Any], Any]]]


def compile_criteria(
    module: ModuleDef, criteria: Any, getter_for: GetterFor
) -> Callable[[Record], bool]:
    """Compile Zoho criteria (single or grouped) into a record predicate.

    ``getter_for(module, name)`` says how to read a field and convert criteria values.
    """
    if criteria is None:
        return lambda record: True
    if not isinstance(criteria, dict):
        raise invalid_data("criteria must be an object", param="criteria")
    if "group" in criteria:
        group = criteria["group"]
        operator = str(criteria.get("group_operator", "and")).lower()
        if not isinstance(group, list) or not group or operator not in ("and", "or"):
            raise invalid_data("invalid criteria group", param="criteria")
        parts = [compile_criteria(module, c, getter_for) for c in group]
        if operator == "and":
            return lambda record: all(p(record) for p in parts)
        return lambda record: any(p(record) for p in parts)
    spec = criteria.get("field")
    name = spec.get("api_name") if isinstance(spec, dict) else spec
    comparator = criteria.get("comparator")
    if not isinstance(name, str) or comparator not in COMPARATORS:
        raise invalid_data("invalid criteria", param="criteria", criteria=criteria)
    getter, convert = getter_for(module, name)
    value = criteria.get("value")
    try:
        if comparator in ("in", "not_in", "between"):
            if not isinstance(value, list):
                raise ValueError("expected a list")
            expected: Any = [convert(v) for v in value]
            if comparator == "between" and len(expected) != 2:
                raise ValueError("between takes two values")
        else:
            expected = convert(value)
    except (TypeError, ValueError):
        raise invalid_data("invalid criteria value", param="criteria", criteria=criteria) from None
    return _comparison(getter, comparator, expected)


def instant(value: Any) -> int:
    """A criteria value as an instant (a 400 when it is not one)."""
    return parse_iso(str(value), param="criteria")


def maybe_instant(value: Any) -> int | None:
    """A stored datetime as an instant, None for null."""
    return None if value is None else parse_iso(str(value))


def boolean(value: Any) -> bool:
    """A criteria value as true or false."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ValueError("expected true or false")
    return text == "true"


def _comparison(getter: Getter, comparator: str, expected: Any) -> Callable[[Record], bool]:
    """Return a predicate applying one comparator; nulls match only not_equal/not_in."""

    def test(record: Record) -> bool:
        actual = getter(record)
        if actual is None:
            return comparator in ("not_equal", "not_in")
        if isinstance(actual, str) and isinstance(expected, (int, float)):
            return False
        if comparator == "equal":
            return bool(actual == expected)
        if comparator == "not_equal":
            return bool(actual != expected)
        if comparator == "in":
            return actual in expected
        if comparator == "not_in":
            return actual not in expected
        if comparator == "greater_than":
            return bool(actual > expected)
        if comparator == "greater_equal":
            return bool(actual >= expected)
        if comparator == "less_than":
            return bool(actual < expected)
        if comparator == "less_equal":
            return bool(actual <= expected)
        if comparator == "between":
            return bool(expected[0] <= actual <= expected[1])
        text, needle = str(actual), str(expected)
        if comparator == "contains":
            return needle in text
        if comparator == "starts_with":
            return text.startswith(needle)
        return text.endswith(needle)

    return test
