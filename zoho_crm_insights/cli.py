"""``zoho-crm-insights``: print the KPIs and write the HTML page.

zoho-crm-insights --database output/demo.sqlite --html output/insights.html
"""

from __future__ import annotations

import argparse
import sys
import typing as t
from pathlib import Path

import pendulum

from target_sqlite_audit.report import redact
from zoho_crm_insights.kpis import compute
from zoho_crm_insights.page import html_page, terminal_summary
from zoho_crm_insights.source import AuditSource, InsightsError

DEFAULT_DATABASE = "output/audit.sqlite"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoho-crm-insights",
        description="A CRM team's KPIs from a target-sqlite-audit database (never the API).",
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="the audit SQLite file")
    parser.add_argument("--html", help="write the page with charts here (one self-contained file)")
    parser.add_argument(
        "--as-of",
        help="answer from the versions valid at the end of this date (YYYY-MM-DD) or instant",
    )
    parser.add_argument(
        "--today", help="take this date as today, on the data as it is now (for reproducible runs)"
    )
    parser.add_argument(
        "--time-zone",
        help="IANA time zone for months and weeks when the file has no org stream (default UTC)",
    )
    parser.add_argument(
        "--no-redact", action="store_true", help="show e-mail addresses and phone numbers"
    )
    return parser


def _moment(text: str, tz: str, what: str) -> pendulum.DateTime:
    """A date (its end, in ``tz``) or an instant."""
    try:
        if len(text) == 10:
            day = pendulum.parse(text, tz=tz)
            assert isinstance(day, pendulum.DateTime)
            return day.end_of("day")
        moment = pendulum.parse(text, tz=tz)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        msg = f"--{what} {text!r} is not a date (YYYY-MM-DD) or an ISO-8601 instant."
        raise InsightsError(msg) from exc
    if not isinstance(moment, pendulum.DateTime):
        msg = f"--{what} {text!r} is not a date (YYYY-MM-DD) or an ISO-8601 instant."
        raise InsightsError(msg)
    return moment.in_timezone(tz)


def _zone(name: str, where: str) -> str:
    try:
        pendulum.timezone(name)
    except (ValueError, pendulum.tz.exceptions.InvalidTimezone) as exc:  # type: ignore[attr-defined]
        msg = f"The time zone {name!r} ({where}) is not an IANA zone such as Europe/Berlin."
        raise InsightsError(msg) from exc
    return name


def run(argv: t.Sequence[str] | None = None) -> tuple[str, Path | None]:
    """Compute the KPIs; return the terminal summary and the page's path (if written).

    Raises:
        InsightsError: A bad argument or file, in one sentence.
    """
    args = _parser().parse_args(argv)
    probe = AuditSource(args.database)
    org_zone = probe.org_time_zone()
    probe.close()
    if org_zone:
        tz, tz_source = _zone(org_zone, "from the org stream"), "the org stream"
    elif args.time_zone:
        tz, tz_source = _zone(args.time_zone, "--time-zone"), "--time-zone"
    else:
        tz, tz_source = "UTC", "the default (no org stream, no --time-zone)"
    as_of = _moment(args.as_of, tz, "as-of") if args.as_of else None
    if as_of is not None:
        now = as_of
    elif args.today:
        now = _moment(args.today, tz, "today")
    else:
        now = pendulum.now(tz)
    source = AuditSource(args.database, as_of=as_of)
    try:
        clean = (lambda text: text) if args.no_redact else redact
        kpis = compute(source, now, redact_pii=not args.no_redact, redact=clean)
    finally:
        source.close()
    when = f"as of {now:%Y-%m-%d %H:%M}" if as_of else f"at {now:%Y-%m-%d %H:%M}"
    header = f"Zoho CRM insights from {args.database}, {when} {tz} (time zone from {tz_source})"
    page = None
    if args.html:
        page = Path(args.html)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            html_page(
                kpis, title="Zoho CRM insights", subtitle=header[len("Zoho CRM insights ") :]
            ),
            encoding="utf-8",
        )
    return terminal_summary(kpis, header=header), page


def main(argv: t.Sequence[str] | None = None) -> int:
    """Entry point: one sentence and exit code 2 on a bad argument or file."""
    try:
        summary, page = run(argv)
    except InsightsError as exc:
        print(f"zoho-crm-insights: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(summary)
    if page is not None:
        print(f"\nInsights page: {page}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "run"]
