"""Reliability: bad configuration ends the real tap-zohocrm command with one sentence.

tests/tap/test_tap_cli.py already covers a wrong client secret or data centre (``invalid_client``),
a revoked refresh token (``invalid_code``) and a missing scope (``OAUTH_SCOPE_MISMATCH``). This
file adds what it lacks: an API domain of another data centre than the token, a data-centre code
that does not exist, unreachable and silent hosts, and malformed start dates. Each case runs the
console script as a subprocess and must exit with 1, print exactly one ``tap-zohocrm: error:``
line (one sentence, the last line of stderr, no traceback), write no record and leak no secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}
ACCESS_TOKEN = re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")
#: Retry waits shortened 1000 times (docs/TAP.md): 8 attempts per call still happen.
FAST_RETRIES = {"TAP_ZOHOCRM_BACKOFF_SCALE": "0.001"}


def run_tap(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the tap with a config file; returns the finished process (text)."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    return subprocess.run(
        [TAP, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **FAST_RETRIES},
        check=False,
    )


def one_sentence_error(result: subprocess.CompletedProcess) -> str:
    """Assert the tap failed with exactly one error sentence; return it."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("tap-zohocrm: error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    sentence = errors[0].removeprefix("tap-zohocrm: error: ")
    assert sentence.endswith("."), sentence
    assert sentence[0].isupper(), sentence
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
    for secret in (CREDENTIALS["client_secret"], CREDENTIALS["refresh_token"]):
        assert secret not in result.stdout + result.stderr
    assert not ACCESS_TOKEN.search(result.stdout + result.stderr)
    return sentence


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    """A local URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A local URL that accepts connections and never answers (a hung proxy or host)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_api_domain_of_another_data_centre(start_emulator, tmp_path):
    """The token comes from one data centre, the API calls go to another's servers."""
    accounts = start_emulator(seed=61).base_url
    other_api = start_emulator(seed=62).base_url
    sentence = one_sentence_error(
        run_tap(tmp_path, {"accounts_url": accounts, "api_domain": other_api, **CREDENTIALS})
    )
    assert f"Zoho CRM at {other_api} rejected a freshly issued access token" in sentence
    assert "another data centre than the token (data_center is 'us')" in sentence
    assert "check data_center, environment and api_domain" in sentence


def test_unknown_data_centre_code_names_the_valid_ones(start_emulator, tmp_path):
    # Rejected by the settings validation before anything runs, in one sentence.
    emu = start_emulator(seed=63)
    base_url = emu.base_url
    result = run_tap(tmp_path, {"accounts_url": base_url, **CREDENTIALS, "data_center": "xx"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == (
        "tap-zohocrm: error: The data_center setting 'xx' is not one of us, eu, in, au, jp, "
        "ca, cn, sa, uk (TAP_ZOHOCRM_DATA_CENTER)."
    )
    assert result.stdout == ""
    assert emu.stats()["calls"] == {}


@pytest.mark.parametrize("mode", [(), ("--discover",)])
def test_a_secret_of_the_wrong_type_is_named_not_echoed(start_emulator, tmp_path, mode):
    emu = start_emulator(seed=64)
    base_url = emu.base_url
    config = {"accounts_url": base_url, **CREDENTIALS, "client_secret": 987654321}
    result = run_tap(tmp_path, config, *mode)
    assert result.returncode == 1
    assert "987654321" not in result.stderr + result.stdout
    assert result.stderr.rstrip().splitlines()[-1] == (
        "tap-zohocrm: error: The client_secret setting must be text, not a number (check "
        "TAP_ZOHOCRM_CLIENT_SECRET or the config file)."
    )
    assert emu.stats()["calls"] == {}


def test_unreachable_accounts_server(tmp_path):
    with closed_port() as url:
        sentence = one_sentence_error(run_tap(tmp_path, {"accounts_url": url, **CREDENTIALS}))
    assert sentence == (
        f"Could not get an access token from Zoho's accounts server {url} after 5 attempts "
        f"(ConnectionError reaching {url}); check data_center, network or proxy."
    )


def test_unreachable_api_host(start_emulator, tmp_path):
    base_url = start_emulator(seed=64).base_url
    with closed_port() as url:
        config = {"accounts_url": base_url, "api_domain": url, **CREDENTIALS}
        sentence = one_sentence_error(run_tap(tmp_path, config))
    assert sentence.startswith(f"Could not reach Zoho CRM at {url} for GET /settings/fields")
    assert sentence.endswith(
        "after 8 attempts (ConnectionError); check the network and request_timeout."
    )


def test_api_host_that_never_answers_times_out(start_emulator, tmp_path):
    base_url = start_emulator(seed=65).base_url
    with silent_server() as url:
        config = {
            "accounts_url": base_url,
            "api_domain": url,
            **CREDENTIALS,
            "request_timeout": 1,
        }
        sentence = one_sentence_error(run_tap(tmp_path, config, "--discover"))
    assert sentence.startswith(f"Could not reach Zoho CRM at {url}")
    assert "after 8 attempts (ReadTimeout)" in sentence


@pytest.mark.parametrize(
    ("start_date", "reason"),
    [
        ("yesterday", "Invalid isoformat string: 'yesterday'"),
        ("2024-13-45", "month must be in 1..12"),
        ("01/02/2024", "Invalid isoformat string: '01/02/2024'"),
    ],
)
def test_malformed_start_date(start_emulator, tmp_path, start_date, reason):
    emu = start_emulator(seed=66, sizes={"Leads": 5, "Contacts": 5, "Deals": 5})
    base_url = emu.base_url
    config = {"accounts_url": base_url, **CREDENTIALS, "start_date": start_date}
    sentence = one_sentence_error(run_tap(tmp_path, config))
    assert sentence == (
        f"The start_date setting {start_date!r} is not an ISO-8601 date or datetime "
        f"({reason}); use e.g. 2024-01-01 or 2024-01-01T00:00:00+00:00."
    )
    # Refused before any call: no token request, no metadata call.
    assert emu.stats()["calls"] == {}
