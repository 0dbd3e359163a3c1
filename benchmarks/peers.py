"""Peer Singer targets from PyPI, each installed into its own virtualenv under ``.bench/peers/``.

Every Singer target for SQLite that installs from PyPI is a peer. At the time of writing that is
one package: ``target-sqlite`` 0.2.0 (2019; the Meltano variant on the Hub installs from git,
not from PyPI, and ``meltanolabs-target-sqlite`` / ``target-sqlite3`` do not exist there).
``target-sqlite`` pins SQLAlchemy 1.2, which uses ``collections.MutableMapping`` and so only
imports on Python 3.9 or older: its virtualenv is made with such an interpreter when the
machine has one (pyenv's, or a system ``python3.9`` / ``python3.8``), and the peer is reported
as not run otherwise.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_DIR, UV, log


@dataclass(frozen=True)
class Peer:
    """A Singer target from PyPI."""

    #: Name shown in the tables.
    name: str
    #: pip requirement.
    requirement: str
    #: Console script.
    executable: str
    #: A module it must import (smoke test after installing).
    module: str
    #: Interpreter versions it runs on, newest first (None: the benchmark's own Python).
    pythons: tuple[str, ...] | None
    #: Notes for the report (how it writes).
    note: str = ""

    @property
    def folder(self) -> Path:
        """Its virtualenv."""
        return BENCH_DIR / "peers" / self.requirement.replace("==", "-")

    def config(self, database: Path) -> dict[str, Any]:
        """Settings that make it write ``database``."""
        # target-sqlite appends ".db" to the configured name.
        return {"database": str(database.with_suffix(""))}

    def database_file(self, database: Path) -> Path:
        """The file it actually writes for ``database``."""
        return database.with_suffix(".db")

    def command(self, config_path: Path) -> list[str]:
        """Command line reading Singer messages on stdin."""
        return [str(self.folder / "bin" / self.executable), "--config", str(config_path)]


PEERS = [
    Peer(
        name="target-sqlite 0.2.0 (PyPI)",
        requirement="target-sqlite==0.2.0",
        executable="target-sqlite",
        module="target_sqlite.target_sqlite",
        pythons=("3.9", "3.8", "3.7"),
        note=(
            "SQLAlchemy 1.2 Core; one INSERT per row in autocommit (a transaction and a WAL "
            "fsync per row), an UPDATE after an IntegrityError for existing keys; jsonschema "
            "Draft 4 validation; no history"
        ),
    ),
]


def _works(python: str) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(sys.version)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def find_python(versions: tuple[str, ...]) -> str | None:
    """An interpreter of one of ``versions`` on this machine, without downloading any.

    Args:
        versions: ``("3.9", "3.8")``, preferred first.

    Returns:
        Its path, or None.
    """
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for version in versions:
        candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
        candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
        which = shutil.which(f"python{version}")
        if which:
            candidates.append(which)
        for candidate in candidates:
            if Path(candidate).exists() and _works(candidate):
                return candidate
    return None


def install(peer: Peer) -> str | None:
    """Install a peer into its virtualenv (once).

    Args:
        peer: The peer.

    Returns:
        None when ready, else why it cannot run.
    """
    marker = peer.folder / ".installed"
    if marker.exists() and marker.read_text() == peer.requirement:
        return None
    python = find_python(peer.pythons) if peer.pythons else None
    if peer.pythons and python is None:
        return f"needs Python {' or '.join(peer.pythons)}, none on this machine"
    log(f"Installing {peer.requirement} into {peer.folder} (Python {python or 'default'})")
    shutil.rmtree(peer.folder, ignore_errors=True)
    peer.folder.parent.mkdir(parents=True, exist_ok=True)
    venv_cmd = [str(UV), "venv", "--quiet", "--no-python-downloads", str(peer.folder)]
    if python:
        venv_cmd += ["--python", python]
    steps = [
        venv_cmd,
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(peer.folder / "bin" / "python"),
            peer.requirement,
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return f"install failed: {(result.stderr or result.stdout).strip()[-300:]}"
    smoke = subprocess.run(
        [str(peer.folder / "bin" / "python"), "-c", f"import {peer.module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if smoke.returncode != 0:
        return f"does not import: {smoke.stderr.strip().splitlines()[-1:]}"
    marker.write_text(peer.requirement)
    return None


def write_config(peer: Peer, database: Path, folder: Path) -> Path:
    """Write the peer's config file for ``database`` into ``folder``."""
    path = folder / f"{peer.executable}-config.json"
    path.write_text(json.dumps(peer.config(database)))
    return path
