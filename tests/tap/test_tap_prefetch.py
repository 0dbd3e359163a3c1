"""Get Records prefetch: page N+1 is requested while page N's records are emitted.

No wall-clock assertions: overlap is shown by ordering. The last record of every page waits
(at most a generous liveness bound) until the request for the next page has started; the
sequential loop would only start that request after the record, so it would never arrive.
"""

from __future__ import annotations

import threading
import typing as t
import urllib.parse

import pytest

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.streams import ZohoModuleStream

PAGE = 100
LEADS = 600
SIZES = {"Leads": LEADS, "Contacts": 0, "Deals": 0}
#: Liveness bound for "the next request has started" (never reached when it overlaps).
PATIENCE_SECONDS = 30.0


def _is_leads_listing(prepared: t.Any) -> bool:
    return urllib.parse.urlsplit(prepared.url).path.endswith("/crm/v8/Leads")


class Probe:
    """Hooks the module streams' ``_request`` and record emission, logging their order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail_listing: int | None = None):
        self.lock = threading.Condition()
        self.started = 0  # Leads listing requests started
        self.in_flight = 0
        self.max_in_flight = 0
        self.threads: list[str] = []
        self.events: list[tuple[str, int]] = []
        self.emitted = 0
        self.waits_timed_out = 0
        original_request = ZohoModuleStream._request
        original_emit = ZohoModuleStream._generate_record_messages

        def request(stream: t.Any, prepared: t.Any, context: t.Any) -> t.Any:
            listing = _is_leads_listing(prepared)
            if listing:
                with self.lock:
                    self.started += 1
                    number = self.started
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    self.threads.append(threading.current_thread().name)
                    self.events.append(("request", number))
                    self.lock.notify_all()
            try:
                if listing and number == fail_listing:
                    msg = "injected failure"
                    raise ZohoAPIError(msg)
                return original_request(stream, prepared, context)
            finally:
                if listing:
                    with self.lock:
                        self.in_flight -= 1

        def emit(stream: t.Any, record: t.Any) -> t.Any:
            if stream.name == "leads" and record.get("_sdc_deleted_at") is None:
                self.emitted += 1
                if self.emitted % PAGE == 0 and self.emitted < LEADS:
                    # Last record of a page: the next page's request must already be under way.
                    with self.lock:
                        page = self.emitted // PAGE
                        if not self.lock.wait_for(
                            lambda: self.started > page, timeout=PATIENCE_SECONDS
                        ):
                            self.waits_timed_out += 1
                self.events.append(("record", self.emitted))
            return original_emit(stream, record)

        monkeypatch.setattr(ZohoModuleStream, "_request", request)
        monkeypatch.setattr(ZohoModuleStream, "_generate_record_messages", emit)


def _prefetch_threads() -> list[str]:
    return [th.name for th in threading.enumerate() if "-prefetch" in th.name]


def _bookmarks(run: t.Any) -> list[t.Any]:
    return [
        state.get("bookmarks", {}).get("leads", {}).get("replication_key_value")
        for state in run.states
    ]


def _leads_calls(emu: t.Any) -> int:
    return emu.stats()["calls"].get("records:Leads", 0)


@pytest.mark.slow
def test_next_page_is_requested_while_the_page_is_emitted(
    start_emulator, tap_config, run_tap, monkeypatch
):
    # Sequential reference: the SDK's own loop (what the tap did before the prefetch).
    reference_emu = start_emulator(seed=31, sizes=SIZES, latency_ms=20)
    with monkeypatch.context() as patch:
        patch.setattr(ZohoModuleStream, "request_records", ZohoStream.request_records)
        sequential = run_tap(
            tap_config(
                reference_emu, page_size=PAGE, pagination="page_token", max_concurrent_requests=1
            )
        )
    sequential_calls = _leads_calls(reference_emu)

    emu = start_emulator(seed=31, sizes=SIZES, latency_ms=20)
    probe = Probe(monkeypatch)
    # One stream at a time: the prefetch within a stream's read is the subject here
    # (streams read concurrently: test_tap_concurrency.py).
    run = run_tap(
        tap_config(emu, page_size=PAGE, pagination="page_token", max_concurrent_requests=1)
    )

    # Overlap: each page's last record was emitted only once the next request had started.
    assert probe.waits_timed_out == 0
    for page in range(1, LEADS // PAGE):
        next_request = probe.events.index(("request", page + 1))
        assert next_request < probe.events.index(("record", page * PAGE))
    # The pages after the first were requested from the worker, one at a time.
    assert probe.max_in_flight == 1
    assert probe.threads[0] == "MainThread"
    assert all("-prefetch" in name for name in probe.threads[1:])
    # Same calls, records and checkpoints as the sequential loop; no thread left behind.
    assert _leads_calls(emu) == sequential_calls == LEADS // PAGE
    assert run.records("leads") == sequential.records("leads")
    # (Bookmarks; the deletion keys hold the emulator's clock, which differs between runs.)
    assert _bookmarks(run) == _bookmarks(sequential)
    assert _prefetch_threads() == []


def test_a_failed_prefetch_surfaces_after_the_previous_page(
    start_emulator, tap_config, run_tap, monkeypatch
):
    emu = start_emulator(seed=32, sizes=SIZES, latency_ms=5)
    probe = Probe(monkeypatch, fail_listing=3)

    with pytest.raises(ZohoAPIError, match="injected failure"):
        run_tap(tap_config(emu, page_size=PAGE, pagination="page_token"))

    # Pages 1 and 2 were emitted whole before the third request's error was raised, and no
    # request was made after it.
    assert probe.emitted == 2 * PAGE
    assert probe.started == 3
    assert _leads_calls(emu) == 2
    assert _prefetch_threads() == []
