"""Debian packages the end-to-end tests need (PostgreSQL, Chromium), installed when missing."""

from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(package: str) -> bool:
    """Install a Debian package as root; False when that is not possible here."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return True
