"""The ``zoho-crm-emulator`` command: serve, answer curl-style requests, mutate, stop cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

SCRIPT = Path(sys.executable).with_name("zoho-crm-emulator")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "zoho_crm_emulator.cli"]


def _first_line(process: subprocess.Popen, timeout: float = 30) -> str:
    """Read the first stdout line without hanging the test if it never comes."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines:
        process.kill()
        pytest.fail("the emulator printed nothing")
    return lines[0].strip()


@pytest.fixture
def served():
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0", "--leads", "40", "--seed", "9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(process)
        assert line.startswith("Zoho CRM emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        assert not base_url.endswith(":0")
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_token_and_records_requests_like_the_zoho_docs(served):
    process, base_url = served
    # curl -X POST "$URL/oauth/v2/token?refresh_token=...&client_id=...&client_secret=...
    #      &grant_type=refresh_token"
    token = requests.post(
        f"{base_url}/oauth/v2/token"
        "?refresh_token=emulator-refresh-token&client_id=emulator-client-id"
        "&client_secret=emulator-client-secret&grant_type=refresh_token",
        timeout=10,
    ).json()
    assert token["api_domain"] == base_url
    # curl "$API_DOMAIN/crm/v8/Leads?fields=Last_Name,Email" \
    #      -H "Authorization: Zoho-oauthtoken $ACCESS_TOKEN"
    response = requests.get(
        f"{token['api_domain']}/crm/v8/Leads?fields=Last_Name,Email",
        headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["info"]["count"] == 38  # 40 leads, 5% converted and hidden
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


@pytest.mark.slow
def test_mutate_and_stats_commands_steer_a_running_emulator(served):
    process, base_url = served
    mutated = subprocess.run(
        [*COMMAND, "mutate", "--url", base_url, "delete", "--count", "2", "--type", "permanent"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    ids = json.loads(mutated.stdout)["ids"]
    assert len(ids) == 2
    deleted = requests.get(f"{base_url}/_emulator/deleted/Leads", timeout=10).json()["data"]
    assert {d["id"] for d in deleted[:2]} == set(ids)
    stats = subprocess.run(
        [*COMMAND, "stats", "--url", base_url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(stats.stdout)["credits"] == 0
    bad = subprocess.run(
        [*COMMAND, "mutate", "--url", base_url, "convert", "--module", "Deals"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode != 0
    assert "INVALID_DATA" in bad.stderr
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
