"""The adversary's medium and low findings (issue 20): each one sentence or exact, never lost."""

from __future__ import annotations

import pytest

BIG = 2**53 + 1


def test_a_number_key_beyond_2_53_is_refused_not_merged(audit):
    schema = audit.schema("s", {"id": "number", "v": "string"})
    run = audit.run([schema, audit.record("s", {"id": BIG, "v": "a"})])
    assert run.error is not None
    assert "cannot keep exactly (beyond 2^53)" in str(run.error)
    assert "line 2" in str(run.error)


def test_integers_beyond_int64_in_state_and_records_stay_exact(audit):
    schema = audit.schema("s", {"id": "string", "n": "integer"})
    huge = 123456789012345678901234567890
    run = audit.run([schema, audit.record("s", {"id": "a", "n": 1}), audit.state({"big": huge})])
    assert run.error is None
    assert run.states == [{"big": huge}]  # not rounded through a float
    bad = audit.run([schema, audit.record("s", {"id": "b", "n": huge})])
    assert "outside the 64-bit range" in str(bad.error)


def test_a_tap_property_named_sdc_is_data_and_its_change_counts(audit):
    schema = audit.schema("s", {"id": "string", "_sdc_lsn": "string"})
    audit.run([schema, audit.record("s", {"id": "a", "_sdc_lsn": "1"})])
    audit.run([schema, audit.record("s", {"id": "a", "_sdc_lsn": "2"})])
    assert [h["change_type"] for h in audit.history("s")] == ["insert", "update"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_replication_key_at_the_ends_of_time_is_stored_on_every_rerun(audit, moment):
    props = {"id": "string", "t": {"type": ["null", "string"], "format": "date-time"}}
    schema = audit.schema("s", props, bookmarks=["t"])
    for _ in range(2):
        run = audit.run([schema, audit.record("s", {"id": "a", "t": moment}), audit.state({})])
        assert run.error is None, run.error
    assert audit.current("s")[0]["t"] == moment


def test_integer_to_number_widening_writes_no_update(audit):
    audit.run(
        [
            audit.schema("s", {"id": "string", "n": "integer"}),
            audit.record("s", {"id": "a", "n": 5}),
        ]
    )
    audit.run(
        [
            audit.schema("s", {"id": "string", "n": "number"}),
            audit.record("s", {"id": "a", "n": 5.0}),
        ]
    )
    assert [h["change_type"] for h in audit.history("s")] == ["insert"]
