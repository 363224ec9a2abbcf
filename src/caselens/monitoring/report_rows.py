"""The governance report's tables as rows of plain text, built from the objects the
Monitoring page draws (each period's figures, the plan's alerts and watches, clinician use).

Cells are text, never markup: the report's template escapes every one of them, so a model
name, an alert message or a group name from outside CaseLens is shown and never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caselens.monitoring.stats import Estimate

#: What a cell says when there is no value.
NO_VALUE = "–"
#: What the Recorded column says of an alert the trail does not hold yet.
NOT_YET_RECORDED = "not yet: run caselens monitor check, or Check now"
#: The figures of a period's performance in the report's table, in column order.
_PERFORMANCE_COLUMNS = (
    ("auroc", "AUROC"),
    ("calibration_slope", "Calibration slope"),
    ("calibration_in_the_large", "Calibration-in-the-large"),
    ("brier", "Brier"),
    ("observed_rate", "Observed rate"),
    ("coverage", "Set coverage"),
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
)


@dataclass(frozen=True)
class Table:
    """One table of the report: a caption, its column headers and rows of plain text."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def level_text(confidence: float) -> str:
    """The plan's confidence level as printed beside its intervals.

    Examples
    --------
    >>> level_text(0.95), level_text(0.9), level_text(0.975)
    ('95%', '90%', '97.5%')
    """
    return f"{100 * confidence:g}%"


def number(value: Any, digits: int = 3) -> str:
    """A float to ``digits`` places; anything else as its text; ``–`` for None."""
    if value is None:
        return NO_VALUE
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def text(value: Any) -> str:
    """A value as text (empty for None)."""
    return "" if value is None else str(value)


def interval(estimate: Estimate | None) -> str:
    """``value (low–high)``, the value alone without an interval, ``–`` without a value."""
    if estimate is None or estimate.value is None:
        return NO_VALUE
    if estimate.low is None or estimate.high is None:
        return number(estimate.value)
    return f"{number(estimate.value)} ({number(estimate.low)}–{number(estimate.high)})"


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    return Table(caption, tuple(headers), tuple(tuple(row) for row in rows))


def alerts_table(alerts: Sequence[Any], recorded: frozenset[str]) -> Table:
    """The plan's alerts, each saying whether the trail holds it already."""
    return _table(
        "The plan's alerts in these periods (a recorded alert offers the model's "
        "suspension on the Monitoring page)",
        ["Period", "What", "Subject", "Message", "n", "Limit", "Alert id", "Recorded"],
        [
            [
                *(text(v) for v in (a.period, a.kind, a.subject, a.message, a.n, a.threshold)),
                text(a.alert_id),
                "yes" if a.alert_id in recorded else NOT_YET_RECORDED,
            ]
            for a in alerts
        ],
    )


def watches_table(watches: Sequence[Any]) -> Table:
    """Values beyond a limit whose interval still reaches back."""
    return _table(
        "To watch: beyond a limit, but the interval still reaches back",
        ["Period", "What", "Subject", "Value", "Limit", "n"],
        [
            [
                text(w.period),
                text(w.kind),
                text(w.subject),
                number(w.value),
                text(w.threshold),
                text(w.n),
            ]
            for w in watches
        ],
    )


def figures_table(figures: Sequence[Any], confidence: float) -> Table:
    """Every figure of every period, each value with its interval at the plan's level."""
    rows = []
    for f in figures:
        p = f.performance
        rows.append(
            [
                *(text(v) for v in (f.period, f.displays, f.predictions, f.with_outcomes)),
                number(f.prediction_psi),
                number(f.prediction_ks_p),
                *(
                    interval(getattr(p, name)) if p is not None else NO_VALUE
                    for name, _ in _PERFORMANCE_COLUMNS
                ),
                number(p.ece) if p is not None else NO_VALUE,
                "; ".join(f.notes),
            ]
        )
    headers = ["Period", "Displays", "Predictions", "With outcomes", "PSI", "KS p"]
    headers += [header for _, header in _PERFORMANCE_COLUMNS] + ["ECE", "Notes"]
    return _table(f"Every figure, value ({level_text(confidence)} interval)", headers, rows)


def drift_table(figures: Sequence[Any]) -> Table:
    """Each input's drift in each period."""
    return _table(
        "Input drift per variable",
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
                text(f.period),
                text(d.name),
                number(d.psi),
                number(d.chi_square_p),
                interval(d.missing_share),
                number(d.reference_missing_share),
                interval(d.out_of_range),
                text(d.n),
            ]
            for f in figures
            for d in f.inputs
        ],
    )


def subgroups_table(figures: Sequence[Any]) -> Table:
    """Each subgroup's performance in each period beside its reference AUROC."""
    return _table(
        "Subgroups (fairness)",
        ["Period", "Variable", "Group", "n", "AUROC", "AUROC (reference)", "Calibration slope"],
        [
            [
                text(f.period),
                text(s.variable),
                text(s.group),
                text(s.performance.n),
                interval(s.performance.auroc),
                interval(s.reference_auroc),
                interval(s.performance.calibration_slope),
            ]
            for f in figures
            for s in f.subgroups
        ],
    )


def feedback_table(feedback: Sequence[Any]) -> Table:
    """Clinicians' feedback and own estimates per period."""
    return _table(
        "Feedback, and clinicians' own estimates against the model's (a shrinking "
        "gap with rising agreement can mean deference to the model)",
        [
            "Period",
            "Feedback",
            "Agree",
            "Disagree",
            "Not useful",
            "EHR cards accepted",
            "EHR cards overridden",
            "Agreement",
            "With own estimate",
            "Mean gap (points of 100)",
            "Own estimate across the threshold",
        ],
        [
            [
                text(f.period),
                text(f.feedback),
                text(f.agree),
                text(f.disagree),
                text(f.not_useful),
                text(f.card_accepted),
                text(f.card_overridden),
                interval(f.agreement),
                text(f.with_own_estimate),
                number(f.mean_gap_points, 1),
                interval(f.other_side),
            ]
            for f in feedback
        ],
    )


def limitations_table(limitations: Sequence[Any]) -> Table | None:
    """The share of displays that showed each limitation, per period (None: none shown)."""
    codes = sorted({code for f in limitations for code in f.shown})
    if not codes:
        return None
    return _table(
        "Limitations shown (share of displays)",
        ["Period", "Displays", *codes],
        [
            [text(f.period), text(f.displays), *(number(f.rate(code)) for code in codes)]
            for f in limitations
        ],
    )


def subgroup_table_tables(period: str, table: Any) -> list[Table]:
    """One period's subgroup table (:class:`~caselens.monitoring.subgroup_table.
    SubgroupTable`): every group with its figures and intervals (a group under the minimum
    n says so), then each variable's largest gaps with their bootstrap intervals. The
    caption says how the figures were made and which intersections were left out."""
    level = level_text(table.confidence)
    left_out = " ".join(f"{words}." for words in table.left_out)
    groups = _table(
        f"Subgroups in {period}. {table.methods}" + (f" {left_out}" if left_out else ""),
        [
            "Variable",
            "Group",
            "n",
            "Events",
            "AUROC",
            "Sensitivity",
            "Specificity",
            "PPV",
            "Observed rate",
            "Mean predicted",
        ],
        [
            [
                text(r.variable),
                text(r.group),
                r.suppressed or text(r.n),
                text(r.events),
                *(
                    "" if f is None else f.text(3)
                    for f in (
                        r.auroc,
                        r.sensitivity,
                        r.specificity,
                        r.ppv,
                        r.observed_rate,
                        r.mean_predicted,
                    )
                ),
            ]
            for r in table.rows
        ],
    )
    gaps = _table(
        f"Largest gap between groups in {period} (higher minus lower; {level} bootstrap "
        "interval of the difference between these two groups, not widened for picking them)",
        ["Variable", "Measure", "Higher", "Lower", "Difference"],
        [
            [
                text(g.variable),
                g.measure,
                text(g.higher),
                text(g.lower),
                g.difference.text(3),
            ]
            for g in table.gaps
        ],
    )
    return [groups, gaps]
