"""cProfile of the target and the tap on the benchmark workloads, summarised for the report.

The processes run exactly as in the benchmarks, under ``python -m cProfile -o FILE``. The
summary keeps the top functions by own time, the project's functions by cumulative time, and
splits own time into categories (SQLite, JSON, validation, HTTP, the SDK, the project, imports).
Profiles are kept in ``.bench/profiles/`` for ``python -m pstats`` or snakeviz.
"""

from __future__ import annotations

import json
import pstats
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import workload
from benchmarks.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    EmulatorProcess,
    bench_path,
    bench_tmp,
    log,
    run_process,
)

PROJECT_PACKAGES = ("tap_zohocrm", "target_sqlite_audit")

#: (category, predicate on "file:function") in order; the first match wins.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("project: target_sqlite_audit", ("target_sqlite_audit/",)),
    ("project: tap_zohocrm", ("tap_zohocrm/",)),
    ("singer-sdk (Python code)", ("singer_sdk/",)),
    ("SQLite (sqlite3 C calls)", ("sqlite3.", "'sqlite3")),
    ("JSON parse / serialise", ("orjson", "json/", "'_json", "simplejson", "json.")),
    (
        "validation (generated checks, fastjsonschema, jsonschema)",
        ("fast validation", "fastjsonschema", "jsonschema", "<string>"),
    ),
    ("hashing", ("hashlib", "_hashlib", "blake2", "sha1", "sha256", "md5")),
    (
        "HTTP (requests, urllib3, sockets)",
        ("requests/", "urllib3/", "http/client", "socket", "ssl.", "selectors", "select."),
    ),
    ("date/time", ("datetime", "dateutil", "pendulum", "zoneinfo", "_strptime")),
    ("imports and start-up", ("<frozen", "importlib", "builtins.exec", "marshal")),
    ("logging", ("logging/",)),
]


@dataclass
class ProfileSummary:
    """The digest of one profile."""

    name: str
    command: str
    total: float
    #: (own seconds, cumulative seconds, calls, function) by own time.
    top_own: list[tuple[float, float, int, str]] = field(default_factory=list)
    #: (cumulative seconds, calls, function) of the project's functions.
    top_project: list[tuple[float, int, str]] = field(default_factory=list)
    #: category -> own seconds.
    categories: dict[str, float] = field(default_factory=dict)
    path: str = ""


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for marker in ("site-packages/", "lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    root = str(ROOT) + "/"
    filename = filename.removeprefix(root)
    return f"{filename}:{line}({name})"


def _category(label: str) -> str:
    for category, needles in CATEGORIES:
        if any(needle in label for needle in needles):
            return category
    return "other (stdlib, builtins)"


def summarise(name: str, command: str, path: Path, top: int = 15) -> ProfileSummary:
    """Digest a cProfile file.

    Args:
        name: Name for the report.
        command: What was profiled.
        path: The ``.prof`` file.
        top: Rows kept in each list.

    Returns:
        The summary.
    """
    stats = pstats.Stats(str(path))
    raw = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    categories: dict[str, float] = {}
    for func, (_cc, calls, own, cumulative, _callers) in raw.items():
        label = _label(func)
        rows.append((own, cumulative, calls, label))
        category = _category(label)
        categories[category] = categories.get(category, 0.0) + own
    rows.sort(reverse=True)
    project = sorted(
        (
            (cumulative, calls, label)
            for own, cumulative, calls, label in rows
            if label.startswith(PROJECT_PACKAGES)
        ),
        reverse=True,
    )
    return ProfileSummary(
        name=name,
        command=command,
        total=total,
        top_own=rows[:top],
        top_project=project[:top],
        categories=dict(sorted(categories.items(), key=lambda item: -item[1])),
        path=str(path.relative_to(ROOT)),
    )


def profile_target(records: int) -> list[ProfileSummary]:
    """Profile target-sqlite-audit: initial load, then the 10% changed run, of ``records``."""
    work = bench_tmp("profile-target-")
    summaries = []
    try:
        config = work / "config.json"
        config.write_text(json.dumps({"database": str(work / "profile.sqlite")}))
        target = str(VENV_BIN / "target-sqlite-audit")
        for scenario, variant in (("initial", "initial"), ("changed", "changed")):
            log(f"Profiling target-sqlite-audit ({scenario}, {records:,} records)")
            out = bench_path("profiles", f"target-{scenario}.prof")
            run_process(
                [PYTHON, "-m", "cProfile", "-o", str(out), target, "--config", str(config)],
                stdin=workload.workload(records, variant),
                log_name=f"profile-target-{scenario}",
                timeout=7200,
            ).check(f"profiling the target ({scenario})")
            summaries.append(
                summarise(
                    f"target-sqlite-audit, {scenario}",
                    f"{records:,} records ({scenario} scenario)",
                    out,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summaries


def profile_tap(leads: int) -> list[ProfileSummary]:
    """Profile tap-zohocrm syncing ``leads`` leads from the emulator (no latency)."""
    work = bench_tmp("profile-tap-")
    try:
        args = ["--leads", str(leads), "--contacts", "0", "--deals", "0"]
        with EmulatorProcess(*args, log_name="emulator-profile") as emu:
            config = work / "config.json"
            config.write_text(json.dumps(emu.tap_config()))
            tap = str(VENV_BIN / "tap-zohocrm")
            run_process(
                [tap, "--config", str(config), "--discover"],
                stdout=work / "catalog.json",
                log_name="profile-tap-discover",
            ).check("tap --discover")
            log(f"Profiling tap-zohocrm ({leads:,} leads)")
            out = bench_path("profiles", "tap.prof")
            run_process(
                [
                    PYTHON,
                    "-m",
                    "cProfile",
                    "-o",
                    str(out),
                    tap,
                    "--config",
                    str(config),
                    "--catalog",
                    str(work / "catalog.json"),
                ],
                log_name="profile-tap",
            ).check("profiling the tap")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [summarise("tap-zohocrm", f"{leads:,} leads, no latency", out)]
