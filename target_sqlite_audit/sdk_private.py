"""The fence around singer-sdk's private members: every one the target uses is declared here.

The target overrides the SDK's message handlers (a STATE only after its batch committed, the
sync log, one-sentence errors) and reads a few of its attributes. ``PRIVATE_MEMBERS`` names
each with its parameter names (a method) or ``None`` (an attribute);
``tests/target/test_target_sdk_contract.py`` checks they still exist in singer-sdk with that shape,
and that the target's code uses no other, so an upgrade that changes one fails one named test.
"""

from __future__ import annotations

__all__ = ["PRIVATE_MEMBERS"]

PRIVATE_MEMBERS: dict[str, tuple[str, ...] | None] = {
    # Overridden message handlers.
    "Target._process_schema_message": ("self", "message_dict"),
    "Target._process_record_message": ("self", "message_dict"),
    "Target._process_activate_version_message": ("self", "message_dict"),
    "Target._process_batch_message": ("self", "message_dict"),
    "Target._process_state_message": ("self", "message_dict"),
    "Target._write_state_message": ("self", "state"),
    # Signals: the SIGTERM/SIGHUP handler that records `failed` in the sync log.
    "PluginBase._setup_signal_handlers": ("self",),
    "Target._handle_termination": ("self", "signum", "frame"),
    # Called: the SDK's drain of sinks whose records are too old.
    "Target._handle_max_record_age": ("self",),
    "Target._MAX_RECORD_AGE_IN_MINUTES": None,
    # Read: the active sinks, the last STATE and drain time.
    "Target._sinks_active": None,
    "Target._latest_state": None,
    "Target._last_full_drain_at": None,
    # Sink internals the fast batch path uses.
    "Sink._add_sdc_metadata_to_record": ("self", "record", "message", "context"),
    "Sink._remove_sdc_metadata_from_schema": ("self",),
    "Sink._remove_sdc_metadata_from_record": ("self", "record"),
    "Sink._context_draining": None,
    "Sink._key_properties": None,
    "Sink._record_counter": None,
    "Sink._validator": None,
}
