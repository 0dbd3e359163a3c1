"""The KPIs of a CRM team, computed from an :class:`AuditSource` (no I/O of their own).

Every KPI carries its definition, printed next to it, and says which data it used.
Calendar arithmetic (months, weeks, DST) is pendulum's, in the org's time zone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
import typing as t
from dataclasses import dataclass, field

import pendulum

from zoho_crm_insights.source import AuditSource, audit_instant, parse_time

#: Activity streams, the property holding when each happened, and an optional filter.
ACTIVITIES: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("calls", "Call_Start_Time", ("Call_Type", "Outbound")),
    ("tasks", "Created_Time", None),
    ("events", "Start_DateTime", None),
)
WEEKS = 26
RECENT_LEADS = 20


@dataclass
class Kpi:
    """One answer: a headline, its definition, where it came from, and chart/table data."""

    key: str
    title: str
    headline: str
    definition: str
    source: str = ""
    series: list[tuple[str, float]] = field(default_factory=list)
    rows: list[dict[str, t.Any]] = field(default_factory=list)
    values: dict[str, t.Any] = field(default_factory=dict)


@dataclass
class Lead:
    """The fields of a lead the KPIs use."""

    id: str
    created: dt.datetime | None
    source: str | None
    status: str | None
    converted: bool
    converted_at: dt.datetime | None
    deal_id: str | None
    raw: dict[str, t.Any]


def _link_id(value: t.Any) -> str | None:
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and value.get("id"):
        return str(value["id"])
    return None


def load_leads(source: AuditSource) -> tuple[list[Lead], bool]:
    """The live leads, and whether the file has ``Converted_Deal``."""
    leads = source.relation("leads")
    if leads is None:
        return [], False
    wanted = [
        "id", "Created_Time", "Lead_Source", "Lead_Status", "Converted__s",
        "Converted_Date_Time", "Converted_Deal", "Full_Name", "Company", "Email", "Phone",
        "Mobile",
    ]  # fmt: skip
    present = [p for p in wanted if leads.col(p)]
    select = ", ".join(f"{leads.col(p)} AS {json.dumps(p)}" for p in present)
    out = []
    for row in source.rows(f"SELECT {select} FROM {leads.name}"):
        raw = dict(zip(present, tuple(row), strict=True))
        out.append(
            Lead(
                id=str(raw["id"]),
                created=parse_time(raw.get("Created_Time")),
                source=raw.get("Lead_Source") or None,
                status=raw.get("Lead_Status"),
                converted=bool(raw.get("Converted__s")),
                converted_at=parse_time(raw.get("Converted_Date_Time")),
                deal_id=_link_id(raw.get("Converted_Deal")),
                raw=raw,
            )
        )
    return out, "Converted_Deal" in present


def _pct(part: float, whole: float) -> str:
    return "n/a" if not whole else f"{100 * part / whole:.1f}%"


def _between(moment: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    return moment is not None and start <= moment < end


def month_to_date(leads: list[Lead], now: pendulum.DateTime) -> Kpi:
    """Leads created this month to date vs the same days of last month."""
    this_start = now.start_of("month")
    last_start = this_start.subtract(months=1)
    last_end = min(now.subtract(months=1), this_start)  # Mar 31 -> Feb 28/29
    this = sum(_between(lead.created, this_start, now) for lead in leads)
    last = sum(_between(lead.created, last_start, last_end) for lead in leads)
    change = "n/a" if not last else f"{100 * (this - last) / last:+.0f}%"
    zone = now.timezone_name or "UTC"
    return Kpi(
        "month",
        "Leads this month",
        f"{this} this month to date vs {last} in the same days of last month ({change})",
        f"Live leads by Created_Time, {this_start:%Y-%m-%d %H:%M} to now "
        f"({now:%Y-%m-%d %H:%M}) against {last_start:%Y-%m-%d %H:%M} to "
        f"{last_end:%Y-%m-%d %H:%M}, in {zone}; deleted leads excluded.",
        values={"this_month": this, "last_month": last},
    )


def weekly_volume(leads: list[Lead], now: pendulum.DateTime) -> Kpi:
    """Leads created per week (Monday to Sunday) for the last 26 weeks."""
    first = now.start_of("week").subtract(weeks=WEEKS - 1)
    counts = [0] * WEEKS
    for lead in leads:
        if lead.created is None or not first <= lead.created < now:
            continue
        local_day = pendulum.instance(lead.created).in_timezone(now.timezone_name or "UTC").date()
        index = (local_day - first.date()).days // 7  # calendar days: DST weeks stay whole
        if 0 <= index < WEEKS:
            counts[index] += 1
    series = [(f"{first.add(weeks=i):%Y-%m-%d}", float(n)) for i, n in enumerate(counts)]
    return Kpi(
        "weekly",
        "Lead volume per week",
        f"{sum(counts)} leads in the last {WEEKS} weeks, {max(counts)} in the busiest week",
        f"Live leads by Created_Time, per week starting Monday 00:00 {now.timezone_name}, "
        f"the {WEEKS} weeks up to now (the current week is partial).",
        series=series,
    )


def lead_sources(leads: list[Lead]) -> Kpi:
    """Lead sources by count, with share and conversion rate."""
    groups: dict[str, list[Lead]] = {}
    for lead in leads:
        groups.setdefault(lead.source or "(none)", []).append(lead)
    total = len(leads)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    rows: list[dict[str, t.Any]] = [
        {
            "source": name,
            "leads": len(members),
            "share": _pct(len(members), total),
            "converted": sum(m.converted for m in members),
            "conversion": _pct(sum(m.converted for m in members), len(members)),
        }
        for name, members in ranked
    ]
    top = ", ".join(f"{r['source']} ({r['leads']})" for r in rows[:3]) or "no leads"
    return Kpi(
        "sources",
        "Top lead sources",
        f"Top 3: {top}",
        "Live leads grouped by Lead_Source (empty as '(none)'); share of all live leads; "
        "conversion rate = converted leads (Converted__s) / leads of the source.",
        series=[(r["source"], float(r["leads"])) for r in rows[:10]],
        rows=rows,
    )


def conversion(source: AuditSource, leads: list[Lead], has_deal: bool, now: dt.datetime) -> Kpi:
    """Lead -> deal conversion over the last 30 days: cohort and period rates, deal amount."""
    start = now - dt.timedelta(days=30)
    to_deal = (lambda lead: lead.deal_id is not None) if has_deal else (lambda lead: lead.converted)
    cohort = [lead for lead in leads if _between(lead.created, start, now)]
    cohort_converted = sum(to_deal(lead) for lead in cohort)
    period = [lead for lead in leads if to_deal(lead) and _between(lead.converted_at, start, now)]
    amount = 0.0
    deals = source.relation("deals")
    amount_col = deals.col("Amount") if deals else None
    ids = [lead.deal_id for lead in period if lead.deal_id]
    if deals is not None and amount_col and ids:
        marks = ", ".join("?" * len(ids))
        found = source.rows(
            f"SELECT sum({amount_col}) FROM {deals.name} WHERE {deals.col('id')} IN ({marks})", ids
        )
        amount = float(found[0][0] or 0.0)
    link = "Converted_Deal" if has_deal else "Converted__s (this file has no Converted_Deal)"
    return Kpi(
        "conversion",
        "Lead to deal conversion, 30 days",
        f"cohort {_pct(cohort_converted, len(cohort))} ({cohort_converted} of {len(cohort)}), "
        f"period {_pct(len(period), len(cohort))} ({len(period)} conversions), "
        f"converted deals worth {amount:,.2f}",
        f"Cohort rate: leads created in the 30 days to now that have a deal ({link}) / leads "
        "created then. Period rate: leads converted to a deal in those 30 days "
        "(Converted_Date_Time), whatever their age / leads created then. Amount: sum of the "
        "live deals' Amount for the period's conversions.",
        source=link,
        values={
            "cohort": len(cohort),
            "cohort_converted": cohort_converted,
            "period_converted": len(period),
            "amount": round(amount, 2),
        },
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _first_activities(source: AuditSource) -> tuple[dict[str, dt.datetime], list[str]]:
    """Per lead id, its first activity; and the activity streams used."""
    first: dict[str, dt.datetime] = {}
    used = []
    for stream, when_prop, condition in ACTIVITIES:
        rel = source.relation(stream)
        if rel is None:
            continue
        what, module, when = rel.col("What_Id"), rel.col("zoho_se_module"), rel.col(when_prop)
        if not (what and module and when):
            continue
        used.append(stream)
        sql = f"SELECT {what}, {when} FROM {rel.name} WHERE {module} = 'Leads'"
        params: list[t.Any] = []
        if condition and rel.col(condition[0]):
            sql += f" AND {rel.col(condition[0])} = ?"
            params.append(condition[1])
        for what_value, when_value in source.rows(sql, params):
            lead_id, moment = _link_id(what_value), parse_time(when_value)
            if lead_id and moment and (lead_id not in first or moment < first[lead_id]):
                first[lead_id] = moment
    return first, used


def _first_status_changes(source: AuditSource, leads: list[Lead]) -> dict[str, dt.datetime]:
    """Per lead id, when Lead_Status first left its initial value (from leads_history)."""
    history, rel = source.history("leads"), source.relation("leads")
    status = rel.col("Lead_Status") if rel else None
    if history is None or status is None or rel is None:
        return {}
    limit = ""
    if source.as_of is not None:
        limit = f" WHERE valid_from <= '{audit_instant(source.as_of)}'"
    initial: dict[str, t.Any] = {}
    changed: dict[str, dt.datetime] = {}
    for key, value, valid_from in source.rows(
        f"SELECT {rel.col('id')}, {status}, valid_from FROM {history}{limit} ORDER BY history_id"
    ):
        key = str(key)
        if key not in initial:
            initial[key] = value
        elif key not in changed and value != initial[key]:
            moment = parse_time(valid_from)
            if moment is not None:
                changed[key] = moment
    live = {lead.id for lead in leads}
    return {k: v for k, v in changed.items() if k in live}


def first_contact(source: AuditSource, leads: list[Lead]) -> Kpi:
    """Median and P95 time from a lead's creation to its first contact."""
    first, used = _first_activities(source)
    if used:
        where = (
            f"first outbound call / task / event whose parent is the lead ($se_module = Leads), "
            f"from {', '.join(used)}"
        )
    else:
        first = _first_status_changes(source, leads)
        where = (
            "fallback: no activity streams (calls, tasks, events) in this file, so the first "
            "time Lead_Status left its initial value in leads_history"
        )
    hours = []
    before = 0
    for lead in leads:
        moment = first.get(lead.id)
        if moment is None or lead.created is None:
            continue
        delta = (moment - lead.created).total_seconds() / 3600
        if delta < 0:
            before += 1  # contacted before the lead existed: data entered late, left out
            continue
        hours.append(delta)
    median: float | None = None
    p95: float | None = None
    if hours:
        median, p95 = statistics.median(hours), _percentile(hours, 0.95)
        headline = f"median {median:.1f} h, P95 {p95:.1f} h over {len(hours)} contacted leads"
    else:
        headline = "no contacted leads"
    return Kpi(
        "first_contact",
        "Time to first contact",
        headline,
        f"Hours from the lead's Created_Time to its first contact: {where}. P95 is the "
        f"nearest-rank 95th percentile; {before} contact(s) dated before the lead's creation "
        "are left out.",
        source="activities" if used else "leads_history",
        values={"median_hours": median, "p95_hours": p95, "contacted": len(hours)},
    )


def pipeline(source: AuditSource) -> Kpi:
    """Deals by stage: count and amount (in the org currency when exchange rates exist)."""
    deals = source.relation("deals")
    if deals is None or not deals.col("Stage"):
        return Kpi("pipeline", "Pipeline by stage", "no deals", "Live deals grouped by Stage.")
    amount = deals.col("Amount") or "NULL"
    rate = deals.col("Exchange_Rate")
    value = f"{amount} / NULLIF({rate}, 0)" if rate else amount
    rows = [
        {"stage": stage or "(none)", "deals": count, "amount": round(total or 0.0, 2)}
        for stage, count, total in source.rows(
            f"SELECT {deals.col('Stage')}, count(*), sum(COALESCE({value}, {amount})) "
            f"FROM {deals.name} GROUP BY 1 ORDER BY 3 DESC"
        )
    ]
    open_rows = [r for r in rows if not str(r["stage"]).startswith("Closed")]
    currency = "converted with each deal's Exchange_Rate" if rate else "as recorded"
    return Kpi(
        "pipeline",
        "Pipeline by stage",
        f"{sum(r['deals'] for r in open_rows)} open deals worth "
        f"{sum(r['amount'] for r in open_rows):,.2f}",
        f"Live deals grouped by Stage, count and sum of Amount ({currency}); open = every "
        "stage not starting with 'Closed'.",
        series=[(str(r["stage"]), float(t.cast("float", r["amount"]))) for r in rows],
        rows=rows,
    )


def sync_health(source: AuditSource, redact: t.Callable[[str], str]) -> Kpi:
    """The last 10 runs: status, records, and any failure sentence."""
    until = "" if source.as_of is None else f"WHERE started_at <= '{audit_instant(source.as_of)}' "
    rows = [
        {
            "sync": row["id"],
            "started_at": row["started_at"],
            "status": row["status"],
            "records": row["records_fetched"],
            "error": redact(row["error_message"] or ""),
        }
        for row in source.rows(
            "SELECT id, started_at, status, records_fetched, error_message FROM sync_log "
            f"{until}ORDER BY id DESC LIMIT 10"
        )
    ]
    last = rows[0] if rows else None
    headline = (
        f"last sync {last['sync']} {last['status']} at {last['started_at']}" if last else "no syncs"
    )
    return Kpi(
        "sync",
        "Sync health",
        headline,
        "The last 10 runs of sync_log (newest first) with records received and the error "
        "sentence of failed runs. API credits are in the tap's log lines, not in the audit file.",
        rows=rows,
    )


def recent_leads(leads: list[Lead], redact_pii: bool) -> Kpi:
    """The 20 most recently created leads, e-mails and phones redacted unless asked."""
    ordered = sorted(
        (lead for lead in leads if lead.created is not None),
        key=lambda lead: (lead.created, lead.id),
        reverse=True,
    )[:RECENT_LEADS]
    rows = []
    for lead in ordered:
        email, phone = lead.raw.get("Email"), lead.raw.get("Phone") or lead.raw.get("Mobile")
        if redact_pii:
            email = "<email>" if email else None
            phone = "<phone>" if phone else None
        rows.append(
            {
                "created": lead.raw.get("Created_Time"),
                "name": lead.raw.get("Full_Name"),
                "company": lead.raw.get("Company"),
                "email": email,
                "phone": phone,
                "source": lead.source,
                "status": lead.status,
            }
        )
    return Kpi(
        "recent",
        "Most recent leads",
        f"{len(rows)} most recent of {len(leads)} live leads",
        "Live leads by Created_Time, newest first"
        + ("; e-mails and phone numbers redacted (--no-redact shows them)." if redact_pii else "."),
        rows=rows,
    )


def compute(
    source: AuditSource,
    now: pendulum.DateTime,
    *,
    redact_pii: bool = True,
    redact: t.Callable[[str], str] = lambda text: text,
) -> list[Kpi]:
    """Every KPI, in page order."""
    leads, has_deal = load_leads(source)
    return [
        month_to_date(leads, now),
        weekly_volume(leads, now),
        lead_sources(leads),
        conversion(source, leads, has_deal, now),
        first_contact(source, leads),
        pipeline(source),
        sync_health(source, redact),
        recent_leads(leads, redact_pii),
    ]
