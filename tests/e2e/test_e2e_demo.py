"""The demo (`make demo`'s script) end to end, and the documented SQL run against its database.

The demo runs with Meltano's system folder, its database and the audit file moved to temporary
directories, so that it never touches the user's own demo output.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_phases import child_environ, phase

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """Run scripts/demo.py once; return the audit file, the demo's output and its env."""
    base = tmp_path_factory.mktemp("demo")
    database = base / "demo.sqlite"
    env = {
        **child_environ(),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_SYS_DIR_ROOT": str(base / "meltano-sys"),
        "MELTANO_DATABASE_URI": f"sqlite:///{base / 'meltano.db'}",
        "TARGET_SQLITE_AUDIT_DATABASE": str(database),
    }
    with phase("running scripts/demo.py (installs the Meltano plugins first)"):
        result = subprocess.run(
            [PYTHON, str(ROOT / "scripts" / "demo.py")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return database, result.stdout, env


def sql_blocks(markdown: Path) -> list[str]:
    """Every statement of every ```sql block of a document."""
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", markdown.read_text(), flags=re.DOTALL):
        statements.extend(part.strip() for part in block.split(";") if part.strip())
    return statements


def test_the_demo_writes_two_syncs_and_shows_the_history(demo):
    database, output, _ = demo
    with sqlite3.connect(database) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM sync_log ORDER BY id")]
    assert statuses == ["completed", "completed"]
    assert "Lead history rows written by run 2" in output


@pytest.mark.parametrize("document", ["docs/TARGET.md", "README.md"])
def test_every_documented_query_runs_on_the_demo_database(demo, document):
    database, _, _ = demo
    statements = sql_blocks(ROOT / document)
    assert statements, f"{document} has no SQL"
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    some_id = conn.execute(
        "SELECT id FROM leads_history GROUP BY id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    moment = conn.execute("SELECT max(valid_from) FROM leads_history").fetchone()[0]
    params = {"id": some_id, "t": moment}
    answered = 0
    for statement in statements:
        # the documents' example ids and instants stand for the demo's own
        statement = re.sub(r"'\d{19}'", ":id", statement)
        statement = re.sub(r"'\d{4}-\d\d-\d\dT[\d:.]+Z'", ":t", statement)
        rows = conn.execute(statement, params).fetchall()  # every query runs
        answered += bool(rows)
    conn.close()
    # most answer with rows on the demo data (a few ask for what the demo may not have)
    assert answered >= len(statements) // 2, (answered, len(statements))


def test_the_changes_view_has_the_demo_edits_without_bookkeeping(demo):
    database, _, _ = demo
    with sqlite3.connect(database) as conn:
        fields = {row[0] for row in conn.execute("SELECT DISTINCT field FROM leads_changes")}
    assert fields
    assert not fields & {"modified_time", "modified_by", "last_activity_time"}


def test_the_changes_view_equals_a_python_diff_of_consecutive_versions_on_the_demo(demo):
    database, _, _ = demo
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    quiet = {"modified_time", "modified_by", "last_activity_time"}
    for stream in ("leads", "deals", "contacts"):
        previous: dict[str, sqlite3.Row] = {}
        expected = set()
        for row in conn.execute(f"SELECT * FROM {stream}_history ORDER BY history_id"):
            before = previous.get(row["id"])
            if before is not None and row["change_type"] == "update":
                names = [n for n in row.keys() if n in before.keys()]  # noqa: SIM118
                for name in names[1 : names.index("content_hash")]:  # the data columns
                    if before[name] != row[name] and name not in quiet:
                        expected.add((row["history_id"], name, before[name], row[name]))
            previous[row["id"]] = row
        got = {
            (r["history_id"], r["field"], r["old_value"], r["new_value"])
            for r in conn.execute(f"SELECT * FROM {stream}_changes")
        }
        assert got == expected, stream
    conn.close()


def test_make_demo_ends_with_the_insights_page_and_summary(demo):
    database, output, _ = demo
    page = database.parent / "insights.html"
    assert f"Insights page: {page}" in output
    assert "Leads this month:" in output
    assert page.is_file()


def test_the_insights_page_draws_every_chart_in_a_real_chromium(demo, tmp_path):
    from browser import FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    database, _, _ = demo
    page_file = database.parent / "insights.html"
    with phase("finding Chromium (installs Debian's chromium when it is missing)"):
        chromium = chromium_path()
    assert chromium is not None, "Chromium is missing and could not be installed (need root)"
    errors: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium), args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "request", lambda r: errors.append(f"fetched {r.url}") if "file:" not in r.url else None
        )
        page.goto(page_file.resolve().as_uri())
        charts = page.evaluate(
            """() => [...document.querySelectorAll('figure.chart')].map(f => ({
                kpi: f.dataset.kpi,
                marks: [...f.querySelectorAll('.mark')].filter(m => {
                    const box = m.getBoundingClientRect();
                    return box.width > 0 && box.height > 0;
                }).length,
            }))"""
        )
        shot = tmp_path / "insights.png"  # under pytest's tmp folder: never in git
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert {c["kpi"] for c in charts} == {"weekly", "sources", "pipeline"}
    assert all(c["marks"] > 0 for c in charts), charts
    assert errors == []
    assert shot.stat().st_size > 10_000


def test_the_datasette_metadata_names_real_tables_and_its_queries_run(demo):
    import yaml

    database, _, _ = demo
    metadata = yaml.safe_load(
        (ROOT / "zoho_crm_insights" / "datasette" / "metadata.yml").read_text()
    )
    settings = metadata["databases"]["demo"]
    assert metadata["databases"]["audit"] == settings  # one definition, every file name
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert set(settings["tables"]) <= names
    for table, spec in settings["tables"].items():
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        assert set(spec.get("columns", {})) <= columns, table
    some_id = conn.execute("SELECT id FROM leads LIMIT 1").fetchone()[0]
    params = {"id": some_id, "instant": "2030-01-01T00:00:00.000Z"}
    answered = {}
    for name, query in settings["queries"].items():
        answered[name] = len(conn.execute(query["sql"], params).fetchall())
    conn.close()
    assert answered["record_history"] >= 1
    assert answered["record_as_of"] == 1
    assert answered["kpi_top_sources"] >= 3
    assert answered["kpi_pipeline"] >= 3


def test_meltano_invoke_runs_the_insights_utility(demo, tmp_path):
    database, _, env = demo
    meltano = str(Path(PYTHON).parent / "meltano")
    subprocess.run(
        [meltano, "install", "utility", "zoho-crm-insights"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    page = tmp_path / "page.html"
    result = subprocess.run(
        [meltano, "invoke", "zoho-crm-insights", "--database", str(database), "--html", str(page)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Pipeline by stage:" in result.stdout
    assert page.is_file()


def test_the_readme_relation_questions_answer_with_rows_on_the_demo(demo):
    """Each converted lead's deal, each activity's parent, each quote's line items, owners'
    names, stage changes and the timeline: every query of the README's relations section."""
    database, _, _ = demo
    text = (ROOT / "README.md").read_text()
    section = text.split("### The CRM's relations", 1)[1].split("A lead's history", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip()]
    assert len(statements) >= 6
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    empty = [s for s in statements if not conn.execute(s).fetchall()]
    conn.close()
    assert empty == []
