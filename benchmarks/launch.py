"""Start a measured command from a small process and report its time, CPU and peak memory.

``python -S -E benchmarks/launch.py REPORT.json COMMAND [ARGS...]``

Why not measure from the harness directly: Linux gives a child's ``ru_maxrss`` as at least the
peak RSS of the process it was spawned from (at ``exec`` the kernel records the address space
it leaves, and ``vfork`` shares the parent's), so every command the harness started showed the
harness's own peak (about 220 MB after it wrote a 1,000,000-record workload) whenever that was
larger than the command's. Spawned from this process, whose interpreter runs without ``site``,
a command's figure is its own (or this process's few MB). The harness stops a command by
killing the process group, this process included. Standard library only; the times are
``perf_counter`` (CLOCK_MONOTONIC), comparable with the harness's.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    """Run the command, write the report, exit with the command's status."""
    report, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    child = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(child, 0)
    ended = time.perf_counter()
    with open(report, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "started": started,
                "ended": ended,
                "max_rss": usage.ru_maxrss * 1024,
                "cpu": usage.ru_utime + usage.ru_stime,
            },
            handle,
        )
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
