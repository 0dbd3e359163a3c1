"""A hostile or broken server: useless HTTP 200 answers never end a stream "successfully".

An HTML page, a Zoho error body, truncated JSON, or ``more_records`` with no data, in the
middle of paging, is retried like a 5xx; when it persists the run fails with one sentence and
no STATE claims more than was fully read, so a resume from the last STATE loses nothing.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.tap import TapZohoCRM

KINDS = ["html", "error", "truncated", "more_without_data"]


@pytest.fixture
def emulator_defaults() -> dict:
    """Like the tap tier: no recycle-bin entries from before the first sync."""
    return {"deleted_fraction": 0.0}


def run_capturing(config, state=None):
    """Run the tap in-process; return (messages, error) even when the run fails."""
    out = io.StringIO()
    error = None
    with contextlib.redirect_stdout(out):
        try:
            TapZohoCRM(config=config, state=state).sync_all()
        except ZohoAPIError as ex:
            error = ex
    messages = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return messages, error


def live_ids(messages, stream="leads"):
    return {
        m["record"]["id"]
        for m in messages
        if m["type"] == "RECORD"
        and m["stream"] == stream
        and m["record"].get("_sdc_deleted_at") is None
    }


def last_state(messages):
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


@pytest.mark.parametrize("kind", KINDS)
def test_a_useless_200_page_is_retried_and_nothing_is_lost(
    kind, start_emulator, tap_config, fast_backoff
):
    emu = start_emulator(seed=91, sizes={"Leads": 1500}, fail_garbage=0.3, garbage_kind=kind)
    messages, error = run_capturing(tap_config(emu))
    assert error is None
    assert live_ids(messages) == {r["id"] for r in emu.records("Leads")}
    assert emu.faults._garbage or emu.stats()["status_counts"]["200"] > 8


@pytest.mark.parametrize("kind", KINDS)
def test_a_persistently_useless_page_fails_in_one_sentence_and_resume_loses_nothing(
    kind, start_emulator, tap_config, fast_backoff
):
    emu = start_emulator(
        seed=92,
        sizes={"Leads": 1000, "Contacts": 5, "Deals": 5},
        fail_garbage=1.0,
        garbage_kind=kind,
        fail_garbage_after_calls=3,
        shared_second_fraction=0.5,
    )
    config = tap_config(emu)
    messages, error = run_capturing(config)
    assert error is not None
    sentence = error.sentence
    assert "HTTP 200 but" in sentence
    assert "still failing after" in sentence
    assert "\n" not in sentence
    read = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "leads"]
    state = last_state(messages)
    bookmark = (state or {}).get("bookmarks", {}).get("leads", {}).get("replication_key_value")
    if bookmark is not None:
        # Never past what was fully read: some record read is newer than the bookmark
        # (the possibly incomplete newest second is not claimed).
        newest = max(parse_instant(r["Modified_Time"]) for r in read)
        assert parse_instant(bookmark) < newest

    emu.set_faults(fail_garbage=0.0)
    resumed, error = run_capturing(config, state=state)
    assert error is None
    assert live_ids(messages) | live_ids(resumed) == {r["id"] for r in emu.records("Leads")}


def test_a_deleted_listing_that_never_ends_stops_in_one_sentence(
    start_emulator, tap_config, fast_backoff
):
    emu = start_emulator(seed=93, sizes={"Leads": 30, "Contacts": 5, "Deals": 5})
    emu.mutate("delete", module="Leads", count=3)
    emu.config.deleted_loop = True
    _, error = run_capturing(tap_config(emu))
    assert error is not None
    assert "sent the same page again" in error.sentence
    assert (
        emu.stats()["calls"]["deleted:Contacts"] + emu.stats()["calls"].get("deleted:Leads", 0) <= 4
    )


def test_a_record_dated_in_year_9999_does_not_freeze_the_bookmark(
    start_emulator, tap_config, run_tap
):
    emu = start_emulator(seed=94, sizes={"Leads": 300, "Contacts": 5, "Deals": 5})
    config = tap_config(emu)
    [future] = emu.mutate("edit", module="Leads", count=1, modified=253402300000)  # 9999
    first = run_tap(config)
    assert future in first.ids("leads")
    bookmark = first.state["bookmarks"]["leads"]["replication_key_value"]
    assert not bookmark.startswith("9999")
    edited = emu.mutate("edit", module="Leads", count=2)
    second = run_tap(config, state=first.state)
    assert set(edited) <= set(second.ids("leads"))  # later changes still arrive


def test_a_connection_reset_on_every_retry_is_one_sentence(
    start_emulator, tap_config, fast_backoff
):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def reset_all() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            conn.close()  # RST

    threading.Thread(target=reset_all, daemon=True).start()
    try:
        emu = start_emulator(seed=95, sizes={"Leads": 5, "Contacts": 5, "Deals": 5})
        host, port = listener.getsockname()
        config = tap_config(emu, api_domain=f"http://{host}:{port}")
        _, error = run_capturing(config)
    finally:
        stop.set()
        listener.close()
    assert error is not None
    assert error.sentence.startswith(f"Could not reach Zoho CRM at http://{host}:{port}")
    assert "ConnectionError" in error.sentence


def test_a_page_token_cycle_stops_in_one_sentence(start_emulator, tap_config, fast_backoff):
    emu = start_emulator(
        seed=96, sizes={"Leads": 1000, "Contacts": 5, "Deals": 5}, token_cycle=True
    )
    _, error = run_capturing(tap_config(emu, pagination="page_token"))
    assert error is not None
    assert "paging cycle" in error.sentence
    assert emu.stats()["calls"]["records:Leads"] <= 4


@pytest.mark.parametrize("kind", ["bad_time", "no_id"])
def test_a_garbage_modified_time_deleted_time_or_id_is_one_sentence(
    kind, start_emulator, tap_config, fast_backoff
):
    emu = start_emulator(
        seed=97,
        sizes={"Leads": 500, "Contacts": 5, "Deals": 5},
        fail_garbage=1.0,
        garbage_kind=kind,
        fail_garbage_after_calls=1,
    )
    emu.mutate("delete", module="Leads", count=2)
    _, error = run_capturing(tap_config(emu))
    assert error is not None
    assert "HTTP 200 but" in error.sentence
    assert ("no datetime" if kind == "bad_time" else "has no id") in error.sentence
