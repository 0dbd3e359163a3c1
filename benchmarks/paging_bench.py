"""Paging benchmark: keyset vs page-token paging, calls and credits, and records lost to churn.

Standalone: ``.venv/bin/python -m benchmarks.paging_bench [--leads 20000]``. ``benchmarks/run.py``
calls :func:`run` for its ``paging`` section.

The emulator and the tap run in-process (real HTTP on a free port; only ``leads`` selected,
deletions off, so the Get Records calls are all there is). Per paging mode: an initial sync of a
quiet org (calls and credits the emulator counted), then an initial sync of the same org while
the emulator edits a lead every 3 calls (its churn mode) followed by one incremental sync, and
the leads of the emulator's truth that neither run emitted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.common import log, markdown_table, met_text
from tap_zohocrm.tap import TapZohoCRM
from zoho_crm_emulator import Emulator, EmulatorConfig

#: Get Records with page tokens, Get Records with keyset pages, and COQL's keyset.
MODES = ("page_token", "keyset", "coql")
CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}


@dataclass
class PagingRun:
    """One paging mode on the workload."""

    mode: str
    calls: int
    credits: int
    records: int
    churn_edits: int
    churn_lost: int


@dataclass
class PagingComparison:
    """Both paging modes on the same org."""

    leads: int
    shared_second_fraction: float
    runs: dict[str, PagingRun] = field(default_factory=dict)


def _sync(base_url: str, mode: str, state: dict | None = None) -> list[dict[str, Any]]:
    config = {
        "accounts_url": base_url,
        **CREDENTIALS,
        "pagination": "keyset" if mode == "coql" else mode,
        "include_deleted": False,
        "backfill_method": "rest",
        "read_method": "coql" if mode == "coql" else "rest",
    }
    catalog = TapZohoCRM(config=config, setup_mapper=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "leads"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapZohoCRM(config=config, catalog=catalog, state=state).sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _org(leads: int, shared: float) -> Emulator:
    return Emulator(
        EmulatorConfig(
            seed=8,
            sizes={"Leads": leads, "Contacts": 0, "Deals": 0},
            shared_second_fraction=shared,
            churn_modules=("Leads",),
        )
    )


def run(leads: int = 20_000, shared: float = 0.10) -> PagingComparison:
    """Measure both modes (see the module docstring)."""
    result = PagingComparison(leads=leads, shared_second_fraction=shared)
    for mode in MODES:
        log(f"paging: {mode}, {leads:,} leads")
        emu = _org(leads, shared)
        with emu.serve() as base_url:
            emu.reset_stats()
            messages = _sync(base_url, mode)
            stats = emu.stats()
            calls = stats["calls"].get("records:Leads", 0) + stats["calls"].get("coql:Leads", 0)
            credits = int(stats["credits"])
            records = sum(1 for m in messages if m["type"] == "RECORD")
        emu = _org(leads, shared)
        with emu.serve() as base_url:
            emu.set_faults(churn_every_calls=3)
            first = _sync(base_url, mode)
            emu.set_faults(churn_every_calls=None)
            states = [m["value"] for m in first if m["type"] == "STATE"]
            second = _sync(base_url, mode, states[-1] if states else None)
            seen = {m["record"]["id"] for m in first + second if m["type"] == "RECORD"}
            lost = len({r["id"] for r in emu.records("Leads")} - seen)
            edits = emu.churn.edits
        result.runs[mode] = PagingRun(mode, calls, credits, records, edits, lost)
    return result


def section(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The BENCHMARKS.md section and its goal verdicts."""
    runs = data["runs"]
    rows = [
        [
            mode,
            f"{run['records']:,}",
            f"{run['calls']:,}",
            f"{run['credits']:,}",
            f"{run['churn_lost']:,} of {data['leads']:,} ({run['churn_edits']} edits)",
        ]
        for mode, run in runs.items()
    ]
    verdicts = []
    token, keyset = runs.get("page_token"), runs.get("keyset")
    if token and keyset and token["calls"]:
        ratio = keyset["calls"] / token["calls"]
        verdicts.append(
            {
                "goal": "Keyset paging: no more calls than token paging, within 2%, and no "
                "record lost under churn",
                "figure": f"{keyset['calls']} vs {token['calls']} calls ({ratio:.3f}x); "
                f"lost under churn: {keyset['churn_lost']} vs {token['churn_lost']}",
                "met": ratio <= 1.02 and keyset["churn_lost"] == 0,
            }
        )
    coql = runs.get("coql")
    if coql:
        verdicts.append(
            {
                "goal": "COQL keyset: no record lost under churn",
                "figure": f"lost under churn: {coql['churn_lost']} ({coql['churn_edits']} edits); "
                f"{coql['calls']} calls, {coql['credits']} credits",
                "met": coql["churn_lost"] == 0,
            }
        )
    text = "\n".join(
        [
            f"### Paging: {data['leads']:,} leads, keyset vs page token (and COQL)",
            "",
            "An initial sync of a quiet org (Get Records calls and credits counted by the "
            f"emulator; {data['shared_second_fraction']:.0%} of records share a second with "
            "another), then the same org synced while the emulator edits a lead every 3 calls, "
            "followed by one incremental sync: leads of the truth that neither run emitted.",
            "",
            markdown_table(
                ["paging", "records", "record calls", "credits", "lost under churn"], rows
            ),
            "",
            *(f"Goal: {v['goal']}: {v['figure']} ({met_text(v['met'])})." for v in verdicts),
            "",
        ]
    )
    return text, verdicts


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(json.dumps(asdict(run(args.leads)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
