"""tap-zohocrm alone killed half-way (SIGKILL, or SIGTERM) resumes from its last STATE without loss.

One stream across a daylight-saving change, and several streams read concurrently (the
default); the whole pipeline killed at many points is test_reliability_kill.py.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tap_complete_kit import assert_valid_singer_order, run_tap_until_killed

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
SIZES = {"Leads": 900, "Contacts": 700, "Deals": 500, "Accounts": 600, "Campaigns": 400}
MODULES = ["Accounts", "Campaigns"]
STREAMS = ("accounts", "campaigns", "contacts", "deals", "leads")


def resume_from_last_state(first: list[dict], config_path: Path, tmp_path: Path) -> list[dict]:
    """The messages of a tap run started from the last STATE the killed run emitted."""
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps([m["value"] for m in first if m["type"] == "STATE"][-1]))
    second = subprocess.run(
        [TAP, "--config", str(config_path), "--state", str(state_path)],
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=True,
    )
    return [json.loads(line) for line in second.stdout.splitlines()]


@pytest.fixture
def emulator_defaults() -> dict:
    """Like the tap tier: no recycle-bin entries from before the first sync (the checks
    compare the records emitted with the live ones)."""
    return {"deleted_fraction": 0.0}


@pytest.mark.slow
def test_sigkill_half_way_then_resume_from_the_last_state(start_emulator, tap_config, tmp_path):
    # Slow pages (latency) so that the kill lands in the middle of the leads stream; the org
    # straddles the end of daylight saving and many records share a second.
    emu = start_emulator(
        seed=51,
        sizes={"Leads": 3000, "Contacts": 50, "Deals": 50},
        latency_ms=25,
        start="2024-11-03T07:30:00+00:00",
        end="2024-11-03T10:30:00+00:00",
        shared_second_fraction=0.5,
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(emu, page_size=100)))
    leads_states = []

    def eighth_leads_state(state):
        if state.get("bookmarks", {}).get("leads", {}).get("replication_key_value"):
            leads_states.append(state)
        return len(leads_states) == 8

    first = run_tap_until_killed(TAP, config_path, eighth_leads_state)
    everything = {r["id"] for r in emu.records("Leads")}
    seen = {m["record"]["id"] for m in first if m["type"] == "RECORD" and m["stream"] == "leads"}
    assert 0 < len(seen) < len(everything)  # really killed half-way
    emu.reset_stats()
    resumed = resume_from_last_state(first, config_path, tmp_path)
    again = {m["record"]["id"] for m in resumed if m["type"] == "RECORD" and m["stream"] == "leads"}
    assert seen | again == everything  # nothing lost
    assert len(again) < len(everything)  # and the resumed run did not start over
    # Resuming re-reads only from the last complete second on, not the pages already done.
    assert len(seen & again) < 300
    assert emu.stats()["calls"]["records:Leads"] <= (len(again) + 99) // 100 + 1


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_kill_with_concurrent_syncs_then_resume_loses_nothing(
    start_emulator, tap_config, tmp_path, sig
):
    emu = start_emulator(seed=74, sizes=SIZES, latency_ms=25, shared_second_fraction=0.5)
    config = tap_config(emu, modules=MODULES, page_size=100, max_concurrent_requests=3)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    seen_states = []

    def third_contacts_state(state):  # inside the third stream; the others sync beside it
        if state.get("bookmarks", {}).get("contacts"):
            seen_states.append(state)
        return len(seen_states) == 3

    first = run_tap_until_killed(TAP, config_path, third_contacts_state, sig)
    assert_valid_singer_order(first)
    if sig == signal.SIGTERM:  # the tap wrote a last STATE, after the records it covers
        assert first[-1]["type"] == "STATE"
    resumed = resume_from_last_state(first, config_path, tmp_path)
    for stream, module in zip(STREAMS, sorted(SIZES), strict=True):
        seen = {
            m["record"]["id"]
            for m in first + resumed
            if m["type"] == "RECORD" and m["stream"] == stream
        }
        assert seen == {r["id"] for r in emu.records(module)}, stream
