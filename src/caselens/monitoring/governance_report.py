"""A monitoring report for governance meetings: one self-contained HTML file.

It holds what the Monitoring page shows for one model over a range of periods — the plan,
the raised alerts and what to watch, every figure per period with its n and interval, input
drift, subgroups, and how clinicians used the model — with small charts drawn as inline
SVG. It needs nothing else to open: no script, no style sheet or font from elsewhere, no
network. The page is the template ``templates/governance_report.html.j2``, rendered with
autoescape from rows of text (:mod:`.report_rows`) and chart geometry (:mod:`.report_charts`):
every text from outside CaseLens (model names, alert messages, variable and group names,
limitation codes) is escaped, so the file shows data and never runs it. A report of
simulated data says so in its title, at its top and at its end.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from caselens.audit import AuditStore
from caselens.model.bundle import ModelBundle
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.report_charts import Chart, chart
from caselens.monitoring.report_rows import (
    alerts_table,
    drift_table,
    feedback_table,
    figures_table,
    level_text,
    limitations_table,
    subgroup_table_tables,
    subgroups_table,
    watches_table,
)
from caselens.monitoring.stats import Estimate

#: The report's template, in ``caselens/monitoring/templates/``.
TEMPLATE = "governance_report.html.j2"


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
    #: Each period with linked outcomes and its subgroup table (issue 27, item 4).
    subgroup_tables: tuple[tuple[str, Any], ...] = ()
    #: The live version against a shadow candidate over the same periods (None: no
    #: candidate has shadow rows, or a simulated run), and the candidate's lifecycle state.
    comparison: Any = None
    comparison_state: str = ""


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
    from caselens.monitoring.subgroup_views import period_subgroup_table
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
        subgroup_tables=tuple(
            (f.period, period_subgroup_table(engine, bundle, plan, f.period, run_id=run_id))
            for f in figures
            if f.with_outcomes
        ),
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
    } | _comparison_record(content)


def _comparison_record(content: ReportContent) -> dict[str, Any]:
    """The shadow comparison the report holds, named in its entry (nothing without one)."""
    c = content.comparison
    if c is None:
        return {}
    return {
        "shadow_comparison": {
            "candidate_bundle_sha256": c.candidate_bundle_sha256,
            "pairs": c.pairs,
            "with_outcomes": c.with_outcomes,
        }
    }


def report_file_name(content: ReportContent) -> str:
    """E.g. ``readmission-30d-monitoring-2026-01-to-2026-06.html``."""
    labels = [f.period for f in content.figures]
    span = f"-{labels[0]}-to-{labels[-1]}" if labels else ""
    simulated = "-SIMULATED" if content.simulated_run else ""
    return f"{content.model_id}-monitoring{span}{simulated}.html"


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment: autoescape on for every template, an unknown name an error."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("caselens.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["g"] = lambda value: format(value, "g")
    return environment


def _performance(name: str) -> Callable[[Any], Estimate | None]:
    """A period's performance estimate ``name`` (None before any outcome is linked)."""
    return lambda f: getattr(f.performance, name) if f.performance is not None else None


def _charts(figures: Sequence[Any], plan: Any) -> list[Chart]:
    """The four charts over the periods: AUROC, calibration slope, PSI, predictions."""
    labels = [f.period for f in figures]
    return [
        chart(
            "AUROC (validated value green)",
            labels,
            [_performance("auroc")(f) for f in figures],
            reference=figures[0].reference_auroc.value,
        ),
        chart(
            "Calibration slope (limits dashed)",
            labels,
            [_performance("calibration_slope")(f) for f in figures],
            limits=(plan.calibration_slope_low, plan.calibration_slope_high),
        ),
        chart(
            "PSI of the predicted probabilities (limit dashed)",
            labels,
            [Estimate(f.prediction_psi) for f in figures],
            limits=(plan.psi_threshold,),
        ),
        chart(
            "Predictions shown",
            labels,
            [Estimate(float(f.predictions)) for f in figures],
            from_zero=True,
        ),
    ]


def report_view(content: ReportContent) -> dict[str, Any]:
    """What the template draws: plain values, tables of text and chart geometry."""
    c = content
    labels = [f.period for f in c.figures]
    return {
        "run": c.simulated_run,
        "model_id": c.model_id,
        "model_name": c.model_name,
        "model_version": c.model_version,
        "span": f"{labels[0]} to {labels[-1]}" if labels else "no period",
        "generated_at": c.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "generated_by": c.generated_by,
        "level": level_text(c.plan.confidence),
        "plan": c.plan,
        "alerts": alerts_table(c.alerts, c.recorded_alerts) if c.alerts else None,
        "watches": watches_table(c.watches) if c.watches else None,
        "charts": _charts(c.figures, c.plan) if c.figures else [],
        "figure_tables": [
            figures_table(c.figures, c.plan.confidence),
            drift_table(c.figures),
            subgroups_table(c.figures),
            *(
                t
                for period, table in c.subgroup_tables
                for t in subgroup_table_tables(period, table)
            ),
        ],
        "feedback": feedback_table(c.feedback) if c.feedback else None,
        "limitations": limitations_table(c.limitations),
        "comparison": _comparison_view(c),
    }


def _comparison_view(content: ReportContent) -> dict[str, Any] | None:
    """The shadow comparison's sentence, words and tables (None: no section)."""
    from caselens.monitoring.shadow_comparison_rows import (
        comparison_sentence,
        comparison_tables,
    )

    c = content.comparison
    if c is None:
        return None
    return {
        "sentence": comparison_sentence(c, candidate_state=content.comparison_state),
        "outcome_words": c.outcome_words,
        "notes": list(c.notes),
        "tables": list(comparison_tables(c)),
    }


def render_governance_report(content: ReportContent) -> str:
    """The report as one HTML document (UTF-8 text, no script, everything inline), drawn by
    ``templates/governance_report.html.j2`` with every value escaped."""
    template = _environment().get_template(TEMPLATE)
    return template.render(report_view(content))
