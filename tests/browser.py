"""Debian's Chromium for the insights page test, installed like PostgreSQL when missing."""

from __future__ import annotations

from pathlib import Path

from debian import apt_install

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
    print("\n[e2e] installing Debian's chromium for the insights page test", flush=True)
    apt_install("chromium")
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    return None
