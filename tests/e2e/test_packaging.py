import importlib

import pytest


@pytest.mark.parametrize("module", ["tap_zohocrm", "target_sqlite_audit", "zoho_crm_emulator"])
def test_packages_import(module):
    assert importlib.import_module(module).__doc__


def _docker_daemon() -> bool:
    import shutil
    import subprocess

    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def test_the_dockerfile_copies_what_exists_and_builds_where_docker_runs():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "Dockerfile").read_text()
    sources = [
        part
        for line in text.splitlines()
        if line.startswith("COPY ")
        for part in line.split()[1:-1]
    ]
    assert sources
    for source in sources:
        assert (root / source).exists(), source
    if _docker_daemon():  # CI machines without a daemon check the file only
        subprocess.run(["docker", "build", "-t", "zoho-crm-meltano-test", str(root)], check=True)
