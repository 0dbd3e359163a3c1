"""End to end: a real ``meltano run`` of the tap into the audit target, and into other targets.

Meltano runs in the repository's own project (``meltano.yml``) with its ``.meltano`` folder,
its system database, the SQLite file and the JSON-lines folder redirected to temporary
directories, so that the tests never touch the user's demo state nor race other runs. The
emulator runs in-process on a free port and is reached over real HTTP by the tap that Meltano
starts.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_phases import child_environ, phase
from filelock import FileLock

from zoho_crm_emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
MELTANO = Path(sys.executable).parent / "meltano"
STREAMS = {"leads": "Leads", "contacts": "Contacts", "deals": "Deals"}

pytestmark = pytest.mark.e2e


def run_meltano(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(MELTANO), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-6000:]}"
    return result


@pytest.fixture(scope="session")
def meltano_sys_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """A private ``.meltano`` folder, so that tests never race the demo or benchmarks' runs.

    The plugins are installed once for the session: the first pytest-xdist worker to take the
    lock installs them, and every worker's folder links to those venvs but keeps its own run
    files (Meltano rewrites them on every run, so folders cannot be shared).
    """
    base = tmp_path_factory.getbasetemp()
    shared = (base if worker_id == "master" else base.parent) / "meltano-plugins"
    env = {
        **child_environ(),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_SYS_DIR_ROOT": str(shared),
    }
    with FileLock(f"{shared}.lock"):
        if not (shared / "installed").is_file():
            with phase(
                "meltano install: tap-zohocrm, target-sqlite-audit, target-jsonl, target-postgres"
            ):
                run_meltano(
                    "install",
                    "tap-zohocrm",
                    "target-sqlite-audit",
                    "target-jsonl",
                    "target-postgres",
                    env=env,
                )
            (shared / "installed").touch()
    sys_dir = base / "meltano-sys"
    sys_dir.mkdir(exist_ok=True)
    for kind in ("extractors", "loaders"):
        link = sys_dir / kind
        if not link.exists():
            link.symlink_to(shared / kind, target_is_directory=True)
    return str(sys_dir)


@pytest.fixture
def meltano_env(tmp_path: Path, meltano_sys_dir: str) -> dict[str, str]:
    return {
        **child_environ(),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_SYS_DIR_ROOT": meltano_sys_dir,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TARGET_SQLITE_AUDIT_DATABASE": str(tmp_path / "audit.sqlite"),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
    }


def live_ids(emu: Emulator, module: str) -> set[str]:
    return {record["id"] for record in emu.records(module)}


def test_meltano_run_twice_reads_only_changes(tmp_path: Path, meltano_env: dict[str, str]) -> None:
    emu = Emulator(EmulatorConfig(seed=11, sizes={"Leads": 450, "Contacts": 120, "Deals": 90}))
    database = tmp_path / "audit.sqlite"
    with emu.serve() as base_url:
        env = {**meltano_env, "TAP_ZOHOCRM_ACCOUNTS_URL": base_url}
        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-sqlite-audit", env=env)

        with sqlite3.connect(database) as conn:
            for stream, module in STREAMS.items():
                stored = {row[0] for row in conn.execute(f'SELECT id FROM "{stream}"')}
                assert stored == live_ids(emu, module), stream
            first_sync = conn.execute("SELECT id, status FROM sync_log").fetchall()
        assert [status for _, status in first_sync] == ["completed"]

        state = run_meltano(
            "--environment=demo", "state", "get", "demo:tap-zohocrm-to-target-sqlite-audit", env=env
        )
        bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]
        assert set(STREAMS) <= set(bookmarks)

        edited = emu.mutate("edit", module="Leads", count=2)
        created = emu.mutate("create", module="Leads", count=1)
        deleted = emu.mutate("delete", module="Leads", count=1, type="recycle")
        converted = emu.mutate("convert", module="Leads", count=1)
        emu.reset_stats()

        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-sqlite-audit", env=env)
        calls = emu.stats()["calls"]

    # Only what changed is fetched, through COQL (read_method auto): one LIMIT-200 query per
    # column batch (the 48-field leads take two), 1 credit each. Discovery may read metadata,
    # never records; no Get Records call is made.
    assert calls.get("coql:Leads") == 2
    assert calls.get("coql:Contacts") == 1
    assert calls.get("coql:Deals") == 1
    assert not [name for name in calls if name.startswith("records:")]
    # Deletions are read after the records, from where the first run left off: one call
    # per stream (the Leads one lists the one deletion, the others are empty).
    for module in STREAMS.values():
        assert calls.get(f"deleted:{module}") == 1

    with sqlite3.connect(database) as conn:
        history = conn.execute(
            "SELECT id, change_type FROM leads_history WHERE sync_id = "
            "(SELECT max(id) FROM sync_log) ORDER BY id"
        ).fetchall()
        expected = sorted(
            [(rid, "update") for rid in [*edited, *converted]]
            + [(rid, "insert") for rid in created]
            + [(rid, "delete") for rid in deleted]
        )
        assert sorted(history) == expected
        converted_row = conn.execute(
            "SELECT converted__s, deleted FROM (SELECT converted__s, _deleted_at IS NOT NULL "
            "AS deleted FROM leads WHERE id = ?)",
            (converted[0],),
        ).fetchone()
        assert converted_row == (1, 0)
        assert conn.execute("SELECT _deleted_at FROM leads WHERE id = ?", deleted).fetchone()[0]
        statuses = [row[0] for row in conn.execute("SELECT status FROM sync_log ORDER BY id")]
        assert statuses == ["completed", "completed"]


def test_tap_output_loads_into_target_jsonl(tmp_path: Path, meltano_env: dict[str, str]) -> None:
    emu = Emulator(EmulatorConfig(seed=12, sizes={"Leads": 230, "Contacts": 40, "Deals": 30}))
    with emu.serve() as base_url:
        env = {**meltano_env, "TAP_ZOHOCRM_ACCOUNTS_URL": base_url}
        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-jsonl", env=env)
        truth = {module: {r["id"]: r for r in emu.records(module)} for module in STREAMS.values()}
        bin_ids = {module: {d["id"] for d in emu.deleted(module)} for module in STREAMS.values()}

    for stream, module in STREAMS.items():
        lines = (tmp_path / "jsonl" / f"{stream}.jsonl").read_text().splitlines()
        every = list(map(json.loads, lines))
        records = {rec["id"]: rec for rec in every if rec.get("_sdc_deleted_at") is None}
        assert set(records) == set(truth[module])
        # No bookmark: the whole recycle bin arrives as deletions (rows holding only the key).
        ghosts = {rec["id"] for rec in every if rec.get("_sdc_deleted_at") is not None}
        assert ghosts == bin_ids[module]
        for rid in sorted(records)[:10]:
            for field in ("Modified_Time", "Owner"):
                assert records[rid][field] == truth[module][rid][field]


def psql(url: str, query: str) -> list[list[str]]:
    port = url.rsplit(":", 1)[1].split("/")[0]
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-At", "-F", "\t", "-c", query],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("\t") for line in out.splitlines()]


SAMPLE_FIELD = {"leads": "Last_Name", "contacts": "Last_Name", "deals": "Deal_Name"}


@pytest.fixture(scope="module")
def postgres_url():
    """One throwaway PostgreSQL server for the module's tests (each uses its own schema)."""
    from tests.postgres_server import postgres_server

    with contextlib.ExitStack() as stack:
        with phase("starting a throwaway PostgreSQL server"):
            url = stack.enter_context(postgres_server())
        yield url


def test_tap_output_loads_into_target_postgres(
    meltano_env: dict[str, str], postgres_url: str
) -> None:
    url = postgres_url
    emu = Emulator(EmulatorConfig(seed=13, sizes={"Leads": 210, "Contacts": 30, "Deals": 20}))
    with emu.serve() as base_url:
        env = {
            **meltano_env,
            "TAP_ZOHOCRM_ACCOUNTS_URL": base_url,
            "TARGET_POSTGRES_SQLALCHEMY_URL": url,
        }
        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-postgres", env=env)
        for stream, module in STREAMS.items():
            field = SAMPLE_FIELD[stream]
            rows = psql(
                url, f'SELECT id, "{field}" FROM zohocrm.{stream} WHERE _sdc_deleted_at IS NULL'
            )
            truth = {r["id"]: r[field] for r in emu.records(module)}
            assert dict(rows) == truth, stream

        # A deletion reaches PostgreSQL as the Singer convention says: the row's
        # _sdc_deleted_at is set (target-postgres applies hard_delete only to ACTIVATE_VERSION).
        # (The first sync read the whole recycle bin: its entries are rows with only the key.)
        ghosts = {d["id"] for d in emu.deleted("Leads")}
        deleted = emu.mutate("delete", module="Leads", count=1, type="recycle")
        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-postgres", env=env)
        marked = psql(
            url, "SELECT id FROM zohocrm.leads WHERE _sdc_deleted_at IS NOT NULL ORDER BY id"
        )
        assert {row[0] for row in marked} == ghosts | set(deleted)


def test_every_relation_stream_loads_into_target_postgres(
    meltano_env: dict[str, str], postgres_url: str
) -> None:
    url = postgres_url
    sizes = {"Leads": 30, "Contacts": 10, "Deals": 8, "Accounts": 5, "Calls": 6, "Tasks": 6,
             "Events": 4, "Notes": 5, "Quotes": 6, "Products": 5}  # fmt: skip
    emu = Emulator(EmulatorConfig(seed=15, sizes=sizes))
    streams = ["leads", "contacts", "deals", "calls", "tasks", "events", "notes", "users", "org",
               "roles", "profiles", "currencies", "territories", "deal_stage_history",
               "leads_timeline", "quoted_items"]  # fmt: skip
    with emu.serve() as base_url:
        env = {
            **meltano_env,
            "TAP_ZOHOCRM_ACCOUNTS_URL": base_url,
            "TARGET_POSTGRES_SQLALCHEMY_URL": url,
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": "relations",
            "TAP_ZOHOCRM_MODULES": '["Calls", "Tasks", "Events", "Notes"]',
            "TAP_ZOHOCRM_TIMELINE_MODULES": '["Leads"]',
            "TAP_ZOHOCRM_STAGE_HISTORY_BACKFILL": "true",
            "TAP_ZOHOCRM_TIMELINE_BACKFILL": "true",
            "TAP_ZOHOCRM__SELECT": json.dumps([f"{name}.*" for name in streams]),
        }
        run_meltano("--environment=demo", "run", "tap-zohocrm", "target-postgres", env=env)
        counts = {
            name: int(psql(url, f"SELECT count(*) FROM relations.{name}")[0][0]) for name in streams
        }
        parents = psql(
            url, "SELECT zoho_se_module, count(*) FROM relations.calls GROUP BY 1 ORDER BY 1"
        )
        converted = psql(
            url,
            "SELECT count(*) FROM relations.leads AS l JOIN relations.deals AS d "
            "ON d.id = l.\"Converted_Deal\"->>'id'",
        )
        items = psql(url, 'SELECT parent_id, sum("Total") FROM relations.quoted_items GROUP BY 1')
        truth_items = emu.subform_rows("Quoted_Items")
    assert {row[0] for row in items} == {row["Parent_Id"]["id"] for row in truth_items}
    assert counts["quoted_items"] == len(truth_items)
    assert all(counts[name] > 0 for name in streams), counts
    assert counts["users"] == 5
    assert counts["org"] == 1
    assert {row[0] for row in parents} <= {"Leads", "Deals", "Accounts"}
    assert sum(int(row[1]) for row in parents) == sizes["Calls"]
    assert int(converted[0][0]) >= 1  # the conversion lookup loads as JSON that joins


def test_meltano_invoke_tap_auth_exchanges_a_grant_code(
    tmp_path: Path, meltano_env: dict[str, str]
) -> None:
    emu = Emulator(EmulatorConfig(seed=14, sizes={"Leads": 5, "Contacts": 5, "Deals": 5}))
    with emu.serve() as base_url:
        env = {**meltano_env, "TAP_ZOHOCRM_ACCOUNTS_URL": base_url}
        env_file = tmp_path / ".env-auth"
        result = run_meltano(
            "--environment=demo", "invoke", "tap-zohocrm:auth", "--code",
            "1000.emulator-grant-code", "--write-env", str(env_file), env=env,
        )  # fmt: skip
    assert "Verified: the new token reads Zoho CRM" in result.stderr
    assert "TAP_ZOHOCRM_REFRESH_TOKEN=emulator-refresh-token" in env_file.read_text()
    assert "emulator-client-secret" not in result.stdout + result.stderr
