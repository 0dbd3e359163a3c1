"""Change detection, history, deletes, replay and schema changes (in-process runs)."""

from __future__ import annotations

import itertools
import json

import pytest

LEAD_PROPS = {
    "id": "string",
    "First_Name": "string",
    "Email": "string",
    "Modified_Time": {"type": ["null", "string"], "format": "date-time"},
    "Lead_Age_Days": "integer",
    "Owner": {"type": ["null", "object"], "properties": {"id": {"type": "string"}}},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}


def lead_schema(audit, **kwargs):
    return audit.schema("leads", LEAD_PROPS, bookmarks=["Modified_Time"], **kwargs)


def lead(audit, id_, name, modified, age=1, **extra):
    record = {
        "id": id_,
        "First_Name": name,
        "Email": f"{name.lower()}@example.com",
        "Modified_Time": modified,
        "Lead_Age_Days": age,
        "Owner": {"id": "o1"},
        "_sdc_deleted_at": None,
    }
    record.update(extra)
    return audit.record("leads", record)


def deletion(audit, id_, when):
    return audit.record("leads", {"id": id_, "_sdc_deleted_at": when})


def change_types(audit, stream="leads"):
    return [(row["id"], row["change_type"]) for row in audit.history(stream)]


def counts(audit, sync_id):
    row = audit.query("SELECT * FROM sync_log WHERE id = ?", (sync_id,))[0]
    return {
        key: row[f"records_{key}"]
        for key in ("fetched", "inserted", "updated", "unchanged", "deleted", "stale")
    }


def test_insert_update_unchanged(audit):
    run = audit.run(
        [
            lead_schema(audit),
            lead(audit, "1", "Ann", "2024-01-01T10:00:00+00:00"),
            lead(audit, "2", "Bob", "2024-01-01T10:00:00+00:00"),
            audit.state({"bookmarks": {"leads": 1}}),
        ]
    )
    assert run.error is None
    assert run.states == [{"bookmarks": {"leads": 1}}]
    run = audit.run(
        [
            lead_schema(audit),
            lead(audit, "1", "Ann", "2024-01-01T10:00:00+00:00"),
            lead(audit, "2", "Bobby", "2024-01-02T10:00:00+00:00"),
        ]
    )
    assert run.error is None
    assert counts(audit, 1) == {
        "fetched": 2, "inserted": 2, "updated": 0, "unchanged": 0, "deleted": 0, "stale": 0
    }  # fmt: skip
    assert counts(audit, 2) == {
        "fetched": 2, "inserted": 0, "updated": 1, "unchanged": 1, "deleted": 0, "stale": 0
    }  # fmt: skip
    assert change_types(audit) == [("1", "insert"), ("2", "insert"), ("2", "update")]
    history = audit.history()
    assert history[0]["changed_fields"] is None
    # bookkeeping (modified_time) is left out
    assert json.loads(history[2]["changed_fields"]) == ["first_name", "email"]
    # valid_from/valid_to chain in UTC: the old version ends where the new one starts
    assert history[1]["valid_from"] == "2024-01-01T10:00:00.000Z"
    assert history[1]["valid_to"] == history[2]["valid_from"] == "2024-01-02T10:00:00.000Z"
    assert history[2]["valid_to"] is None
    rows = {row["id"]: row for row in audit.current()}
    assert rows["2"]["first_name"] == "Bobby"
    assert rows["2"]["_sync_id"] == 2
    assert rows["1"]["_sync_id"] == 1
    assert rows["2"]["_history_id"] == history[2]["history_id"]
    assert (
        rows["2"]["_first_seen_at"] < rows["2"]["_last_changed_at"]
        or rows["2"]["_first_seen_at"] <= rows["2"]["_last_changed_at"]
    )
    assert [s["status"] for s in audit.syncs()] == ["completed", "completed"]
    assert audit.syncs()[0]["state"] == '{"bookmarks":{"leads":1}}'


def test_columns_are_snake_case_and_objects_json(audit):
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", "2024-01-01T10:00:00Z")])
    columns = [row["name"] for row in audit.query("PRAGMA table_info(leads)")]
    assert columns == [
        "id", "first_name", "email", "modified_time", "lead_age_days", "owner",
        "_first_seen_at", "_last_changed_at", "_deleted_at", "_content_hash", "_sync_id",
        "_history_id",
    ]  # fmt: skip
    hist_columns = [row["name"] for row in audit.query("PRAGMA table_info(leads_history)")]
    assert hist_columns[:7] == ["history_id", "id", "first_name", "email", "modified_time",
                                "lead_age_days", "owner"]  # fmt: skip
    assert hist_columns[7:] == [
        "content_hash", "change_type", "captured_at", "sync_id", "changed_fields",
        "is_current", "valid_from", "valid_to",
    ]  # fmt: skip
    row = audit.current()[0]
    assert json.loads(row["owner"]) == {"id": "o1"}
    assert row["modified_time"] == "2024-01-01T10:00:00Z"  # stored verbatim
    pk = [row["name"] for row in audit.query("PRAGMA table_info(leads)") if row["pk"]]
    assert pk == ["id"]


def test_stale_record_is_skipped_across_dst_offsets(audit):
    # 01:30 PDT (-07:00) is 08:30 UTC; 01:10 PST (-08:00) is 09:10 UTC: the PST one is newer.
    audit.run([lead_schema(audit), lead(audit, "1", "New", "2024-11-03T01:10:00-08:00")])
    audit.run([lead_schema(audit), lead(audit, "1", "Old", "2024-11-03T01:30:00-07:00")])
    assert counts(audit, 2)["stale"] == 1
    assert audit.current()[0]["first_name"] == "New"
    assert change_types(audit) == [("1", "insert")]
    # and the other way round it is an update
    audit.run([lead_schema(audit), lead(audit, "2", "Old", "2024-11-03T01:30:00-07:00")])
    audit.run([lead_schema(audit), lead(audit, "2", "New", "2024-11-03T01:10:00-08:00")])
    assert counts(audit, 4)["updated"] == 1
    assert change_types(audit)[-1] == ("2", "update")


def test_formula_update_with_same_modified_time(audit):
    same = "2024-03-01T09:00:00+01:00"
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", same, age=3)])
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", same, age=4)])
    assert counts(audit, 2)["updated"] == 1
    history = audit.history()
    assert json.loads(history[1]["changed_fields"]) == ["lead_age_days"]
    # same source instant: the new version's validity starts at capture time instead
    assert history[0]["valid_from"] == "2024-03-01T08:00:00.000Z"
    assert history[1]["valid_from"] == history[1]["captured_at"]
    assert history[0]["valid_to"] == history[1]["valid_from"]
    # the same instant with the same content is unchanged
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", same, age=4)])
    assert counts(audit, 3)["unchanged"] == 1


def test_soft_delete_then_reappearance(audit):
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", "2024-01-01T00:00:00Z")])
    audit.run([lead_schema(audit), deletion(audit, "1", "2024-01-05T00:00:00Z")])
    row = audit.current()[0]
    assert row["_deleted_at"] == "2024-01-05T00:00:00Z"
    assert row["first_name"] == "Ann"  # last known values kept
    history = audit.history()
    assert [h["change_type"] for h in history] == ["insert", "delete"]
    assert history[1]["first_name"] == "Ann"  # the delete row carries the last known values
    assert history[1]["changed_fields"] == "[]"
    assert history[0]["valid_to"] == history[1]["valid_from"] == "2024-01-05T00:00:00.000Z"
    assert counts(audit, 2)["deleted"] == 1
    # deleting again changes nothing
    audit.run([lead_schema(audit), deletion(audit, "1", "2024-01-06T00:00:00Z")])
    assert counts(audit, 3)["unchanged"] == 1
    # reappearance is an update
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", "2024-01-07T00:00:00Z")])
    assert counts(audit, 4)["updated"] == 1
    assert [h["change_type"] for h in audit.history()] == ["insert", "delete", "update"]
    assert audit.current()[0]["_deleted_at"] is None
    live = audit.query("SELECT change_type FROM leads_history WHERE valid_to IS NULL")
    assert live == [{"change_type": "update"}]


def test_delete_of_unknown_record_writes_nothing(audit):
    run = audit.run([lead_schema(audit), deletion(audit, "404", "2024-01-05T00:00:00Z")])
    assert run.error is None
    assert audit.current() == []
    assert audit.history() == []
    assert counts(audit, 1)["unchanged"] == 1


def test_hard_delete_removes_the_current_row(audit):
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", "2024-01-01T00:00:00Z")])
    audit.run([lead_schema(audit), deletion(audit, "1", "2024-01-05T00:00:00Z")], hard_delete=True)
    assert audit.current() == []
    assert [h["change_type"] for h in audit.history()] == ["insert", "delete"]
    audit.run(
        [lead_schema(audit), lead(audit, "1", "Ann", "2024-01-09T00:00:00Z")], hard_delete=True
    )
    history = audit.history()
    # a record that comes back after a delete is an update, hard delete or not
    assert [h["change_type"] for h in history] == ["insert", "delete", "update"]
    assert audit.current()[0]["first_name"] == "Ann"
    # the delete version is closed when the record comes back
    assert history[1]["valid_to"] == history[2]["valid_from"]
    assert len(audit.query("SELECT 1 FROM leads_history WHERE valid_to IS NULL")) == 1
    # replaying the whole story changes nothing
    story = [
        lead_schema(audit),
        lead(audit, "1", "Ann", "2024-01-01T00:00:00Z"),
        deletion(audit, "1", "2024-01-05T00:00:00Z"),
        lead(audit, "1", "Ann", "2024-01-09T00:00:00Z"),
        deletion(audit, "1", "2024-01-10T00:00:00Z"),
    ]
    audit.run(story, hard_delete=True)
    before = audit.history()
    assert [h["change_type"] for h in before][-1] == "delete"
    audit.run(story, hard_delete=True)
    assert audit.history() == before
    assert audit.current() == []


def test_replaying_the_same_input_adds_no_history(audit):
    messages = [
        lead_schema(audit),
        *(lead(audit, str(i), f"N{i}", f"2024-01-01T00:00:{i:02d}Z") for i in range(30)),
        deletion(audit, "3", "2024-02-01T00:00:00Z"),
        lead(audit, "4", "Changed", "2024-02-01T00:00:00Z"),
        audit.state({"done": True}),
    ]
    audit.run(messages, batch_size_rows=7)
    before = audit.history()
    audit.run(messages, batch_size_rows=7)
    audit.run(messages, batch_size_rows=5)
    assert audit.history() == before
    # id 3's version predates its deletion and id 4's first version predates its update
    assert counts(audit, 3) == {
        "fetched": 32, "inserted": 0, "updated": 0, "unchanged": 30, "deleted": 0, "stale": 2
    }  # fmt: skip


def test_duplicates_within_one_batch_are_applied_in_order(audit):
    audit.run(
        [
            lead_schema(audit),
            lead(audit, "1", "A", "2024-01-01T00:00:00Z"),
            lead(audit, "1", "B", "2024-01-02T00:00:00Z"),
            lead(audit, "1", "A", "2024-01-01T00:00:00Z"),  # older: stale
            deletion(audit, "1", "2024-01-03T00:00:00Z"),
            lead(audit, "1", "C", "2024-01-04T00:00:00Z"),
        ]
    )
    history = audit.history()
    assert [(h["change_type"], h["first_name"]) for h in history] == [
        ("insert", "A"),
        ("update", "B"),
        ("delete", "B"),
        ("update", "C"),
    ]
    for older, newer in itertools.pairwise(history):
        assert older["valid_to"] == newer["valid_from"]
    assert history[-1]["valid_to"] is None
    assert counts(audit, 1)["stale"] == 1
    assert audit.current()[0]["first_name"] == "C"


def test_absent_properties_are_null_and_do_not_change_the_hash(audit):
    audit.run([lead_schema(audit), audit.record("leads", {"id": "1", "First_Name": "Ann"})])
    row = audit.current()[0]
    assert row["email"] is None
    assert row["lead_age_days"] is None
    # explicit nulls are the same content as absent properties
    audit.run(
        [
            lead_schema(audit),
            audit.record("leads", {"id": "1", "First_Name": "Ann", "Email": None}),
        ]
    )
    assert counts(audit, 2)["unchanged"] == 1


def test_schema_growth_adds_columns_without_spurious_updates(audit):
    audit.run([lead_schema(audit), lead(audit, "1", "Ann", "2024-01-01T00:00:00Z")])
    grown = dict(LEAD_PROPS, Phone="string", Tags={"type": ["null", "array"]})
    audit.run(
        [
            audit.schema("leads", grown, bookmarks=["Modified_Time"]),
            lead(audit, "1", "Ann", "2024-01-01T00:00:00Z", Phone=None),
            lead(audit, "2", "Bob", "2024-01-01T00:00:00Z", Phone="555", Tags=["a"]),
        ]
    )
    assert counts(audit, 2)["unchanged"] == 1
    assert counts(audit, 2)["inserted"] == 1
    columns = [row["name"] for row in audit.query("PRAGMA table_info(leads)")]
    assert columns[-2:] == ["phone", "tags"]
    hist_columns = [row["name"] for row in audit.query("PRAGMA table_info(leads_history)")]
    assert hist_columns[-2:] == ["phone", "tags"]
    assert audit.query("SELECT phone, tags FROM leads WHERE id = '2'") == [
        {"phone": "555", "tags": '["a"]'}
    ]
    # a property that vanishes keeps its column; records without it store NULL
    shrunk = {k: v for k, v in grown.items() if k != "Email"}
    audit.run(
        [
            audit.schema("leads", shrunk, bookmarks=["Modified_Time"]),
            lead(audit, "3", "Cy", "2024-01-01T00:00:00Z"),
        ]
    )
    assert "email" in [row["name"] for row in audit.query("PRAGMA table_info(leads)")]


def test_schema_change_mid_stream_keeps_order(audit):
    grown = dict(LEAD_PROPS, Phone="string")
    audit.run(
        [
            lead_schema(audit),
            lead(audit, "1", "A", "2024-01-01T00:00:00Z"),
            audit.schema("leads", grown, bookmarks=["Modified_Time"]),
            lead(audit, "1", "B", "2024-01-02T00:00:00Z", Phone="1"),
        ],
        batch_size_rows=100,
    )
    assert [(h["change_type"], h["first_name"]) for h in audit.history()] == [
        ("insert", "A"),
        ("update", "B"),
    ]


def test_incompatible_type_change_fails_with_a_sentence(audit):
    audit.run(
        [
            audit.schema("t", {"id": "string", "n": "integer"}),
            audit.record("t", {"id": "a", "n": 1}),
        ]
    )
    run = audit.run(
        [
            audit.schema("t", {"id": "string", "n": "string"}),
            audit.record("t", {"id": "a", "n": "x"}),
        ]
    )
    assert run.error is not None
    assert "changes property 'n' from integer to string on line 1" in str(run.error)
    assert audit.syncs()[-1]["status"] == "failed"
    assert audit.query("SELECT n FROM t") == [{"n": 1}]


def test_compatible_type_change_is_accepted(audit):
    audit.run(
        [
            audit.schema("t", {"id": "string", "n": "integer"}),
            audit.record("t", {"id": "a", "n": 1}),
        ]
    )
    run = audit.run(
        [
            audit.schema("t", {"id": "string", "n": "number"}),
            audit.record("t", {"id": "b", "n": 1.5}),
        ]
    )
    assert run.error is None
    assert audit.query("SELECT n FROM t ORDER BY id") == [{"n": 1}, {"n": 1.5}]


def test_key_change_fails(audit):
    audit.run([audit.schema("t", {"id": "string", "k": "string"}), audit.record("t", {"id": "a"})])
    run = audit.run(
        [
            audit.schema("t", {"id": "string", "k": "string"}, key=("k",)),
            audit.record("t", {"id": "a", "k": "x"}),
        ]
    )
    assert "changes its key properties from ['id'] to ['k']" in str(run.error)


def test_composite_and_missing_keys(audit):
    props = {"a": "string", "b": "integer", "v": "string"}
    audit.run(
        [
            audit.schema("c", props, key=("a", "b")),
            audit.record("c", {"a": "x", "b": 1, "v": "1"}),
            audit.record("c", {"a": "x", "b": 2, "v": "2"}),
        ]
    )
    audit.run(
        [
            audit.schema("c", props, key=("a", "b")),
            audit.record("c", {"a": "x", "b": 1, "v": "1"}),
            audit.record("c", {"a": "x", "b": 2, "v": "changed"}),
        ]
    )
    assert change_types_c(audit) == ["insert", "insert", "update"]


def change_types_c(audit):
    return [row["change_type"] for row in audit.history("c")]


def test_streams_without_keys_use_the_content_hash(audit):
    props = {"id": "integer", "metric": "integer"}
    messages = [
        audit.schema("nokey", props, key=()),
        audit.record("nokey", {"id": 1, "metric": 1}),
        audit.record("nokey", {"id": 1, "metric": 1}),
        audit.record("nokey", {"id": 1, "metric": 2}),
    ]
    audit.run(messages)
    audit.run(messages)
    assert audit.scalar("SELECT COUNT(*) FROM nokey") == 2
    assert [h["change_type"] for h in audit.history("nokey")] == ["insert", "insert"]


def test_column_name_collisions_are_deterministic(audit):
    props = {"id": "string", "firstName": "string", "first_name": "string", "First Name": "string",
             "valid_from": "string", "_sync_id": "string"}  # fmt: skip
    audit.run(
        [audit.schema("n", props), audit.record("n", dict.fromkeys(props, "v") | {"id": "1"})]
    )
    mapping = {
        row["property"]: row["column_name"]
        for row in audit.query("SELECT property, column_name FROM _audit_columns")
    }
    assert mapping == {
        "id": "id",
        "first_name": "first_name",
        "First Name": "first_name_2",
        "firstName": "first_name_3",
        "valid_from": "valid_from_2",
        "_sync_id": "_sync_id_2",
    }


def test_stream_named_like_a_reserved_table(audit):
    run = audit.run(
        [
            audit.schema("sync_log", {"id": "string"}),
            audit.record("sync_log", {"id": "1"}),
            audit.schema("sqlite_master", {"id": "string"}),
            audit.record("sqlite_master", {"id": "1"}),
        ]
    )
    assert run.error is None
    tables = {
        row["stream"]: row["table_name"]
        for row in audit.query("SELECT stream, table_name FROM _audit_streams")
    }
    assert tables == {"sync_log": "sync_log_2", "sqlite_master": "stream_sqlite_master"}
    assert audit.scalar('SELECT COUNT(*) FROM "sync_log_2"') == 1


@pytest.mark.parametrize("validate", [True, False])
def test_validation_setting(audit, validate):
    run = audit.run(
        [
            audit.schema("t", {"id": "string", "n": "integer"}),
            audit.record("t", {"id": "a", "n": "x"}),
        ],
        validate_records=validate,
    )
    if validate:
        assert "does not match its schema: property 'n' must be null or integer" in str(run.error)
    else:
        assert run.error is None
        assert audit.query("SELECT n FROM t") == [{"n": "x"}]


def test_object_keys_are_compared_as_canonical_json(audit):
    props = {"k": {"type": "object"}, "v": "string"}
    messages = [
        audit.schema("obj", props, key=("k",)),
        audit.record("obj", {"k": {"a": 1, "b": 2}, "v": "x"}),
        audit.record("obj", {"k": {"b": 2, "a": 1}, "v": "y"}),
    ]
    assert audit.run(messages).error is None
    assert audit.query("SELECT k, v FROM obj") == [{"k": '{"a":1,"b":2}', "v": "y"}]
    assert [row["change_type"] for row in audit.history("obj")] == ["insert", "update"]


def test_replay_decides_alike_whether_a_batchs_keys_are_close_together_or_scattered(
    audit, monkeypatch
):
    """The stored state is read by one range scan of the key column, or key by key when
    the batch's keys are spread over many other rows: both give the same decisions."""
    import target_sqlite_audit.keyreads as keyreads

    paths: list[str] = []
    real_fetch_range = keyreads.fetch_range

    def spy(conn, sql, keys):
        found = real_fetch_range(conn, sql, keys)
        paths.append("by key" if found is None else "range")
        return found

    monkeypatch.setattr(keyreads, "fetch_range", spy)
    # Keys whose byte order is not their "natural" order: digits, upper before lower
    # case, accents after ASCII, a few multi-byte characters.
    keys = sorted(
        [f"{i:04d}" for i in range(300)]
        + [f"Z{i}" for i in range(40)]
        + [f"a{i}" for i in range(40)]
        + [f"é{i}" for i in range(30)]
        + [f"日本{i}" for i in range(30)]
    )
    schema = lead_schema(audit)
    first = [lead(audit, k, "Ann", "2024-01-01T00:00:00Z") for k in keys]
    assert audit.run([schema, *first], batch_size_rows=100).error is None

    close = keys[100:200]  # neighbours: one range
    scattered = keys[::4]  # spread over every other row: looked up key by key
    changed = set(close[::10]) | set(scattered[::10])
    new_keys = [f"{k}-new" for k in keys[::40]]
    replay = [
        lead(audit, k, "Bob" if k in changed else "Ann", "2024-01-02T00:00:00Z"
             if k in changed else "2024-01-01T00:00:00Z")
        for k in [*close, *scattered, *new_keys]
    ]  # fmt: skip
    paths.clear()
    assert audit.run([schema, *replay], batch_size_rows=100).error is None

    assert "range" in paths
    assert "by key" in paths
    counts = audit.query(
        "SELECT records_inserted, records_updated, records_unchanged FROM sync_log_streams "
        "WHERE sync_id = 2"
    )[0]
    distinct_changed = len(changed)
    assert counts == {
        "records_inserted": len(new_keys),
        "records_updated": distinct_changed,
        "records_unchanged": len(close) + len(scattered) - distinct_changed,
    }
    current = {row["id"]: row["first_name"] for row in audit.current()}
    assert len(current) == len(keys) + len(new_keys)
    assert {k for k, name in current.items() if name == "Bob"} == changed
    # every key still has exactly one open version
    open_versions = audit.query(
        'SELECT id, count(*) AS n FROM "leads_history" WHERE is_current = 1 GROUP BY id'
    )
    assert len(open_versions) == len(current)
    assert all(row["n"] == 1 for row in open_versions)


def test_a_utf16_database_finds_every_stored_key_again(audit):
    """UTF-16 text does not sort by code point (a key range from Python's min and max would
    leave keys out), so such a file's keys are looked up one by one."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(audit.database)) as conn:
        conn.execute("PRAGMA encoding = 'UTF-16le'")
        conn.execute("CREATE TABLE notes_of_the_team (note TEXT)")  # fixes the encoding
        conn.commit()
    # In UTF-16le bytes "a" (61 00) sorts after "Ā" (00 01) and "😀" before "豈".
    keys = [f"{prefix}{i:03d}" for prefix in ("a", "Ā", "z", "豈", "😀") for i in range(30)]
    schema = lead_schema(audit)
    batch = [lead(audit, k, "Ann", "2024-01-01T00:00:00Z") for k in keys]
    assert audit.run([schema, *batch]).error is None
    assert audit.scalar("PRAGMA encoding") == "UTF-16le"
    assert audit.run([schema, *batch]).error is None
    counts = audit.query(
        "SELECT records_inserted, records_unchanged FROM sync_log_streams WHERE sync_id = 2"
    )[0]
    assert counts == {"records_inserted": 0, "records_unchanged": len(keys)}
    assert len(audit.history()) == len(keys)


@pytest.mark.parametrize("closed", [False, True])
def test_sdk_metadata_in_records_is_neither_stored_nor_a_change(audit, closed):
    """With or without a schema that forbids other properties (then the metadata is popped)."""
    schema = lead_schema(audit)
    if closed:
        schema["schema"]["additionalProperties"] = False
    stamp = lambda at: {"_sdc_extracted_at": at, "_sdc_sequence": 1}  # noqa: E731
    first = audit.run([schema, lead(audit, "1", "Ann", "2024-01-01T10:00:00Z", **stamp("a"))])
    assert first.error is None
    again = audit.run([schema, lead(audit, "1", "Ann", "2024-01-01T10:00:00Z", **stamp("b"))])
    assert again.error is None
    assert change_types(audit) == [("1", "insert")]
    columns = {row["name"] for row in audit.query("SELECT name FROM pragma_table_info('leads')")}
    assert not any(name.startswith("_sdc_extracted") or name == "_sdc_sequence" for name in columns)
