"""A throwaway PostgreSQL server for interoperability tests.

Installs Debian's ``postgresql`` package when no server binaries are present (CI machines are
fresh), then runs ``initdb`` and ``postgres`` on a free port in a temporary directory. PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.debian import apt_install

if TYPE_CHECKING:
    from collections.abc import Iterator


def _server_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def ensure_postgres_installed() -> Path:
    """Return the PostgreSQL server bin directory, installing the Debian package if needed."""
    bindir = _server_bin()
    if bindir is None and apt_install("postgresql"):
        bindir = _server_bin()
    if bindir is None:
        msg = "PostgreSQL server binaries are missing and could not be installed (need root)."
        raise RuntimeError(msg)
    return bindir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a PostgreSQL server for the duration of the block; yields a SQLAlchemy URL."""
    bindir = ensure_postgres_installed()
    # Not under pytest's tmp_path: its parents are private to root, and under root the server
    # runs as the postgres user, which must reach its data directory.
    workdir = Path(tempfile.mkdtemp(prefix="tap-zohocrm-pg-"))
    datadir = workdir / "pgdata"
    datadir.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(datadir, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    log = workdir / "postgres.log"
    log_file = log.open("wb")
    server = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                break
            if server.poll() is not None:
                log_file.flush()
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL exited early ({log}):\n{tail}")
            time.sleep(0.2)
        else:
            raise RuntimeError("PostgreSQL did not become ready within 60 s")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
