"""Tap benchmarks: throughput against a bare requests loop, API economy, latency.

The emulator runs as a subprocess (``zoho-crm-emulator serve --port 0``) with 20,000 leads (plus
a few contacts and deals for the API-economy runs). The tap runs as a real subprocess,
``tap-zohocrm --config ... --catalog ...``, its stdout read through a pipe and discarded, so that
the time to its first output (start-up: interpreter, imports, settings) is known. The baseline
(:mod:`benchmarks.baseline_tap`) is run the same way on the same endpoint and fields.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    EmulatorProcess,
    ProcResult,
    bench_tmp,
    log,
    run_process,
)
from tap_zohocrm.schema import SYSTEM_KEYS

MODULE_STREAMS = {"Leads": "leads", "Contacts": "contacts", "Deals": "deals"}
#: Tap settings of the API-economy runs, one per read path (``auto`` is the defaults).
ECONOMY_SETTINGS: dict[str, dict[str, Any]] = {
    "rest": {"read_method": "rest", "backfill_method": "rest"},
    "coql": {"read_method": "coql", "backfill_method": "rest"},
    "bulk": {"read_method": "rest", "backfill_method": "bulk"},
    "auto": {},
    "coql, coql_max_fields 100": {
        "read_method": "coql",
        "backfill_method": "rest",
        "coql_max_fields": 100,
    },
}
LATENCY_MS = 100


@dataclass
class TapResults:
    """Everything measured on the tap side."""

    leads: int
    sizes: dict[str, int]
    reps: int
    #: who (baseline | tap) -> seconds / start-up seconds of each repetition.
    seconds: dict[str, list[float]] = field(default_factory=dict)
    startup: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)
    #: who -> CPU seconds (user + system) of each repetition.
    cpu: dict[str, list[float]] = field(default_factory=dict)
    #: settings name -> scenario -> {"calls": {...}, "credits": n, "minimum": n, ...}.
    economy: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: who -> {"seconds": [...], "requests": n, "latency_ms": n}.
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """A copy of the catalog with only ``streams`` selected."""
    chosen = copy.deepcopy(catalog)
    for stream in chosen["streams"]:
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return chosen


def _tap_cmd(config: Path, catalog: Path, state: Path | None = None) -> list[str]:
    cmd = [str(VENV_BIN / "tap-zohocrm"), "--config", str(config), "--catalog", str(catalog)]
    if state is not None:
        cmd += ["--state", str(state)]
    return cmd


def _baseline_cmd(url: str, fields: list[str]) -> list[str]:
    return [PYTHON, str(ROOT / "benchmarks" / "baseline_tap.py"), url, "Leads", ",".join(fields)]


def _api_calls(stats: dict[str, Any]) -> dict[str, int]:
    """Counted calls without the (free) token requests."""
    return {k: v for k, v in sorted(stats["calls"].items()) if k != "oauth_token"}


def _read_output(path: Path) -> tuple[dict[str, int], dict[str, Any] | None]:
    """RECORD counts per stream and the last STATE value of a tap's output."""
    counts: dict[str, int] = {}
    state = None
    with open(path, "rb") as handle:
        for line in handle:
            message = json.loads(line)
            if message["type"] == "RECORD":
                counts[message["stream"]] = counts.get(message["stream"], 0) + 1
            elif message["type"] == "STATE":
                state = message["value"]
    return counts, state


def run(*, leads: int, contacts: int, deals: int, reps: int, latency_reps: int) -> TapResults:
    """Run every tap benchmark.

    Args:
        leads: Leads in the emulator (the throughput workload).
        contacts: Contacts (API economy runs only).
        deals: Deals (API economy runs only).
        reps: Repetitions of the throughput runs (best kept).
        latency_reps: Repetitions of the 100 ms latency runs.

    Returns:
        The results.
    """
    sizes = {"Leads": leads, "Contacts": contacts, "Deals": deals}
    results = TapResults(leads=leads, sizes=sizes, reps=reps)
    work = bench_tmp("tap-")
    args = ["--leads", str(leads), "--contacts", str(contacts), "--deals", str(deals)]
    # An org whose COQL takes 100 columns (unverified for Zoho), for that economy row.
    args += ["--coql-max-fields", "100"]
    try:
        with EmulatorProcess(*args, log_name="emulator-tap") as emu:
            log(f"Tap: emulator at {emu.url} with {sizes}")
            config = work / "tap-config.json"
            config.write_text(json.dumps(emu.tap_config(read_method="rest")))
            discovered = run_process(
                [str(VENV_BIN / "tap-zohocrm"), "--config", str(config), "--discover"],
                stdout=work / "catalog.json",
                log_name="tap-discover",
            ).check("tap-zohocrm --discover")
            del discovered
            catalog = json.loads((work / "catalog.json").read_text())
            leads_catalog = work / "catalog-leads.json"
            leads_catalog.write_text(json.dumps(_select(catalog, {"leads"})))
            all_catalog = work / "catalog-all.json"
            all_catalog.write_text(json.dumps(_select(catalog, set(MODULE_STREAMS.values()))))
            lead_schema = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
            fields = [
                f
                for f in lead_schema["schema"]["properties"]
                if not f.startswith("_sdc_") and f not in SYSTEM_KEYS  # $ keys are no fields
            ]

            throughput(results, emu, config, leads_catalog, fields, reps)
            for name, extra in ECONOMY_SETTINGS.items():
                settings = work / f"tap-config-{len(results.economy)}.json"
                settings.write_text(json.dumps(emu.tap_config(**extra)))
                results.economy[name] = economy(results, emu, settings, all_catalog, work, name)
            latency(results, emu, config, leads_catalog, fields, latency_reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def _timed(cmd: list[str], name: str) -> ProcResult:
    return run_process(cmd, watch_output=True, log_name=name, timeout=1800).check(name)


def throughput(
    results: TapResults,
    emu: EmulatorProcess,
    config: Path,
    catalog: Path,
    fields: list[str],
    reps: int,
) -> None:
    """Tap and baseline, interleaved, over the same leads."""
    for who in ("baseline", "tap"):
        results.seconds[who], results.startup[who], results.rss[who] = [], [], []
        results.cpu[who] = []
    # Warm-up: the emulator caches query results; both start from the same footing.
    _timed(_baseline_cmd(emu.url, fields), "tap-baseline-warmup")
    for rep in range(reps):
        for who in ("baseline", "tap"):
            log(f"Tap: {who}, repetition {rep + 1}/{reps}")
            emu.reset_stats()
            if who == "baseline":
                result = _timed(_baseline_cmd(emu.url, fields), f"tap-baseline-{rep}")
                expected_lines = results.leads
            else:
                result = _timed(_tap_cmd(config, catalog), f"tap-tap-{rep}")
                expected_lines = results.leads + 1
            if result.stdout_lines < expected_lines:
                results.problems.append(
                    f"{who}: {result.stdout_lines} output lines for {results.leads} leads"
                )
            results.seconds[who].append(result.seconds)
            results.startup[who].append(result.first_output or 0.0)
            results.rss[who].append(result.max_rss)
            results.cpu[who].append(result.cpu)


def economy(
    results: TapResults,
    emu: EmulatorProcess,
    config: Path,
    catalog: Path,
    work: Path,
    name: str,
) -> dict[str, dict[str, Any]]:
    """Calls and credits of an initial sync, one with nothing changed and one with 1% changed."""
    state_path = work / "state.json"
    state_path.unlink(missing_ok=True)
    sizes = results.sizes
    out: dict[str, dict[str, Any]] = {}

    def sync(
        scenario: str, state: Path | None, settings: Path = config
    ) -> tuple[dict[str, int], dict[str, Any]]:
        emu.reset_stats()
        output = work / f"{scenario}.jsonl"
        run_process(
            _tap_cmd(settings, catalog, state), stdout=output, log_name=f"tap-economy-{scenario}"
        ).check(f"tap ({name}, {scenario})")
        stats = emu.stats()
        counts, new_state = _read_output(output)
        if new_state is not None:
            state_path.write_text(json.dumps(new_state))
        return counts, stats

    def entry(stats: dict[str, Any], counts: dict[str, int], minimum: int, expected: int):
        calls = _api_calls(stats)
        return {
            "calls": calls,
            "get_records": sum(v for k, v in calls.items() if k.startswith(("records:", "coql:"))),
            "credits": stats["credits"],
            "records": counts,
            "minimum": minimum,
            "expected_records": expected,
        }

    log(f"Tap: API economy ({name}), initial sync")
    counts, stats = sync("initial", None)
    minimum = sum(max(1, math.ceil(n / 200)) for n in sizes.values())
    out["initial"] = entry(stats, counts, minimum, sum(sizes.values()))
    log(f"Tap: API economy ({name}), nothing changed")
    counts, stats = sync("unchanged", state_path)
    out["unchanged"] = entry(stats, counts, len(sizes), 0)
    log(f"Tap: API economy ({name}), 1% changed")
    changed = {module: max(1, n // 100) for module, n in sizes.items() if n}
    for module, count in changed.items():
        emu.mutate("edit", module=module, count=count)
    counts, stats = sync("changed", state_path)
    minimum = sum(max(1, math.ceil(changed.get(m, 0) / 200)) for m in sizes)
    out["changed"] = entry(stats, counts, minimum, sum(changed.values()))
    log(f"Tap: API economy ({name}), formula refresh")
    refresh = work / "tap-config-refresh.json"
    refresh.write_text(
        json.dumps({**json.loads(config.read_text()), "refresh_formula_fields": True})
    )
    counts, stats = sync("formula", state_path, refresh)
    # Leads has a formula field (Lead_Age_Days): every lead is read again.
    out["formula"] = entry(stats, counts, 0, sizes.get("Leads", 0))
    for scenario, item in out.items():
        got = sum(item["records"].values())
        if got != item["expected_records"]:
            results.problems.append(
                f"economy ({name}) {scenario}: {got} records emitted, "
                f"expected {item['expected_records']}"
            )
    return out


def latency(
    results: TapResults,
    emu: EmulatorProcess,
    config: Path,
    catalog: Path,
    fields: list[str],
    reps: int,
) -> None:
    """Wall time with 100 ms per request against requests x latency."""
    emu.faults(latency_ms=LATENCY_MS)
    try:
        for who in ("baseline", "tap"):
            results.latency[who] = {"seconds": [], "startup": [], "requests": 0}
        for rep in range(reps):
            for who in ("baseline", "tap"):
                log(f"Tap: {who} with {LATENCY_MS} ms latency, repetition {rep + 1}/{reps}")
                emu.reset_stats()
                cmd = (
                    _baseline_cmd(emu.url, fields)
                    if who == "baseline"
                    else _tap_cmd(config, catalog)
                )
                result = _timed(cmd, f"tap-latency-{who}-{rep}")
                stats = emu.stats()
                entry = results.latency[who]
                entry["seconds"].append(result.seconds)
                entry["startup"].append(result.first_output or 0.0)
                entry["requests"] = stats["requests"]
                entry["calls"] = stats["calls"]
        for entry in results.latency.values():
            entry["latency_ms"] = LATENCY_MS
    finally:
        emu.faults(latency_ms=0)
