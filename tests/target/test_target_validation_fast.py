"""The generated type-only validation path accepts exactly what the full validator accepts."""

from __future__ import annotations

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_sqlite_audit.validation import FastValidator, compile_fast_path, record_schema

USER = {
    "type": ["object", "null"],
    "properties": {"name": {"type": ["string", "null"]}, "id": {"type": ["string", "null"]}},
    "additionalProperties": True,
}
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "Owner": USER,
        "Count": {"type": ["integer", "null"]},
        "Amount": {"type": "number"},
        "Flag": {"type": ["boolean", "null"]},
        "When": {"type": ["string", "null"], "format": "date-time"},
        "Tags": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
        "Multi": {"type": ["array", "null"], "items": {"type": "string"}},
        "Any": {},
        "Mixed": {"type": ["string", "integer", "null"]},
    },
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["name", "id", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
records = st.dictionaries(st.sampled_from([*SCHEMA["properties"], "extra"]), values, max_size=8)


def outcome(check, record):
    try:
        check(record)
    except fastjsonschema.JsonSchemaValueException as exc:
        return exc.message
    return "ok"


FULL = fastjsonschema.compile(SCHEMA, use_formats=False, use_default=False)
FAST = compile_fast_path(SCHEMA, FULL)


@pytest.mark.slow
@settings(max_examples=800, deadline=None)
@given(records)
def test_fast_path_agrees_with_fastjsonschema(record):
    assert FAST is not None
    assert outcome(FAST, record) == outcome(FULL, record)


def test_valid_record_passes_and_invalid_raises_the_full_error():
    check = FastValidator(record_schema(SCHEMA, "_sdc_deleted_at")).validate
    check({"id": "1", "Owner": {"name": "A", "id": None}, "Tags": [{"name": "t"}], "Any": [1]})
    with pytest.raises(fastjsonschema.JsonSchemaValueException, match=r"data\.Owner\.name"):
        check({"id": "1", "Owner": {"name": 3}})
    with pytest.raises(fastjsonschema.JsonSchemaValueException, match=r"data\.id"):
        check({"id": None})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"type": "object", "additionalProperties": False},
        {"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}},
        {"type": "object", "properties": {"a": {"type": "decimal"}}},
    ],
)
def test_schemas_with_other_keywords_use_the_full_validator_only(schema):
    assert compile_fast_path(schema, lambda record: None) is None
