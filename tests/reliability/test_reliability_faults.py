"""Reliability: the real tap-zohocrm command through a storm of injected faults.

The tap runs as a subprocess (``--config`` and ``--catalog``, as Meltano runs it) against the
emulator, once without faults and once with 10% 429s, 5% 500s, an access token that dies every
50 calls and 50 ms of latency on every request. Nothing in the tap is mocked: the only
concession to test time is ``TAP_ZOHOCRM_BACKOFF_SCALE`` (documented in docs/TAP.md), which
shortens the retry waits. The records of both runs must be the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}
#: Leads, Contacts, Deals and the 64-field custom module Projects (read in two field chunks
#: per page, so a fault between the chunks of one page is exercised too).
SIZES = {"Leads": 2000, "Contacts": 600, "Deals": 400, "Projects": 250}
FAULTS = {"fail_429": 0.10, "fail_500": 0.05, "token_lifetime_calls": 50, "latency_ms": 50}


def run_tap(
    directory: Path, config: dict, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the tap-zohocrm console script; stdout as bytes, stderr as text."""
    config_path = directory / "config.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [TAP, "--config", str(config_path), *args],
        capture_output=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return result


#: The one wall-clock value in a RECORD message (when the SDK wrote it), cut out of the bytes.
TIME_EXTRACTED = re.compile(rb',"time_extracted":"[^"]*"')


def lines_of(output: bytes, kind: str) -> list[bytes]:
    """The raw output lines of one Singer message type, sorted.

    The bytes are compared as the tap wrote them (not parsed and re-serialised); only the
    ``time_extracted`` timestamp is cut out.
    """
    prefix = b'{"type":"' + kind.encode() + b'"'
    return sorted(
        TIME_EXTRACTED.sub(b"", line) for line in output.splitlines() if line.startswith(prefix)
    )


def test_a_storm_of_faults_changes_no_byte_of_the_output(start_emulator, tmp_path):
    emu = start_emulator(seed=909, sizes=SIZES, deleted_fraction=0.0)
    base_url = emu.base_url
    # Get Records with small pages: many calls for the faults to hit (COQL: test_tap_coql.py).
    config = {
        "accounts_url": base_url,
        **CREDENTIALS,
        "modules": ["Projects"],
        "page_size": 25,
        "read_method": "rest",
    }
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(run_tap(tmp_path, config, "--discover").stdout)

    clean = run_tap(tmp_path, config, "--catalog", str(catalog)).stdout
    clean_records = lines_of(clean, "RECORD")
    users = 5  # selected by default
    assert len(clean_records) == sum(SIZES.values()) + users
    assert not any(b'"time_extracted"' in line for line in clean_records)

    emu.set_faults(**FAULTS)
    emu.reset_stats()
    stormy = run_tap(
        tmp_path,
        config,
        "--catalog",
        str(catalog),
        env={"TAP_ZOHOCRM_BACKOFF_SCALE": "0.01"},
    )
    # byte for byte, after sorting: no record lost, duplicated, truncated or half-merged
    assert lines_of(stormy.stdout, "RECORD") == clean_records
    assert lines_of(stormy.stdout, "SCHEMA") == lines_of(clean, "SCHEMA")

    stats = emu.stats()
    statuses = stats["status_counts"]
    calls = sum(count for name, count in stats["calls"].items() if name != "oauth_token")
    failed_429, failed_500 = statuses.get("429", 0), statuses.get("500", 0)
    expired = statuses.get("401", 0)
    # the faults really happened, in about the proportions asked for
    assert calls > 150
    assert 0.03 * calls < failed_429 < 0.2 * calls
    assert 0 < failed_500 < 0.12 * calls
    assert expired >= 2  # the access token died mid-sync (every 50 calls) ...
    # ... and was refreshed once per expiry: each expiry rejects one call per stream read
    # concurrently (max_concurrent_requests 3), one refresh serves them all.
    refreshes = stats["calls"]["oauth_token"] - 1
    assert 1 <= refreshes <= expired <= 3 * refreshes
    stderr = stormy.stderr.decode()
    assert "Retrying GET /Leads" in stderr
    assert "Access token rejected by Zoho; retrying with a fresh one" in stderr
    print(  # the figures RELIABILITY.md quotes (pytest -s shows them)
        f"faults: {calls} API calls, {failed_429} x 429, {failed_500} x 500, "
        f"{expired} expired tokens, {len(clean_records)} records identical"
    )
