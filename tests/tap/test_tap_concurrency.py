"""Module streams synced concurrently: the same records as one at a time (interleaved), never
more than N calls in flight, STATE messages that describe only what came before them, and kill
and resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tap_complete_kit import assert_valid_singer_order

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
SIZES = {"Leads": 900, "Contacts": 700, "Deals": 500, "Accounts": 600, "Campaigns": 400}
MODULES = ["Accounts", "Campaigns"]
STREAMS = ("accounts", "campaigns", "contacts", "deals", "leads")


def per_stream(run):
    return {s: sorted(json.dumps(r) for r in run.records(s)) for s in STREAMS}


@pytest.mark.slow
@pytest.mark.parametrize("read_method", ["rest", "coql"])
def test_concurrent_output_equals_one_stream_at_a_time(
    read_method, start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=71, sizes=SIZES, latency_ms=15, max_concurrent_calls=3)
    config = tap_config(emu, modules=MODULES, read_method=read_method, page_size=100)
    sequential = run_tap({**config, "max_concurrent_requests": 1})
    assert emu.stats()["max_in_flight"] == 1
    emu.reset_stats()
    concurrent = run_tap({**config, "max_concurrent_requests": 3})
    stats = emu.stats()
    assert stats["max_in_flight"] == 3  # the reads really overlapped ...
    assert "429" not in stats["status_counts"]  # ... and never passed the org's limit
    assert per_stream(concurrent) == per_stream(sequential)
    assert_valid_singer_order(concurrent.messages)
    # Each stream's records are written while the others wait for Zoho: they interleave
    # (a sequential run writes one block per stream).
    order = [m["stream"] for m in concurrent.messages if m["type"] == "RECORD"]
    blocks = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
    if read_method == "rest":  # COQL reads each of these modules in one call: one block
        assert len(blocks) > len(set(blocks))

    # ... but their SCHEMA messages come in sync order (targets number tables by it).
    def schemas(run):
        return [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]

    assert schemas(concurrent) == schemas(sequential)
    before = [m["stream"] for m in sequential.messages if m["type"] == "RECORD"]
    assert len([s for i, s in enumerate(before) if i == 0 or before[i - 1] != s]) == len(
        set(before)
    )
    for stream in STREAMS:
        assert (
            concurrent.state["bookmarks"][stream]["replication_key_value"]
            == sequential.state["bookmarks"][stream]["replication_key_value"]
        )


@pytest.mark.slow
def test_never_more_calls_in_flight_than_the_setting(start_emulator, tap_config, run_tap):
    emu = start_emulator(seed=72, sizes=SIZES, latency_ms=20, max_concurrent_calls=2)
    config = tap_config(emu, modules=MODULES, read_method="rest", page_size=100)
    run_tap({**config, "max_concurrent_requests": 2})
    stats = emu.stats()
    assert stats["max_in_flight"] == 2
    assert "429" not in stats["status_counts"]


def test_the_emulator_refuses_calls_past_its_limit(
    start_emulator, tap_config, run_tap, fast_backoff, monkeypatch
):
    monkeypatch.setattr(ZohoStream, "MAX_TRIES", 2)
    emu = start_emulator(seed=73, sizes=SIZES, latency_ms=20, max_concurrent_calls=1)
    config = tap_config(emu, modules=MODULES, read_method="rest", page_size=100)
    with pytest.raises(ZohoAPIError) as excinfo:  # more at once than the org allows
        run_tap({**config, "max_concurrent_requests": 3})
    assert emu.stats()["status_counts"]["429"] > 0
    assert "TOO_MANY_REQUESTS" in excinfo.value.sentence
    assert "\n" not in excinfo.value.sentence


def test_a_failing_stream_stops_the_others_and_leaves_no_thread(
    start_emulator, tap_config, monkeypatch
):
    import io
    import threading
    import urllib.parse
    from contextlib import redirect_stdout

    from tap_zohocrm.streams import ZohoModuleStream
    from tap_zohocrm.tap import TapZohoCRM

    emu = start_emulator(seed=74, sizes=SIZES, latency_ms=10)
    config = tap_config(emu, modules=MODULES, read_method="rest", page_size=100)
    original = ZohoModuleStream._request
    calls = {"n": 0}

    def request(stream, prepared, context):
        if urllib.parse.urlsplit(prepared.url).path.endswith("/crm/v8/Contacts"):
            calls["n"] += 1
            if calls["n"] == 3:
                raise ZohoAPIError("injected failure")
        return original(stream, prepared, context)

    monkeypatch.setattr(ZohoModuleStream, "_request", request)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ZohoAPIError, match="injected failure"):
        TapZohoCRM(config={**config, "max_concurrent_requests": 3}).sync_all()
    # The streams syncing beside it stopped (their threads and page prefetchers ended) ...
    left = [t.name for t in threading.enumerate() if t.name.endswith(("-sync", "-prefetch"))]
    assert left == []
    # ... after whole messages that are valid Singer, each STATE after what it covers.
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert_valid_singer_order(messages)
    contacts = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "contacts"]
    assert 100 < len(contacts) <= 200  # the two pages before the failure (less repeats)
