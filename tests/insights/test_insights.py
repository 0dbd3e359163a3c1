"""Insights: every KPI on a small org built through the real pipeline, with hand-counted answers.

The org (time zone America/Los_Angeles; "today" is 2025-11-20, after DST ended on 2 November):

    lead  created (local)      source     status         fate
    L1    2025-11-01 00:30     Cold Call  Not Contacted  called (outbound) +2 h and +5 h
    L2    2025-10-31 23:30     Cold Call  Not Contacted  (November in UTC, October here)
    L3    2025-10-05 10:00     (none)     Not Contacted  status changed 2025-11-18 10:00
    L4    2025-11-10 09:00     Web        Not Contacted  inbound call +1 h, task +10 h,
                                                         converted 2025-11-12 with a 5,000 deal
    L5    2025-11-15 12:00     Web        Not Contacted  deleted after the first sync
    L6    2025-09-01 08:00     Web        Not Contacted  converted 2025-11-05 without a deal

Deals: L4's (Qualification, 5,000), Negotiation/Review 1,000, Closed Won 700. The first sync
runs after all of that; then L5 is deleted and L3 edited, and a second sync runs. History knows
only the versions the syncs captured, so "as of" a date sees L4 from its conversion on.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from tap_complete_kit import load_into_audit

from zoho_crm_insights.cli import main, run
from zoho_crm_insights.kpis import compute
from zoho_crm_insights.source import AuditSource

TZ = dt.timezone(dt.timedelta(hours=-8))  # PST (after 2 November)
PDT = dt.timezone(dt.timedelta(hours=-7))
EMPTY = {m: 0 for m in ("Leads", "Contacts", "Deals", "Accounts", "Calls", "Tasks", "Events")}


@pytest.fixture
def emulator_defaults() -> dict:
    """Like the tap tier: no recycle-bin entries from before the first sync."""
    return {"deleted_fraction": 0.0}


def epoch(year, month, day, hour, minute=0, tz=TZ) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp())


def lead(emu, created, source, name):
    values = {"Last_Name": name, "Lead_Source": source, "Lead_Status": "Not Contacted"}
    [lead_id] = emu.mutate("create", module="Leads", values=values, created=created)
    return lead_id


def build_org(emu):
    ids = {
        "L1": lead(emu, epoch(2025, 11, 1, 0, 30, PDT), "Cold Call", "One"),
        "L2": lead(emu, epoch(2025, 10, 31, 23, 30, PDT), "Cold Call", "Two"),
        "L3": lead(emu, epoch(2025, 10, 5, 10, tz=PDT), None, "Three"),
        "L4": lead(emu, epoch(2025, 11, 10, 9), "Web", "Four"),
        "L5": lead(emu, epoch(2025, 11, 15, 12), "Web", "Five"),
        "L6": lead(emu, epoch(2025, 9, 1, 8, tz=PDT), "Web", "Six"),
    }
    emu.mutate("convert", ids=[ids["L4"]], at=epoch(2025, 11, 12, 9), deal=True, amount=5000)
    emu.mutate("convert", ids=[ids["L6"]], at=epoch(2025, 11, 5, 9), deal=False)
    for stage, amount in (("Negotiation/Review", 1000), ("Closed Won", 700)):
        emu.mutate("create", module="Deals", values={"Stage": stage, "Amount": amount})
    return ids


def add_activities(emu, ids):
    def what(lead_id):
        return {"id": lead_id, "name": "x"}

    def call(lead_id, hours_after, kind, created):
        start = dt.datetime.fromtimestamp(created + hours_after * 3600, dt.timezone.utc)
        values = {"What_Id": what(lead_id), "Call_Type": kind, "Call_Start_Time": start.isoformat()}
        emu.mutate("create", module="Calls", values=values)

    l1, l4 = epoch(2025, 11, 1, 0, 30, PDT), epoch(2025, 11, 10, 9)
    call(ids["L1"], 2, "Outbound", l1)
    call(ids["L1"], 5, "Outbound", l1)
    call(ids["L4"], 1, "Inbound", l4)
    emu.mutate("create", module="Tasks", values={"What_Id": what(ids["L4"])}, created=l4 + 36000)
    [deal] = [d["id"] for d in emu.records("Deals")][:1]
    call(deal, 1, "Outbound", l4)  # a deal's call: not a lead's contact


@pytest.fixture
def org_db(start_emulator, tap_config, run_tap, tmp_path):
    """(database, emulator, ids) after two syncs: the second sees L5's deletion."""

    def build(*, activities: bool):
        emu = start_emulator(sizes=dict(EMPTY), converted_fraction=0.0)
        ids = build_org(emu)
        modules = ["Calls", "Tasks"] if activities else []
        if activities:
            add_activities(emu, ids)
        config = tap_config(emu, modules=modules)
        database = tmp_path / ("with.sqlite" if activities else "without.sqlite")
        first = run_tap(config)
        load_into_audit(database, first)
        emu.mutate("delete", module="Leads", ids=[ids["L5"]])
        l3_changed = epoch(2025, 11, 18, 10)
        emu.mutate(
            "edit", module="Leads", ids=[ids["L3"]], values={"Lead_Status": "Contacted"},
            modified=l3_changed,
        )  # fmt: skip
        load_into_audit(database, run_tap(config, state=first.state))
        return database, emu, ids

    return build


def kpis_of(database, today="2025-11-20T12:00:00", as_of=None):
    import pendulum

    at = pendulum.parse(as_of or today, tz="America/Los_Angeles")
    source = AuditSource(database, as_of=at if as_of else None)
    try:
        return {k.key: k for k in compute(source, at)}
    finally:
        source.close()


def test_every_kpi_matches_the_hand_count_with_activities(org_db):
    database, _, _ = org_db(activities=True)
    kpis = kpis_of(database)
    # L1 and L4 this month (L5 deleted, L2 is October here); L3 in 1-20 October.
    assert kpis["month"].values == {"this_month": 2, "last_month": 1}
    weekly = dict(kpis["weekly"].series)
    assert weekly["2025-10-27"] == 2  # L1 (Sat 1 Nov) and L2 (Fri 31 Oct): one local week
    assert weekly["2025-11-10"] == 1  # L4; L5 deleted
    assert weekly["2025-09-29"] == 1  # L3 on Sun 5 Oct
    assert weekly["2025-09-01"] == 1  # L6
    assert weekly["2025-11-03"] == 0  # an empty week is a zero, not a gap
    assert sum(weekly.values()) == 5
    sources = {r["source"]: r for r in kpis["sources"].rows}
    assert [r["source"] for r in kpis["sources"].rows] == ["Cold Call", "Web", "(none)"]
    assert sources["Web"] == {
        "source": "Web", "leads": 2, "share": "40.0%", "converted": 2, "conversion": "100.0%"
    }  # fmt: skip
    assert sources["(none)"]["leads"] == 1  # a lead without a source is counted, as (none)
    conversion = kpis["conversion"].values
    # 21 Oct - 20 Nov: created L1, L2, L4; L4 got a deal (12 Nov); L6's conversion had none.
    assert conversion == {
        "cohort": 3, "cohort_converted": 1, "period_converted": 1, "amount": 5000.0
    }  # fmt: skip
    assert kpis["conversion"].source == "Converted_Deal"
    first = kpis["first_contact"]
    assert first.source == "activities"
    # L1: first outbound call +2 h; L4: the task +10 h (its inbound call does not count).
    assert first.values == {"median_hours": 6.0, "p95_hours": 10.0, "contacted": 2}
    stages = {r["stage"]: (r["deals"], r["amount"]) for r in kpis["pipeline"].rows}
    assert stages == {
        "Qualification": (1, 5000.0), "Negotiation/Review": (1, 1000.0), "Closed Won": (1, 700.0)
    }  # fmt: skip
    assert kpis["pipeline"].headline.startswith("2 open deals worth 6,000.00")
    assert [r["status"] for r in kpis["sync"].rows] == ["completed", "completed"]
    recent = kpis["recent"].rows
    assert len(recent) == 5  # every live lead, newest first
    assert recent[0]["name"].endswith(" Four")
    assert all(r["email"] in (None, "<email>") for r in recent)
    assert all(r["phone"] in (None, "<phone>") for r in recent)


def test_without_activity_streams_first_contact_falls_back_to_lead_status_and_says_so(org_db):
    database, _, _ = org_db(activities=False)
    first = kpis_of(database)["first_contact"]
    assert first.source == "leads_history"
    assert "fallback" in first.definition
    # L3: 5 Oct 10:00 PDT to 18 Nov 10:00 PST is 44 days and the hour DST gave back
    assert first.values == {"median_hours": 1057.0, "p95_hours": 1057.0, "contacted": 1}


def test_as_of_answers_from_the_versions_valid_then(org_db):
    database, _, _ = org_db(activities=True)
    kpis = kpis_of(database, as_of="2025-11-11T23:59:59")
    # L5 did not exist yet; L4 was first captured converted (valid from 12 Nov).
    assert kpis["month"].values == {"this_month": 1, "last_month": 1}  # L1; L3
    assert kpis["conversion"].values["cohort"] == 2  # 12 Oct - 11 Nov: L1, L2
    assert kpis["conversion"].values["cohort_converted"] == 0
    assert {r["source"]: r["converted"] for r in kpis["sources"].rows}["Web"] == 1  # L6 only


def test_an_empty_month_and_an_empty_database_give_zeros_not_errors(org_db, tmp_path):
    database, _, _ = org_db(activities=False)
    kpis = kpis_of(database, today="2026-03-15T12:00:00")
    assert kpis["month"].values == {"this_month": 0, "last_month": 0}
    assert "n/a" in kpis["month"].headline
    assert kpis["conversion"].values["cohort"] == 0


def test_the_command_prints_every_kpi_with_its_definition_and_writes_the_page(org_db, tmp_path):
    database, _, _ = org_db(activities=True)
    page = tmp_path / "out" / "insights.html"
    summary, written = run(
        ["--database", str(database), "--html", str(page), "--today", "2025-11-20",
         "--time-zone", "America/Los_Angeles"]
    )  # fmt: skip
    assert written == page
    for title in ("Leads this month", "Lead volume per week", "Top lead sources",
                  "Lead to deal conversion", "Time to first contact", "Pipeline by stage",
                  "Sync health", "Most recent leads"):  # fmt: skip
        assert f"\n{title}" in summary
    assert "time zone from --time-zone" in summary
    html = page.read_text()
    assert html.count('<figure class="chart"') == 3
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "@" not in re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)  # redacted


def test_no_redact_shows_emails_and_a_bad_argument_is_one_sentence(org_db, tmp_path, capsys):
    database, _, _ = org_db(activities=False)
    summary, _ = run(["--database", str(database), "--no-redact", "--today", "2025-11-20"])
    assert "Most recent leads" in summary
    page = tmp_path / "p.html"
    run(["--database", str(database), "--no-redact", "--html", str(page)])
    assert "@example.com" in page.read_text()
    capsys.readouterr()
    assert main(["--database", str(tmp_path / "missing.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "No audit database at" in err
    assert main(["--database", str(database), "--time-zone", "Mars/Olympus"]) == 2
    assert "is not an IANA zone" in capsys.readouterr().err
