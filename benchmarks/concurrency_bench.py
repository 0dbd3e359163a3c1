"""Concurrency benchmark: 5 modules at Zoho-like latency, one stream at a time vs concurrent.

Standalone: ``.venv/bin/python -m benchmarks.concurrency_bench [--records 4000]``;
``benchmarks/run.py`` calls :func:`run` for its ``concurrency`` section.

The emulator runs as a process answering every API call after ``latency`` ms; the tap runs as
a process over Get Records (``read_method: rest``, the path with the most calls) with
``max_concurrent_requests`` 1, 3 and 5. The ideal wall time of a level is the lower bound
``latency x max(calls of the longest stream, all calls / level)``: one stream's calls follow
one another, and no more than ``level`` are in flight. Also the Bulk Read path: 3 modules
backfilled with Bulk Read, one at a time vs concurrently (their jobs run at once).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    EmulatorProcess,
    bench_tmp,
    log,
    markdown_table,
    met_text,
    run_process,
)
from tap_zohocrm.schema import SYSTEM_KEYS

MODULES = ("Leads", "Contacts", "Deals", "Accounts", "Campaigns")
BULK_MODULES = ("Leads", "Contacts", "Deals")
LEVELS = (1, 3, 5)
GOAL = 1.15


@dataclass
class LevelRun:
    """One run at one concurrency level."""

    level: int
    seconds: float
    after_startup: float
    calls: dict[str, int]
    records: int
    max_in_flight: int


@dataclass
class ConcurrencyResults:
    """Every level, REST and Bulk."""

    records: int
    latency_ms: int
    rest: dict[str, LevelRun] = field(default_factory=dict)
    bulk: dict[str, LevelRun] = field(default_factory=dict)
    #: The bare-threads floor (baseline_concurrent.py) at the top level, same calls.
    floor: dict[str, LevelRun] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _catalog(config: Path, work: Path, streams: set[str]) -> Path:
    discovered = work / "catalog-all.json"
    run_process(
        [str(VENV_BIN / "tap-zohocrm"), "--config", str(config), "--discover"],
        stdout=discovered,
        log_name="concurrency-discover",
    ).check("tap-zohocrm --discover")
    catalog = json.loads(discovered.read_text())
    for stream in catalog["streams"]:
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    path = work / f"catalog-{len(streams)}.json"
    path.write_text(json.dumps(catalog))
    return path


def _fields(catalog: Path) -> dict[str, str]:
    """Each module's fields as the tap asks for them (its catalog's, less metadata keys)."""
    streams = {s["tap_stream_id"]: s for s in json.loads(catalog.read_text())["streams"]}
    return {
        module: ",".join(
            name
            for name in streams[module.lower()]["schema"]["properties"]
            if not name.startswith("_sdc_") and name not in SYSTEM_KEYS
        )
        for module in MODULES
    }


def _sync(
    emu: EmulatorProcess, work: Path, settings: dict[str, Any], catalog: Path, name: str
) -> LevelRun:
    config = work / f"config-{name}.json"
    config.write_text(json.dumps(emu.tap_config(**settings)))
    command = [str(VENV_BIN / "tap-zohocrm"), "--config", str(config), "--catalog", str(catalog)]
    return _measure(emu, work, command, name, int(settings.get("max_concurrent_requests", 1)))


def _floor(emu: EmulatorProcess, work: Path, catalog: Path, level: int) -> LevelRun:
    fields = work / "floor-fields.json"
    fields.write_text(json.dumps(_fields(catalog)))
    script = ROOT / "benchmarks" / "baseline_concurrent.py"
    command = [PYTHON, str(script), emu.url, str(level), str(fields)]
    return _measure(emu, work, command, f"floor-{level}", level, record_lines=True)


def _measure(
    emu: EmulatorProcess,
    work: Path,
    command: list[str],
    name: str,
    level: int,
    *,
    record_lines: bool = False,
) -> LevelRun:
    output = work / f"{name}.jsonl"
    emu.reset_stats()
    result = run_process(
        command, stdout=output, watch_output=True, log_name=f"concurrency-{name}"
    ).check(name)
    stats = emu.stats()
    with output.open("rb") as lines:
        if record_lines:  # one record per line after the first
            records = sum(1 for line in lines if b'"id"' in line)
        else:
            records = sum(1 for line in lines if line.startswith(b'{"type":"RECORD"'))
    calls = {k: v for k, v in sorted(stats["calls"].items()) if k != "oauth_token"}
    return LevelRun(
        level=level,
        seconds=result.seconds,
        after_startup=result.seconds - (result.first_output or 0.0),
        calls=calls,
        records=records,
        max_in_flight=int(stats.get("max_in_flight", 0)),
    )


def run(records: int = 4_000, latency_ms: int = 100) -> ConcurrencyResults:
    """Measure every level (see the module docstring)."""
    results = ConcurrencyResults(records=records, latency_ms=latency_ms)
    work = bench_tmp("concurrency-")
    sizes = [arg for module in MODULES for arg in ("--size", f"{module}={records}")]
    try:
        with EmulatorProcess(
            *sizes, "--latency-ms", str(latency_ms), log_name="emulator-concurrency"
        ) as emu:
            base = {"modules": ["Accounts", "Campaigns"], "read_method": "rest"}
            discovery = work / "discovery.json"
            discovery.write_text(json.dumps(emu.tap_config(**base)))
            streams = {m.lower() for m in MODULES}
            catalog = _catalog(discovery, work, streams)
            for level in LEVELS:
                log(f"concurrency: REST, {len(MODULES)} modules x {records:,}, level {level}")
                settings = {**base, "backfill_method": "rest", "max_concurrent_requests": level}
                results.rest[str(level)] = _sync(emu, work, settings, catalog, f"rest-{level}")
            top = LEVELS[-1]
            log(f"concurrency: the bare-threads floor, level {top}")
            results.floor[str(top)] = _floor(emu, work, catalog, top)
            bulk_catalog = _catalog(discovery, work, {m.lower() for m in BULK_MODULES})
            for level in (1, len(BULK_MODULES)):
                log(f"concurrency: Bulk Read, {len(BULK_MODULES)} modules, level {level}")
                settings = {**base, "backfill_method": "bulk", "max_concurrent_requests": level}
                results.bulk[str(level)] = _sync(emu, work, settings, bulk_catalog, f"bulk-{level}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for kind, runs in (("rest", results.rest), ("bulk", results.bulk)):
        counts = {run.records for run in runs.values()}
        if len(counts) != 1:
            results.problems.append(f"concurrency ({kind}): record counts differ: {counts}")
    return results


def _stream_calls(calls: dict[str, int]) -> dict[str, int]:
    per: dict[str, int] = {}
    for name, count in calls.items():
        _, _, module = name.partition(":")
        per[module or name] = per.get(module or name, 0) + count
    return per


def ideal_seconds(run: dict[str, Any], latency_ms: int) -> float:
    """``latency x max(longest stream's calls, all calls / level)``."""
    per = _stream_calls(run["calls"])
    total = sum(per.values())
    longest = max(per.values()) if per else 0
    return latency_ms / 1000 * max(longest, math.ceil(total / max(1, run["level"])))


def _row(kind: str, run: dict[str, Any], latency: int, speedup: str) -> list[str]:
    ideal = ideal_seconds(run, latency)
    ratio = run["after_startup"] / ideal if ideal else math.nan
    return [
        kind,
        str(run["level"]),
        f"{run['records']:,}",
        str(sum(run["calls"].values())),
        str(run["max_in_flight"]),
        f"{run['seconds']:.2f} s",
        f"{run['after_startup']:.2f} s",
        f"{ideal:.2f} s",
        f"{ratio:.2f}x",
        speedup,
    ]


def section(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The BENCHMARKS.md section and its goal verdicts."""
    latency = data["latency_ms"]
    rows = []
    verdicts = []
    notes: list[str] = []
    for kind, runs in (("Get Records", data["rest"]), ("Bulk Read", data["bulk"])):
        first = runs.get("1")
        for run in runs.values():
            speedup = first["after_startup"] / run["after_startup"] if first else math.nan
            rows.append(_row(kind, run, latency, f"{speedup:.2f}x"))
        top = runs.get("5") if kind == "Get Records" else None
        floor = data.get("floor", {}).get("5") if top is not None else None
        if floor is not None:
            rows.append(_row("bare threads (floor)", floor, latency, ""))
        if top is not None:
            ideal = ideal_seconds(top, latency)
            ratio = top["after_startup"] / ideal
            verdicts.append(
                {
                    "goal": f"Concurrent reads at {latency} ms latency: wall time (after start-up) "
                    f"at most {GOAL}x the ideal at max_concurrent_requests 5",
                    "figure": f"{ratio:.2f}x ({top['after_startup']:.2f} s vs {ideal:.2f} s)",
                    "met": ratio <= GOAL,
                }
            )
            if floor is not None:
                over = top["after_startup"] / floor["after_startup"]
                floor_ratio = floor["after_startup"] / ideal_seconds(floor, latency)
                notes.append(
                    f"The floor, bare `requests` threads making the same reads with no Singer "
                    f"work (benchmarks/baseline_concurrent.py), is {floor_ratio:.2f}x its own "
                    f"ideal; the tap takes {over:.2f}x the floor's time."
                )
    text = "\n".join(
        [
            f"### Concurrency: {len(MODULES)} modules x {data['records']:,} records at "
            f"{latency} ms per call",
            "",
            "The tap as a process against the emulator as a process; every API call waits "
            f"{latency} ms. Ideal: {latency} ms x max(the longest stream's calls, all calls / "
            "level), a lower bound (one stream's calls follow one another). 'After start-up' "
            "leaves out interpreter start-up and imports (the tap's first output is its first "
            "SCHEMA). The tap sends its token request while it imports (early_token.py), so "
            "that call's latency falls mostly in its start-up; the floor asks for its token "
            "after its first line, so its 'after start-up' holds that call. Bulk Read: 3 "
            "modules backfilled by Bulk Read jobs (the emulator's job time), one stream at a "
            "time vs 3 at once.",
            "",
            markdown_table(
                [
                    "path",
                    "max_concurrent_requests",
                    "records",
                    "calls",
                    "most in flight",
                    "wall time",
                    "after start-up",
                    "ideal",
                    "vs ideal",
                    "speed-up vs 1",
                ],
                rows,
            ),
            "",
            *(f"Goal: {v['goal']}: {v['figure']} ({met_text(v['met'])})." for v in verdicts),
            "",
            *(f"{note}\n" for note in notes),
        ]
    )
    return text, verdicts


def main(argv: list[str] | None = None) -> int:
    """Print the measurements as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4_000)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args(argv)
    print(json.dumps(asdict(run(args.records, args.latency_ms)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
