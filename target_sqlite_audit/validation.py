"""Compiled record validation.

The SDK's default validator (``jsonschema``) interprets the schema for every record and
costs ~0.5 ms per 25-field record, more than everything else the target does together.
``fastjsonschema`` compiles the schema to Python code once per SCHEMA (~6 µs per record).
Schemas it cannot compile fall back to the SDK's validator, so no valid input is refused.

Singer schemas are mostly types, nested ``properties`` and ``items``; for those a type-only
check is generated in front of the full validator (:func:`compile_fast_path`: ~3 µs per
43-field record against ~8 µs for ``fastjsonschema``, which tracks every key in a set).
It only ever accepts: anything it does not recognise goes to the full validator, which
raises the usual errors, so results are the same as with the full validator alone.
"""

from __future__ import annotations

import copy
import typing as t

import fastjsonschema
import jsonschema
import orjson
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

_CACHE: dict[bytes, t.Callable[[t.Any], t.Any]] = {}
_CACHE_LIMIT = 256

#: Exact classes of JSON values per JSON Schema type (subclasses go to the full validator;
#: ``bool`` is not ``int`` here, as in JSON Schema).
_CLASSES = {
    "string": ("str",),
    "integer": ("int",),
    "number": ("int", "float"),
    "boolean": ("bool",),
    "object": ("dict",),
    "array": ("list",),
}
#: Keywords the fast path understands, or that the full validator ignores (formats are not
#: checked, defaults not applied).
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "items",
        "required",
        "additionalProperties",
        "format",
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)


class _NotFast(Exception):
    """The schema uses something the fast path does not check."""


def _fast_code(
    schema: t.Any,
    var: str,
    depth: int,
    lines: list[str],
    names: list[int],
    *,
    nonnull: bool = False,
) -> None:
    """Append the checks of ``var`` against ``schema`` (a mismatch calls the full validator).

    ``nonnull`` says the generated code only runs when ``var`` is not None.
    """
    if schema is True or schema == {}:
        return
    if not isinstance(schema, dict) or not _FAST_KEYWORDS.issuperset(schema):
        raise _NotFast
    extra = schema.get("additionalProperties", True)
    if extra is not True and extra != {}:
        raise _NotFast
    types = schema.get("type")
    if types is None:
        if any(k in schema for k in ("properties", "items", "required")):
            raise _NotFast
        return
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or not types:
        raise _NotFast
    classes: list[str] = []
    for name in types:
        if name == "null":
            continue
        if name not in _CLASSES:
            raise _NotFast
        classes.extend(_CLASSES[name])
    pad = "    " * depth
    fail = "return full(record)"
    mismatch = " and ".join(f"{var}.__class__ is not {cls}" for cls in classes) or "True"
    if "null" in types and not nonnull:
        lines.append(f"{pad}if {var} is not None and {mismatch}: {fail}")
    else:
        lines.append(f"{pad}if {mismatch}: {fail}")
    properties = schema.get("properties")
    required = schema.get("required", [])
    if properties is not None or required:
        if not isinstance(properties or {}, dict) or not isinstance(required, list):
            raise _NotFast
        if "object" not in types or not all(isinstance(r, str) for r in required):
            raise _NotFast
        names[0] += 1
        getter = f"get{names[0]}"
        lines.append(f"{pad}if {var}.__class__ is dict:")
        if required:
            missing = " or ".join(f"{r!r} not in {var}" for r in required)
            lines.append(f"{pad}    if {missing}: {fail}")
        if properties:
            lines.append(f"{pad}    {getter} = {var}.get")
        for prop, sub in (properties or {}).items():
            if not isinstance(prop, str):
                raise _NotFast
            names[0] += 1
            value = f"v{names[0]}"
            sub_types = sub.get("type") if isinstance(sub, dict) else None
            sub_types = [sub_types] if isinstance(sub_types, str) else (sub_types or [])
            body: list[str] = []
            _fast_code(sub, value, depth + 2, body, names, nonnull="null" in sub_types)
            if not body:
                continue
            lines.append(f"{pad}    {value} = {getter}({prop!r})")
            if "null" in sub_types:
                # Absent or null: nothing to check.
                lines.append(f"{pad}    if {value} is not None:")
            else:
                # Absent is fine; a present null is checked (and fails) below.
                lines.append(f"{pad}    if {value} is not None or {prop!r} in {var}:")
            lines.extend(body)
    items = schema.get("items")
    if items is not None:
        if "array" not in types or not isinstance(items, dict):
            raise _NotFast
        names[0] += 1
        item = f"v{names[0]}"
        body = []
        _fast_code(items, item, depth + 2, body, names)
        if body:
            lines.append(f"{pad}if {var}.__class__ is list:")
            lines.append(f"{pad}    for {item} in {var}:")
            lines.extend(body)


def compile_fast_path(
    schema: dict[str, t.Any], full: t.Callable[[t.Any], t.Any]
) -> t.Callable[[t.Any], t.Any] | None:
    """Generate a type-only check that hands any mismatch to the full validator.

    Args:
        schema: The record schema.
        full: The full validator (raises on invalid records).

    Returns:
        ``check(record)``, or None when the schema uses keywords the fast path does not
        handle (then only the full validator is used).
    """
    lines = ["def check(record):"]
    try:
        _fast_code(schema, "record", 1, lines, [0])
    except (_NotFast, RecursionError):
        return None
    lines.append("    return None")
    namespace: dict[str, t.Any] = {"full": full}
    exec(compile("\n".join(lines), "<target-sqlite-audit fast validation>", "exec"), namespace)  # noqa: S102 - generated from the schema's type names and repr()'d keys only
    check: t.Callable[[t.Any], t.Any] = namespace["check"]
    return check


def record_schema(schema: dict[str, t.Any], deleted_marker: str) -> dict[str, t.Any]:
    """Derive the schema records are validated against.

    Top-level ``required`` is dropped because a property absent from a RECORD is stored
    as NULL (Singer semantics; deletion records carry only the key), and the deletion
    marker is always allowed.  Key properties are checked separately.

    Args:
        schema: The stream schema.
        deleted_marker: The deletion marker property (``_sdc_deleted_at``).

    Returns:
        A copy of the schema for validation.
    """
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if isinstance(kinds, list) and "object" not in kinds:
        # Such a schema rejects every record: say so at the SCHEMA, not at the first RECORD.
        msg = f"its top-level type {kinds!r} does not allow a record object"
        raise InvalidJSONSchema(msg)
    result = copy.deepcopy(schema)
    result.pop("required", None)
    properties = result.setdefault("properties", {})
    if isinstance(properties, dict):
        properties.setdefault(deleted_marker, {})
    return result


class FastValidator(BaseJSONSchemaValidator):
    """Validate records with a compiled schema, falling back to ``jsonschema``."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        """Compile (or reuse the compiled form of) a schema.

        Args:
            schema: The schema records must match.

        Raises:
            singer_sdk.exceptions.InvalidJSONSchema: If the schema itself is invalid.
        """
        super().__init__(schema)
        cache_key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        check = _CACHE.get(cache_key)
        if check is None:
            try:
                full = fastjsonschema.compile(schema, use_formats=False, use_default=False)
            except Exception:
                full = JSONSchemaValidator(schema).validate
            check = compile_fast_path(schema, full) or full
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[cache_key] = check
        self.check = check

    def validate(self, record: dict[str, t.Any]) -> None:
        """Validate one record (raises on mismatch).

        Args:
            record: The record.
        """
        self.check(record)


def describe_validation_error(exc: BaseException) -> str:
    """Turn a validator exception into a short clause for an error sentence.

    Args:
        exc: A ``fastjsonschema`` or ``jsonschema``/SDK validation exception.

    Returns:
        Text such as ``property 'Owner.id' must be string``.
    """
    if isinstance(exc, fastjsonschema.JsonSchemaValueException):
        message = exc.message
        if message.startswith("data."):
            path, _, rest = message[len("data.") :].partition(" ")
            return f"property {path!r} {rest}"
        if message.startswith("data "):
            return "the record " + message[len("data ") :]
        return message
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, jsonschema.ValidationError):
        path = ".".join(str(part) for part in cause.absolute_path)
        where = f"property {path!r}" if path else "the record"
        return f"{where} fails the schema's {cause.validator!r} rule ({cause.message[:200]})"
    return str(exc)[:300]
