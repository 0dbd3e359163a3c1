"""Run a Python snippet in a fresh interpreter, its standard streams buffered as usual."""

from __future__ import annotations

import os
import subprocess
import sys


def run_buffered(script: str) -> subprocess.CompletedProcess[str]:
    """``python -c script`` without ``PYTHONUNBUFFERED`` (what stays in a buffer shows)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
