"""tap_zohocrm.bulk against the emulator over real HTTP: exports, paging, failures, limits.

The emulator's Bulk Read jobs are timed (``bulk_job_seconds``); these tests make them take
a fraction of a second and poll fast, and never assert on wall-clock time.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.bulk import (
    BulkReadClient,
    BulkReader,
    BulkReadError,
    DownloadLimiter,
    JobResult,
    RecordPlan,
)
from tap_zohocrm.errors import ZohoAPIError, ZohoScopeError
from tap_zohocrm.schema import module_schema
from tap_zohocrm.tap import TapZohoCRM

CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    """Poll jobs every few milliseconds (the emulator's jobs take a fraction of a second)."""
    monkeypatch.setattr(BulkReadClient, "POLL_FIRST_SECONDS", 0.005)
    monkeypatch.setattr(BulkReadClient, "POLL_MAX_SECONDS", 0.02)


@pytest.fixture
def bulk_org(start_emulator):
    """Factory: an emulator with fast jobs and a Bulk Read client of a tap pointed at it."""

    def make(**config):
        config.setdefault("bulk_job_seconds", 0.05)
        emu = start_emulator(**config)
        base_url = emu.base_url
        tap = TapZohoCRM(config={"accounts_url": base_url, **CREDENTIALS}, setup_mapper=False)
        return emu, BulkReadClient(tap)

    return make


def full_plan(client, module):
    """Every field of the module, typed from its metadata, as a tap schema would be."""
    metadata = client.field_metadata(module)
    properties = module_schema(metadata)["properties"]
    plan = RecordPlan(list(properties), properties, metadata)
    if plan.needs_tags:
        plan.tag_ids = client.tag_ids(module)
    return plan


def canonical(value):
    """JSON text: 1 and 1.0, True and 1 differ, as they do for a target."""
    return json.dumps(value, sort_keys=True)


def expected_record(truth, fields):
    from tap_zohocrm.schema import SYSTEM_KEYS

    record = {name: truth.get(SYSTEM_KEYS.get(name, name)) for name in fields}
    record["_sdc_deleted_at"] = None
    return record


# ---- exports equal Get Records' rendering ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "module",
    ["Leads", "Contacts", "Deals", "Accounts", "Projects", "Events", "Products", "Quotes"],
)
def test_export_equals_get_records_for_every_field(bulk_org, module):
    emu, client = bulk_org(seed=31, sizes={module: 90}, converted_fraction=0.2)
    plan = full_plan(client, module)
    records = list(BulkReader(client, module, plan).records())

    truth = {r["id"]: r for r in emu.records(module)}
    assert sorted(r["id"] for r in records) == sorted(truth)
    for record in records:
        assert list(record) == list(plan.fields)
        expected = expected_record(truth[record["id"]], plan.fields)
        for name in plan.fields:
            assert canonical(record[name]) == canonical(expected[name]), (module, name)


def test_lookups_owners_multiselects_and_tags_have_the_rest_shape(bulk_org):
    _emu, client = bulk_org(seed=32, sizes={"Leads": 150})
    plan = full_plan(client, "Leads")
    assert {"Owner.first_name", "Owner.last_name", "Owner.email"} <= set(plan.columns)
    assert "Referred_Account.Account_Name" in plan.columns
    records = {r["id"]: r for r in BulkReader(client, "Leads", plan).records()}
    owner = next(iter(records.values()))["Owner"]
    assert set(owner) == {"name", "id", "email"}
    assert any(r["Referred_Account"] is None for r in records.values())
    assert any(r["Interests"] == [] for r in records.values())
    assert any(len(r["Interests"]) > 1 for r in records.values())
    tagged = [r["Tag"] for r in records.values() if r["Tag"]]
    assert tagged
    assert all(tag["id"] and tag["name"] for tags in tagged for tag in tags)
    assert all(isinstance(r["Is_VIP"], bool) for r in records.values())
    assert all(
        isinstance(r["No_of_Employees"], int) for r in records.values() if r["No_of_Employees"]
    )


def test_deselected_nested_fields_are_dropped(bulk_org):
    _emu, client = bulk_org(seed=33, sizes={"Contacts": 30})
    metadata = client.field_metadata("Contacts")
    properties = module_schema(metadata)["properties"]
    fields = ["id", "Owner", "Account_Name", "Modified_Time"]
    plan = RecordPlan(fields, properties, metadata, nested_off={"Owner": frozenset({"email"})})
    records = list(BulkReader(client, "Contacts", plan).records())
    assert all(set(r) == set(fields) for r in records)
    assert all(set(r["Owner"]) == {"name", "id"} for r in records)


def test_criteria_select_records_modified_after_a_start(bulk_org):
    emu, client = bulk_org(seed=34, sizes={"Deals": 120})
    metadata = client.field_metadata("Deals")
    properties = module_schema(metadata)["properties"]
    plan = RecordPlan(["id", "Modified_Time"], properties, metadata)
    start = "2025-01-01T00:00:00+00:00"
    criteria = {
        "field": {"api_name": "Modified_Time"},
        "comparator": "greater_than",
        "value": start,
    }
    ids = {r["id"] for r in BulkReader(client, "Deals", plan, criteria=criteria).records()}
    expected = {
        r["id"]
        for r in emu.records("Deals")
        if parse_instant(r["Modified_Time"]) > parse_instant(start)
    }
    assert ids == expected
    assert 0 < len(ids) < 120


# ---- paging across jobs -----------------------------------------------------------------------


def test_pages_across_several_jobs_with_page_token(bulk_org, monkeypatch):
    emu, client = bulk_org(seed=35, sizes={"Leads": 130}, bulk_page_size=40)
    queries = []
    create = BulkReadClient.create_job

    def spy(self, query):
        queries.append(query)
        return create(self, query)

    monkeypatch.setattr(BulkReadClient, "create_job", spy)
    metadata = client.field_metadata("Leads")
    properties = module_schema(metadata)["properties"]
    plan = RecordPlan(["id", "Last_Name", "Modified_Time"], properties, metadata)
    emu.reset_stats()
    credits_before = client.credits
    reader = BulkReader(client, "Leads", plan)
    ids = [r["id"] for r in reader.records()]

    assert len(ids) == len(set(ids)) == 130
    assert set(ids) == {r["id"] for r in emu.records("Leads")}
    assert reader.jobs == 4
    calls = emu.stats()["calls"]
    assert calls["bulk_read_create"] == 4
    assert calls["bulk_read_download"] == 4
    assert queries[0]["page"] == 1
    assert all("page_token" in q and "page" not in q for q in queries[1:])
    # 4 jobs at 50 credits, plus a credit per status check and download.
    spent = client.credits - credits_before
    assert emu.stats()["credits"] == spent == 4 * 50 + calls["bulk_read_status"] + 4
    assert reader.first_created_time is not None


def test_more_records_without_a_token_asks_for_the_next_page():
    plan = RecordPlan(["id"], {"id": {"type": ["string"]}}, [])

    class FakeClient:
        def __init__(self):
            self.queries = []

        def create_job(self, query):
            self.queries.append(query)
            return str(len(self.queries)), "2025-07-01T00:00:00-07:00"

        def wait(self, job_id, max_wait):
            more = job_id == "1"
            return JobResult(job_id, int(job_id), 1, f"/result/{job_id}", more, None)

        def download(self, result):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"{result.job_id}.csv", f"Id\n{result.job_id}00\n")
            buffer.seek(0)
            return buffer

    client = FakeClient()
    ids = [r["id"] for r in BulkReader(client, "Leads", plan).records()]  # type: ignore[arg-type]
    assert ids == ["100", "200"]
    assert [q["page"] for q in client.queries] == [1, 2]


def test_downloads_wait_for_the_rate_limit(bulk_org):
    _emu, client = bulk_org(seed=36, sizes={"Deals": 50}, bulk_page_size=10)
    now = [0.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    client.limiter = DownloadLimiter(limit=2, window=60.0, clock=lambda: now[0], sleep=sleep)
    metadata = client.field_metadata("Deals")
    plan = RecordPlan(["id"], module_schema(metadata)["properties"], metadata)
    assert len(list(BulkReader(client, "Deals", plan).records())) == 50
    # 5 downloads, 2 per window: the 3rd and the 5th wait for the window to roll over.
    assert pauses == [60.0, 60.0]


def test_download_limiter_counts_a_sliding_window():
    now = [100.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    limiter = DownloadLimiter(limit=10, window=60.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        assert limiter.acquire() == 0.0
        now[0] += 1.0
    assert limiter.acquire() == pytest.approx(50.0)  # the first one leaves the window at 160
    assert pauses == [pytest.approx(50.0)]


# ---- failures ----------------------------------------------------------------------------------


def test_failed_job_is_one_sentence(bulk_org):
    emu, client = bulk_org(seed=37, sizes={"Leads": 20}, bulk_fail=1.0)
    plan = RecordPlan(["id"], {"id": {"type": ["string"]}}, [])
    with pytest.raises(BulkReadError) as excinfo:
        list(BulkReader(client, "Leads", plan).records())
    message = excinfo.value.sentence
    assert "FAILURE" in message
    assert "\n" not in message
    assert emu.stats()["calls"].get("bulk_read_download", 0) == 0


def test_slow_job_gives_up_after_the_bounded_wait(bulk_org):
    emu, client = bulk_org(seed=38, sizes={"Leads": 20}, bulk_job_seconds=600)
    plan = RecordPlan(["id"], {"id": {"type": ["string"]}}, [])
    with pytest.raises(BulkReadError) as excinfo:
        list(BulkReader(client, "Leads", plan, max_wait=0.2).records())
    assert "bulk_max_wait_seconds" in excinfo.value.sentence
    assert "still" in excinfo.value.sentence
    assert emu.stats()["calls"]["bulk_read_status"] >= 1


def test_wait_is_bounded_with_a_fake_clock(bulk_org):
    _emu, client = bulk_org(seed=38, sizes={"Leads": 5}, bulk_job_seconds=600)
    job_id, _ = client.create_job({"module": {"api_name": "Leads"}, "fields": ["Last_Name"]})
    now = [0.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    with pytest.raises(BulkReadError):
        client.wait(job_id, 1.0, clock=lambda: now[0], sleep=sleep)
    # Exponential backoff capped by POLL_MAX_SECONDS, never past the deadline.
    assert sum(pauses) == pytest.approx(1.0)
    assert max(pauses) == 0.02
    assert pauses[:3] == [0.005, 0.01, 0.02]


def test_expired_download_is_one_sentence(bulk_org):
    _emu, client = bulk_org(seed=39, sizes={"Leads": 20}, bulk_result_ttl_seconds=0)
    plan = RecordPlan(["id"], {"id": {"type": ["string"]}}, [])
    with pytest.raises(ZohoAPIError) as excinfo:
        list(BulkReader(client, "Leads", plan).records())
    assert excinfo.value.code == "EXPIRED_VALUE"
    assert "\n" not in excinfo.value.sentence


def test_missing_bulk_scope_names_it(bulk_org):
    _emu, client = bulk_org(seed=40, scopes=("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL"))
    with pytest.raises(ZohoScopeError) as excinfo:
        client.create_job({"module": {"api_name": "Leads"}})
    assert "ZohoCRM.bulk.READ" in excinfo.value.sentence


def test_count_is_one_call(bulk_org):
    emu, client = bulk_org(seed=41, sizes={"Deals": 77})
    emu.reset_stats()
    assert client.count("Deals", "ZohoCRM.modules.READ") == 77
    calls = emu.stats()["calls"]
    calls.pop("oauth_token", None)  # the tap's first call fetches its token
    assert calls == {"count:Deals": 1}
    assert client.credits == 1


# ---- CSV values --------------------------------------------------------------------------------


def _convert(properties, metadata, header, row, **kwargs):
    plan = RecordPlan(list(properties), properties, metadata, **kwargs)
    return plan.converter(header)(row)


def test_csv_text_becomes_typed_values():
    properties = {
        "id": {"type": ["string"]},
        "Count": {"type": ["integer", "null"]},
        "Amount": {"type": ["number", "null"]},
        "Flag": {"type": ["boolean", "null"]},
        "When": {"type": ["string", "null"], "format": "date-time"},
        "Day": {"type": ["string", "null"], "format": "date"},
        "Picks": {"type": ["array", "null"], "items": {"type": "string"}},
        "Tag": {"type": ["array", "null"], "items": {"type": "object"}},
        "Note": {"type": ["string", "null"]},
        "Rows": {"type": ["array", "null"], "items": {"type": "object"}},
        "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
    }
    metadata = [{"api_name": "Rows", "data_type": "subform"}]
    header = ["Id", "Count", "Amount", "Flag", "When", "Day", "Picks", "Tag", "Note"]
    row = ["1", "12", "3.5", "true", "2024-01-20T12:01:48Z", "2024-10-09", "A;B", "Hot", ""]
    record = _convert(properties, metadata, header, row, tag_ids={"Hot": "9"})
    assert record == {
        "id": "1",
        "Count": 12,
        "Amount": 3.5,
        "Flag": True,
        "When": "2024-01-20T12:01:48+00:00",
        "Day": "2024-10-09",
        "Picks": ["A", "B"],
        "Tag": [{"name": "Hot", "id": "9"}],
        "Note": None,
        "Rows": None,
        "_sdc_deleted_at": None,
    }
    empty = _convert(properties, metadata, header, ["2", "", "100", "false", "", "", "", "", "x"])
    assert empty["Count"] is None
    assert empty["Amount"] == 100
    assert isinstance(empty["Amount"], int)  # as JSON decodes 100
    assert empty["Flag"] is False
    assert empty["Picks"] == []
    assert empty["Tag"] == []


def test_a_lookup_without_a_known_target_refuses_the_plan():
    properties = {"id": {"type": ["string"]}, "Thing": {"type": ["object", "null"]}}
    with pytest.raises(BulkReadError) as excinfo:
        RecordPlan(list(properties), properties, [{"api_name": "Thing", "data_type": "lookup"}])
    assert "Thing" in excinfo.value.sentence


def test_an_export_without_an_asked_column_is_an_error():
    properties = {"id": {"type": ["string"]}, "Email": {"type": ["string", "null"]}}
    plan = RecordPlan(list(properties), properties, [])
    with pytest.raises(BulkReadError) as excinfo:
        plan.converter(["Id"])
    assert "Email" in excinfo.value.sentence


def test_an_unreadable_export_is_one_sentence():
    properties = {"id": {"type": ["string"]}, "Count": {"type": ["integer", "null"]}}
    plan = RecordPlan(list(properties), properties, [])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("1.csv", "Id,Count\n1,7\n2,seven\n")
    buffer.seek(0)
    records = plan.records(buffer)
    assert next(records) == {"id": "1", "Count": 7}
    with pytest.raises(BulkReadError) as excinfo:
        next(records)
    assert "could not be read" in excinfo.value.sentence
    assert "\n" not in excinfo.value.sentence
    with pytest.raises(BulkReadError):
        list(plan.records(io.BytesIO(b"not a zip")))
