"""Small pure functions of the target: naming, instants, column kinds, store helpers."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_sqlite_audit.columns import column_kind, compatible
from target_sqlite_audit.decisions import UNKNOWN, StoredKey, decide, initial_state
from target_sqlite_audit.instants import (
    compare_replication_values,
    format_instant,
    instant_text,
    parse_instant,
)
from target_sqlite_audit.naming import assign_column_names, quote_ident, snake_case, table_name_for


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("First_Name", "first_name"),
        ("Modified_Time", "modified_time"),
        ("clientName", "client_name"),
        ("HTTPServer", "http_server"),
        ("CreatedById", "created_by_id"),
        ("agent:os:version", "agent_os_version"),
        ("_sdc_extracted_at", "_sdc_extracted_at"),
        ("owner__id", "owner__id"),
        ("name with spaces", "name_with_spaces"),
        ("x;DROP TABLE y;--", "x_drop_table_y"),
        ("名前", "名前"),
        ("Ünïcode", "ünïcode"),
        ("😀", "column"),
        ("1st", "1st"),
    ],
)
def test_snake_case(name, column):
    assert snake_case(name) == column


def test_quote_ident_doubles_quotes():
    assert quote_ident('a"b') == '"a""b"'
    assert quote_ident("") == '""'


def test_collisions_do_not_depend_on_schema_order():
    props = ["firstName", "First_Name", "first_name", "FIRST NAME"]
    first = assign_column_names(props, set())
    second = assign_column_names(list(reversed(props)), set())
    assert first == second
    assert first["first_name"] == "first_name"
    # existing names are never taken
    assert assign_column_names(["id"], {"id"}) == {"id": "id_2"}


def test_table_names():
    assert table_name_for("leads") == "leads"
    assert table_name_for("Leads Stream") == "Leads Stream"
    assert table_name_for("sqlite_stat1") == "stream_sqlite_stat1"
    assert table_name_for("a\x00b") == "a_b"


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ("2024-11-03T01:30:00-07:00", "2024-11-03T01:10:00-08:00", -1),  # DST: earlier
        ("2024-11-03T01:10:00-08:00", "2024-11-03T01:30:00-07:00", 1),
        ("2024-11-03T08:30:00Z", "2024-11-03T01:30:00-07:00", 0),
        ("2024-11-03T08:30:00.000+00:00", "2024-11-03T08:30:00Z", 0),
        ("2024-01-02", "2024-01-01T23:00:00Z", 1),
        (5, 3, 1),
        (2.5, 3, -1),
        ("not a date", "2024-01-01", None),
        (None, "2024-01-01", None),
    ],
)
def test_compare_replication_values(new, old, expected):
    assert compare_replication_values(new, old) == expected


def test_instants_are_fixed_width_utc():
    assert format_instant(parse_instant("2024-11-03T01:30:00-07:00")) == "2024-11-03T08:30:00.000Z"
    assert (
        format_instant(parse_instant("2024-11-03T01:30:00.123456Z")) == "2024-11-03T01:30:00.123Z"
    )
    assert parse_instant("2024-11-03T01:30:00").tzinfo is not None  # naive means UTC
    assert parse_instant("yesterday") is None


def _general_text(value: object) -> str | None:
    moment = parse_instant(value)
    return format_instant(moment) if moment is not None else None


@pytest.mark.parametrize(
    "value",
    [
        "2024-11-03T01:30:00-07:00",
        "2024-11-03T01:30:00.123456Z",
        "2024-11-03T01:30:00z",
        " 2024-11-03T01:30:00+05:30 ",
        "2024-11-03T01:30:00",
        "2024-11-03",
        "0001-01-01T00:00:00+01:00",  # no UTC instant
        "9999-12-31T23:59:59-01:00",
        "yesterday",
        "",
        None,
        1700000000,
    ],
)
def test_instant_text_is_the_general_path(value):
    assert instant_text(value) == _general_text(value)


@given(
    st.datetimes(timezones=st.timezones()).map(lambda m: m.isoformat())
    | st.datetimes().map(lambda m: m.isoformat(sep=" "))
    | st.text(max_size=30)
)
def test_instant_text_agrees_with_parse_then_format(value):
    assert instant_text(value) == _general_text(value)


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        ({"type": "string"}, "text"),
        ({"type": ["null", "string"], "format": "date-time"}, "text"),
        ({"type": ["integer", "null"]}, "integer"),
        ({"type": ["number", "integer"]}, "number"),
        ({"type": "boolean"}, "boolean"),
        ({"type": "object"}, "json"),
        ({"type": ["array", "null"]}, "json"),
        ({"properties": {}}, "json"),
        ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}, "text"),
        ({"type": ["string", "integer"]}, "any"),
        ({}, "any"),
    ],
)
def test_column_kinds(schema, kind):
    assert column_kind(schema) == kind


def test_type_compatibility():
    assert compatible("BIGINT", "number")
    assert compatible("REAL", "integer")
    assert compatible("TEXT", "json")
    assert compatible("", "text")
    assert not compatible("BIGINT", "text")
    assert not compatible("TEXT", "integer")
    assert not compatible("TEXT", "any")


def test_history_rows_are_built_in_the_history_tables_column_order():
    import inspect

    from target_sqlite_audit.bookkeeping import (
        HISTORY_BOOKKEEPING,
        close_history_row,
        history_row,
    )

    names = list(inspect.signature(history_row).parameters)
    assert names[0] == HISTORY_BOOKKEEPING[0]
    assert tuple(names[2:]) == HISTORY_BOOKKEEPING[1:]
    row = history_row(7, ["a", "b"], "h", "insert", "c", 1, None, 1, "f", None)
    close_history_row(row, "t")
    by_name = dict(zip(["history_id", "d1", "d2", *HISTORY_BOOKKEEPING[1:]], row, strict=True))
    assert by_name["valid_to"] == "t"
    assert by_name["is_current"] == 0
    assert by_name["valid_from"] == "f"


_RK = st.none() | st.sampled_from(
    ["2024-11-03T01:30:00-07:00", "2024-11-03T01:10:00-08:00", "2024-11-03T09:00:00Z"]
)


@given(
    found=st.none()
    | st.builds(
        StoredKey,
        digest=st.sampled_from(["a", "b"]),
        rk=_RK,
        deleted=_RK,
        sync_id=st.just(1),
        history_id=st.just(7),
        alive=st.booleans(),
        known=st.just(True),
    ),
    digest=st.sampled_from(["a", "b"]),
    marker=_RK,
    rk=_RK,
)
def test_a_first_record_is_decided_alike_on_the_stored_version_or_a_state_of_it(
    found, digest, marker, rk
):
    """The store decides a key's first record on its StoredKey (or UNKNOWN) without a state."""
    on_stored = decide(UNKNOWN if found is None else found, digest, marker, rk)
    assert on_stored is decide(initial_state(found), digest, marker, rk)


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),  # a UTC instant exists for every offset
        max_value=datetime(9998, 12, 31),
        timezones=st.none() | st.timezones(),
    )
)
def test_format_instant_is_isoformat_in_utc_with_milliseconds(moment):
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment
    assert format_instant(moment) == utc.isoformat(timespec="milliseconds") + "Z"


def test_an_open_insert_version_names_every_history_column(audit):
    """insert_new_sql binds some bookkeeping and writes the rest as constants: none is left out."""
    from target_sqlite_audit.store import AuditStore

    store = AuditStore(audit.database)
    try:
        table = store.register_stream("s", {"id": {"type": "string"}}, ["id"])
    finally:
        store.close()
    named = table.insert_new_sql.split("(", 1)[1].split(")", 1)[0]
    columns = {name.strip().strip('"') for name in named.split(",")}
    with sqlite3.connect(audit.database) as conn:
        history = {row[1] for row in conn.execute('PRAGMA table_info("s_history")')}
    assert columns == history
