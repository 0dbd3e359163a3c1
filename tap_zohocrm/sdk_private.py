"""The fence around singer-sdk's private members: every one the tap uses is declared here.

``PRIVATE_MEMBERS`` names each private method the tap overrides or calls (with its parameter
names) and each private attribute it reads; ``tests/tap/test_tap_sdk_contract.py`` checks they
still exist in singer-sdk with that shape, and that the tap's code uses no other, so an
upgrade that changes one fails one named test instead of a sync.
"""

from __future__ import annotations

__all__ = ["FINAL_OVERRIDES", "PRIVATE_MEMBERS"]

#: ``"<singer-sdk class>.<member>"`` -> its parameter names (a method) or ``None`` (an
#: attribute its ``__init__`` or methods set).
PRIVATE_MEMBERS: dict[str, tuple[str, ...] | None] = {
    # Overridden: checkpoints from the bookmark tracker, records built without a copy.
    "Stream._increment_stream_state": ("self", "latest_record", "context"),
    "Stream._generate_record_messages": ("self", "record"),
    # Overridden: a SIGTERM's final STATE waits for the emit lock (concurrent syncs).
    "Tap._handle_termination": ("self", "signum", "frame"),
    # Overridden: one sentence for bad settings, in discovery too.
    "PluginBase._validate_config": ("self", "raise_errors"),
    # Called: one prepared request and its send (re-reads and keyset queries).
    "_HTTPStream._prepare_request": ("self", "context", "page"),
    "_HTTPStream._request": ("self", "prepared_request", "context"),
    # Read or set: the schema built on first use, the catalog's entry, the replication key.
    "Stream._schema": None,
    "Stream._input_schema": None,
    "Stream._tap_input_catalog": None,
    "Stream._replication_key": None,
    "Stream._stream_version": None,
    "Stream._logger": None,
    # Set: the cached session, replaced by one behind the request gate.
    "_HTTPStream._requests_session": None,
}

#: Public singer-sdk methods marked final that the tap overrides anyway, with their
#: parameter names: ``Stream.sync`` decides on which thread singer-sdk's own sync of a module
#: stream runs (concurrency.py) and then calls it unchanged.
FINAL_OVERRIDES: dict[str, tuple[str, ...]] = {
    "Stream.sync": ("self", "context"),
}
