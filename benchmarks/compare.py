"""Quick A/B of target commands on one workload, by wall and CPU time (for hot-spot work).

``python -m benchmarks.compare --records 100000 --reps 3 [--shape narrow] [--variant N=CODE]``

Runs the minimal loader and target-sqlite-audit (and, for each ``--variant NAME=CODE``, the
target started through ``python -c CODE`` after ``import sys; sys.argv = [...]``, e.g. with a
monkeypatch applied) through the three scenarios, interleaved, and prints the best wall and CPU
times with their ratios to the baseline. CPU time (user + system) moves much less than wall time
when other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from benchmarks import workload
from benchmarks.common import PYTHON, ROOT, VENV_BIN, bench_tmp, run_process
from benchmarks.target_bench import SCENARIOS


def main() -> None:
    """Run the comparison and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=PYTHON_CODE run before the target's CLI (e.g. a monkeypatch)",
    )
    parser.add_argument("--shape", choices=workload.SHAPES, default="wide")
    args = parser.parse_args()
    n = args.records
    files = {variant: workload.workload(n, variant, shape=args.shape) for _, variant in SCENARIOS}
    work = bench_tmp("compare-")

    def commands(database: Path) -> dict[str, list[str]]:
        config = database.with_suffix(".json")
        config.write_text(json.dumps({"database": str(database)}))
        cmds = {
            "baseline": [PYTHON, str(ROOT / "benchmarks" / "baseline_loader.py"), str(database)],
            "target": [str(VENV_BIN / "target-sqlite-audit"), "--config", str(config)],
        }
        for item in args.variant:
            name, _, code = item.partition("=")
            argv = ["target-sqlite-audit", "--config", str(config)]
            cmds[name] = [
                PYTHON,
                "-c",
                f"import sys; sys.argv = {argv!r}\n{code}\n"
                "from target_sqlite_audit.cli import main; main()",
            ]
        return cmds

    names = list(commands(work / "probe.sqlite"))
    wall: dict[str, dict[str, list[float]]] = {k: {s: [] for s, _ in SCENARIOS} for k in names}
    cpu: dict[str, dict[str, list[float]]] = {k: {s: [] for s, _ in SCENARIOS} for k in names}
    try:
        for rep in range(args.reps):
            for name in names:
                folder = work / f"{name}-{rep}"
                folder.mkdir()
                cmd = commands(folder / "db.sqlite")[name]
                for scenario, variant in SCENARIOS:
                    result = run_process(
                        cmd, stdin=files[variant], log_name=f"compare-{name}"
                    ).check(name)
                    wall[name][scenario].append(result.seconds)
                    cpu[name][scenario].append(result.cpu)
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{n:,} records, best of {args.reps}")
    print(f"{'':12}" + "".join(f"{s:>30}" for s, _ in SCENARIOS))
    for name in names:
        cells = []
        for scenario, _ in SCENARIOS:
            w, c = min(wall[name][scenario]), min(cpu[name][scenario])
            bw, bc = min(wall["baseline"][scenario]), min(cpu["baseline"][scenario])
            cells.append(f"{w:6.2f}s {bw / w:4.2f}x cpu {c:6.2f}s {bc / c:4.2f}x")
        print(f"{name:12}" + "".join(f"{cell:>30}" for cell in cells))


if __name__ == "__main__":
    main()
