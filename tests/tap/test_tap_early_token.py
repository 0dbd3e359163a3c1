"""The first token request goes out while the tap imports singer-sdk, and changes nothing else.

``tap_zohocrm.early_token`` sends the refresh-token grant of the ``--config`` files before the
console script imports singer-sdk; the authenticator takes that answer in place of its first
attempt only when it would have sent exactly that request.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tap_cli_kit import assert_one_sentence_error, run_cli

from tap_zohocrm import early_token
from tap_zohocrm.early_token import refresh_grant, token_headers
from tap_zohocrm.hosts import TOKEN_PATH


def _config_file(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def _request(config):
    endpoint = config["accounts_url"] + TOKEN_PATH
    form = refresh_grant(config["client_id"], config["client_secret"], config["refresh_token"])
    return endpoint, form, token_headers("ua")


def test_the_early_request_needs_no_singer_sdk_and_gets_a_token(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=61)
    path = _config_file(tmp_path, tap_config(emu))
    script = (
        "import sys\n"
        "from tap_zohocrm import early_token\n"
        f"early = early_token.start(['--config', {path!r}], 'ua').wait()\n"
        "assert 'singer_sdk' not in sys.modules, 'singer-sdk was imported'\n"
        "print(early.response.status_code, early.endpoint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", emu.base_url + TOKEN_PATH]
    assert emu.stats()["calls"]["oauth_token"] == 1


def test_the_early_answer_serves_only_the_same_request_and_only_once(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=62)
    config = tap_config(emu)
    early = early_token.start(["--config", _config_file(tmp_path, config)], "ua")
    assert early is not None
    endpoint = emu.base_url + TOKEN_PATH
    form = refresh_grant(config["client_id"], config["client_secret"], config["refresh_token"])
    # Another client secret, another host or another User-Agent: not this answer.
    other = refresh_grant(config["client_id"], "another-secret", config["refresh_token"])
    assert early.answer(endpoint, other, token_headers("ua")) is None
    assert early.answer("https://accounts.zoho.eu" + TOKEN_PATH, form, token_headers("ua")) is None
    assert early.answer(endpoint, form, token_headers("other-agent")) is None
    taken = early_token.take(endpoint, form, token_headers("ua"))
    assert taken is not None
    assert taken[1].status_code == 200
    assert early_token.take(endpoint, form, token_headers("ua")) is None  # once
    assert emu.stats()["calls"]["oauth_token"] == 1


def test_nothing_is_sent_early_without_a_plain_refresh_token_config(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=63)
    config = tap_config(emu)
    path = _config_file(tmp_path, config)
    credentials = _config_file(
        tmp_path, {**config, "auth_method": "client_credentials", "soid": "ZohoCRM.1"}, "cc.json"
    )
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    for argv in (
        ["--config", "ENV"],  # settings from the environment
        ["--about", "--config", path],  # no API call at all
        ["--config", credentials],  # the client-credentials login
        ["--config", path, "--config", str(not_json)],
        ["--discover"],  # no config
    ):
        assert early_token.start(argv, "ua") is None, argv
    assert emu.stats()["calls"].get("oauth_token", 0) == 0


def test_a_refused_early_request_gives_the_usual_sentence_and_no_second_request(
    start_emulator, tap_config, tmp_path
):
    emu = start_emulator(seed=64)
    config = tap_config(emu, refresh_token="1000.revoked")
    assert_one_sentence_error(run_cli(tmp_path, config), "invalid_code", "refresh token")
    # The early answer went through the authenticator's own checks: one request, not two.
    assert emu.stats()["calls"]["oauth_token"] == 1


def test_a_sync_spends_one_token_request_however_it_was_sent(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=65, sizes={"Leads": 30, "Contacts": 5, "Deals": 5})
    result = run_cli(tmp_path, tap_config(emu))
    assert result.returncode == 0, result.stderr[-2000:]
    assert emu.stats()["calls"]["oauth_token"] == 1
    assert '"type":"RECORD"' in result.stdout


def test_settings_the_tap_refuses_send_nothing_early(start_emulator, tap_config, tmp_path):
    emu = start_emulator(seed=66)
    bad_settings = (
        {"start_date": "yesterday"},
        {"page_size": "many"},
        {"data_center": "xx"},
        {"accounts_url": 42},
    )
    for bad in bad_settings:
        config = {**tap_config(emu), **bad}
        early = early_token.start(["--config", _config_file(tmp_path, config)], "ua")
        assert early is not None
        assert early.wait().response is None, bad
        assert early.endpoint is None  # checked before anything was even prepared
        assert early_token.take(*_request(tap_config(emu))) is None
    assert emu.stats()["calls"].get("oauth_token", 0) == 0
