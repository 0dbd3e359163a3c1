"""Inline SVG bar charts: no script and no network at view time.

Each bar is a ``<rect class="mark">`` with a ``<title>`` (its label and value), so a page is
readable without hovering, printable, and checkable by a browser test.
"""

from __future__ import annotations

from html import escape

_BAR = "#2f6fb3"
_AXIS = "#666"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def column_chart(series: list[tuple[str, float]], *, title: str, width: int = 720) -> str:
    """Vertical bars over time (e.g. weeks); every fourth label shown."""
    height, left, bottom, top = 220, 44, 46, 12
    inner_w, inner_h = width - left - 8, height - bottom - top
    peak = max((v for _, v in series), default=0.0) or 1.0
    step = inner_w / max(1, len(series))
    parts = [_open(width, height, title)]
    parts.append(_axis(left, top, inner_h, inner_w, peak))
    for i, (label, value) in enumerate(series):
        bar_h = inner_h * value / peak
        x = left + i * step + step * 0.15
        y = top + inner_h - bar_h
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{max(bar_h, 0.5):.1f}" fill="{_BAR}"><title>{escape(label)}: '
            f"{_number(value)}</title></rect>"
        )
        if i % 4 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="10" '
                f'fill="{_AXIS}">{escape(label[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(series: list[tuple[str, float]], *, title: str, width: int = 720) -> str:
    """Horizontal bars for categories (sources, stages), largest first as given."""
    row, left, right = 24, 210, 90
    height = max(1, len(series)) * row + 16
    inner_w = width - left - right
    peak = max((v for _, v in series), default=0.0) or 1.0
    parts = [_open(width, height, title)]
    for i, (label, value) in enumerate(series):
        y = 8 + i * row
        bar_w = inner_w * value / peak
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label[:32])}</text>"
            f'<rect class="mark" x="{left}" y="{y + 3}" width="{max(bar_w, 0.5):.1f}" '
            f'height="{row - 8}" fill="{_BAR}"><title>{escape(label)}: {_number(value)}'
            f"</title></rect>"
            f'<text x="{left + bar_w + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{_number(value)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _axis(left: int, top: int, inner_h: int, inner_w: int, peak: float) -> str:
    base = top + inner_h
    return (
        f'<line x1="{left}" y1="{base}" x2="{left + inner_w}" y2="{base}" stroke="{_AXIS}"/>'
        f'<text x="{left - 6}" y="{top + 10}" font-size="10" text-anchor="end" '
        f'fill="{_AXIS}">{_number(peak)}</text>'
        f'<text x="{left - 6}" y="{base}" font-size="10" text-anchor="end" fill="{_AXIS}">0</text>'
    )
