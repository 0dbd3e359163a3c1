"""The private singer-sdk members the tap relies on still exist with the expected shape."""

from __future__ import annotations

import inspect

from singer_sdk.streams import Stream


def test_write_starting_replication_value_takes_a_context():
    member = Stream._write_starting_replication_value
    assert list(inspect.signature(member).parameters) == ["self", "context"]
