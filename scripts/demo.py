"""The main job: the whole pipeline twice over the bundled Zoho CRM emulator.

Starts the emulator, runs ``meltano --environment=demo run tap-zohocrm target-sqlite-audit``,
changes some records in the emulator (edits, a new lead, a deletion, a converted lead), runs
again, prints both sync summaries and a few history rows (redacted), and stops the emulator.
The SQLite file stays in ``output/demo.sqlite`` for the user to query.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: The audit file; TARGET_SQLITE_AUDIT_DATABASE moves it (the tests keep the user's demo apart).
DATABASE = Path(os.environ.get("TARGET_SQLITE_AUDIT_DATABASE") or ROOT / "output" / "demo.sqlite")
PIPELINE = ["tap-zohocrm", "target-sqlite-audit"]


def banner(text: str) -> None:
    """Print a section heading so the two runs are easy to tell apart."""
    print(f"\n=== {text} ===", flush=True)


@contextmanager
def emulator() -> Iterator[str]:
    """Run the emulator on a free port for the duration of the demo, never leaving it behind."""
    proc = subprocess.Popen(
        # Data of the last 18 months, so that the insights page's months and weeks have leads.
        [str(BIN / "zoho-crm-emulator"), "serve", "--port", "0", "--recent-days", "540"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"The emulator did not start: {line.strip() or 'no output'}")
        url = line.rsplit(" ", 1)[-1].strip()
        print(f"Zoho CRM emulator at {url}", flush=True)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def meltano(*args: str, env: dict[str, str]) -> None:
    """Run a Meltano command in the project, stopping the demo if it fails.

    The per-request METRIC lines of the plugins are left out of the demo's output (Meltano
    writes its own logging config for the plugins, so they cannot be silenced there).
    """
    cmd = [str(BIN / "meltano"), *args]
    with subprocess.Popen(
        cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, errors="replace"
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "METRIC:" not in line:
                sys.stderr.write(line)
    if proc.returncode != 0:
        raise SystemExit(f"`meltano {' '.join(args)}` failed with exit code {proc.returncode}.")


def mutate(url: str, action: str, **body: object) -> list[str]:
    """Change records in the emulator through its control endpoint."""
    response = requests.post(f"{url}/_emulator/mutate", json={"action": action, **body}, timeout=30)
    response.raise_for_status()
    ids: list[str] = response.json()["ids"]
    return ids


def show_history(limit: int = 12) -> None:
    """Print the history rows the second sync wrote, redacted, to show the audit trail."""
    from target_sqlite_audit.report import redact

    with sqlite3.connect(DATABASE) as conn:
        rows = conn.execute(
            "SELECT change_type, id, full_name, email, changed_fields, valid_from "
            "FROM leads_history WHERE sync_id = (SELECT max(id) FROM sync_log) "
            "ORDER BY rowid LIMIT ?",
            (limit,),
        ).fetchall()
    print(f"{'change':<8} {'id':<20} {'name':<24} {'email':<28} changed_fields")
    for change_type, rid, name, email, changed, _valid_from in rows:
        print(
            f"{change_type:<8} {rid:<20} {redact(name or '')[:24]:<24} "
            f"{redact(email or '')[:28]:<28} {changed or ''}"
        )


def main() -> None:
    """Run the demo end to end."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    banner("Installing the Meltano plugins (tap-zohocrm, target-sqlite-audit)")
    meltano("install", *PIPELINE, env=env)
    for path in DATABASE.parent.glob(DATABASE.name + "*"):
        path.unlink()
    DATABASE.parent.mkdir(exist_ok=True)
    env["TARGET_SQLITE_AUDIT_DATABASE"] = str(DATABASE)
    # The demo also syncs the activities (first contact), the org (its time zone) and the
    # users (owners' names), beyond the default Leads, Contacts, Deals and users.
    # Run 1 starts the stage history and timeline bookmarks; run 2 reads the changed records'.
    env["TAP_ZOHOCRM_MODULES"] = '["Calls", "Tasks", "Events", "Quotes"]'
    env["TAP_ZOHOCRM_TIMELINE_MODULES"] = '["Leads"]'
    env["TAP_ZOHOCRM__SELECT"] = (
        '["leads.*", "contacts.*", "deals.*", "calls.*", "tasks.*", "events.*", "users.*", '
        '"org.*", "deal_stage_history.*", "leads_timeline.*", "quotes.*", "quoted_items.*"]'
    )
    with emulator() as url:
        env["TAP_ZOHOCRM_ACCOUNTS_URL"] = url
        banner("Run 1: the first sync reads everything")
        meltano("--environment=demo", "run", "--full-refresh", *PIPELINE, env=env)

        banner("Changing records in the emulator")
        edited = mutate(url, "edit", module="Leads", count=3)
        created = mutate(url, "create", module="Leads", count=1)
        deleted = mutate(url, "delete", module="Leads", count=1, type="recycle")
        converted = mutate(url, "convert", module="Leads", count=1)
        deals = mutate(url, "edit", module="Deals", count=2)
        deals += mutate(url, "edit", module="Deals", count=1, values={"Stage": "Closed Won"})
        quotes = mutate(url, "line_items", module="Quotes", count=2)
        print(f"edited leads {edited}, new lead {created}, deleted lead {deleted},")
        print(f"converted lead {converted}, edited deals {deals}, changed line items of {quotes}")

        banner("Run 2: the incremental sync reads only what changed")
        meltano("--environment=demo", "run", *PIPELINE, env=env)

    banner("Sync log (emails and phone numbers redacted)")
    subprocess.run(
        [str(BIN / "target-sqlite-audit"), "report", "--database", str(DATABASE)], check=True
    )
    banner("Lead history rows written by run 2")
    show_history()
    banner("Insights (zoho-crm-insights; e-mails and phone numbers redacted)")
    insights = DATABASE.parent / "insights.html"
    subprocess.run(
        [str(BIN / "zoho-crm-insights"), "--database", str(DATABASE), "--html", str(insights)],
        check=True,
    )
    shown = DATABASE.relative_to(ROOT) if DATABASE.is_relative_to(ROOT) else DATABASE
    print(f"\nThe audit trail is in {shown}; query it with sqlite3.")
    if shutil.which("sqlite3"):
        print(
            f"  sqlite3 -header -column {shown} 'SELECT id, status, records_fetched FROM sync_log'"
        )


if __name__ == "__main__":
    main()
