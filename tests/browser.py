"""Debian's Chromium for the insights page test, installed like PostgreSQL when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Flags for a closed network and a root user (see the machine notes in the README).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path | None:
    """The Chromium binary, installing Debian's package when absent and possible."""
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print("\n[e2e] installing Debian's chromium for the insights page test", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    return None
