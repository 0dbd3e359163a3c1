"""Every field of a module wider than Zoho's 50-field cap: chunks merged by id, never half-old."""

import logging
import math

import pytest
from tap_complete_kit import (
    RequestLog,
    deletion_records,
    deselect,
    entry,
    live_records,
    only_streams,
    stream_state,
    zoho_value,
)

from tap_zohocrm.bookmarks import parse_instant
from tap_zohocrm.chunks import PartsPool, plan_chunks
from tap_zohocrm.wide import ChunkedReader

SIZES = {"Projects": 2150, "Leads": 5, "Contacts": 5, "Deals": 5}


@pytest.fixture
def projects(start_emulator, tap_config, discover_catalog):
    """An org with 2,150 Projects (64 fields + id) and a catalog selecting only them."""
    emu = start_emulator(seed=71, sizes=SIZES)
    config = tap_config(emu, modules=["Projects"])
    catalog = only_streams(discover_catalog(config), "projects")
    emu.reset_stats()
    return emu, config, catalog


def assert_whole_and_true(run, emu):
    """Every emitted Projects record equals the emulator's record on every field."""
    properties = set(run.schema("projects")["properties"]) - {"_sdc_deleted_at"}
    truth = {r["id"]: r for r in emu.records("Projects")}
    for record in live_records(run, "projects"):
        expected = truth[record["id"]]
        for name in properties:
            assert record[name] == zoho_value(expected, name), (record["id"], name)
    return truth


@pytest.mark.slow
def test_a_64_field_module_arrives_whole_across_2000_plus_records(projects, run_tap, caplog):
    emu, config, catalog = projects
    with caplog.at_level(logging.INFO):
        run = run_tap(config, catalog=catalog)

    properties = run.schema("projects")["properties"]
    # id, 64 fields, $state, $approval_state, $currency_symbol, _sdc_deleted_at
    assert len(properties) == 69
    truth = assert_whole_and_true(run, emu)
    ids = [r["id"] for r in run.records("projects")]
    assert len(ids) == len(set(ids)) == len(truth) == 2150
    for record in run.records("projects"):
        assert set(record) == set(properties)

    # Two chunks per page of 200, one deleted-records call (no bookmark: the whole recycle
    # bin), nothing refused.
    stats = emu.stats()
    pages = math.ceil(2150 / 200)
    assert stats["calls"]["records:Projects"] == 2 * pages
    assert stats["calls"]["deleted:Projects"] == 1
    assert "400" not in stats["status_counts"]
    [done] = [r.getMessage() for r in caplog.records if "Stream projects done" in r.getMessage()]
    assert f"{2 * pages} Get Records" in done
    assert (
        f"65 fields read in 2 chunks of at most 50: {pages} of the Get Records calls "
        f"({pages} credits) were for the fields past the first chunk, 0 records re-read by id"
    ) in done

    newest = max(truth.values(), key=lambda r: parse_instant(r["Modified_Time"]))
    bookmark = stream_state(run, "projects")["replication_key_value"]
    assert parse_instant(bookmark) == parse_instant(newest["Modified_Time"])


@pytest.mark.slow
def test_every_chunk_request_is_the_same_query_within_the_cap(projects, run_tap, monkeypatch):
    emu, config, catalog = projects
    log = RequestLog().install(monkeypatch)
    first = run_tap(config, catalog=catalog)
    requests_ = log.to("/crm/v8/Projects")
    assert requests_
    fields_seen = set()
    for params, _headers in requests_:
        fields = params["fields"].split(",")
        assert len(fields) <= 50
        assert fields[:2] == ["id", "Modified_Time"]
        assert params["sort_by"] == "Modified_Time"
        assert params["sort_order"] == "asc"
        assert params["per_page"] == "200"
        assert "page" not in params
        fields_seen.update(fields)
    assert len(fields_seen) == 65

    # Incremental: both chunks carry the same If-Modified-Since; only the edits come.
    edited = emu.mutate("edit", module="Projects", count=3)
    log.clear()
    emu.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.state)
    assert sorted(r["id"] for r in live_records(second, "projects")) == sorted(edited)
    assert_whole_and_true(second, emu)
    assert emu.stats()["calls"]["records:Projects"] == 2
    since = {headers["If-Modified-Since"] for _, headers in log.to("/crm/v8/Projects")}
    assert len(since) == 1
    assert parse_instant(since.pop()) == parse_instant(
        stream_state(first, "projects")["replication_key_value"]
    )


@pytest.mark.slow
def test_a_record_modified_between_chunk_requests_is_never_half_old(projects, run_tap, monkeypatch):
    emu, config, catalog = projects
    original = ChunkedReader.complete_page
    edited = []

    def edit_after_the_first_chunk(reader, driver, page):
        # Page 3 of the first chunk has been read; its 6th record changes before the second
        # chunk's page is requested (it moves to the end, and the later pages shift).
        if len(driver) == 200 and reader.pages_seen == 2 and not edited:
            edited.extend(emu.mutate("edit", module="Projects", ids=[driver[5]["id"]]))
        reader.pages_seen += 1
        return original(reader, driver, page)

    monkeypatch.setattr(ChunkedReader, "pages_seen", 0, raising=False)
    monkeypatch.setattr(ChunkedReader, "complete_page", edit_after_the_first_chunk)
    run = run_tap(config, catalog=catalog)

    [record_id] = edited
    truth = assert_whole_and_true(run, emu)  # no record mixes two versions
    versions = [r for r in run.records("projects") if r["id"] == record_id]
    assert len(versions) == 2  # re-read at its old place, then read again at its new one
    assert all(v == versions[0] for v in versions)
    # The shift would have hidden a record from the first chunk: it is not lost.
    assert {r["id"] for r in run.records("projects")} == set(truth)
    # Checkpoints follow the first chunk's order: never past a record not yet read.
    for state in run.states:
        value = state["bookmarks"].get("projects", {}).get("replication_key_value")
        assert value is None or parse_instant(value) <= parse_instant(
            truth[record_id]["Modified_Time"]
        )


@pytest.mark.slow
def test_a_record_deleted_between_chunk_requests_is_reported_deleted(
    projects, run_tap, monkeypatch
):
    emu, config, catalog = projects
    original = ChunkedReader.complete_page
    deleted = []

    def delete_after_the_first_chunk(reader, driver, page):
        if len(driver) == 200 and not deleted:
            deleted.extend(emu.mutate("delete", module="Projects", ids=[driver[10]["id"]]))
        return original(reader, driver, page)

    monkeypatch.setattr(ChunkedReader, "complete_page", delete_after_the_first_chunk)
    run = run_tap(config, catalog=catalog)
    truth = assert_whole_and_true(run, emu)
    assert {r["id"] for r in live_records(run, "projects")} == set(truth)
    # The first sync's deletion pass (the whole recycle bin) reports it.
    assert [r["id"] for r in deletion_records(run, "projects")] == deleted
    monkeypatch.setattr(ChunkedReader, "complete_page", original)
    again = run_tap(config, catalog=catalog, state=run.state)
    assert deletion_records(again, "projects") == []


@pytest.mark.slow
def test_chunks_follow_the_first_chunk_across_a_page_token_restart(
    start_emulator, tap_config, run_tap, discover_catalog
):
    emu = start_emulator(seed=72, sizes=SIZES, page_token_cap=1000)
    config = tap_config(emu, modules=["Projects"], pagination="page_token")
    catalog = only_streams(discover_catalog(config), "projects")
    emu.reset_stats()
    run = run_tap(config, catalog=catalog)
    truth = assert_whole_and_true(run, emu)
    assert {r["id"] for r in run.records("projects")} == set(truth)
    stats = emu.stats()
    assert stats["status_counts"]["400"] >= 1  # the cap ended the first chunk's token chain
    # The other chunk never ran into the cap on its own: it restarts with the first one.
    assert stats["status_counts"]["400"] == math.ceil(2150 / 1000) - 1


@pytest.mark.slow
def test_a_selection_within_50_fields_is_one_request_per_page(projects, run_tap):
    emu, config, catalog = projects
    names = [n for n in entry(catalog, "projects")["schema"]["properties"] if "Attribute_" in n]
    assert len(names) == 29
    catalog = deselect(catalog, "projects", *names)
    run = run_tap(config, catalog=catalog)
    assert not set(names) & set(run.records("projects")[0])
    assert_whole_and_true(run, emu)
    assert emu.stats()["calls"]["records:Projects"] == math.ceil(2150 / 200)


# ---- the pure parts -------------------------------------------------------------------------


def test_chunks_hold_id_and_modified_time_and_at_most_50_names():
    fields = ["id", "Modified_Time", *(f"F{i}" for i in range(100))]
    chunks = plan_chunks(fields, ("id", "Modified_Time"))
    assert [len(c) for c in chunks] == [50, 50, 6]
    assert all(c[:2] == ("id", "Modified_Time") for c in chunks)
    assert [n for c in chunks for n in c[2:]] == fields[2:]
    assert plan_chunks(["id", "Modified_Time", "A"], ("id", "Modified_Time")) == [
        ("id", "Modified_Time", "A")
    ]


def test_parts_merge_only_when_every_chunk_has_the_same_version():
    pool = PartsPool(2, "Modified_Time")
    pool.add(0, [{"id": "1", "Modified_Time": "2024-11-03T01:30:00-07:00", "A": 1}])
    assert pool.take("1") is None  # second part missing
    pool.add(1, [{"id": "1", "Modified_Time": "2024-11-03T01:31:00-08:00", "B": 2}])
    assert pool.take("1") is None  # another instant: a newer version of the record
    pool.add(1, [{"id": "1", "Modified_Time": "2024-11-03T08:30:00+00:00", "B": 3}])
    merged = pool.take("1")  # the same instant, written with another offset
    assert merged == {"id": "1", "Modified_Time": "2024-11-03T01:30:00-07:00", "A": 1, "B": 3}
    assert len(pool) == 0
    pool.add(1, [{"id": "2", "Modified_Time": "2024-01-01T00:00:00+00:00"}])
    assert pool.ids() == ["2"]
    assert pool.has_any("2")
