"""Plotly figures, each a small function of report or card data (no maths beyond layout).

Colours are Okabe–Ito (colour-blind safe); direction is always also given in words or
symbols, never by colour alone.

Plotly reads a few HTML tags and entities in chart text (``<b>``, ``<a href>``, ``&lt;``):
every label that comes from data goes through :func:`plot_text`, so it is drawn as written.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from caselens.explain import (
    ConfidenceAssessment,
    LimeExplanation,
    ReliabilityBin,
    ShapExplanation,
    headline_label,
)
from caselens.model import SubgroupPerformance

RAISES = "#D55E00"  # vermillion
LOWERS = "#0072B2"  # blue
NEUTRAL = "#6B7785"
ACCENT = "#009E73"
# "Source Sans" is the font the Streamlit page loads (also when a chart is drawn without
# the Streamlit theme); the others are fall-backs.
FONT = dict(family="Source Sans, Source Sans Pro, Arial, sans-serif", size=14, color="#1b2733")
GRID = "#e6eaee"
AXIS = "#c4ccd4"
MUTED = "#4f5b66"  # tick labels and axis titles: 7.0:1 on white (WCAG AA asks 4.5:1)
#: The report figures' own template. They are drawn with ``st.plotly_chart(theme=None)``:
#: the "streamlit" theme is applied in the browser to every chart of every case shown,
#: and without it the click-to-report time fell (``caselens bench app``). These figures
#: set their own colours and fonts; the template adds what the theme gave them besides:
#: light grid lines, axis lines and a readable hover label.
_AXIS_STYLE: dict[str, Any] = dict(
    automargin=True,  # long row labels ("Thallium stress test = Normal ▼ −9.9 pts") fit
    gridcolor=GRID,
    zerolinecolor=GRID,
    showline=False,
    tickfont=dict(color=MUTED, size=14),
    title=dict(font=dict(color=MUTED, size=15)),
)
REPORT_TEMPLATE: dict[str, Any] = dict(
    layout=dict(
        title=dict(font=dict(weight="bold")),
        xaxis=_AXIS_STYLE,
        yaxis=_AXIS_STYLE,
        hoverlabel=dict(bgcolor="#ffffff", bordercolor=AXIS, font=dict(color="#1b2733")),
    )
)


def plot_text(text: object) -> str:
    """Data text for a Plotly label: its tag and entity characters escaped."""
    return html.escape(str(text), quote=False)


def _layout_spec(*, title: str, height: int, **extra: Any) -> dict[str, Any]:
    """The shared layout as a plain dict (``extra`` added or overriding)."""
    spec: dict[str, Any] = dict(
        title=dict(text=title, x=0, font=dict(size=16)),
        height=height,
        margin=dict(l=10, r=10, t=50, b=40),
        font=FONT,
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        showlegend=False,
    )
    spec.update(extra)
    return spec


def _figure(data: list[Any], layout: dict[str, Any]) -> go.Figure:
    """One report figure built in one step, on :data:`REPORT_TEMPLATE`.

    The figures of a report are drawn on every case shown, and Plotly's incremental
    helpers (``add_vline``, ``update_layout``, ``update_xaxes``) re-validate the whole
    figure on each call: the probability figure took ~35 ms that way, built in one step
    ~3 ms, for the same figure."""
    return go.Figure(data=data, layout={"template": REPORT_TEMPLATE, **layout})


def _vline(x: float, line: dict[str, Any]) -> dict[str, Any]:
    """A vertical line across the plot at ``x`` (what ``Figure.add_vline`` draws)."""
    return dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=line)


def _layout(fig: go.Figure, *, title: str, height: int) -> go.Figure:
    fig.update_layout(**_layout_spec(title=title, height=height))
    return fig


def _headline(confidence: ConfidenceAssessment, outcome: str) -> str:
    """The probability's name on an axis: the same plain words as the result card's."""
    return headline_label(confidence.calibrated, confidence.calibration_method, outcome)


def probability_figure(confidence: ConfidenceAssessment, *, outcome: str) -> go.Figure:
    """The probability on a 0–100% scale with its interval (when there is one), the threshold
    and the base rate.

    The threshold's label sits above the plot and the base rate's below it, each on the side
    away from the other line, so the two never overlap however close they are.
    """
    p = 100 * confidence.probability
    has_range = confidence.range_low is not None and confidence.range_high is not None
    marker = go.Scatter(
        x=[p],
        y=[0],
        mode="markers+text",
        marker=dict(size=18, color=RAISES, symbol="diamond"),
        error_x=dict(
            type="data",
            symmetric=False,
            array=[100 * confidence.range_high - p],
            arrayminus=[p - 100 * confidence.range_low],
            thickness=3,
            width=10,
            color=NEUTRAL,
        )
        if has_range
        else None,
        text=[f"{p:.1f}%"],
        textposition="top center",
        name="This patient",
        hovertemplate="Probability %{x:.1f}%<extra></extra>",
    )
    threshold, base = 100 * confidence.threshold, 100 * confidence.base_rate
    threshold_side, base_side = ("right", "left") if threshold >= base else ("left", "right")
    shapes, annotations = [], []
    for x, text, colour, dash, y, side in (
        (threshold, f"threshold {threshold:.0f}%", "#1b2733", "dash", 1.0, threshold_side),
        (base, f"base rate {base:.0f}%", NEUTRAL, "dot", 0.0, base_side),
    ):
        shapes.append(_vline(x, dict(color=colour, dash=dash)))
        annotations.append(
            dict(
                x=x,
                y=y,
                xref="x",
                yref="paper",
                text=text,
                showarrow=False,
                xanchor="left" if side == "right" else "right",
                yanchor="bottom" if y == 1.0 else "top",
                xshift=4 if side == "right" else -4,
            )
        )
    title = (
        "Probability, its interval, threshold and base rate"
        if has_range
        else "Probability (no interval), threshold and base rate"
    )
    return _figure(
        [marker],
        _layout_spec(
            title=title,
            height=240,
            margin=dict(l=10, r=10, t=60, b=70),
            shapes=shapes,
            annotations=annotations,
            xaxis=dict(
                range=[0, 100],
                title=f"{plot_text(_headline(confidence, outcome))} (%)",
                ticksuffix="%",
                showgrid=True,
                gridcolor=GRID,
            ),
            yaxis=dict(visible=False, range=[-1, 1]),
        ),
    )


#: Height of the threshold strip on the result card: one line of marks, the axis and its
#: title, and the labels above and below (px).
STRIP_HEIGHT = 130


def threshold_strip_figure(confidence: ConfidenceAssessment, *, outcome: str) -> go.Figure:
    """The result card's strip: 0–100%, the probability (a diamond) with its range (a bar),
    the decision threshold and the base rate. No number is printed on the marks: the card
    prints each once; the marks place them.

    The marker's colour follows the side of the threshold (vermillion above, blue below,
    grey at it), as the side badge beside it does.
    """
    p = 100 * confidence.probability
    low, high = confidence.range_low, confidence.range_high
    has_range = low is not None and high is not None
    colour = {"above": RAISES, "below": LOWERS}.get(confidence.side, NEUTRAL)
    traces: list[Any] = []
    if has_range:
        traces.append(
            go.Scatter(
                x=[100 * low, 100 * high],  # type: ignore[operator]
                y=[0, 0],
                mode="lines",
                line=dict(color=colour, width=8),
                opacity=0.35,
                name="range",
                hoverinfo="skip",
            )
        )
    traces.append(
        go.Scatter(
            x=[p],
            y=[0],
            mode="markers",
            marker=dict(size=18, color=colour, symbol="diamond", line=dict(color="#1b2733")),
            name="This patient",
            hovertemplate="This patient %{x:.1f}%<extra></extra>",
        )
    )
    threshold, base = 100 * confidence.threshold, 100 * confidence.base_rate
    # Both labels above the strip (below it they would sit on the tick labels), each on
    # the side away from the other line, so they never overlap however close the lines are.
    threshold_side, base_side = ("right", "left") if threshold >= base else ("left", "right")
    shapes, annotations = [], []
    for x, text, line_colour, dash, side in (
        (threshold, f"threshold {threshold:.0f}%", "#1b2733", "dash", threshold_side),
        (base, f"base rate {base:.0f}%", NEUTRAL, "dot", base_side),
    ):
        shapes.append(_vline(x, dict(color=line_colour, dash=dash, width=2)))
        annotations.append(
            dict(
                x=x,
                y=1.0,
                xref="x",
                yref="paper",
                text=text,
                showarrow=False,
                xanchor="left" if side == "right" else "right",
                yanchor="bottom",
                xshift=4 if side == "right" else -4,
                font=dict(size=13, color=line_colour),
            )
        )
    return _figure(
        traces,
        _layout_spec(
            title="",
            height=STRIP_HEIGHT,
            margin=dict(l=10, r=10, t=26, b=10),
            shapes=shapes,
            annotations=annotations,
            xaxis=dict(
                range=[0, 100],
                title=dict(text=f"{plot_text(_headline(confidence, outcome))} (%)", standoff=6),
                ticksuffix="%",
                showgrid=True,
                gridcolor=GRID,
                fixedrange=True,
            ),
            yaxis=dict(visible=False, range=[-1, 1], fixedrange=True),
        ),
    )


def _signed(points: float) -> str:
    return f"{'▲ +' if points >= 0 else '▼ −'}{abs(points):.1f} pts"


def shap_waterfall_figure(
    shap: ShapExplanation, labels: dict[str, str], *, max_rows: int = 12
) -> go.Figure:
    """SHAP waterfall from the baseline to the probability, in percentage points.

    Each row's label carries its direction and size (▲/▼ and points), so nothing depends on
    colour or on bar text that could be clipped. ``labels`` maps a variable to how its row
    is named — the report view passes "label = this patient's value".
    """
    ranked = sorted(shap.contributions, key=lambda c: -abs(c.value))
    shown, rest = ranked[:max_rows], ranked[max_rows:]
    names = [plot_text(labels.get(c.name, c.label)) for c in shown]
    values = [100 * c.value for c in shown]
    if rest:
        names.append(f"{len(rest)} other inputs")
        values.append(100 * sum(c.value for c in rest))
    baseline = 100 * (shap.baseline or 0.0)
    probability = 100 * (shap.probability or 0.0)
    rows = [
        f"Baseline (average patient): {baseline:.1f}%",
        *[f"{n}  {_signed(v)}" for n, v in zip(names, values, strict=True)],
        f"This patient: {probability:.1f}%",
    ]
    waterfall = go.Waterfall(
        orientation="h",
        y=rows,
        x=[baseline, *values, 0],
        measure=["absolute", *(["relative"] * len(values)), "total"],
        increasing=dict(marker=dict(color=RAISES)),
        decreasing=dict(marker=dict(color=LOWERS)),
        totals=dict(marker=dict(color=NEUTRAL)),
        connector=dict(line=dict(color=AXIS)),
        hovertemplate="%{y}<extra></extra>",
    )
    return _figure(
        [waterfall],
        _layout_spec(
            title="SHAP: from the average patient to this patient",
            height=120 + 30 * len(rows),
            yaxis=dict(autorange="reversed"),
            xaxis=dict(title="Probability (%) — ▲ raises, ▼ lowers", ticksuffix="%"),
        ),
    )


def lime_bar_figure(
    lime: LimeExplanation, labels: dict[str, str], *, max_rows: int = 12
) -> go.Figure:
    """LIME mean weights with their spread across seeds, in percentage points."""
    spread = {w.name: w.value for w in lime.spread}
    ranked = sorted(lime.weights, key=lambda w: -abs(w.value))[:max_rows]
    ranked.reverse()
    bars = go.Bar(
        orientation="h",
        y=[f"{plot_text(labels.get(w.name, w.label))}  {_signed(100 * w.value)}" for w in ranked],
        x=[100 * w.value for w in ranked],
        error_x=dict(
            type="data",
            array=[100 * spread.get(w.name, 0.0) for w in ranked],
            color="#1b2733",
            thickness=1.5,
        ),
        marker=dict(color=[RAISES if w.value >= 0 else LOWERS for w in ranked]),
        hovertemplate="%{y}<extra></extra>",
    )
    return _figure(
        [bars],
        _layout_spec(
            title=f"LIME: local surrogate, {lime.runs} seeded runs",
            height=120 + 30 * len(ranked),
            xaxis=dict(title="LIME weight (points; line = ±1 SD across seeds)"),
        ),
    )


def reliability_figure(
    curve: Sequence[ReliabilityBin], *, highlight: float | None = None
) -> go.Figure:
    """Observed outcome rate against predicted probability, per bin, with 95% intervals."""
    bins = [b for b in curve if b.count > 0]
    diagonal = go.Scatter(
        x=[0, 100],
        y=[0, 100],
        mode="lines",
        line=dict(color=NEUTRAL, dash="dash"),
        name="perfect calibration",
        hoverinfo="skip",
    )
    observed = go.Scatter(
        x=[100 * b.mean_predicted for b in bins],
        y=[100 * b.observed_rate for b in bins],
        mode="markers+lines",
        marker=dict(size=9, color=LOWERS),
        line=dict(color=LOWERS),
        error_y=dict(
            type="data",
            symmetric=False,
            array=[100 * (b.ci_high - b.observed_rate) for b in bins],
            arrayminus=[100 * (b.observed_rate - b.ci_low) for b in bins],
        ),
        text=[f"n={b.count}" for b in bins],
        name="observed",
        hovertemplate="predicted %{x:.1f}%, observed %{y:.1f}% (%{text})<extra></extra>",
    )
    shapes, annotations = [], []
    if highlight is not None:
        shapes.append(_vline(100 * highlight, dict(color=RAISES)))
        # Where add_vline(annotation_position="top left") puts its label.
        annotations.append(
            dict(
                x=100 * highlight,
                y=1,
                xref="x",
                yref="y domain",
                text="this patient",
                showarrow=False,
                xanchor="right",
                yanchor="top",
            )
        )
    top = max([100 * b.ci_high for b in bins] + [100 * b.mean_predicted for b in bins] + [10])
    return _figure(
        [diagonal, observed],
        _layout_spec(
            title="Reliability on held-out patients",
            height=340,
            shapes=shapes,
            annotations=annotations,
            xaxis=dict(title="Predicted probability (%)", range=[0, min(100, top * 1.1)]),
            yaxis=dict(title="Observed rate (%)", range=[0, min(100, top * 1.1)]),
        ),
    )


#: The AUROC axis of the subgroup chart: from below chance to perfect.
SUBGROUP_AUROC_AXIS = (0.4, 1.0)


def subgroup_figure(
    subgroups: Sequence[SubgroupPerformance], *, overall_auroc: float | None, labels: dict[str, str]
) -> go.Figure:
    """AUROC per subgroup (with n) against the overall AUROC."""
    rows = [s for s in subgroups if s.figures.auroc is not None]
    names = [
        f"{plot_text(labels.get(s.variable, s.variable))}: {plot_text(s.group)} "
        f"(n={s.figures.n})  {s.figures.auroc:.2f}"
        for s in rows
    ]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=names,
            x=[s.figures.auroc for s in rows],
            marker=dict(color=[LOWERS if s.figures.n >= 100 else "#9fb3c8" for s in rows]),
            hovertemplate="%{y}<extra></extra>",
        )
    )
    if overall_auroc is not None:
        # The label goes on the side of the line that has room for it: an overall AUROC in
        # the right half of the axis is labelled to the left of its line, or it is cut off.
        side = "left" if overall_auroc > sum(SUBGROUP_AUROC_AXIS) / 2 else "right"
        fig.add_vline(
            x=overall_auroc,
            line=dict(color=RAISES, dash="dash"),
            annotation_text=f"overall {overall_auroc:.2f}",
            annotation_position=f"bottom {side}",
        )
    fig.update_xaxes(
        title="AUROC (0.5 = chance, 1 = perfect); pale bars: n < 100",
        range=list(SUBGROUP_AUROC_AXIS),
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(
        fig, title="Discrimination by subgroup (test split)", height=120 + 26 * len(rows)
    )


def icon_array_figure(count: int, *, label_yes: str, label_no: str) -> go.Figure:
    """A 10 × 10 array of people: ``count`` filled, the rest open (shape and contrast differ,
    not only colour). Filled people fill row by row from the top left."""
    xs = [i % 10 for i in range(100)]
    ys = [9 - i // 10 for i in range(100)]

    def people(indices: list[int], *, fill: str, name: str) -> list[go.Scatter]:
        line = dict(color="#1b2733", width=1.2)
        return [
            go.Scatter(
                x=[xs[i] for i in indices],
                y=[ys[i] + 0.22 for i in indices],
                mode="markers",
                marker=dict(symbol="circle", size=11, color=fill, line=line),
                name=name,
                hoverinfo="skip",
                showlegend=False,
            ),
            go.Scatter(
                x=[xs[i] for i in indices],
                y=[ys[i] - 0.18 for i in indices],
                mode="markers",
                marker=dict(symbol="square", size=17, color=fill, line=line),
                name=name,
                hoverinfo="skip",
                showlegend=False,
            ),
        ]

    fig = go.Figure(
        [
            *people(list(range(count)), fill=RAISES, name=label_yes),
            *people(list(range(count, 100)), fill="#ffffff", name=label_no),
        ]
    )
    fig.update_xaxes(visible=False, range=[-0.6, 9.6], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.7, 9.6], fixedrange=True, scaleanchor="x")
    fig.update_layout(
        height=380,
        margin=dict(l=0, r=0, t=10, b=10),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        showlegend=False,
    )
    return fig


def monitoring_figure(
    title: str,
    periods: Sequence[str],
    values: Sequence[float | None],
    *,
    lows: Sequence[float | None] | None = None,
    highs: Sequence[float | None] | None = None,
    limits: Sequence[tuple[str, float]] = (),
    from_zero: bool = False,
    too_few: Sequence[bool] | None = None,
) -> go.Figure:
    """One monitoring figure per period, its interval as error bars, and the plan's limits
    as labelled dotted lines. Periods without a judged value are left as gaps.
    ``from_zero`` starts the y axis at 0 (counts, PSI), so a steady line looks steady.
    ``too_few`` marks the periods with fewer patients than the plan needs to judge: their
    points are drawn hollow and grey and labelled "too few to judge", so a value beyond a
    limit there is not read as a verdict."""
    fig = go.Figure()
    error = None
    if lows is not None and highs is not None:
        error = dict(
            type="data",
            symmetric=False,
            array=[
                (h - v) if h is not None and v is not None else None
                for v, h in zip(values, highs, strict=True)
            ],
            arrayminus=[
                (v - lo) if lo is not None and v is not None else None
                for v, lo in zip(values, lows, strict=True)
            ],
            color=NEUTRAL,
        )
    fig.add_trace(
        go.Scatter(
            x=[plot_text(p) for p in periods],
            y=list(values),
            mode="lines+markers",
            line=dict(color=LOWERS),
            error_y=error,
            name=plot_text(title),
            connectgaps=False,
        )
    )
    if too_few is not None and any(too_few):
        marked = [
            (plot_text(p), v)
            for p, v, few in zip(periods, values, too_few, strict=True)
            if few and v is not None
        ]
        fig.add_trace(
            go.Scatter(
                x=[m[0] for m in marked],
                y=[m[1] for m in marked],
                mode="markers+text",
                marker=dict(color="white", size=11, line=dict(color=NEUTRAL, width=2)),
                text=["too few to judge"] * len(marked),
                textposition="top center",
                textfont=dict(color=NEUTRAL, size=11),
                hovertemplate="%{x}: %{y} — too few to judge<extra></extra>",
                name="too few to judge",
            )
        )
    for label, value in limits:
        fig.add_hline(
            y=value,
            line=dict(color=RAISES, dash="dot"),
            annotation_text=plot_text(label),
            annotation_position="top left",
        )
    # Period labels ("2025-01", "2025-W05") are categories: as dates Plotly would draw
    # weekly ticks between two months.
    fig.update_layout(
        showlegend=False,
        yaxis=dict(zeroline=False, rangemode="tozero" if from_zero else "normal"),
        xaxis=dict(type="category"),
    )
    return _layout(fig, title=plot_text(title), height=260)
