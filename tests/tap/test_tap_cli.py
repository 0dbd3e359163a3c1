"""The tap-zohocrm command: --about, --discover, and every user-facing error as one sentence.

Each test runs the real console script in a subprocess against an emulator served from the
test process, and checks exit status, stderr and that no secret leaks (at DEBUG level too).
"""

import json
import subprocess
import sys

import pytest
from process_kit import run_buffered
from tap_cli_kit import (
    TAP,
    assert_no_secret,
    assert_one_sentence_error,
    run_cli,
)
from tap_complete_kit import NON_MODULE_STREAMS, module_streams

from tap_zohocrm.auth import ZohoOAuthAuthenticator
from tap_zohocrm.errors import ZohoAuthError

SETTINGS = [
    "client_id",
    "client_secret",
    "refresh_token",
    "data_center",
    "environment",
    "accounts_url",
    "api_domain",
    "start_date",
    "page_size",
    "request_timeout",
    "user_agent",
    "include_converted_leads",
    "include_deleted",
    "modules",
    "refresh_formula_fields",
]


@pytest.mark.slow
def test_about_markdown_documents_every_setting():
    result = subprocess.run(
        [TAP, "--about", "--format=markdown"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    rows = {line.split("|")[1].strip() for line in result.stdout.splitlines() if "|" in line}
    for setting in SETTINGS:
        assert setting in rows, setting
    about = json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True).stdout
    )
    properties = about["settings"]["properties"]
    for secret in ("client_id", "client_secret", "refresh_token"):
        assert properties[secret].get("secret") is True
    assert properties["data_center"]["enum"] == [
        "us",
        "eu",
        "in",
        "au",
        "jp",
        "ca",
        "cn",
        "sa",
        "uk",
    ]
    assert properties["page_size"]["default"] == 200


def test_discover_prints_the_three_streams_with_custom_fields(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=41)
    result = run_cli(tmp_path, tap_config(emu), "--discover")
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    streams = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    assert module_streams(streams) == {"leads", "contacts", "deals"}
    assert set(streams) - module_streams(streams) == NON_MODULE_STREAMS
    assert {"Budget", "Lead_Age_Days", "Interests", "Is_VIP"} <= set(streams["leads"])
    assert {"Loyalty_Tier", "Newsletter_Topics"} <= set(streams["contacts"])
    assert {"Deal_Region", "Competitors"} <= set(streams["deals"])
    calls = emu.stats()["calls"]
    assert not any(key.startswith("records:") for key in calls)  # discovery reads no records
    assert_no_secret(result)


@pytest.mark.slow
def test_sync_with_a_catalog_from_the_command_line(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=42)
    config = tap_config(emu)
    catalog = json.loads(run_cli(tmp_path, config, "--discover").stdout)
    emu.reset_stats()
    result = run_cli(tmp_path, config, catalog=catalog)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    records = [m for m in messages if m["type"] == "RECORD" and m["stream"] != "users"]
    assert len(records) == sum(len(emu.records(m)) for m in ("Leads", "Contacts", "Deals"))
    assert messages[-1]["type"] == "STATE"
    assert not any(k.startswith("settings_") for k in emu.stats()["calls"])
    assert "Stream leads done:" in result.stderr
    assert "credits" in result.stderr


@pytest.mark.slow
def test_invalid_client_says_the_data_centre_is_probably_wrong(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=43)
    config = tap_config(emu, client_secret="not-the-secret")
    error = assert_one_sentence_error(
        run_cli(tmp_path, config),
        "invalid_client",
        "data centre is probably wrong",
        "data_center is 'us' (United States)",
        emu.base_url,
    )
    assert "not-the-secret" not in error

    config = tap_config(emu, client_secret="not-the-secret", data_center="eu")
    assert_one_sentence_error(
        run_cli(tmp_path, config, "--discover"),
        "invalid_client",
        "data_center is 'eu' (Europe)",
        f"accounts_url is set to {emu.base_url}",
    )


def test_invalid_code_says_the_refresh_token_is_wrong_or_revoked(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=44)
    config = tap_config(emu, refresh_token="1000.revoked")
    error = assert_one_sentence_error(
        run_cli(tmp_path, config), "invalid_code", "refresh token", "revoked"
    )
    assert "1000.revoked" not in error


@pytest.mark.slow
def test_scope_mismatch_names_the_missing_scope(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=45, scopes=("ZohoCRM.settings.ALL",))
    assert_one_sentence_error(
        run_cli(tmp_path, tap_config(emu)),
        "OAUTH_SCOPE_MISMATCH",
        "lacks the ZohoCRM.modules.READ scope",
    )


@pytest.mark.slow
def test_other_zoho_errors_show_zoho_code_and_message(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=46)
    config = tap_config(emu)
    catalog = json.loads(run_cli(tmp_path, config, "--discover").stdout)
    leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
    # A field deleted in Zoho after discovery: Zoho answers 400 INVALID_DATA.
    leads["schema"]["properties"]["Gone_Field"] = {"type": ["string", "null"]}
    assert_one_sentence_error(
        run_cli(tmp_path, config, catalog=catalog),
        "HTTP 400 INVALID_DATA: invalid field",
        "Gone_Field",
        "GET /Leads",
    )


@pytest.mark.slow
def test_no_secret_in_debug_logs(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=47, sizes={"Leads": 600}, token_lifetime_calls=2)
    result = run_cli(tmp_path, tap_config(emu), env={"TAP_ZOHOCRM_LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr  # the level really was DEBUG
    assert emu.stats()["calls"]["oauth_token"] > 2  # several refreshes happened
    assert_no_secret(result)


def test_refresh_throttling_is_waited_out_then_explained(
    start_emulator, tap_config, run_tap, fast_backoff
):
    emu = start_emulator(seed=48, token_requests_per_minute=1, token_lifetime_calls=2)
    with pytest.raises(ZohoAuthError) as excinfo:
        run_tap(tap_config(emu))
    assert "too many token requests" in str(excinfo.value)
    assert "Access Denied" in str(excinfo.value)
    assert emu.stats()["calls"]["oauth_token"] == 1 + ZohoOAuthAuthenticator.MAX_REFRESH_TRIES


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [(None, 0, ""), (3, 3, ""), ("tap-zohocrm: error: stop.", 1, "tap-zohocrm: error: stop.\n")],
)
def test_the_console_script_exit_flushes_what_was_written_and_keeps_the_status(
    code, status, stderr
):
    # exit_now skips the interpreter's teardown: output still in a pipe's buffer must not be
    # lost with it, and the status must be what sys.exit(code) would give.
    script = (
        "import logging, sys\n"
        "from tap_zohocrm.cli import exit_now\n"
        "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
        'sys.stdout.write(\'{"type": "STATE"}\')\n'
        f"exit_now({code!r})\n"
    )
    done = run_buffered(script)
    assert done.returncode == status
    assert (done.stdout, done.stderr) == ('{"type": "STATE"}', stderr)


def test_under_a_profiler_the_console_script_exits_normally_so_the_profile_is_written(tmp_path):
    # The fast exit (os._exit) would skip cProfile's own write at exit.
    profile = tmp_path / "tap.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), TAP, "--about", "--format", "json"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout)["name"] == "tap-zohocrm"
    assert profile.stat().st_size > 0
