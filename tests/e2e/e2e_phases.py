"""Phases of the end-to-end tier's setup, announced and timed.

The setup is slow (plugins installed, a PostgreSQL server started, a wheel built), so each
slow step is a :func:`phase`: a banner when it starts (visible with ``-s``) and, in the
summary of every run (with or without pytest-xdist), one line with what it took.
"""

from __future__ import annotations

import contextlib
import os
import time
import typing as t

import pytest


def child_environ() -> dict[str, str]:
    """This process's environment for the tier's commands, with bytecode caching allowed.

    The tier installs fresh plugin venvs (no bytecode in them). With PYTHONDONTWRITEBYTECODE
    set, as on CI, every plugin process would compile singer-sdk, SQLAlchemy and Meltano's
    imports again; letting the first process cache them saves a quarter of the tier's CPU.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


#: (phase, seconds) finished since the last test report picked them up.
_FINISHED: list[tuple[str, float]] = []


@contextlib.contextmanager
def phase(name: str) -> t.Iterator[None]:
    """Announce a slow setup step and record how long it took."""
    print(f"\n[e2e] {name} ...", flush=True)
    started = time.monotonic()
    try:
        yield
    finally:
        _FINISHED.append((name, time.monotonic() - started))


@pytest.fixture(autouse=True)
def report_phases(request: pytest.FixtureRequest) -> t.Iterator[None]:
    """Attach the phases finished during this test's setup to its report."""
    yield
    while _FINISHED:
        name, seconds = _FINISHED.pop(0)
        request.node.user_properties.append(("e2e_phase", f"{name}: {seconds:.1f} s"))
