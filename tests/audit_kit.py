"""The target's test kit: builds Singer messages, runs target-sqlite-audit, reads its file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

AUDIT_CLI = str(Path(sys.executable).parent / "target-sqlite-audit")


class AuditRun:
    """Outcome of one in-process run of the target."""

    def __init__(self, stdout: str, stderr: str, error: BaseException | None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.error = error
        self.states = [json.loads(line) for line in stdout.splitlines() if line.strip()]


class AuditKit:
    """Builds Singer messages, runs target-sqlite-audit and reads its database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = directory / "audit.sqlite"
        self.config: dict = {"database": str(self.database)}

    # messages
    @staticmethod
    def schema(stream, properties, key=("id",), bookmarks=None, **extra) -> dict:
        props = {
            name: ({"type": ["null", spec]} if isinstance(spec, str) else spec)
            for name, spec in properties.items()
        }
        message = {
            "type": "SCHEMA",
            "stream": stream,
            "schema": {"type": "object", "properties": props},
            "key_properties": list(key),
        }
        if bookmarks:
            message["bookmark_properties"] = list(bookmarks)
        message.update(extra)
        return message

    @staticmethod
    def record(stream, record) -> dict:
        return {"type": "RECORD", "stream": stream, "record": record}

    @staticmethod
    def state(value) -> dict:
        return {"type": "STATE", "value": value}

    @staticmethod
    def lines(messages) -> bytes:
        if isinstance(messages, bytes):
            return messages
        return "".join(
            (m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages
        ).encode()

    # running
    def run(self, messages, *, raises: bool = False, **config) -> AuditRun:
        """Run the target in-process (like singer-sdk's test runner)."""
        from target_sqlite_audit.target import TargetSqliteAudit

        target = TargetSqliteAudit(config={**self.config, **config})
        out, err = io.StringIO(), io.StringIO()
        error = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                target.process_lines(io.BytesIO(self.lines(messages)))
                target.process_endofpipe()
            except Exception as exc:
                if raises:
                    raise
                error = exc
        return AuditRun(out.getvalue(), err.getvalue(), error)

    def cli(self, messages=b"", *args, config=None, timeout=60, env=None):
        """Run the console script as a subprocess; returns CompletedProcess (bytes)."""
        config_path = self.directory / "config.json"
        config_path.write_text(json.dumps({**self.config, **(config or {})}))
        argv = [AUDIT_CLI, *args] if args else [AUDIT_CLI, "--config", str(config_path)]
        return subprocess.run(
            argv,
            input=self.lines(messages),
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )

    # reading
    def connect(self, database=None) -> sqlite3.Connection:
        conn = sqlite3.connect(str(database or self.database))
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql, params=(), database=None) -> list[dict]:
        with contextlib.closing(self.connect(database)) as conn:
            return [dict(row) for row in conn.execute(sql, params)]

    def scalar(self, sql, params=(), database=None):
        with contextlib.closing(self.connect(database)) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def syncs(self, database=None) -> list[dict]:
        return self.query("SELECT * FROM sync_log ORDER BY id", database=database)

    def history(self, stream="leads", database=None) -> list[dict]:
        return self.query(
            f'SELECT * FROM "{stream}_history" ORDER BY history_id', database=database
        )

    def current(self, stream="leads", database=None) -> list[dict]:
        return self.query(f'SELECT * FROM "{stream}" ORDER BY rowid', database=database)


def assert_one_live_version(audit: AuditKit, stream: str = "leads") -> None:
    """is_current: exactly one version per live key, none for a deleted key."""
    rows = audit.query(
        f'SELECT c.id, c._deleted_at, (SELECT count(*) FROM "{stream}_history" h '
        f'WHERE h.id = c.id AND h.is_current = 1) AS live FROM "{stream}" c'
    )
    for row in rows:
        assert row["live"] == (0 if row["_deleted_at"] else 1), row
