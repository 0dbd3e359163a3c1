"""The KPIs as a terminal summary and as one self-contained HTML page."""

from __future__ import annotations

import typing as t
from html import escape

from zoho_crm_insights.charts import bar_chart, column_chart

if t.TYPE_CHECKING:
    from zoho_crm_insights.kpis import Kpi

#: Which KPIs draw which chart.
CHARTS: dict[str, t.Callable[..., str]] = {
    "weekly": column_chart,
    "sources": bar_chart,
    "pipeline": bar_chart,
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}.meta{color:#666;margin-top:0}
section{border-top:1px solid #ddd;padding:1rem 0}h2{font-size:1.1rem;margin:.2rem 0}
.headline{font-size:1.25rem;font-weight:600;margin:.3rem 0}.definition{color:#555;
font-size:.9rem;margin:.3rem 0 .8rem}table{border-collapse:collapse;font-size:.85rem}
th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}
td.num{text-align:right}
"""


def terminal_summary(kpis: list[Kpi], *, header: str) -> str:
    """A few lines per KPI: title, headline, definition."""
    lines = [header, ""]
    for kpi in kpis:
        lines.append(f"{kpi.title}: {kpi.headline}")
        lines.append(f"    {kpi.definition}")
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, t.Any]]) -> str:
    if not rows:
        return ""
    headers = list(rows[0])
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for h in headers:
            value = row.get(h)
            kind = ' class="num"' if isinstance(value, (int, float)) else ""
            cells.append(f"<td{kind}>{escape('' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_page(kpis: list[Kpi], *, title: str, subtitle: str) -> str:
    """One HTML file: inline CSS and SVG, no script, nothing fetched at view time."""
    sections = []
    for kpi in kpis:
        chart = ""
        if kpi.key in CHARTS and kpi.series:
            svg = CHARTS[kpi.key](kpi.series, title=kpi.title)
            chart = f'<figure class="chart" data-kpi="{escape(kpi.key)}">{svg}</figure>'
        sections.append(
            f'<section id="{escape(kpi.key)}"><h2>{escape(kpi.title)}</h2>'
            f'<p class="headline">{escape(kpi.headline)}</p>'
            f'<p class="definition">{escape(kpi.definition)}</p>{chart}{_table(kpi.rows)}'
            "</section>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(subtitle)}</p>'
        + "".join(sections)
        + "</body></html>\n"
    )
