"""Reliability: a full disk and a read-only database, through the real target-sqlite-audit.

tests/target/test_target_failures.py covers these in-process (SQLite's ``max_page_count``, a
``mode=ro`` connection). Here the console script runs as a subprocess against real storage
failures: a small tmpfs that fills up (``ENOSPC``) and read-only bind mounts of the file and of
its folder when the tests run as root and may mount, otherwise a file-size limit
(``RLIMIT_FSIZE``) and ``chmod``. Every case must end with exit code 1, one sentence and no
traceback, emit no STATE for uncommitted records and leave the file intact (integrity check,
every earlier commit, nothing of the failed batch); with the cause removed, the same input then
completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TARGET = str(Path(sys.executable).parent / "target-sqlite-audit")
RECORDS = 3000
TEXT = "x" * 500


def singer_input(count: int = RECORDS, stream: str = "leads") -> bytes:
    """SCHEMA, ``count`` records of 500 characters, a STATE after every 50 records."""
    lines = [
        {
            "type": "SCHEMA",
            "stream": stream,
            "key_properties": ["id"],
            "schema": {"properties": {"id": {"type": "string"}, "text": {"type": "string"}}},
        }
    ]
    for i in range(count):
        lines.append({"type": "RECORD", "stream": stream, "record": {"id": str(i), "text": TEXT}})
        if i % 50 == 49:
            lines.append({"type": "STATE", "value": {"through": i}})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def can_mount() -> bool:
    """Whether this process may mount file systems (root with CAP_SYS_ADMIN)."""
    return os.geteuid() == 0 and _mount_works()


def _mount_works() -> bool:
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"reliability-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    except OSError:
        return False
    finally:
        probe.rmdir()


#: Real tmpfs and bind mounts when possible; RELIABILITY_NO_MOUNT=1 tries the fallbacks.
MOUNTS = can_mount() and not os.environ.get("RELIABILITY_NO_MOUNT")


def mount(*args: str) -> None:
    """Run mount(8) and fail the test if it fails."""
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


class Target:
    """Runs the console script on one database, optionally with a file-size limit."""

    def __init__(self, database: Path, config_dir: Path) -> None:
        self.database = database
        self.config = config_dir / "target.json"
        self.config.write_text(json.dumps({"database": str(database), "batch_size_rows": 100}))
        self.file_size_limit: int | None = None

    def run(self, data: bytes) -> subprocess.CompletedProcess:
        """Feed ``data`` to the target; returns the finished process (bytes)."""
        limit = self.file_size_limit

        def limit_file_size() -> None:  # in the child, before exec
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [TARGET, "--config", str(self.config)],
            input=data,
            capture_output=True,
            timeout=300,
            preexec_fn=limit_file_size,
            check=False,
        )

    def query(self, sql: str) -> list[tuple]:
        """Rows of a read-only query."""
        uri = f"{self.database.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql).fetchall()

    def ids(self) -> set[int]:
        """Keys of the current table."""
        return {int(row[0]) for row in self.query('SELECT id FROM "leads"')}


def one_sentence(result: subprocess.CompletedProcess, pattern: str) -> str:
    """Assert exit code 1 and one error sentence matching ``pattern``; return the sentence."""
    assert result.returncode == 1, result.stderr.decode()[-3000:]
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line.split(" | ")[-1] for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, stderr[-3000:]
    sentence = errors[0]
    assert re.fullmatch(pattern, sentence), sentence
    assert sentence.endswith(".")
    return sentence


def states_are_committed(result: subprocess.CompletedProcess, target: Target) -> int:
    """Every STATE on stdout covers only committed records; returns how many were emitted."""
    states = [json.loads(line) for line in result.stdout.decode().splitlines()]
    ids = target.ids()
    for state in states:
        assert set(range(state["through"] + 1)) <= ids, state
    return len(states)


def assert_intact(target: Target, committed: int, statuses: list[str]) -> None:
    """The file is sound and holds exactly the first ``committed`` records, each once."""
    assert target.query("PRAGMA integrity_check") == [("ok",)]
    assert target.ids() == set(range(committed))
    assert target.query('SELECT COUNT(*) FROM "leads_history"') == [(committed,)]
    assert [row[0] for row in target.query("SELECT status FROM sync_log ORDER BY id")] == statuses


class SmallDisk:
    """A folder with about 1 MB of room for the target's database.

    A tmpfs of 1 MB when this process may mount (a real ``ENOSPC``); otherwise the target runs
    with a file-size limit of 1 MB (``RLIMIT_FSIZE``, which SQLite reports as an I/O error).
    """

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "disk"
        self.folder.mkdir()
        self.filler = self.folder / "filler"
        if MOUNTS:
            mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(self.folder))
        self.target = Target(self.folder / "audit.sqlite", tmp_path)
        self.room(1 << 20)
        self.reason = "database or disk is full" if MOUNTS else "disk I/O error"

    def room(self, limit: int | None) -> None:
        """Leave ``limit`` bytes for the target's files (None: plenty)."""
        if not MOUNTS:
            self.target.file_size_limit = limit
        elif limit is None:
            self.filler.unlink(missing_ok=True)
            mount("-o", "remount,size=64m", str(self.folder))

    def fill(self) -> None:
        """Leave no room at all."""
        if not MOUNTS:
            self.target.file_size_limit = 0
            return
        with self.filler.open("wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()

    def close(self) -> None:
        """Unmount the tmpfs, if any."""
        if MOUNTS:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True, check=False)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[SmallDisk]:
    """A :class:`SmallDisk`, unmounted after the test."""
    disk = SmallDisk(tmp_path)
    try:
        yield disk
    finally:
        disk.close()


def test_disk_fills_up_mid_sync(small_disk):
    target = small_disk.target
    data = singer_input()
    result = target.run(data)
    sentence = one_sentence(
        result,
        rf"Writing stream 'leads' \(input lines \d+-\d+\) to {re.escape(str(target.database))} "
        rf"failed: {small_disk.reason}\.",
    )
    assert result.stderr.decode().count(sentence) == 2  # the log line and the summary
    emitted = states_are_committed(result, target)
    (committed,) = target.query("SELECT records_fetched FROM sync_log")[0]
    assert 0 < committed < RECORDS
    assert emitted >= 1  # the batches that fitted were reported as safe to resume from
    assert_intact(target, committed, ["failed"])
    assert target.query("SELECT error_message FROM sync_log") == [(sentence,)]

    small_disk.room(None)
    again = target.run(data)
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert json.loads(again.stdout.decode().splitlines()[-1]) == {"through": RECORDS - 1}
    assert_intact(target, RECORDS, ["failed", "completed"])
    print(f"disk full: failed after {committed} committed records; rerun completed")


def test_disk_already_full_when_the_sync_starts(small_disk):
    target = small_disk.target
    assert target.run(singer_input(200)).returncode == 0
    small_disk.fill()
    before = hashlib.sha256(target.database.read_bytes()).hexdigest()
    result = target.run(singer_input(300))
    one_sentence(
        result, rf"(Opening|Starting a sync in) {re.escape(str(target.database))} failed: .+\."
    )
    assert result.stdout == b""
    assert hashlib.sha256(target.database.read_bytes()).hexdigest() == before
    small_disk.room(None)
    assert_intact(target, 200, ["completed"])
    again = target.run(singer_input(300))
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert_intact(target, 300, ["completed", "completed"])


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder read-only for the target, even when the tests run as root."""
    if MOUNTS:  # a read-only bind mount: root cannot write through it either
        mount("--bind", str(path), str(path))
        try:
            mount("-o", "remount,bind,ro", str(path))
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
        return
    if os.geteuid() == 0:
        pytest.skip("root without mount(8) cannot make a file read-only for itself")
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        path.chmod(mode)


def test_read_only_database_file(tmp_path):
    target = Target(tmp_path / "audit.sqlite", tmp_path)
    assert target.run(singer_input(200)).returncode == 0
    before = hashlib.sha256(target.database.read_bytes()).hexdigest()
    with read_only(target.database):
        # really read-only, for this process too
        with pytest.raises(OSError, match=r"Read-only file system|Permission denied"):
            target.database.open("r+b")
        result = target.run(singer_input(300))
        one_sentence(
            result,
            rf"\w[\w ]* {re.escape(str(target.database))} failed: attempt to write a readonly "
            r"database \(the file or its folder is read-only\)\.",
        )
        assert result.stdout == b""
        assert hashlib.sha256(target.database.read_bytes()).hexdigest() == before
        assert_intact(target, 200, ["completed"])
    again = target.run(singer_input(300))
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert_intact(target, 300, ["completed", "completed"])


def test_read_only_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    target = Target(folder / "audit.sqlite", tmp_path)
    assert target.run(singer_input(200)).returncode == 0
    before = hashlib.sha256(target.database.read_bytes()).hexdigest()
    with read_only(folder):
        result = target.run(singer_input(300))
        sentence = one_sentence(result, r".+\.")
        assert str(target.database) in sentence
        assert re.search(r"[Rr]ead-only|readonly|Permission denied", sentence), sentence
        assert result.stdout == b""
        assert hashlib.sha256(target.database.read_bytes()).hexdigest() == before
    assert_intact(target, 200, ["completed"])
