"""Running the real tap-zohocrm command and checking its one-sentence errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

TAP = str(Path(sys.executable).parent / "tap-zohocrm")
SECRETS = ("emulator-client-secret", "emulator-refresh-token")
ACCESS_TOKEN = re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")


def run_cli(tmp_path, config, *args, catalog=None, env=None):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    command = [TAP, "--config", str(config_path), *args]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=full_env)


def assert_one_sentence_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tap-zohocrm: error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert_no_secret(result)
    return errors[0]


def assert_no_secret(result):
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output
    assert not ACCESS_TOKEN.search(output)
