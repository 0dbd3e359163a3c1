"""The one place the tap reaches into a private singer-sdk member for concurrency.

``tests/test_tap_sdk_contract.py`` checks the member still exists with this signature, so a
singer-sdk upgrade that changes it fails one named test instead of a sync.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

__all__ = ["write_starting_value"]


def write_starting_value(stream: Stream) -> None:
    """Write the stream's starting bookmark into its state, as its sync would first do.

    The concurrent reads start a stream before singer-sdk syncs it; the read takes its
    starting value from the state, so the main thread writes it beforehand (singer-sdk
    writes the same value again when the stream's sync begins).
    """
    stream._write_starting_replication_value(None)
