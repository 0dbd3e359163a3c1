"""Backfill benchmark: the same module read by Get Records (REST) and by Bulk Read.

Standalone (``benchmarks/run.py`` may call :func:`compare`)::

    .venv/bin/python -m benchmarks.bulk_backfill                   # 50,000 leads
    .venv/bin/python -m benchmarks.bulk_backfill --leads 200000 --latency-ms 100 --json out.json

The emulator runs as a subprocess with the given number of leads; the tap runs as a real
subprocess (``tap-zohocrm --config ... --catalog ...``, only ``leads`` selected, no state) twice:
``backfill_method=rest`` and ``backfill_method=bulk``. For each run it reports the wall time,
the API calls and credits the emulator counted (a Bulk Read job costs 50 credits, a status
check or a download 1, a Get Records page 1), and the peak memory; it then checks that both
runs emitted the same records (every field, compared as JSON) and the same bookmark.

The emulator's job duration is artificial (``--bulk-job-seconds``, 1 s by default; Zoho takes
minutes for a large export), so the wall times compare the tap's own work plus that delay;
``--latency-ms`` adds a network round trip to every call, which is what makes a REST backfill
of a large module slow in practice (one call per 200 records).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import VENV_BIN, EmulatorProcess, log, markdown_table, run_process

STREAM = "leads"
MODULE = "Leads"


@dataclass
class BackfillRun:
    """One backfill of the module."""

    method: str
    seconds: float
    records: int
    credits: int
    calls: dict[str, int]
    max_rss: int
    bookmark: str | None


@dataclass
class BackfillComparison:
    """REST and bulk backfills of the same module, and whether they agree."""

    leads: int
    latency_ms: float
    bulk_job_seconds: float
    bulk_page_size: int
    runs: dict[str, BackfillRun] = field(default_factory=dict)
    identical_records: bool = False
    identical_bookmark: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def table(self) -> str:
        """A markdown table: one row per method."""
        rows = []
        for method, run in self.runs.items():
            api_calls = sum(n for key, n in run.calls.items() if key != "oauth_token")
            rows.append(
                [
                    method,
                    f"{run.records:,}",
                    f"{run.credits:,}",
                    f"{api_calls:,}",
                    f"{run.seconds:.1f}",
                    f"{run.max_rss / 2**20:.0f}",
                ]
            )
        return markdown_table(
            ["backfill", "records", "credits", "API calls", "wall s", "peak MB"], rows
        )


def _select_only(catalog: dict[str, Any], stream: str) -> dict[str, Any]:
    chosen = copy.deepcopy(catalog)
    for entry in chosen["streams"]:
        for item in entry.get("metadata", []):
            if item.get("breadcrumb") == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return chosen


def _records_and_bookmark(path: Path) -> tuple[dict[str, str], str | None]:
    """Canonical JSON of each emitted record by id (last wins), and the final bookmark."""
    records: dict[str, str] = {}
    bookmark = None
    with path.open("rb") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") == "RECORD" and message.get("stream") == STREAM:
                record = message["record"]
                records[record["id"]] = json.dumps(record, sort_keys=True)
            elif message.get("type") == "STATE":
                value = message["value"].get("bookmarks", {}).get(STREAM, {})
                bookmark = value.get("replication_key_value", bookmark)
    return records, bookmark


def compare(
    leads: int = 50_000,
    *,
    latency_ms: float = 0.0,
    bulk_job_seconds: float = 1.0,
    bulk_page_size: int = 200_000,
    seed: int = 42,
) -> BackfillComparison:
    """Backfill ``leads`` Leads by REST and by bulk and measure both.

    Args:
        leads: Records in the module.
        latency_ms: Delay the emulator adds to every call (a network round trip).
        bulk_job_seconds: Time an emulated Bulk Read job takes to complete.
        bulk_page_size: Records per Bulk Read job (Zoho: 200,000).
        seed: Emulator seed.

    Returns:
        The measurements of both runs and whether they emitted the same records.
    """
    result = BackfillComparison(
        leads=leads,
        latency_ms=latency_ms,
        bulk_job_seconds=bulk_job_seconds,
        bulk_page_size=bulk_page_size,
    )
    args = [
        "--seed",
        str(seed),
        "--leads",
        str(leads),
        "--contacts",
        "10",
        "--deals",
        "10",
        "--bulk-job-seconds",
        str(bulk_job_seconds),
        "--bulk-page-size",
        str(bulk_page_size),
        "--latency-ms",
        str(latency_ms),
    ]
    tap = str(VENV_BIN / "tap-zohocrm")
    with (
        EmulatorProcess(*args, log_name="bulk-emulator") as emu,
        tempfile.TemporaryDirectory(prefix="bulk-backfill-") as tmp,
    ):
        folder = Path(tmp)
        discovery_config = folder / "discover.json"
        discovery_config.write_text(json.dumps(emu.tap_config()))
        catalog_path = folder / "catalog.json"
        run_process(
            [tap, "--config", discovery_config, "--discover"],
            stdout=catalog_path,
            log_name="bulk-discover",
        )
        catalog = _select_only(json.loads(catalog_path.read_text()), STREAM)
        catalog_path.write_text(json.dumps(catalog))
        for method in ("rest", "bulk"):
            config_path = folder / f"{method}.json"
            config_path.write_text(json.dumps(emu.tap_config(backfill_method=method)))
            out_path = folder / f"{method}.jsonl"
            emu.reset_stats()
            log(f"bulk_backfill: {leads:,} leads by {method}")
            proc = run_process(
                [tap, "--config", config_path, "--catalog", catalog_path],
                stdout=out_path,
                log_name=f"bulk-backfill-{method}",
                timeout=3600,
            )
            if not proc.ok:
                msg = f"tap-zohocrm ({method}) failed:\n{proc.stderr_tail()}"
                raise RuntimeError(msg)
            stats = emu.stats()
            result.runs[method] = BackfillRun(
                method=method,
                seconds=proc.seconds,
                records=0,
                credits=int(stats["credits"]),
                calls=dict(stats["calls"]),
                max_rss=proc.max_rss,
                bookmark=None,
            )
        # Outputs are read only after both runs: a child's peak RSS counts the parent's
        # memory at fork time on Linux, so holding the first run's records would inflate it.
        outputs = {
            method: _records_and_bookmark(folder / f"{method}.jsonl") for method in result.runs
        }
        for method, (records, bookmark) in outputs.items():
            result.runs[method].records = len(records)
            result.runs[method].bookmark = bookmark
    result.identical_records = outputs["rest"][0] == outputs["bulk"][0]
    result.identical_bookmark = outputs["rest"][1] == outputs["bulk"][1]
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--bulk-job-seconds", type=float, default=1.0)
    parser.add_argument("--bulk-page-size", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    options = parser.parse_args(argv)
    result = compare(
        options.leads,
        latency_ms=options.latency_ms,
        bulk_job_seconds=options.bulk_job_seconds,
        bulk_page_size=options.bulk_page_size,
    )
    print(result.table())
    rest, bulk = result.runs["rest"], result.runs["bulk"]
    pages = math.ceil(options.leads / 200)
    print(
        f"\nREST: {rest.credits:,} credits ({pages:,} pages of 200); bulk: {bulk.credits:,} "
        f"credits ({bulk.credits / max(1, rest.credits):.1%} of REST). Same records: "
        f"{result.identical_records}; same bookmark: {result.identical_bookmark}."
    )
    if options.json:
        options.json.write_text(json.dumps(result.as_dict(), indent=2))
    return 0 if result.identical_records and result.identical_bookmark else 1


if __name__ == "__main__":
    sys.exit(main())
