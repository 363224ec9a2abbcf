"""A monitoring report for governance meetings: one self-contained HTML file.

It holds what the Monitoring page shows for one model over a range of periods — the plan,
the raised alerts and what to watch, every figure per period with its n and interval, input
drift, subgroups, and how clinicians used the model — with small charts drawn as inline
SVG. It needs nothing else to open: no script, no style sheet or font from elsewhere, no
network. Every text from outside CaseLens (model names, alert messages, variable and group
names, limitation codes) is escaped, so the file shows data and never runs it. A report of
simulated data says so in its title and on every section.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from caselens.audit import AuditStore
from caselens.model.bundle import ModelBundle
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.stats import Estimate

#: Chart size in CSS pixels.
_WIDTH, _HEIGHT, _PAD = 560, 180, 36


@dataclass(frozen=True)
class ReportContent:
    """What a governance report holds (already checked and recorded by the caller)."""

    model_id: str
    model_name: str
    model_version: str
    plan: Any
    figures: tuple[Any, ...]
    #: The plan's alerts in these periods, and ids of those the trail already holds.
    alerts: tuple[Any, ...]
    recorded_alerts: frozenset[str]
    watches: tuple[Any, ...]
    feedback: tuple[Any, ...]
    limitations: tuple[Any, ...]
    simulated_run: str | None
    generated_at: dt.datetime
    generated_by: str


def select_periods(
    figures: Sequence[Any], first: str | None = None, last: str | None = None
) -> tuple[Any, ...]:
    """The periods from ``first`` to ``last`` inclusive (labels such as '2026-03')."""
    return tuple(
        f
        for f in figures
        if (first is None or f.period >= first) and (last is None or f.period <= last)
    )


def gather_report(
    store: AuditStore,
    bundle: ModelBundle,
    plan: MonitoringPlan,
    *,
    generated_by: str,
    run_id: str | None = None,
    first: str | None = None,
    last: str | None = None,
    now: dt.datetime | None = None,
) -> ReportContent:
    """Everything a governance report holds, read from the audit database (aggregates per
    period, never the whole trail). Recording that it was produced is the caller's step."""
    from caselens.monitoring.alerts import evaluate, raised_alerts
    from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
    from caselens.monitoring.tables import ready_engine
    from caselens.monitoring.views import iter_figures

    engine = ready_engine(store)
    simulated = run_id is not None
    figures = select_periods(
        list(iter_figures(engine, bundle, plan, simulated=simulated, run_id=run_id)),
        first,
        last,
    )
    periods = {f.period for f in figures}
    judged = [evaluate(f, plan) for f in figures]
    # The plan's judgement now, and which of those alerts the trail already holds: a report
    # must not look reassuring only because nobody pressed "Check now".
    found = [a for alerts_, _ in judged for a in alerts_]
    watches = [w for _, watches_ in judged for w in watches_]
    recorded = [
        a for a in raised_alerts(store, bundle.model_id, run_id=run_id) if a.period in periods
    ]
    found_ids = {a.alert_id for a in found}
    alerts = found + [a for a in recorded if a.alert_id not in found_ids]
    feedback = (
        []
        if simulated
        else feedback_by_period(
            engine, bundle.model_id, period=plan.period, confidence=plan.confidence
        )
    )
    limitations = limitations_by_period(
        engine, bundle.model_id, period=plan.period, simulated=simulated, run_id=run_id
    )
    return ReportContent(
        model_id=bundle.model_id,
        model_name=bundle.card.name,
        model_version=bundle.version,
        plan=plan,
        figures=figures,
        alerts=tuple(alerts),
        recorded_alerts=frozenset(a.alert_id for a in recorded),
        watches=tuple(watches),
        feedback=tuple(f for f in feedback if f.period in periods),
        limitations=tuple(f for f in limitations if f.period in periods),
        simulated_run=run_id,
        generated_at=now or dt.datetime.now(dt.UTC),
        generated_by=generated_by,
    )


def report_record(content: ReportContent) -> dict[str, Any]:
    """The audit entry's detail for a produced report (what it covered, not its figures)."""
    labels = [f.period for f in content.figures]
    return {
        "kind": "monitoring_report",
        "model_id": content.model_id,
        "simulated_run": content.simulated_run,
        "periods": [labels[0], labels[-1]] if labels else [],
        "alerts": len(content.alerts),
    }


def report_file_name(content: ReportContent) -> str:
    """E.g. ``readmission-30d-monitoring-2026-01-to-2026-06.html``."""
    labels = [f.period for f in content.figures]
    span = f"-{labels[0]}-to-{labels[-1]}" if labels else ""
    simulated = "-SIMULATED" if content.simulated_run else ""
    return f"{content.model_id}-monitoring{span}{simulated}.html"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _interval(estimate: Estimate | None) -> str:
    if estimate is None or estimate.value is None:
        return "–"
    if estimate.low is None or estimate.high is None:
        return _num(estimate.value)
    return f"{_num(estimate.value)} ({_num(estimate.low)}–{_num(estimate.high)})"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> str:
    """An HTML table; cells must already be escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><caption>{_e(caption)}</caption><tr>{head}</tr>{body}</table>"


def _chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Estimate | None],
    *,
    limits: Sequence[float] = (),
    reference: float | None = None,
    from_zero: bool = False,
) -> str:
    """An inline SVG line chart: points with their interval bars, limits dashed."""
    values = [s for s in series if s is not None and s.value is not None]
    if not values:
        return f"<p class='note'>{_e(title)}: not measured in these periods.</p>"
    spread = [v.value for v in values] + [v for v in (v.low for v in values) if v is not None]
    spread += [v for v in (v.high for v in values) if v is not None] + list(limits)
    spread += [reference] if reference is not None else []
    spread += [0.0] if from_zero else []
    low, high = min(spread), max(spread)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    step = (_WIDTH - 2 * _PAD) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return _PAD + i * step if len(labels) > 1 else _WIDTH / 2

    def y(v: float) -> float:
        return _HEIGHT - _PAD + (v - low) / (high - low) * (2 * _PAD - _HEIGHT)

    parts = [
        f"<line x1='{_PAD}' x2='{_WIDTH - _PAD}' y1='{y(v):.1f}' y2='{y(v):.1f}' class='limit'/>"
        for v in limits
    ]
    if reference is not None:
        parts.append(
            f"<line x1='{_PAD}' x2='{_WIDTH - _PAD}' y1='{y(reference):.1f}' "
            f"y2='{y(reference):.1f}' class='reference'/>"
        )
    points = []
    for i, s in enumerate(series):
        if s is None or s.value is None:
            continue
        points.append(f"{x(i):.1f},{y(s.value):.1f}")
        if s.low is not None and s.high is not None:
            parts.append(
                f"<line x1='{x(i):.1f}' x2='{x(i):.1f}' y1='{y(s.low):.1f}' "
                f"y2='{y(s.high):.1f}' class='interval'/>"
            )
        parts.append(f"<circle cx='{x(i):.1f}' cy='{y(s.value):.1f}' r='3'/>")
    if len(points) > 1:
        parts.append(f"<polyline points='{' '.join(points)}' class='series'/>")
    for i, label in enumerate(labels):
        parts.append(
            f"<text x='{x(i):.1f}' y='{_HEIGHT - 8}' text-anchor='middle'>{_e(label)}</text>"
        )
    for v in (low, high):
        parts.append(f"<text x='4' y='{y(v) + 4:.1f}'>{_num(v, 2)}</text>")
    return (
        f"<figure><figcaption>{_e(title)}</figcaption>"
        f"<svg role='img' aria-label='{_e(title)}' width='{_WIDTH}' height='{_HEIGHT}' "
        f"viewBox='0 0 {_WIDTH} {_HEIGHT}'>{''.join(parts)}</svg></figure>"
    )


def _series(figures: Sequence[Any], pick: Callable[[Any], Estimate | None]) -> list:
    return [pick(f) for f in figures]


def _performance(figure: Any, name: str) -> Estimate | None:
    return getattr(figure.performance, name) if figure.performance is not None else None


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#111}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
td,th{border:1px solid #bbb;padding:.2rem .4rem;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:600;padding:.3rem 0}
.simulated{background:#fde8c8;border:2px solid #b35c00;padding:.5rem;font-weight:700}
.note{color:#444;font-size:.9rem}figure{display:inline-block;margin:.5rem 1rem .5rem 0}
svg text{font-size:10px;fill:#333}svg circle{fill:#0072b2}
.series{fill:none;stroke:#0072b2;stroke-width:1.5}.interval{stroke:#0072b2;stroke-width:1}
.limit{stroke:#d55e00;stroke-dasharray:4 3}.reference{stroke:#009e73;stroke-dasharray:2 2}
"""


def render_governance_report(content: ReportContent) -> str:
    """The report as one HTML document (UTF-8 text, no script, everything inline)."""
    c = content
    plan = c.plan
    simulated = c.simulated_run is not None
    banner = (
        f"<p class='simulated'>SIMULATED DATA (run {_e(c.simulated_run)}): drawn from the "
        "bundle's reference data by caselens monitor simulate. Nobody was shown these "
        "predictions; they demonstrate the checks.</p>"
        if simulated
        else ""
    )
    labels = [f.period for f in c.figures]
    span = f"{labels[0]} to {labels[-1]}" if labels else "no period"
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>{'SIMULATED — ' if simulated else ''}Monitoring report: {_e(c.model_name)} "
        f"({_e(c.model_id)}), {_e(span)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{'SIMULATED — ' if simulated else ''}Monitoring report: {_e(c.model_name)}</h1>",
        banner,
        f"<p>Model {_e(c.model_id)} version {_e(c.model_version)} · periods {_e(span)} · "
        f"generated {_e(c.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by "
        f"{_e(c.generated_by)} (recorded in the audit trail). Figures come from the "
        "prediction log of what was shown and the outcomes imported; every figure has its n "
        f"and, where one applies, its {plan.confidence:.0%} interval.</p>",
        "<h2>Monitoring plan</h2>",
        f"<p>Per {_e(plan.period)}. Alert when the calibration slope's interval lies wholly "
        f"outside {plan.calibration_slope_low:g}–{plan.calibration_slope_high:g}, the AUROC "
        f"drop from validation surely exceeds {plan.auroc_drop:g}, a PSI exceeds "
        f"{plan.psi_threshold:g}, or a subgroup's AUROC drop surely exceeds "
        f"{plan.subgroup_auroc_drop:g}; drift judged from {plan.min_predictions} predictions, "
        f"performance from {plan.min_outcomes} outcomes with {plan.min_events} of each "
        "outcome.</p>",
        "<h2>Alerts</h2>",
    ]
    if c.alerts:
        out.append(
            _table(
                ["Period", "What", "Subject", "Message", "n", "Limit", "Alert id", "Recorded"],
                [
                    [
                        _e(a.period),
                        _e(a.kind),
                        _e(a.subject),
                        _e(a.message),
                        _e(a.n),
                        _e(a.threshold),
                        _e(a.alert_id),
                        "yes"
                        if a.alert_id in c.recorded_alerts
                        else "not yet: run caselens monitor check, or Check now",
                    ]
                    for a in c.alerts
                ],
                "The plan's alerts in these periods (a recorded alert offers the model's "
                "suspension on the Monitoring page)",
            )
        )
    else:
        out.append("<p>The plan finds no alert in these periods, and none was recorded.</p>")
    if c.watches:
        out.append(
            _table(
                ["Period", "What", "Subject", "Value", "Limit", "n"],
                [
                    [
                        _e(w.period),
                        _e(w.kind),
                        _e(w.subject),
                        _num(w.value),
                        _e(w.threshold),
                        _e(w.n),
                    ]
                    for w in c.watches
                ],
                "To watch: beyond a limit, but the interval still reaches back",
            )
        )
    out.append("<h2>Figures per period</h2>")
    if not c.figures:
        out.append("<p>Nothing was shown with this model in these periods.</p>")
    else:
        reference_auroc = c.figures[0].reference_auroc.value
        out += [
            _chart(
                "AUROC (validated value green)",
                labels,
                _series(c.figures, lambda f: _performance(f, "auroc")),
                reference=reference_auroc,
            ),
            _chart(
                "Calibration slope (limits dashed)",
                labels,
                _series(c.figures, lambda f: _performance(f, "calibration_slope")),
                limits=(plan.calibration_slope_low, plan.calibration_slope_high),
            ),
            _chart(
                "PSI of the predicted probabilities (limit dashed)",
                labels,
                [Estimate(f.prediction_psi) for f in c.figures],
                limits=(plan.psi_threshold,),
            ),
            _chart(
                "Predictions shown",
                labels,
                [Estimate(float(f.predictions)) for f in c.figures],
                from_zero=True,
            ),
        ]
        rows = []
        for f in c.figures:
            p = f.performance
            rows.append(
                [_e(f.period), _e(f.displays), _e(f.predictions), _e(f.with_outcomes)]
                + [_num(f.prediction_psi), _num(f.prediction_ks_p)]
                + [
                    _interval(getattr(p, name)) if p is not None else "–"
                    for name in (
                        "auroc",
                        "calibration_slope",
                        "calibration_in_the_large",
                        "brier",
                        "observed_rate",
                        "coverage",
                        "sensitivity",
                        "specificity",
                    )
                ]
                + [_num(p.ece) if p is not None else "–", "; ".join(_e(n) for n in f.notes)]
            )
        out.append(
            _table(
                [
                    "Period",
                    "Displays",
                    "Predictions",
                    "With outcomes",
                    "PSI",
                    "KS p",
                    "AUROC",
                    "Calibration slope",
                    "Calibration-in-the-large",
                    "Brier",
                    "Observed rate",
                    "Set coverage",
                    "Sensitivity",
                    "Specificity",
                    "ECE",
                    "Notes",
                ],
                rows,
                f"Every figure, value ({plan.confidence:.0%} interval)",
            )
        )
        out.append(
            _table(
                [
                    "Period",
                    "Input",
                    "PSI",
                    "Chi-square p",
                    "Missing share",
                    "Missing (reference)",
                    "Out of range",
                    "n",
                ],
                [
                    [
                        _e(f.period),
                        _e(d.name),
                        _num(d.psi),
                        _num(d.chi_square_p),
                        _interval(d.missing_share),
                        _num(d.reference_missing_share),
                        _interval(d.out_of_range),
                        _e(d.n),
                    ]
                    for f in c.figures
                    for d in f.inputs
                ],
                "Input drift per variable",
            )
        )
        out.append(
            _table(
                [
                    "Period",
                    "Variable",
                    "Group",
                    "n",
                    "AUROC",
                    "AUROC (reference)",
                    "Calibration slope",
                ],
                [
                    [
                        _e(f.period),
                        _e(s.variable),
                        _e(s.group),
                        _e(s.performance.n),
                        _interval(s.performance.auroc),
                        _interval(s.reference_auroc),
                        _interval(s.performance.calibration_slope),
                    ]
                    for f in c.figures
                    for s in f.subgroups
                ],
                "Subgroups (fairness)",
            )
        )
    out.append("<h2>How clinicians used it</h2>")
    if c.feedback:
        out.append(
            _table(
                [
                    "Period",
                    "Feedback",
                    "Agree",
                    "Disagree",
                    "Not useful",
                    "Agreement",
                    "With own estimate",
                    "Mean gap (points of 100)",
                    "Own estimate across the threshold",
                ],
                [
                    [
                        _e(f.period),
                        _e(f.feedback),
                        _e(f.agree),
                        _e(f.disagree),
                        _e(f.not_useful),
                        _interval(f.agreement),
                        _e(f.with_own_estimate),
                        _num(f.mean_gap_points, 1),
                        _interval(f.other_side),
                    ]
                    for f in c.feedback
                ],
                "Feedback, and clinicians' own estimates against the model's (a shrinking "
                "gap with rising agreement can mean deference to the model)",
            )
        )
    else:
        out.append(
            "<p>No feedback"
            + (" (a simulated run has none: nobody saw it)." if simulated else " was given.")
            + "</p>"
        )
    codes = sorted({code for f in c.limitations for code in f.shown})
    if codes:
        out.append(
            _table(
                ["Period", "Displays", *codes],
                [
                    [_e(f.period), _e(f.displays), *(_num(f.rate(code)) for code in codes)]
                    for f in c.limitations
                ],
                "Limitations shown (share of displays)",
            )
        )
    out.append(banner)
    out.append("</body></html>")
    return "\n".join(part for part in out if part)
