"""The target's bad-input corpus: each entry fails with one sentence and keeps what committed.

Checked in-process in tests/target/test_target_failures.py and, for a handful, through the
real command in tests/reliability/test_reliability_input.py.
"""

from __future__ import annotations

import json

PROPS = {
    "id": "string",
    "First_Name": "string",
    "Lead_Age_Days": "integer",
    "Owner": {"type": ["null", "object"], "properties": {"id": {"type": "string"}}},
}
SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            name: ({"type": ["null", spec]} if isinstance(spec, str) else spec)
            for name, spec in PROPS.items()
        },
    },
}


def rec(record: dict) -> str:
    return json.dumps({"type": "RECORD", "stream": "leads", "record": record})


# Lines 1-4 commit (batch_size_rows=2 drains after line 3); the bad input starts on line 5.
PREFIX = [
    json.dumps(SCHEMA),
    rec({"id": "1", "First_Name": "Ann"}),
    rec({"id": "2", "First_Name": "Bob"}),
    json.dumps({"type": "STATE", "value": {"bookmarks": {"leads": 2}}}),
]
BAD_LINE = len(PREFIX) + 1


def schema_line(stream="leads", **changes) -> str:
    message = json.loads(json.dumps(SCHEMA))
    message["stream"] = stream
    message.update(changes)
    return json.dumps(message)


# (id, lines after the prefix, text the sentence must contain, stream named or None)
BAD_INPUTS = [
    ("truncated-json", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3"'],
     "is not valid JSON: the line is truncated", "leads"),
    ("not-json", ["this is not json"], "is not valid JSON", None),
    ("trailing-garbage", [rec({"id": "3"}) + " xyz"], "is not valid JSON", "leads"),
    ("json-array", ["[1, 2, 3]"], "is not a JSON object but an array", None),
    ("json-string", ['"RECORD"'], "is not a JSON object but a string", None),
    ("json-null", ["null"], "is not a JSON object but null", None),
    ("no-type", ['{"stream": "leads", "record": {"id": "3"}}'], 'without a "type"', "leads"),
    ("unknown-type", ['{"type": "RECORDS", "stream": "leads"}'], "unknown message type", "leads"),
    ("type-not-string", ['{"type": 1, "stream": "leads"}'], "unknown message type", "leads"),
    ("record-before-schema", ['{"type": "RECORD", "stream": "contacts", "record": {"id": "1"}}'],
     "arrived before any SCHEMA", "contacts"),
    ("record-without-stream", ['{"type": "RECORD", "record": {"id": "1"}}'],
     'has no "stream" name', None),
    ("record-not-object", ['{"type": "RECORD", "stream": "leads", "record": [1]}'],
     "has no record object", "leads"),
    ("record-null", ['{"type": "RECORD", "stream": "leads", "record": null}'],
     "has no record object", "leads"),
    ("missing-key", [rec({"First_Name": "Cy"})], "has key property 'id' missing", "leads"),
    ("null-key", [rec({"id": None, "First_Name": "Cy"})], "has key property 'id' null", "leads"),
    ("wrong-type", [rec({"id": "3", "Lead_Age_Days": "old"})],
     "does not match its schema: property 'Lead_Age_Days' must be null or integer", "leads"),
    ("wrong-key-type", [rec({"id": 3})], "property 'id' must be null or string", "leads"),
    ("wrong-nested-type", [rec({"id": "3", "Owner": {"id": 5}})],
     "property 'Owner.id' must be string", "leads"),
    ("bool-for-integer", [rec({"id": "3", "Lead_Age_Days": True})],
     "must be null or integer", "leads"),
    ("schema-without-properties",
     ['{"type": "SCHEMA", "stream": "x", "schema": {"type": "object"}, "key_properties": []}'],
     'has no "properties" object', "x"),
    ("schema-properties-list",
     ['{"type": "SCHEMA", "stream": "x", "schema": {"properties": []}, "key_properties": []}'],
     'has no "properties" object', "x"),
    ("schema-without-stream", ['{"type": "SCHEMA", "schema": {"properties": {}}}'],
     'has no "stream" name', None),
    ("schema-key-not-a-property", [schema_line("x", key_properties=["nope"])],
     "names key property 'nope', which is not among its properties", "x"),
    ("schema-key-not-a-list", [schema_line("x", key_properties="id")],
     "key_properties that are not a list", "x"),
    ("schema-invalid-json-schema",
     [json.dumps({"type": "SCHEMA", "stream": "x", "key_properties": [],
                  "schema": {"properties": {"a": {"type": "no-such-type"}}}})],
     "is not a valid JSON schema", "x"),
    ("schema-type-changes-midway",
     [schema_line(schema={"properties": {"id": {"type": "string"},
                                          "First_Name": {"type": "integer"}}}),
      rec({"id": "3", "First_Name": 3})],
     "changes property 'First_Name' from string to integer", "leads"),
    ("schema-key-changes", [schema_line(key_properties=["First_Name"])],
     "changes its key properties from ['id'] to ['First_Name']", "leads"),
    ("integer-beyond-64-bit", [rec({"id": "3", "Lead_Age_Days": 18446744073709551615})],
     "property 'Lead_Age_Days' holds an integer outside", "leads"),
    ("integer-beyond-u64", [rec({"id": "3", "Lead_Age_Days": 10**30})],
     "property 'Lead_Age_Days' holds an integer outside the 64-bit range", "leads"),
    ("lone-surrogate", ['{"type": "RECORD", "stream": "leads", "record": {"id": "\\ud800"}}'],
     "is not valid JSON", "leads"),
    ("nan", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3", "n": NaN}}'],
     "is not valid JSON", "leads"),
    ("state-without-value", ['{"type": "STATE"}'], "is not a valid Singer message", None),
    ("activate-version-unknown-stream",
     ['{"type": "ACTIVATE_VERSION", "stream": "zz", "version": 1}'],
     "which has no SCHEMA yet", "zz"),
    ("batch-unknown-stream",
     ['{"type": "BATCH", "stream": "zz", "encoding": {"format": "jsonl"}, "manifest": []}'],
     "which has no SCHEMA yet", "zz"),
    ("deep-nesting", ['{"type": "RECORD", "stream": "leads", "record": {"id": "3", "x": '
                      + "[" * 2000 + "]" * 2000 + "}}"], "is not valid JSON", "leads"),
]  # fmt: skip
