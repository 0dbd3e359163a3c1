"""Reliability: secrets never leave the config file; people-facing text hides personal data.

Secrets: the tap (discovery, a sync with token expiries and retries, a refused refresh) and the
target run as subprocesses with DEBUG logging, in a folder of their own; the client secret, the
refresh token and every access token the emulator issued must appear in no output (stdout,
stderr) and no file other than the tap's config: not the catalog, the Singer messages, the
STATE, the SQLite file and its WAL, or the logs.

Privacy: the end-of-run summary, the logged error sentences and ``target-sqlite-audit report``
redact e-mail addresses and phone numbers by default and show them with ``redact_pii: false``
(or ``report --no-redact``); the stored data is never redacted.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from target_sqlite_audit.report import redact

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-zohocrm")
TARGET = str(BIN / "target-sqlite-audit")
DEBUG = {
    "TAP_ZOHOCRM_LOGLEVEL": "DEBUG",
    "TARGET_SQLITE_AUDIT_LOGLEVEL": "DEBUG",
    "TAP_ZOHOCRM_BACKOFF_SCALE": "0.01",
}


def run(command: list[str], cwd: Path, stdin: bytes = b"", env: dict | None = None):
    """Run a console script in ``cwd``; returns the finished process (bytes)."""
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def fragments(secret: str) -> list[str]:
    """The secret and its first and last 12 characters (catches truncated or masked copies)."""
    return [secret, secret[:12], secret[-12:]]


def test_no_secret_in_any_output_or_file_at_debug_level(start_emulator, tmp_path):
    client_secret = f"secret-{secrets.token_hex(16)}"
    refresh_token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
    emu = start_emulator(
        seed=71,
        sizes={"Leads": 600, "Contacts": 100, "Deals": 100},
        client_id="reliability-client",
        client_secret=client_secret,
        refresh_token=refresh_token,
        token_lifetime_calls=4,  # several refreshes, each logged
        fail_429=0.05,  # and retries, each logged
    )
    base_url = emu.base_url
    issued: list[str] = []
    grant = emu.tokens.grant

    def recording_grant(params, api_domain):
        status, body = grant(params, api_domain)
        if "access_token" in body:
            issued.append(body["access_token"])
        return status, body

    emu.tokens.grant = recording_grant  # observe the emulator only; the tap is untouched

    work = tmp_path / "work"
    work.mkdir()
    config = {
        "accounts_url": base_url,
        "client_id": "reliability-client",
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "page_size": 50,
    }
    (work / "tap.json").write_text(json.dumps(config))
    (work / "target.json").write_text(json.dumps({"database": str(work / "audit.sqlite")}))
    outputs = []

    discovery = run([TAP, "--config", "tap.json", "--discover"], work, env=DEBUG)
    assert discovery.returncode == 0, discovery.stderr.decode()[-2000:]
    (work / "catalog.json").write_bytes(discovery.stdout)
    tap = run([TAP, "--config", "tap.json", "--catalog", "catalog.json"], work, env=DEBUG)
    assert tap.returncode == 0, tap.stderr.decode()[-2000:]
    (work / "messages.jsonl").write_bytes(tap.stdout)
    target = run([TARGET, "--config", "target.json"], work, stdin=tap.stdout, env=DEBUG)
    assert target.returncode == 0, target.stderr.decode()[-2000:]
    (work / "state.json").write_bytes(target.stdout.splitlines()[-1])
    incremental = run(
        [TAP, "--config", "tap.json", "--catalog", "catalog.json", "--state", "state.json"],
        work,
        env=DEBUG,
    )
    assert incremental.returncode == 0, incremental.stderr.decode()[-2000:]
    report = run([TARGET, "report", "--config", "target.json"], work, env=DEBUG)
    assert report.returncode == 0, report.stderr.decode()[-2000:]
    outputs += [discovery, tap, target, incremental, report]

    # refused refreshes, at DEBUG level too: the wrong values are secrets as well
    wrong = {**config, "client_secret": f"wrong-{secrets.token_hex(12)}"}
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    revoked = {**config, "refresh_token": f"1000.{secrets.token_hex(16)}.revoked"}
    (tmp_path / "revoked.json").write_text(json.dumps(revoked))
    for name in ("wrong.json", "revoked.json"):
        failed = run([TAP, "--config", str(tmp_path / name)], work, env=DEBUG)
        assert failed.returncode == 1
        outputs.append(failed)

    assert b"DEBUG" in tap.stderr
    assert b"DEBUG" in target.stderr
    assert len(issued) >= 5  # tokens expired and were refreshed throughout
    assert emu.stats()["status_counts"].get("429", 0) > 0
    needles = [*fragments(client_secret), *fragments(refresh_token)]
    needles += [*fragments(wrong["client_secret"]), *fragments(revoked["refresh_token"])]
    for token in issued:
        needles += [token, *token.split(".")[1:]]
    for process in outputs:
        for stream in (process.stdout, process.stderr):
            for needle in needles:
                assert needle.encode() not in stream, (process.args, needle)
    files = [path for path in work.rglob("*") if path.is_file() and path.name != "tap.json"]
    assert {"audit.sqlite", "catalog.json", "messages.jsonl", "state.json"} <= {
        path.name for path in files
    }
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, (path.name, needle)
    # the secrets really are in the config, so the scan above could have found them
    assert client_secret.encode() in (work / "tap.json").read_bytes()


def test_no_personal_data_of_the_records_in_any_log_or_summary(start_emulator, tmp_path):
    """A real sync of records full of e-mails and phone numbers: none reaches the logs."""
    emu = start_emulator(seed=72, sizes={"Leads": 300, "Contacts": 150, "Deals": 50})
    base_url = emu.base_url
    (tmp_path / "tap.json").write_text(json.dumps({
        "accounts_url": base_url, "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret", "refresh_token": "emulator-refresh-token",
    }))  # fmt: skip
    (tmp_path / "target.json").write_text(json.dumps({"database": "audit.sqlite"}))
    tap = run([TAP, "--config", "tap.json"], tmp_path)
    assert tap.returncode == 0, tap.stderr.decode()[-2000:]
    target = run([TARGET, "--config", "target.json"], tmp_path, stdin=tap.stdout)
    assert target.returncode == 0, target.stderr.decode()[-2000:]
    report = run([TARGET, "report", "--config", "target.json"], tmp_path)
    assert report.returncode == 0
    personal = set()
    for module in ("Leads", "Contacts"):
        for record in emu.records(module):
            personal |= {record[f] for f in ("Email", "Phone", "Mobile") if record.get(f)}
    assert len(personal) > 500
    for text in (tap.stderr, target.stderr, report.stdout, report.stderr):
        for value in personal:
            assert value.encode() not in text
    assert b"completed" in target.stderr  # the summary is there
    # every one of those values is recognised by the redaction
    for value in personal:
        assert redact(f"x {value} y") in ("x <email> y", "x <phone> y"), value


def failing_sync_with_personal_data(tmp_path: Path, redact_pii: bool | None):
    """A sync of a stream named after a person, failing on a line that names it."""
    stream = "contact ann.lee@example.com +1 (415) 555-0100"
    config: dict = {"database": "audit.sqlite", "batch_size_rows": 1}
    if redact_pii is not None:
        config["redact_pii"] = redact_pii
    (tmp_path / "target.json").write_text(json.dumps(config))
    lines = [
        {"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
         "schema": {"properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}},
        {"type": "RECORD", "stream": stream, "record": {"id": "1", "n": 1}},
        {"type": "RECORD", "stream": stream, "record": {"id": "2", "n": "two"}},
    ]  # fmt: skip
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return run([TARGET, "--config", "target.json"], tmp_path, stdin=data)


def without_metrics(stderr: bytes) -> str:
    """The target's stderr without singer-sdk's METRIC lines (checked on their own below)."""
    return "".join(
        line for line in stderr.decode().splitlines(keepends=True) if "METRIC: " not in line
    )


def test_summary_log_and_report_redact_by_default(tmp_path):
    result = failing_sync_with_personal_data(tmp_path, redact_pii=None)
    assert result.returncode == 1
    stderr = without_metrics(result.stderr)
    report = run([TARGET, "report", "--config", "target.json"], tmp_path).stdout.decode()
    for text in (stderr, report):
        assert "ann.lee@example.com" not in text
        assert "555-0100" not in text
        assert "contact <email> <phone>" in text
    # the logged error, the summary's stream row and its error line
    assert stderr.count("contact <email> <phone>") >= 3
    # stored data and the sync log keep the truth
    stored = subprocess.run(
        [sys.executable, "-c", "import sqlite3; c = sqlite3.connect('audit.sqlite'); "
         "print(c.execute('SELECT stream FROM _audit_streams').fetchone()[0]); "
         "print(c.execute('SELECT error_message FROM sync_log').fetchone()[0])"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert stored.count("ann.lee@example.com +1 (415) 555-0100") == 2


def test_metric_log_lines_redact_stream_names(tmp_path):
    result = failing_sync_with_personal_data(tmp_path, redact_pii=None)
    metrics = [line for line in result.stderr.decode().splitlines() if "METRIC: " in line]
    assert metrics
    assert not any("ann.lee@example.com" in line for line in metrics)


def test_redact_pii_false_shows_everything(tmp_path):
    result = failing_sync_with_personal_data(tmp_path, redact_pii=False)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.count("contact ann.lee@example.com +1 (415) 555-0100") >= 3
    assert "<email>" not in stderr
    report = run([TARGET, "report", "--config", "target.json"], tmp_path).stdout.decode()
    assert "ann.lee@example.com +1 (415) 555-0100" in report
    # --no-redact overrides a config that redacts
    (tmp_path / "redacting.json").write_text(json.dumps({"database": "audit.sqlite"}))
    redacted = run([TARGET, "report", "--config", "redacting.json"], tmp_path).stdout.decode()
    assert "<email>" in redacted
    shown = run(
        [TARGET, "report", "--config", "redacting.json", "--no-redact"], tmp_path
    ).stdout.decode()
    assert "ann.lee@example.com" in shown


phones = st.builds(
    lambda cc, area, mid, last, style: style.format(cc=cc, a=area, m=mid, l=last),
    st.integers(1, 99),
    st.integers(200, 999),
    st.integers(200, 999),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    st.sampled_from([
        "+{cc} {a} {m} {l}", "+{cc}-{a}-{m}-{l}", "+{cc} ({a}) {m}-{l}", "({a}) {m}-{l}",
        "{a}-{m}-{l}", "{a} {m} {l}", "{a}.{m}.{l}", "+{cc}{a}{m}{l}", "00{cc} {a} {m} {l}",
    ]),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(email=st.emails(), phone=phones, filler=st.sampled_from([" ", ", ", "; ", " - ", " or "]))
def test_redact_hides_any_email_and_phone(email, phone, filler):
    text = f"Record of {email}{filler}{phone} failed."
    redacted = redact(text)
    assert email not in redacted
    assert phone not in redacted
    assert "<email>" in redacted
    assert "<phone>" in redacted
