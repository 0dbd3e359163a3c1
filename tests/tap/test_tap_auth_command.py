"""``tap-zohocrm auth`` (grant code -> verified refresh token) and client-credentials login."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tap_zohocrm.onboarding import auth_command, dispatch

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
CLIENT = ["--client-id", "emulator-client-id", "--client-secret", "emulator-client-secret"]


def flags(emu, code="1000.emulator-grant-code", data_center="us"):
    return [
        "--data-center", data_center, *CLIENT, "--code", code, "--accounts-url", emu.base_url,
    ]  # fmt: skip


def client_credentials(emu, soid="ZohoCRM.10001234567"):
    return {
        "accounts_url": emu.base_url,
        "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret",
        "auth_method": "client_credentials",
        "soid": soid,
    }


def test_a_good_code_prints_the_settings_and_never_the_secret(start_emulator):
    emu = start_emulator(seed=1)
    result = CliRunner().invoke(auth_command, flags(emu))
    assert result.exit_code == 0, result.output
    assert "TAP_ZOHOCRM_REFRESH_TOKEN=emulator-refresh-token" in result.stdout
    assert "emulator-client-secret" not in result.output
    assert "Verified: the new token reads Zoho CRM" in result.output
    assert emu.stats()["calls"]["users"] == 1  # the one cheap verification call


def test_the_code_works_once_and_an_expired_one_is_one_sentence(start_emulator):
    emu = start_emulator(seed=2)
    assert CliRunner().invoke(auth_command, flags(emu)).exit_code == 0
    again = CliRunner().invoke(auth_command, flags(emu))
    assert again.exit_code == 1
    lines = again.output.strip().splitlines()
    assert lines[-1].startswith("tap-zohocrm auth: error: ")
    assert "rejected the grant code (invalid_code)" in lines[-1]
    assert "emulator-client-secret" not in again.output


def test_a_wrong_data_centre_is_named(start_emulator):
    emu = start_emulator(seed=3, client_id="eu-client")
    result = CliRunner().invoke(auth_command, flags(emu, data_center="us"))
    assert result.exit_code == 1
    assert "does not know this client (invalid_client) with data_center 'us'" in result.output
    assert "--data-center" in result.output


def test_a_missing_scope_is_named(start_emulator):
    emu = start_emulator(seed=4, scopes=("ZohoCRM.modules.READ",))
    result = CliRunner().invoke(auth_command, flags(emu))
    assert result.exit_code == 1
    assert "lacks a scope the tap needs" in result.output
    assert "ZohoCRM.users.READ" in result.output


@pytest.mark.slow
def test_write_env_is_0600_and_no_secret_is_printed(start_emulator, tmp_path):
    emu = start_emulator(seed=5)
    env = tmp_path / ".env"
    env.write_text("OTHER=kept\nTAP_ZOHOCRM_REFRESH_TOKEN=old\n")
    # Through the real console script, after --config as Meltano invokes plugin commands.
    config = tmp_path / "config.json"
    config.write_text('{"data_center": "us"}')
    result = subprocess.run(
        [TAP, "--config", str(config), "auth", *flags(emu)[2:], "--write-env", str(env)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for secret in ("emulator-client-secret", "emulator-refresh-token"):
        assert secret not in result.stdout + result.stderr
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    text = env.read_text()
    assert "OTHER=kept" in text
    assert "TAP_ZOHOCRM_REFRESH_TOKEN=emulator-refresh-token" in text
    assert "TAP_ZOHOCRM_REFRESH_TOKEN=old" not in text


@pytest.mark.slow
def test_without_a_terminal_a_missing_flag_is_one_sentence(start_emulator):
    emu = start_emulator(seed=6)
    result = subprocess.run(
        [TAP, "auth", "--data-center", "us", "--accounts-url", emu.base_url],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "tap-zohocrm auth: error: The client_id is missing: pass --client-id (or run "
        "tap-zohocrm auth in a terminal)."
    )


def test_dispatch_finds_auth_after_config():
    assert dispatch(["auth", "--code", "x"]) == ["--code", "x"]
    assert dispatch(["--config", "c.json", "auth"]) == ["--config", "c.json"]
    assert dispatch(["--config", "c.json"]) is None


def test_a_full_sync_with_client_credentials(start_emulator, run_tap):
    emu = start_emulator(seed=7, sizes={"Leads": 250, "Contacts": 10, "Deals": 10})
    config = client_credentials(emu)
    run = run_tap(config)
    assert len(run.ids("leads")) == 250
    assert emu.stats()["calls"]["oauth_token"] == 1


def test_client_credentials_with_a_wrong_soid_is_one_sentence(start_emulator, run_tap):
    from tap_zohocrm.errors import ZohoAuthError

    emu = start_emulator(seed=8)
    config = client_credentials(emu, soid="ZohoCRM.999")
    with pytest.raises(ZohoAuthError, match="rejected the client-credentials login"):
        run_tap(config)


@pytest.mark.slow
def test_client_credentials_tokens_are_requested_again_on_expiry(start_emulator, run_tap):
    emu = start_emulator(seed=9, sizes={"Leads": 1200}, token_lifetime_calls=3)
    config = client_credentials(emu)
    run = run_tap(config)
    assert len(run.ids("leads")) == 1200
    assert emu.stats()["calls"]["oauth_token"] >= 3


def test_a_data_centre_hint_in_the_answer_is_named():
    from tap_zohocrm.onboarding import _likely_data_center

    assert _likely_data_center({"accounts-server": "https://accounts.zoho.eu"}) == "eu"
    assert _likely_data_center({"location": "in"}) == "in"
    assert _likely_data_center({"error": "invalid_client"}) is None
