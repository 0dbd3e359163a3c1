"""Hostile identifiers and values: stored verbatim, never pasted into SQL."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from audit_kit import AuditKit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_sqlite_audit.naming import quote_ident, snake_case
from target_sqlite_audit.store import RESERVED_TABLES

HOSTILE_NAMES = [
    'quote"name',
    "single'quote",
    "semi;colon",
    "drop table leads; --",
    "select",
    "from",
    "table",
    "with space",
    "ünïcødé",
    "名前",
    "emoji 😀",
    "tab\tand\nnewline",
    "back\\slash",
    "[bracket]",
    "`tick`",
]


def test_hostile_stream_and_property_names(audit):
    for stream in HOSTILE_NAMES:
        props = {name: {} for name in HOSTILE_NAMES}
        props["id"] = {"type": "string"}
        record = {name: f"value of {name}" for name in HOSTILE_NAMES} | {"id": stream}
        run = audit.run([audit.schema(stream, props), audit.record(stream, record)])
        assert run.error is None, run.error
        rows = audit.query(f"SELECT * FROM {quote_ident(stream)}")
        assert len(rows) == 1
        mapping = {
            row["property"]: row["column_name"]
            for row in audit.query(
                "SELECT c.property, c.column_name FROM _audit_columns c "
                "JOIN _audit_streams s USING (stream_id) WHERE s.stream = ?",
                (stream,),
            )
        }
        for name in HOSTILE_NAMES:
            assert rows[0][mapping[name]] == f"value of {name}"
        history = audit.query(f"SELECT * FROM {quote_ident(stream + '_history')}")
        assert history[0]["id"] == stream
    tables = {
        row["stream"]: row["table_name"] for row in audit.query("SELECT * FROM _audit_streams")
    }
    assert tables == {name: name for name in HOSTILE_NAMES}
    assert audit.scalar("PRAGMA integrity_check") == "ok"


def test_nul_in_names_and_values(audit):
    stream = "nul\x00stream"
    run = audit.run(
        [
            audit.schema(stream, {"id": "string", "a\x00b": "string"}),
            audit.record(stream, {"id": "k\x00", "a\x00b": "x\x00y"}),
        ]
    )
    assert run.error is None
    assert audit.query('SELECT id, a_b FROM "nul_stream"') == [{"id": "k\x00", "a_b": "x\x00y"}]
    assert audit.scalar("SELECT stream FROM _audit_streams") == stream


def test_snake_case_is_deterministic_and_sql_safe():
    for name in HOSTILE_NAMES:
        column = snake_case(name)
        assert column == snake_case(name)
        assert column
        assert ";" not in column
        assert '"' not in column


# -- property-based round trips -------------------------------------------------------------

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda name: not name.startswith("_sdc_"))  # the SDK's own metadata names
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=4),
    max_leaves=10,
)


def _same(stored, value) -> bool:
    if isinstance(value, bool):
        return stored == int(value)
    if isinstance(value, (dict, list)):
        return json.loads(stored) == value
    if isinstance(value, float):
        return stored == value or (math.isclose(stored, value) and stored == float(value))
    return stored == value and type(stored) is type(value)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(record=st.dictionaries(names, values, min_size=1, max_size=6), key=names)
def test_values_and_names_round_trip(record, key):
    with tempfile.TemporaryDirectory() as directory:
        audit = AuditKit(Path(directory))
        props = {name: {} for name in record}
        props["__key"] = {"type": "string"}
        full = {**record, "__key": key}
        run = audit.run([audit.schema("s", props, key=("__key",)), audit.record("s", full)])
        assert run.error is None, run.error
        mapping = {
            row["property"]: row["column_name"]
            for row in audit.query("SELECT property, column_name FROM _audit_columns")
        }
        row = audit.query('SELECT * FROM "s"')[0]
        history = audit.query('SELECT * FROM "s_history"')[0]
        for name, value in full.items():
            assert _same(row[mapping[name]], value), (name, value, row[mapping[name]])
            assert _same(history[mapping[name]], value)
        # the same record again is unchanged; column names are stable
        audit.run([audit.schema("s", props, key=("__key",)), audit.record("s", full)])
        assert audit.scalar('SELECT COUNT(*) FROM "s_history"') == 1


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(stream=names, text=st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_stream_names_round_trip(stream, text):
    reserved = {name.lower() for name in RESERVED_TABLES}
    expected = stream
    if stream.lower() in reserved or stream.lower().endswith("_history"):
        expected = None  # renamed with a suffix; only the data is checked
    elif stream.lower().startswith("sqlite_"):
        expected = "stream_" + stream
    with tempfile.TemporaryDirectory() as directory:
        audit = AuditKit(Path(directory))
        run = audit.run(
            [
                audit.schema(stream, {"id": "string", "text": "string"}),
                audit.record(stream, {"id": "1", "text": text}),
            ]
        )
        assert run.error is None, run.error
        table = audit.scalar("SELECT table_name FROM _audit_streams WHERE stream = ?", (stream,))
        if expected is not None:
            assert table == expected
        assert audit.query(f"SELECT text FROM {quote_ident(table)}") == [{"text": text}]
