"""The built wheel, installed in a clean venv outside the repository, runs the whole pipeline;
the Hub-format definitions match the plugins' ``--about``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from e2e_phases import child_environ, phase

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".uv" / "bin" / "uv"

pytestmark = pytest.mark.e2e


def test_the_plugin_definitions_match_the_plugins_about():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plugin_definitions.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and wheel, built from the working tree."""
    out = tmp_path_factory.mktemp("dist")
    uv = str(UV) if UV.exists() else shutil.which("uv")
    assert uv, "uv is missing (make installs it)"
    with phase("building the sdist and wheel"):
        subprocess.run(
            [uv, "build", "--out-dir", str(out)], cwd=ROOT, check=True, capture_output=True
        )
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz")), uv


def test_the_sdist_leaves_tests_benchmarks_and_the_lock_out(built):
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        tops = {Path(name).parts[1] for name in archive.getnames() if len(Path(name).parts) > 1}
    assert {"tap_zohocrm", "target_sqlite_audit", "zoho_crm_insights", "LICENSE"} <= tops
    assert not tops & {"tests", "benchmarks", "uv.lock", ".ci", "output", "scripts"}


def test_the_wheel_in_a_clean_venv_runs_the_pipeline_outside_the_repo(built, tmp_path):
    wheel, _, uv = built
    venv = tmp_path / "venv"
    print("\n[e2e] installing the wheel into a clean venv", flush=True)  # the test itself
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True,
                   capture_output=True)  # fmt: skip
    env = {
        k: v
        for k, v in child_environ().items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    subprocess.run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
                   check=True, capture_output=True, env=env)  # fmt: skip
    bin_dir = venv / "bin"
    work = tmp_path / "elsewhere"
    work.mkdir()
    emulator = subprocess.Popen(
        [str(bin_dir / "zoho-crm-emulator"), "serve", "--port", "0", "--leads", "40"],
        stdout=subprocess.PIPE, text=True, cwd=work, env=env,
    )  # fmt: skip
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().rsplit(" ", 1)[-1].strip()
        tap_config = work / "tap.json"
        tap_config.write_text(json.dumps({
            "accounts_url": url, "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret", "refresh_token": "emulator-refresh-token",
        }))  # fmt: skip
        target_config = work / "target.json"
        target_config.write_text(json.dumps({"database": str(work / "audit.sqlite")}))
        tap = subprocess.Popen([str(bin_dir / "tap-zohocrm"), "--config", str(tap_config)],
                               stdout=subprocess.PIPE, cwd=work, env=env)  # fmt: skip
        target = subprocess.run(
            [str(bin_dir / "target-sqlite-audit"), "--config", str(target_config)],
            stdin=tap.stdout, capture_output=True, cwd=work, check=False, timeout=300, env=env,
        )  # fmt: skip
        assert tap.wait(timeout=60) == 0
        assert target.returncode == 0, target.stderr[-2000:]
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    with sqlite3.connect(work / "audit.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM leads").fetchone()[0] == 40
        assert conn.execute("SELECT status FROM sync_log").fetchone()[0] == "completed"
    insights = subprocess.run(
        [str(bin_dir / "zoho-crm-insights"), "--database", str(work / "audit.sqlite"),
         "--html", str(work / "page.html")],
        capture_output=True, text=True, cwd=work, check=False, env=env,
    )  # fmt: skip
    assert insights.returncode == 0, insights.stderr
    assert (work / "page.html").is_file()


def test_a_new_meltano_project_adds_both_plugins_from_their_definitions(built, tmp_path):
    """``meltano add --from-ref``, the wheel as pip_url, an object setting, then ``meltano run``."""
    from ruamel.yaml import YAML

    wheel, _, _ = built
    meltano = str(Path(sys.executable).parent / "meltano")
    project = tmp_path / "project"
    env = {
        **{
            k: v
            for k, v in child_environ().items()
            if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))
        },
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }

    def run(*args: str, cwd: Path = project) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([meltano, *args], cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=900, check=False)  # fmt: skip
        assert result.returncode == 0, f"meltano {' '.join(args)}:\n{result.stderr[-4000:]}"
        return result

    print("\n[e2e] a new Meltano project with the plugins from plugins/*.yml", flush=True)
    run("init", "project", "--no_usage_stats", cwd=tmp_path)
    for kind, name in (("extractor", "tap-zohocrm"), ("loader", "target-sqlite-audit")):
        ref = ROOT / "plugins" / f"{kind}s" / f"{name}.yml"
        run("add", "--plugin-type", kind, name, "--from-ref", str(ref), "--no-install")
    yaml = YAML()
    config = yaml.load((project / "meltano.yml").read_text())
    for kind in ("extractors", "loaders"):
        for plugin in config["plugins"][kind]:
            plugin["pip_url"] = str(wheel)  # not on PyPI yet: the wheel just built
    with (project / "meltano.yml").open("w") as handle:
        yaml.dump(config, handle)
    run("install")
    # "__NULL__" removes a property (Meltano drops JSON nulls inside object settings).
    run("config", "set", "tap-zohocrm", "stream_maps", '{"leads": {"Email": "__NULL__"}}')
    stored = yaml.load((project / "meltano.yml").read_text())
    tap = next(p for p in stored["plugins"]["extractors"] if p["name"] == "tap-zohocrm")
    assert tap["config"]["stream_maps"] == {"leads": {"Email": "__NULL__"}}  # an object

    from zoho_crm_emulator import Emulator, EmulatorConfig

    database = tmp_path / "audit.sqlite"
    emu = Emulator(EmulatorConfig(seed=3, sizes={"Leads": 20, "Contacts": 5, "Deals": 5}))
    with emu.serve() as base_url:
        env.update(
            TAP_ZOHOCRM_ACCOUNTS_URL=base_url,
            TAP_ZOHOCRM_CLIENT_ID="emulator-client-id",
            TAP_ZOHOCRM_CLIENT_SECRET="emulator-client-secret",
            TAP_ZOHOCRM_REFRESH_TOKEN="emulator-refresh-token",
            TARGET_SQLITE_AUDIT_DATABASE=str(database),
        )
        run("run", "tap-zohocrm", "target-sqlite-audit")
        report = run("invoke", "target-sqlite-audit:report")
    assert "completed" in report.stdout
    with sqlite3.connect(database) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(leads)")}
        assert conn.execute("SELECT count(*) FROM leads").fetchone()[0] == 20
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 5
    assert "email" not in columns  # the stream map, set as an object, applied
