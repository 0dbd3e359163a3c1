"""Compiled record validation.

The SDK's default validator (``jsonschema``) interprets the schema for every record and
costs ~0.5 ms per 25-field record, more than everything else the target does together.
``fastjsonschema`` compiles the schema to Python code once per SCHEMA (~6 µs per record).
Schemas it cannot compile fall back to the SDK's validator, so no valid input is refused.
"""

from __future__ import annotations

import copy
import typing as t

import fastjsonschema
import jsonschema
import orjson
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

_CACHE: dict[bytes, t.Callable[[t.Any], t.Any]] = {}
_CACHE_LIMIT = 256


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
                check = fastjsonschema.compile(schema, use_formats=False, use_default=False)
            except Exception:
                check = JSONSchemaValidator(schema).validate
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
