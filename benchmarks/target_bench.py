"""Target benchmarks: target-sqlite-audit against the minimal loader and PyPI peers.

Each loader runs as a real subprocess reading a workload file on stdin, in three scenarios on
one database: ``initial`` (empty file), ``unchanged`` (the same input again) and ``changed``
(10% of the records changed). Repetitions are interleaved (baseline, target, baseline, ...)
and each keeps its best time. Peak memory is the process's ``ru_maxrss``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import peers as peers_mod
from benchmarks import workload
from benchmarks.common import (
    BENCH_DIR,
    PYTHON,
    ROOT,
    VENV_BIN,
    ProcResult,
    bench_tmp,
    log,
    run_process,
)

SCENARIOS = (("initial", "initial"), ("unchanged", "initial"), ("changed", "changed"))


@dataclass
class Loader:
    """Something that loads Singer messages from stdin into an SQLite file."""

    key: str
    label: str
    kind: str  # baseline | floor | audit | peer
    peer: peers_mod.Peer | None = None

    def command(self, database: Path, folder: Path) -> list[str]:
        """Command line loading into ``database`` (config files go into ``folder``)."""
        if self.kind == "baseline":
            return [PYTHON, str(ROOT / "benchmarks" / "baseline_loader.py"), str(database)]
        if self.kind == "floor":
            return [PYTHON, str(ROOT / "benchmarks" / "baseline_audit.py"), str(database)]
        if self.kind == "audit":
            config = folder / "audit-config.json"
            config.write_text(json.dumps({"database": str(database)}))
            return [str(VENV_BIN / "target-sqlite-audit"), "--config", str(config)]
        assert self.peer is not None
        return self.peer.command(peers_mod.write_config(self.peer, database, folder))

    def database_file(self, database: Path) -> Path:
        """The SQLite file it writes."""
        return self.peer.database_file(database) if self.peer else database


BASELINE = Loader("baseline", "minimal loader (json.loads + executemany, WAL)", "baseline")
AUDIT = Loader("audit", "target-sqlite-audit", "audit")
#: The audit design's own cost: current row + history version, hash change detection only.
FLOOR = Loader("floor", "two-row floor (current + history rows, no validation or SDK)", "floor")


@dataclass
class TargetResults:
    """Everything measured on the target side."""

    records: int
    reps: int
    #: loader key -> scenario -> seconds of each repetition.
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: loader key -> scenario -> CPU seconds (user + system) of each repetition.
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: loader key -> scenario -> peak RSS of each repetition.
    rss: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: loader key -> start-up seconds (SCHEMA and STATE only).
    startup: dict[str, list[float]] = field(default_factory=dict)
    #: loader key -> label.
    labels: dict[str, str] = field(default_factory=dict)
    #: peer name -> details.
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Peak RSS of the target's initial load by record count, and seconds.
    memory: dict[int, dict[str, float]] = field(default_factory=dict)
    #: Checks that failed (wrong row counts...).
    problems: list[str] = field(default_factory=list)
    #: The workload's records: ``wide`` (40+ fields) or ``narrow`` (15).
    shape: str = "wide"
    changed: int = 0


def _rows(path: Path, table: str) -> int | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    except sqlite3.Error:
        return None


def _run(loader: Loader, database: Path, folder: Path, source: Path, tag: str) -> ProcResult:
    cmd = loader.command(database, folder)
    result = run_process(cmd, stdin=source, log_name=f"target-{loader.key}-{tag}", timeout=7200)
    result.check(f"{loader.label} ({tag})")
    return result


def run_sequence(
    loader: Loader, n: int, work: Path, tag: str, problems: list[str], shape: str = "wide"
) -> dict[str, ProcResult]:
    """Initial, unchanged and changed runs into a fresh database.

    Args:
        loader: The loader.
        n: Records of the workload.
        work: Scratch folder (emptied first).
        tag: Label of the log files.
        problems: Failed checks are appended here.

    Returns:
        Scenario -> result.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    database = work / "bench.sqlite"
    out: dict[str, ProcResult] = {}
    for scenario, variant in SCENARIOS:
        source = workload.workload(n, variant, shape=shape)
        out[scenario] = _run(loader, database, work, source, f"{tag}-{scenario}")
        rows = _rows(loader.database_file(database), workload.STREAM)
        if rows != n:
            problems.append(f"{loader.label} {scenario}: {rows} rows in the table, expected {n}")
    if loader.kind in ("audit", "floor"):
        history = _rows(database, f"{workload.STREAM}_history")
        expected = n + workload.changed_count(n)
        if history is not None and history != expected:
            problems.append(f"{loader.label}: {history} history rows, expected {expected}")
    shutil.rmtree(work, ignore_errors=True)
    return out


def _startup_file() -> Path:
    path = BENCH_DIR / "data" / "startup.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"type": "STATE", "value": {"bookmarks": {}}}
    path.write_text(json.dumps(workload.schema_message()) + "\n" + json.dumps(state) + "\n")
    return path


def measure_startup(loaders: list[Loader], reps: int, work: Path) -> dict[str, list[float]]:
    """Seconds each loader takes for a SCHEMA and a STATE alone (interpreter, imports, DDL)."""
    source = _startup_file()
    times: dict[str, list[float]] = {loader.key: [] for loader in loaders}
    for rep in range(-1, reps):  # -1: untimed warm-up (fills the bytecode cache)
        for loader in loaders:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            result = _run(loader, work / "startup.sqlite", work, source, f"startup-{rep}")
            if rep >= 0:
                times[loader.key].append(result.seconds)
    shutil.rmtree(work, ignore_errors=True)
    return times


def run(
    *,
    records: int,
    reps: int,
    memory_sizes: list[int],
    peer_records: int,
    peer_reps: int,
    with_peers: bool = True,
    shape: str = "wide",
) -> TargetResults:
    """Run every target benchmark.

    Args:
        records: Records of the throughput workload.
        reps: Repetitions (best kept).
        memory_sizes: Record counts of the memory series (target initial loads).
        peer_records: Records of the (smaller) workload the peers run on.
        peer_reps: Repetitions of the peers.
        with_peers: Install and run the peers.
        shape: The workload's records: ``wide`` (40+ fields) or ``narrow`` (15).

    Returns:
        The results.
    """
    results = TargetResults(
        records=records, reps=reps, changed=workload.changed_count(records), shape=shape
    )
    work = bench_tmp("target-")
    try:
        log(f"Target: workloads of {records:,} records")
        for _, variant in SCENARIOS:
            workload.workload(records, variant, shape=shape)
        loaders = [BASELINE, AUDIT, FLOOR]
        for loader in loaders:
            results.labels[loader.key] = loader.label
            results.seconds[loader.key] = {s: [] for s, _ in SCENARIOS}
            results.rss[loader.key] = {s: [] for s, _ in SCENARIOS}
            results.cpu[loader.key] = {s: [] for s, _ in SCENARIOS}
        results.startup = measure_startup(loaders, reps, work / "startup")
        for rep in range(reps):
            for loader in loaders:
                log(f"Target: {loader.label}, repetition {rep + 1}/{reps}")
                seq = run_sequence(
                    loader, records, work / loader.key, f"r{rep}", results.problems, shape
                )
                for scenario, result in seq.items():
                    results.seconds[loader.key][scenario].append(result.seconds)
                    results.rss[loader.key][scenario].append(result.max_rss)
                    results.cpu[loader.key][scenario].append(result.cpu)
        if with_peers:
            run_peers(results, peer_records, peer_reps, work)
        for n in memory_sizes:
            if n == records:
                rss = max(results.rss[AUDIT.key]["initial"])
                seconds = min(results.seconds[AUDIT.key]["initial"])
            else:
                log(f"Target: memory, initial load of {n:,} records")
                source = workload.workload(n, "initial")
                folder = work / "memory"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                result = _run(AUDIT, folder / "memory.sqlite", folder, source, f"memory-{n}")
                rows = _rows(folder / "memory.sqlite", workload.STREAM)
                if rows != n:
                    results.problems.append(f"memory run {n}: {rows} rows, expected {n}")
                rss, seconds = result.max_rss, result.seconds
                shutil.rmtree(folder, ignore_errors=True)
            results.memory[n] = {"rss": rss, "seconds": seconds}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def run_peers(results: TargetResults, n: int, reps: int, work: Path) -> None:
    """Install and run each PyPI peer on ``n`` records, with the baseline on the same input."""
    for _, variant in SCENARIOS:
        workload.workload(n, variant)
    for peer in peers_mod.PEERS:
        entry: dict[str, Any] = {"records": n, "note": peer.note, "requirement": peer.requirement}
        results.peers[peer.name] = entry
        problem = peers_mod.install(peer)
        if problem:
            log(f"Peer {peer.name} not run: {problem}")
            entry["status"] = problem
            continue
        loader = Loader(f"peer-{peer.executable}", peer.name, "peer", peer)
        entry["seconds"] = {s: [] for s, _ in SCENARIOS}
        entry["baseline"] = {s: [] for s, _ in SCENARIOS}
        entry["audit"] = {s: [] for s, _ in SCENARIOS}
        try:
            for rep in range(reps):
                for who, target in (("baseline", BASELINE), ("audit", AUDIT), ("seconds", loader)):
                    log(f"Peers: {target.label} on {n:,} records, repetition {rep + 1}/{reps}")
                    seq = run_sequence(target, n, work / "peer", f"peer{rep}", results.problems)
                    for scenario, result in seq.items():
                        entry[who][scenario].append(result.seconds)
            entry["status"] = "ok"
        except RuntimeError as exc:
            entry["status"] = f"failed: {str(exc).splitlines()[0]}"
            log(f"Peer {peer.name}: {exc}")
