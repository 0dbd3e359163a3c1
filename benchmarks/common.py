"""Shared helpers: paths, timed subprocesses with peak memory, the emulator, machine facts."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
#: Everything the benchmarks make or install (gitignored): peers' virtualenvs, workloads, logs.
BENCH_DIR = ROOT / ".bench"
#: The project's virtualenv (``make bench`` runs us with its interpreter).
VENV_BIN = Path(sys.executable).parent
#: Interpreter of the project's virtualenv.
PYTHON = str(VENV_BIN / "python")
#: uv, bootstrapped by the Makefile.
UV = ROOT / ".uv" / "bin" / "uv"

EMULATOR_CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the measured processes: ours, with Python's bytecode cache on.

    A normal install runs from cached bytecode (``pip`` compiles it, Python writes it on first
    import). Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the shared machines) every process
    would compile its imports from source (about 0.7 s for the SDK), so it is dropped here and
    the cache goes to ``.bench/pycache`` (``PYTHONPYCACHEPREFIX``), leaving the tree untouched.

    Args:
        extra: Variables to add.

    Returns:
        The environment.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / "pycache")
    env.update(extra or {})
    return env


def log(message: str) -> None:
    """Print a progress line (stderr, so that the table on stdout stays clean)."""
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def bench_tmp(prefix: str) -> Path:
    """A new scratch folder under ``.bench/`` (the caller removes it)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=BENCH_DIR))


def bench_path(*parts: str) -> Path:
    """A path under ``.bench/``, its folder created."""
    path = BENCH_DIR.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class ProcResult:
    """Outcome of one timed subprocess."""

    #: Wall time from start to exit, seconds.
    seconds: float
    returncode: int
    #: Peak resident set size of the process (and of the children it waited for), bytes.
    max_rss: int
    #: CPU seconds (user + system) of the process and the children it waited for.
    cpu: float = 0.0
    #: Seconds from start to the first byte on stdout (when watched), else None.
    first_output: float | None = None
    #: Path of the captured stderr.
    stderr_path: Path | None = None
    #: Bytes and lines written to stdout (when watched).
    stdout_bytes: int = 0
    stdout_lines: int = 0

    @property
    def ok(self) -> bool:
        """True when the process exited with 0."""
        return self.returncode == 0

    def stderr_tail(self, lines: int = 15) -> str:
        """Last lines of stderr, for error messages."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def check(self, what: str) -> ProcResult:
        """Raise if the process failed.

        Args:
            what: Name of the process for the message.

        Returns:
            Itself.
        """
        if not self.ok:
            msg = f"{what} failed with exit code {self.returncode}:\n{self.stderr_tail()}"
            raise RuntimeError(msg)
        return self


#: Spawns each measured command (see its docstring for why).
LAUNCHER = Path(__file__).with_name("launch.py")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_process(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    watch_output: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_name: str = "process",
    timeout: float = 3600.0,
) -> ProcResult:
    """Run a command, timing it and measuring its peak memory (``ru_maxrss``).

    The command is spawned by ``launch.py``, which reports the command's own wall time, CPU
    and peak memory (measured from here, the peak memory would be at least this process's).

    Args:
        cmd: Command and arguments.
        stdin: File fed on standard input (else /dev/null).
        stdout: File receiving standard output (else discarded).
        watch_output: Read stdout through a pipe to time the first byte (start-up) and count
            bytes; the bytes go to ``stdout`` when given.
        env: Environment (default: :func:`bench_env`).
        cwd: Working directory.
        log_name: Name of the stderr log under ``.bench/logs/``.
        timeout: Seconds before the process is killed.

    Returns:
        The timing, exit code and peak RSS.
    """
    stderr_path = bench_path("logs", f"{log_name}.log")
    fin: IO[bytes] | int = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115
    fout: IO[bytes] | None = open(stdout, "wb") if stdout else None  # noqa: SIM115
    try:
        with open(stderr_path, "wb") as ferr:
            out_target: IO[bytes] | int
            if watch_output:
                out_target = subprocess.PIPE
            else:
                out_target = fout if fout is not None else subprocess.DEVNULL
            report = stderr_path.with_suffix(".usage.json")
            report.unlink(missing_ok=True)
            started = time.perf_counter()
            proc = subprocess.Popen(
                [PYTHON, "-S", "-E", str(LAUNCHER), str(report), *(str(part) for part in cmd)],
                stdin=fin,
                stdout=out_target,
                stderr=ferr,
                env=env if env is not None else bench_env(),
                cwd=cwd,
                start_new_session=True,  # one process group: a timeout kills the command too
            )
            timer = threading.Timer(timeout, _kill_group, (proc.pid,))
            timer.start()
            first: float | None = None
            written = lines = 0
            try:
                if watch_output:
                    assert proc.stdout is not None
                    fd = proc.stdout.fileno()
                    while True:
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            break
                        if first is None:
                            first = time.perf_counter() - started
                        written += len(chunk)
                        lines += chunk.count(b"\n")
                        if fout is not None:
                            fout.write(chunk)
                    proc.stdout.close()
                _, status, usage = os.wait4(proc.pid, 0)
                elapsed = time.perf_counter() - started
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if fout is not None:
            fout.close()
        if not isinstance(fin, int):
            fin.close()
    max_rss, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
    try:  # the command's own figures, as the launcher measured them
        measured = json.loads(report.read_text())
    except (OSError, ValueError):  # killed before it wrote them: the launcher's
        measured = None
    if measured is not None:
        elapsed = measured["ended"] - measured["started"]
        max_rss, cpu = measured["max_rss"], measured["cpu"]
        if first is not None:
            first = max(0.0, first - (measured["started"] - started))
        report.unlink()
    return ProcResult(
        seconds=elapsed,
        returncode=proc.returncode,
        max_rss=max_rss,
        cpu=cpu,
        first_output=first,
        stderr_path=stderr_path,
        stdout_bytes=written,
        stdout_lines=lines,
    )


def best(values: Sequence[float]) -> float:
    """The best (smallest) time of repeated runs: the least disturbed by a noisy machine."""
    return min(values)


def median(values: Sequence[float]) -> float:
    """Median of repeated runs."""
    return statistics.median(values)


# -- the emulator as a subprocess ------------------------------------------------------------


class EmulatorProcess:
    """``zoho-crm-emulator serve --port 0 ...`` in a subprocess, with its control endpoints."""

    def __init__(self, *args: str, log_name: str = "emulator") -> None:
        """Prepare the command.

        Args:
            args: Extra ``serve`` options, e.g. ``"--leads", "20000"``.
            log_name: Name of the stderr log.
        """
        self.cmd = [str(VENV_BIN / "zoho-crm-emulator"), "serve", "--port", "0", *args]
        self.log_name = log_name
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        """Start the emulator and wait for its listening line."""
        stderr = open(bench_path("logs", f"{self.log_name}.log"), "w")
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT, env=bench_env()
        )
        stderr.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.__exit__()
            msg = f"The emulator did not start: {line.strip() or 'no output'}"
            raise RuntimeError(msg)
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the emulator."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``."""
        stats: dict[str, Any] = self._call("/_emulator/stats")
        return stats

    def reset_stats(self) -> None:
        """``POST /_emulator/stats/reset``."""
        self._call("/_emulator/stats/reset", {})

    def mutate(self, action: str, **body: Any) -> list[str]:
        """``POST /_emulator/mutate``; answers the affected ids."""
        ids: list[str] = self._call("/_emulator/mutate", {"action": action, **body})["ids"]
        return ids

    def faults(self, **settings: Any) -> dict[str, Any]:
        """``POST /_emulator/faults``."""
        answer: dict[str, Any] = self._call("/_emulator/faults", settings)
        return answer

    def tap_config(self, **extra: Any) -> dict[str, Any]:
        """Tap settings pointing at this emulator."""
        return {"accounts_url": self.url, **EMULATOR_CREDENTIALS, **extra}


# -- the machine -----------------------------------------------------------------------------


@dataclass
class Machine:
    """Facts printed with the figures."""

    cpu: str
    cores: int
    memory_gib: float
    python: str
    sqlite: str
    system: str
    date: str
    commit: str
    extra: dict[str, str] = field(default_factory=dict)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def git_commit() -> str:
    """Short commit of the work tree, with ``+dirty`` when tap or target files changed."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--short", "tap_zohocrm", "target_sqlite_audit"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+uncommitted changes" if dirty else commit


def machine() -> Machine:
    """Describe this machine."""
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        sqlite=sqlite3.sqlite_version,
        system=f"{platform.system()} {platform.release()}",
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        commit=git_commit(),
    )


@dataclass
class Figure:
    """One row of the results: a measurement, its ratio to a baseline and its goal."""

    section: str
    name: str
    value: str
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    note: str = ""


def ratio_text(ratio: float | None) -> str:
    """``0.73x`` or an empty cell."""
    return "" if ratio is None else f"{ratio:.2f}x"


def met_text(met: bool | None) -> str:
    """Goal cell: met, NOT met or nothing."""
    if met is None:
        return ""
    return "met" if met else "**not met**"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def iter_lines(path: Path) -> Iterator[bytes]:
    """Lines of a file, as bytes."""
    with open(path, "rb") as handle:
        yield from handle


def rate(count: int, seconds: float) -> float:
    """Records per second."""
    return count / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    """``12,345 rec/s``."""
    return f"{value:,.0f} rec/s"


def fmt_mb(value: int) -> str:
    """Bytes as ``123.4 MB`` (MiB)."""
    return f"{value / 1024 / 1024:,.1f} MB"
