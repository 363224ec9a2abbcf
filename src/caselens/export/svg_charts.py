"""The exported report's charts as inline SVG, drawn from the report's numbers alone.

Each chart has a ``<title>`` and a text equivalent printed beside it, so a reader without
the picture (or a screen reader) gets the same facts. Every piece of text placed in the SVG
goes through :func:`markupsafe.escape`: labels and values come from bundles and cases we did
not write. No script, no link, no external image: the file's CSP forbids them anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from caselens.explain.attribution.results import VariableWeight
from caselens.explain.interval_text import format_interval, format_percent

#: Chart width in SVG units; the CSS scales it to the page (``width: 100%``).
CHART_WIDTH = 640
#: Height of one bar row of the contributions chart, in SVG units.
ROW_HEIGHT = 22
#: Width reserved for the variable labels left of the contributions' zero line.
LABEL_WIDTH = 300
#: Longest label drawn in a chart (the full text is in the table beside it).
MAX_LABEL_CHARS = 44
#: Colours of risk-raising and risk-lowering bars (the sign is also printed as + / −).
UP_COLOUR = "#b3261e"
DOWN_COLOUR = "#1f5fa8"


@dataclass(frozen=True)
class Chart:
    """One SVG chart and the words that say what it shows."""

    svg: Markup
    text: str


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def probability_bar(
    probability: float,
    threshold: float,
    *,
    low: float | None,
    high: float | None,
    title: str,
) -> Chart:
    """The probability on a 0–100% bar, its range as a band and the threshold as a line."""
    left, width, top = 20.0, CHART_WIDTH - 40.0, 24.0

    def x(p: float) -> float:
        return left + width * min(1.0, max(0.0, p))

    parts = [
        f'<rect x="{left}" y="{top}" width="{width}" height="18" fill="#eceff3" '
        'stroke="#5f6b7a" stroke-width="1"/>',
        f'<rect x="{left}" y="{top}" width="{x(probability) - left:.1f}" height="18" '
        'fill="#3c4a5c"/>',
    ]
    if low is not None and high is not None:
        parts.append(
            f'<rect x="{x(low):.1f}" y="{top - 6}" width="{max(1.5, x(high) - x(low)):.1f}" '
            'height="30" fill="none" stroke="#111" stroke-width="2" stroke-dasharray="4 2"/>'
        )
    parts.append(
        f'<line x1="{x(threshold):.1f}" x2="{x(threshold):.1f}" y1="{top - 12}" '
        f'y2="{top + 30}" stroke="{UP_COLOUR}" stroke-width="3"/>'
    )
    parts.append(
        f'<text x="{x(threshold):.1f}" y="{top - 14}" font-size="12" text-anchor="middle">'
        f"threshold {escape(format_percent(threshold))}</text>"
    )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{top + 44}" font-size="11" text-anchor="middle">'
            f"{tick * 100:.0f}%</text>"
        )
    ranged = f" Range {format_interval(low, high)}." if low is not None and high is not None else ""
    text = (
        f"Probability {format_percent(probability)} on a scale from 0% to 100%;"
        f" threshold {format_percent(threshold)}.{ranged}"
    )
    svg = (
        f'<svg viewBox="0 0 {CHART_WIDTH} 76" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(title)}</title>' + "".join(parts) + "</svg>"
    )
    return Chart(Markup(svg), text)


def contributions_chart(
    weights: tuple[VariableWeight, ...], labels: dict[str, str], *, title: str
) -> Chart:
    """Each input's contribution in percentage points, largest first, from a zero line;
    the bar's colour and the printed sign come from the same value."""
    ranked = sorted(weights, key=lambda w: -abs(w.value))
    scale = max((abs(w.value) for w in ranked), default=0.0) or 1.0
    half = (CHART_WIDTH - LABEL_WIDTH - 70) / 2
    zero = LABEL_WIDTH + 10 + half
    rows, lines = [], []
    for i, weight in enumerate(ranked):
        y = 6 + i * ROW_HEIGHT
        label = labels.get(weight.name, weight.label)
        sign = "+" if weight.value >= 0 else "−"
        points = f"{sign}{abs(100 * weight.value):.1f}"
        length = half * abs(weight.value) / scale
        start = zero if weight.value >= 0 else zero - length
        colour = UP_COLOUR if weight.value >= 0 else DOWN_COLOUR
        rows.append(
            f'<text x="{LABEL_WIDTH}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(_clip(label))}</text>"
            f'<rect x="{start:.1f}" y="{y + 3}" width="{max(length, 0.8):.1f}" height="14" '
            f'fill="{colour}"/>'
            f'<text x="{CHART_WIDTH - 4}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(points)}</text>"
        )
        lines.append(f"{label}: {points} points")
    height = 12 + ROW_HEIGHT * len(ranked)
    rows.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="2" y2="{height - 4}" stroke="#333" '
        'stroke-width="1"/>'
    )
    text = "; ".join(lines) + "." if lines else "No contributions."
    svg = (
        f'<svg viewBox="0 0 {CHART_WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(rows)
        + "</svg>"
    )
    return Chart(Markup(svg), text)


def icon_array(count: int, *, title: str, text: str) -> Chart:
    """100 figures in ten rows, the first ``count`` filled (row by row)."""
    count = min(100, max(0, count))
    cells = []
    for i in range(100):
        cx, cy = 20 + (i % 10) * 36, 20 + (i // 10) * 40
        fill = "#3c4a5c" if i < count else "#ffffff"
        cells.append(
            f'<circle cx="{cx}" cy="{cy - 7}" r="6" fill="{fill}" stroke="#3c4a5c" '
            'stroke-width="1.5"/>'
            f'<path d="M{cx - 9} {cy + 14} Q{cx} {cy - 6} {cx + 9} {cy + 14} Z" fill="{fill}" '
            'stroke="#3c4a5c" stroke-width="1.5"/>'
        )
    svg = (
        '<svg viewBox="0 0 362 404" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(title)}</title>' + "".join(cells) + "</svg>"
    )
    return Chart(Markup(svg), text)
