"""A tap-zohocrm process killed half-way (SIGKILL) resumes from its last STATE without loss."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tap_complete_kit import run_tap_until_killed

TAP = str(Path(sys.executable).parent / "tap-zohocrm")


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
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    leads_states = []

    def eighth_leads_state(state):
        if state.get("bookmarks", {}).get("leads", {}).get("replication_key_value"):
            leads_states.append(state)
        return len(leads_states) == 8

    first = run_tap_until_killed(TAP, config_path, eighth_leads_state)
    everything = {r["id"] for r in emu.records("Leads")}
    seen = {m["record"]["id"] for m in first if m["type"] == "RECORD" and m["stream"] == "leads"}
    assert 0 < len(seen) < len(everything)  # really killed half-way
    last_state = [m["value"] for m in first if m["type"] == "STATE"][-1]

    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(last_state))
    emu.reset_stats()
    second = subprocess.run(
        [TAP, "--config", str(config_path), "--state", str(state_path)],
        capture_output=True,
        timeout=300,
        env=env,
        check=True,
    )
    resumed = [json.loads(line) for line in second.stdout.splitlines()]
    again = {m["record"]["id"] for m in resumed if m["type"] == "RECORD" and m["stream"] == "leads"}
    assert seen | again == everything  # nothing lost
    assert len(again) < len(everything)  # and the resumed run did not start over
    # Resuming re-reads only from the last complete second on, not the pages already done.
    assert len(seen & again) < 300
    assert emu.stats()["calls"]["records:Leads"] <= (len(again) + 99) // 100 + 1
