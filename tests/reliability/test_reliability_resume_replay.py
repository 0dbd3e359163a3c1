"""A resumed run never skips a real change (the replay window after an emitted STATE).

A failed or killed run that wrote key K as A, B, A and emitted STATE after B is resumed from
that STATE (as Meltano does): the rerun sends the remaining A, then a real change to B. Only
the versions written after the last STATE may be taken for replays, so B must be written.
This hits streams whose values change back without a replication key that moves: no
replication key, formula fields with a fixed Modified_Time, CDC keys.
"""

from __future__ import annotations

import pytest

PROPS = {"id": "string", "status": "string"}
#: One record per transaction: every STATE is emitted as soon as it is read, as in a long
#: sync whose batches fill between the tap's STATE messages.
SMALL_BATCHES = {"batch_size_rows": 1}


def schema(audit, bookmarks=None):
    return audit.schema("tickets", PROPS, bookmarks=bookmarks)


def rec(audit, status, **extra):
    return audit.record("tickets", {"id": "K", "status": status, **extra})


def test_a_change_back_after_the_resumed_state_is_written(audit):
    failed = audit.run(
        [
            schema(audit),
            rec(audit, "open"),
            rec(audit, "closed"),
            audit.state({"position": 2}),
            rec(audit, "open"),
            "{not json",
        ],
        **SMALL_BATCHES,
    )
    assert failed.error is not None
    assert failed.states == [{"position": 2}]
    assert audit.current("tickets")[0]["status"] == "open"

    # Meltano resumes from the last STATE it received: the rest of the input, then new input.
    resumed = audit.run(
        [schema(audit), rec(audit, "open"), rec(audit, "closed"), audit.state({"position": 4})],
        **SMALL_BATCHES,
    )
    assert resumed.error is None
    assert audit.current("tickets")[0]["status"] == "closed"
    versions = [(h["change_type"], h["status"]) for h in audit.history("tickets")]
    assert versions == [
        ("insert", "open"),
        ("update", "closed"),
        ("update", "open"),
        ("update", "closed"),
    ]
    [live] = [h for h in audit.history("tickets") if h["valid_to"] is None]
    assert live["status"] == "closed"


def test_a_rerun_of_the_whole_input_after_a_state_still_writes_nothing_twice(audit):
    story = [schema(audit), rec(audit, "open"), audit.state({"p": 1}), rec(audit, "closed")]
    first = audit.run([*story, "{not json"], **SMALL_BATCHES)
    assert first.error is not None
    assert first.states == [{"p": 1}]
    # Resumed from the STATE: the versions after it are replays, written once.
    audit.run([schema(audit), rec(audit, "closed"), audit.state({"p": 2})], **SMALL_BATCHES)
    versions = [(h["change_type"], h["status"]) for h in audit.history("tickets")]
    assert versions == [("insert", "open"), ("update", "closed")]


@pytest.mark.parametrize("kills", [1, 2])
def test_consecutive_failures_then_a_resume_keep_every_change(audit, kills):
    runs = [
        [schema(audit), rec(audit, "a"), rec(audit, "b"), audit.state({"p": 1}), rec(audit, "a")],
        [schema(audit), rec(audit, "a"), rec(audit, "b"), audit.state({"p": 2}), rec(audit, "c")],
    ][:kills]
    for messages in runs:
        assert audit.run([*messages, "{not json"], **SMALL_BATCHES).error is not None
    resumed = [schema(audit), rec(audit, "a" if kills == 1 else "c"), rec(audit, "b")]
    audit.run(resumed, **SMALL_BATCHES)
    assert audit.current("tickets")[0]["status"] == "b"
    assert audit.history("tickets")[-1]["status"] == "b"
