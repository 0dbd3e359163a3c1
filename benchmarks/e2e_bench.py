"""End to end: ``meltano run tap-zohocrm target-sqlite-audit`` over the emulator.

Meltano runs in the repository's project (``meltano.yml``, environment ``demo``) with everything
it writes redirected: plugins under ``.bench/meltano`` (``MELTANO_SYS_DIR_ROOT``), its system
database and the audit file in a temporary folder, the emulator's URL through
``TAP_ZOHOCRM_ACCOUNTS_URL``. Each repetition is an initial sync of every module (fresh state),
followed by a run with nothing changed.

Where the time goes comes from two sources: Meltano's own log timestamps (start-up until
``Running catalog discovery``; discovery; the extract-load block; wrapping up) and the same
work done without Meltano (``--discover``, the tap into a file, the target from that file, and
the tap piped into the target).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    BENCH_DIR,
    ROOT,
    VENV_BIN,
    EmulatorProcess,
    bench_env,
    bench_path,
    bench_tmp,
    log,
    run_process,
)

MELTANO_DIR = BENCH_DIR / "meltano"
PIPELINE = ("tap-zohocrm", "target-sqlite-audit")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z?\s+\[\s*(\w+)\s*\]\s+(\S+)\s+(.*)$")


@dataclass
class E2EResults:
    """Figures of the end-to-end runs."""

    per_module: int
    reps: int
    #: Seconds of each initial ``meltano run``.
    initial: list[float] = field(default_factory=list)
    #: Seconds of each ``meltano run`` with nothing changed.
    unchanged: list[float] = field(default_factory=list)
    #: Phases of the fastest initial run, from Meltano's log: name -> seconds.
    phases: dict[str, float] = field(default_factory=dict)
    #: Phases of the fastest no-change run.
    phases_unchanged: dict[str, float] = field(default_factory=dict)
    #: The same work without Meltano: name -> best seconds.
    standalone: dict[str, float] = field(default_factory=dict)
    #: Emulator calls (token requests left out) of the last initial and no-change runs.
    calls_initial: dict[str, int] = field(default_factory=dict)
    calls_unchanged: dict[str, int] = field(default_factory=dict)
    install_seconds: float = 0.0
    records: int = 0
    problems: list[str] = field(default_factory=list)


def _env(tmp: Path, url: str) -> dict[str, str]:
    return bench_env(
        {
            "MELTANO_SYS_DIR_ROOT": str(MELTANO_DIR),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            "TAP_ZOHOCRM_ACCOUNTS_URL": url,
            "TARGET_SQLITE_AUDIT_DATABASE": str(tmp / "audit.sqlite"),
        }
    )


def install() -> float:
    """``meltano install`` of both plugins into ``.bench/meltano`` (seconds taken)."""
    started = time.perf_counter()
    env = bench_env(
        {
            "MELTANO_SYS_DIR_ROOT": str(MELTANO_DIR),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{bench_path('meltano-install.db')}",
        }
    )
    run_process(
        [str(VENV_BIN / "meltano"), "install", *PIPELINE],
        env=env,
        cwd=ROOT,
        log_name="meltano-install",
        timeout=1800,
    ).check("meltano install")
    seconds = time.perf_counter() - started
    # Warm the plugins' bytecode cache, as any earlier run would have.
    for kind, name in (("extractors", PIPELINE[0]), ("loaders", PIPELINE[1])):
        executable = MELTANO_DIR / kind / name / "venv" / "bin" / name
        run_process([executable, "--about"], log_name=f"warm-{name}").check(f"{name} --about")
    return seconds


def _phases(log_path: Path, started_at: float, seconds: float) -> dict[str, float]:
    """Split a ``meltano run`` into phases using its log timestamps.

    Args:
        log_path: Its stderr.
        started_at: ``time.time()`` when the process started.
        seconds: Its wall time.

    Returns:
        Phase -> seconds.
    """
    marks: dict[str, float] = {}
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = STAMP.match(line)
        if not match:
            continue
        stamp = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.timezone.utc)
        at = stamp.timestamp() - started_at
        source, text = match.group(3), match.group(4)
        if source == "meltano" and "first_log" not in marks:
            marks["first_log"] = at
        if source == "meltano" and text.startswith("Running catalog discovery"):
            marks["discovery"] = at
        if source == "target-sqlite-audit" and "target_first" not in marks:
            marks["target_first"] = at
        if source == "meltano" and text.startswith("Block run completed"):
            marks["block_done"] = at
    phases: dict[str, float] = {}
    first = marks.get("first_log", 0.0)
    phases["Python and Meltano imports (to first log line)"] = first
    # Without discovery (a cached catalog) the block starts with the first plugin line.
    run_start = marks.get("discovery", marks.get("target_first", first))
    phases["Meltano: project, environment, state"] = run_start - first
    block_done = marks.get("block_done", seconds)
    phases["discovery, tap and target (block)"] = block_done - run_start
    phases["Meltano: state write, exit"] = seconds - block_done
    return phases


def _meltano_run(env: dict[str, str], name: str) -> tuple[float, dict[str, float]]:
    started_at = time.time()
    result = run_process(
        [str(VENV_BIN / "meltano"), "--environment=demo", "run", *PIPELINE],
        env=env,
        cwd=ROOT,
        log_name=name,
        timeout=1800,
    ).check(f"meltano run ({name})")
    assert result.stderr_path is not None
    return result.seconds, _phases(result.stderr_path, started_at, result.seconds)


def _calls(emu: EmulatorProcess) -> dict[str, int]:
    return {k: v for k, v in sorted(emu.stats()["calls"].items()) if k != "oauth_token"}


def _count_rows(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return sum(
            conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("leads", "contacts", "deals")
        )


def standalone(emu: EmulatorProcess, tmp: Path, reps: int) -> dict[str, float]:
    """The pipeline's work without Meltano: discovery, tap, target, tap | target."""
    config = tmp / "tap.json"
    config.write_text(json.dumps(emu.tap_config()))
    target_config = tmp / "target.json"
    times: dict[str, list[float]] = {
        "tap --discover": [],
        "tap into a file": [],
        "target from the file": [],
        "tap | target (shell pipe)": [],
    }
    tap = str(VENV_BIN / "tap-zohocrm")
    target = str(VENV_BIN / "target-sqlite-audit")
    for rep in range(reps):
        log(f"E2E: the same work without Meltano, repetition {rep + 1}/{reps}")
        result = run_process(
            [tap, "--config", str(config), "--discover"],
            stdout=tmp / "catalog.json",
            log_name="e2e-discover",
        ).check("tap --discover")
        times["tap --discover"].append(result.seconds)
        result = run_process(
            [tap, "--config", str(config), "--catalog", str(tmp / "catalog.json")],
            stdout=tmp / "out.jsonl",
            log_name="e2e-tap",
        ).check("tap")
        times["tap into a file"].append(result.seconds)
        database = tmp / f"standalone-{rep}.sqlite"
        target_config.write_text(json.dumps({"database": str(database)}))
        result = run_process(
            [target, "--config", str(target_config)],
            stdin=tmp / "out.jsonl",
            log_name="e2e-target",
        ).check("target")
        times["target from the file"].append(result.seconds)
        database = tmp / f"pipe-{rep}.sqlite"
        target_config.write_text(json.dumps({"database": str(database)}))
        times["tap | target (shell pipe)"].append(
            _pipe(
                [tap, "--config", str(config), "--catalog", str(tmp / "catalog.json")],
                [target, "--config", str(target_config)],
            )
        )
    return {name: min(values) for name, values in times.items()}


def _pipe(producer: list[str], consumer: list[str]) -> float:
    started = time.perf_counter()
    with open(bench_path("logs", "e2e-pipe.log"), "wb") as err:
        env = bench_env()
        first = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=err, env=env)
        second = subprocess.Popen(
            consumer, stdin=first.stdout, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        assert first.stdout is not None
        first.stdout.close()
        codes = (second.wait(), first.wait())
    if any(codes):
        msg = f"tap | target failed with exit codes {codes}"
        raise RuntimeError(msg)
    return time.perf_counter() - started


def run(*, per_module: int, reps: int) -> E2EResults:
    """Run the end-to-end benchmark.

    Args:
        per_module: Records per module (Leads, Contacts, Deals).
        reps: Repetitions (best kept).

    Returns:
        The results.
    """
    results = E2EResults(per_module=per_module, reps=reps)
    log("E2E: meltano install tap-zohocrm target-sqlite-audit (into .bench/meltano)")
    results.install_seconds = install()
    sizes = ["--leads", str(per_module), "--contacts", str(per_module), "--deals", str(per_module)]
    with EmulatorProcess(*sizes, log_name="emulator-e2e") as emu:
        best_initial = best_unchanged = float("inf")
        for rep in range(reps):
            tmp = bench_tmp("e2e-")
            try:
                env = _env(tmp, emu.url)
                log(f"E2E: meltano run (initial), repetition {rep + 1}/{reps}")
                emu.reset_stats()
                seconds, phases = _meltano_run(env, f"e2e-meltano-initial-{rep}")
                results.calls_initial = _calls(emu)
                results.initial.append(seconds)
                if seconds < best_initial:
                    best_initial, results.phases = seconds, phases
                results.records = _count_rows(tmp / "audit.sqlite")
                if results.records != 3 * per_module:
                    results.problems.append(
                        f"meltano run stored {results.records} rows, expected {3 * per_module}"
                    )
                log(f"E2E: meltano run (nothing changed), repetition {rep + 1}/{reps}")
                emu.reset_stats()
                seconds, phases = _meltano_run(env, f"e2e-meltano-unchanged-{rep}")
                results.calls_unchanged = _calls(emu)
                results.unchanged.append(seconds)
                if seconds < best_unchanged:
                    best_unchanged, results.phases_unchanged = seconds, phases
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        tmp = bench_tmp("e2e-standalone-")
        try:
            results.standalone = standalone(emu, tmp, reps)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return results
