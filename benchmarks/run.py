"""Run the benchmarks and (re)write BENCHMARKS.md: ``make bench`` or ``python -m benchmarks.run``.

Sections: ``target`` (target-sqlite-audit vs the minimal loader and PyPI peers, memory),
``tap`` (tap-zohocrm vs a bare requests loop, API economy, latency), ``bulk`` (a backfill of
the same module by Get Records and by Bulk Read: credits, wall time, identical output),
``e2e`` (``meltano run``) and ``profile`` (cProfile of the target and the tap). ``--only``
runs some of them; the others keep their last saved figures (``.bench/results.json``), each
section stating when and how it was measured. ``--quick`` uses small workloads for trying
things out; the figures in BENCHMARKS.md are meant to come from a full run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from typing import Any

from benchmarks import (
    bulk_backfill,
    concurrency_bench,
    e2e_bench,
    paging_bench,
    profiling,
    report,
    tap_bench,
    target_bench,
)
from benchmarks.common import BENCH_DIR, git_commit, log, machine

RESULTS = BENCH_DIR / "results.json"
SECTIONS = ("target", "tap", "paging", "concurrency", "bulk", "e2e", "profile")

FULL = {
    "target_records": 100_000,
    "memory_sizes": [10_000, 100_000, 1_000_000],
    "peer_records": 5_000,
    "peer_reps": 1,
    "reps": 3,
    "tap_leads": 20_000,
    "tap_contacts": 2_000,
    "tap_deals": 1_000,
    "paging_leads": 20_000,
    "concurrency_records": 4_000,
    "latency_reps": 2,
    "bulk_leads": 100_000,
    "bulk_latency_ms": 20,
    "e2e_per_module": 10_000,
    "e2e_reps": 3,
    "profile_target_records": 100_000,
    "profile_tap_leads": 20_000,
}
QUICK = {
    "target_records": 10_000,
    "memory_sizes": [2_000, 20_000],
    "peer_records": 500,
    "peer_reps": 1,
    "reps": 2,
    "tap_leads": 4_000,
    "tap_contacts": 400,
    "tap_deals": 200,
    "paging_leads": 4_000,
    "concurrency_records": 1_000,
    "latency_reps": 1,
    "bulk_leads": 5_000,
    "bulk_latency_ms": 20,
    "e2e_per_module": 2_000,
    "e2e_reps": 1,
    "profile_target_records": 10_000,
    "profile_tap_leads": 4_000,
}


def _load() -> dict[str, Any]:
    if RESULTS.exists():
        try:
            loaded: dict[str, Any] = json.loads(RESULTS.read_text())
        except ValueError:
            return {}
        return loaded
    return {}


def _save(results: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))


def _plain(obj: Any) -> Any:
    """Dataclasses to JSON-ready data (int keys become strings, as JSON would)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small workloads (minutes, not tens)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help=f"sections to run, comma-separated or repeated: {', '.join(SECTIONS)}",
    )
    parser.add_argument("--reps", type=int, help="repetitions of the timed runs (best kept)")
    parser.add_argument("--records", type=int, help="records of the target workload")
    parser.add_argument("--no-peers", action="store_true", help="skip the PyPI peer targets")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the target's memory series (1M records)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite BENCHMARKS.md from saved results"
    )
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, save the results, write BENCHMARKS.md and print the tables."""
    args = parse_args(argv)
    only = {part.strip() for item in args.only for part in item.split(",") if part.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    chosen = [s for s in SECTIONS if not only or s in only]
    settings = dict(QUICK if args.quick else FULL)
    if args.reps:
        settings["reps"] = args.reps
        settings["e2e_reps"] = args.reps
    if args.records:
        settings["target_records"] = args.records
    if args.no_memory:
        settings["memory_sizes"] = []
    results = _load()
    command = (
        "make bench"
        if not (argv or sys.argv[1:])
        else ("python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:]))
    )
    started = time.perf_counter()
    if not args.report_only:
        info = machine()
        results["machine"] = dataclasses.asdict(info)
        meta = {
            "date": info.date,
            "mode": "quick" if args.quick else "full",
            "commit": git_commit(),
            "command": command,
        }
        if "target" in chosen:
            data = target_bench.run(
                records=settings["target_records"],
                reps=settings["reps"],
                memory_sizes=settings["memory_sizes"],
                peer_records=settings["peer_records"],
                peer_reps=settings["peer_reps"],
                with_peers=not args.no_peers,
            )
            plain = _plain(data)
            earlier = results.get("target", {})
            if args.no_peers and earlier.get("data", {}).get("peers"):
                # The peers take long to install and run: --no-peers keeps their last table,
                # which then names when and where it was measured.
                plain["peers"] = earlier["data"]["peers"]
                plain["peers_meta"] = earlier["data"].get("peers_meta") or earlier["meta"]
            results["target"] = {"meta": meta, "data": plain}
            _save(results)
            data_narrow = target_bench.run(
                records=settings["target_records"],
                reps=settings["reps"],
                memory_sizes=[],
                peer_records=settings["peer_records"],
                peer_reps=settings["peer_reps"],
                with_peers=False,
                shape="narrow",
            )
            results["target_narrow"] = {"meta": meta, "data": _plain(data_narrow)}
            _save(results)
        if "tap" in chosen:
            data_tap = tap_bench.run(
                leads=settings["tap_leads"],
                contacts=settings["tap_contacts"],
                deals=settings["tap_deals"],
                reps=settings["reps"],
                latency_reps=settings["latency_reps"],
            )
            results["tap"] = {"meta": meta, "data": _plain(data_tap)}
            _save(results)
        if "paging" in chosen:
            data_paging = paging_bench.run(settings["paging_leads"])
            results["paging"] = {"meta": meta, "data": _plain(data_paging)}
            _save(results)
        if "concurrency" in chosen:
            data_concurrency = concurrency_bench.run(settings["concurrency_records"])
            results["concurrency"] = {"meta": meta, "data": _plain(data_concurrency)}
            _save(results)
        if "bulk" in chosen:
            data_bulk = bulk_backfill.compare(
                settings["bulk_leads"], latency_ms=settings["bulk_latency_ms"]
            )
            results["bulk"] = {"meta": meta, "data": _plain(data_bulk)}
            _save(results)
        if "e2e" in chosen:
            data_e2e = e2e_bench.run(
                per_module=settings["e2e_per_module"], reps=settings["e2e_reps"]
            )
            results["e2e"] = {"meta": meta, "data": _plain(data_e2e)}
            _save(results)
        if "profile" in chosen:
            profiles = profiling.profile_target(settings["profile_target_records"])
            profiles += profiling.profile_tap(settings["profile_tap_leads"])
            results["profiles"] = {"meta": meta, "data": [_plain(p) for p in profiles]}
            _save(results)
        results["command"] = command
        _save(results)
    markdown, console = report.build(results)
    if not args.no_write:
        report.write(results)
    figures = markdown.split("## Goals", 1)[-1].split("## Profiles", 1)[0]
    print("## Goals" + figures.rstrip())
    print()
    print(console)
    if not args.report_only:
        log(f"Done in {time.perf_counter() - started:.0f} s; results in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
