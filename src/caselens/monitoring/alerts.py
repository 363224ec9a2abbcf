"""The monitoring plan's alerts: judged from a period's figures, recorded in the trail.

An alert is raised only when the evidence crosses a threshold: the interval at the plan's
level (95% unless it says otherwise) lies wholly beyond it (for PSI, which has no standard
interval, the value itself, and only from the plan's minimum number of predictions). A point
estimate beyond the threshold whose interval still reaches back is a *watch*: shown, not
raised. This keeps the false-alarm rate of an unchanged population at a measured few per
cent (``caselens monitor rates``) while a real shift of the size the plan names is caught in
the period it starts.

Each alert has a stable id (model, period, kind, subject, live or simulated run), is
recorded once as an ``alert_raised`` entry, and its row is written in the same transaction.
A simulated alert can never suspend a model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditStore
from caselens.errors import CaseLensError
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import Performance, PeriodFigures, auroc_drop
from caselens.monitoring.tables import alert_table, ready_engine

#: The audit action of a newly raised alert.
RAISED_ACTION = "alert_raised"
#: The order alerts of one period are listed in: the model's own output and performance
#: before the inputs that may explain them.
KIND_ORDER = ("auroc_drop", "calibration_slope", "prediction_psi", "subgroup_auroc_drop")


def in_listing_order(alerts: Iterable[Alert]) -> list[Alert]:
    """Newest period first; within a period by ``KIND_ORDER`` (inputs last), then subject."""

    def rank(alert: Alert) -> tuple[int, str]:
        kind = KIND_ORDER.index(alert.kind) if alert.kind in KIND_ORDER else len(KIND_ORDER)
        return kind, alert.subject

    # Two stable sorts: the second (period, newest first) keeps the first's order within.
    return sorted(sorted(alerts, key=rank), key=lambda a: a.period, reverse=True)


@dataclass(frozen=True)
class Alert:
    """One threshold crossed in one period (or, with ``raised`` False, a watch)."""

    alert_id: str
    model_id: str
    period: str
    kind: str
    subject: str
    message: str
    value: float
    low: float | None
    high: float | None
    threshold: str
    n: int
    simulated: bool
    run_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertNotFound(CaseLensError):
    """No alert with this id has been raised."""


def alert_id(
    model_id: str, period: str, kind: str, subject: str, simulated: bool, run_id: str | None
) -> str:
    """A stable id: the same crossing found by two checks is one alert."""
    source = f"simulated:{run_id}" if simulated else "live"
    text = "|".join((model_id, period, kind, subject, source))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _make(
    figures: PeriodFigures,
    kind: str,
    subject: str,
    message: str,
    *,
    value: float,
    low: float | None,
    high: float | None,
    threshold: str,
    n: int,
) -> Alert:
    label = " (simulated)" if figures.simulated else ""
    return Alert(
        alert_id(
            figures.model_id, figures.period, kind, subject, figures.simulated, figures.run_id
        ),
        figures.model_id,
        figures.period,
        kind,
        subject,
        f"{figures.period}{label}: {message}",
        value,
        low,
        high,
        threshold,
        n,
        figures.simulated,
        figures.run_id,
    )


def evaluate(figures: PeriodFigures, plan: MonitoringPlan) -> tuple[list[Alert], list[Alert]]:
    """The alerts and the watches of one period's figures."""
    alerts: list[Alert] = []
    watches: list[Alert] = []
    if figures.drift_judged:
        _drift_alerts(figures, plan, alerts)
    level = f"{100 * plan.confidence:g}%"  # every interval below is at the plan's level
    perf = figures.performance
    if perf is not None and perf.judged:
        _performance_alerts(figures, perf, plan, level, alerts, watches)
    _subgroup_alerts(figures, plan, level, alerts, watches)
    return alerts, watches


def _drift_alerts(figures: PeriodFigures, plan: MonitoringPlan, alerts: list[Alert]) -> None:
    """Append an alert for the predictions, then each input, that drifted past the plan's PSI."""
    value = figures.prediction_psi
    if value is not None and value > plan.psi_threshold:
        alerts.append(
            _make(
                figures,
                "prediction_psi",
                "predicted probability",
                f"the predicted probabilities drifted from the reference (PSI {value:.3f} "
                f"> {plan.psi_threshold}, n={figures.predictions})",
                value=value,
                low=None,
                high=None,
                threshold=f"> {plan.psi_threshold}",
                n=figures.predictions,
            )
        )
    for drift in figures.inputs:
        if drift.psi is not None and drift.psi > plan.psi_threshold:
            alerts.append(
                _make(
                    figures,
                    "input_psi",
                    drift.name,
                    f"input '{drift.name}' drifted from the reference (PSI {drift.psi:.3f} "
                    f"> {plan.psi_threshold}; missing {drift.missing_share.value:.0%} vs "
                    f"{drift.reference_missing_share:.0%}, n={drift.n})",
                    value=drift.psi,
                    low=None,
                    high=None,
                    threshold=f"> {plan.psi_threshold}",
                    n=drift.n,
                )
            )


def _performance_alerts(
    figures: PeriodFigures,
    perf: Performance,
    plan: MonitoringPlan,
    level: str,
    alerts: list[Alert],
    watches: list[Alert],
) -> None:
    """Append the overall calibration-slope and AUROC-drop findings (alert when the CI is sure)."""
    slope = perf.calibration_slope
    lo_band, hi_band = plan.calibration_slope_low, plan.calibration_slope_high
    if slope.value is not None and slope.low is not None and slope.high is not None:
        outside = slope.value < lo_band or slope.value > hi_band
        sure = slope.high < lo_band or slope.low > hi_band
        if outside:
            (alerts if sure else watches).append(
                _make(
                    figures,
                    "calibration_slope",
                    "overall",
                    f"calibration slope {slope.value:.2f} ({level} CI {slope.low:.2f}–"
                    f"{slope.high:.2f}) is outside {lo_band}–{hi_band} (n={perf.n})",
                    value=slope.value,
                    low=slope.low,
                    high=slope.high,
                    threshold=f"outside {lo_band}–{hi_band}",
                    n=perf.n,
                )
            )
    drop = auroc_drop(perf.auroc, figures.reference_auroc, plan.confidence)
    if drop.value is not None and drop.value > plan.auroc_drop:
        (alerts if (drop.low or 0.0) > plan.auroc_drop else watches).append(
            _make(
                figures,
                "auroc_drop",
                "overall",
                f"AUROC {perf.auroc.value:.3f} is {drop.value:.3f} below the reference "
                f"{figures.reference_auroc.value:.3f} ({level} CI of the drop {drop.low:.3f}–"
                f"{drop.high:.3f}; alert above {plan.auroc_drop}, n={perf.n})",
                value=drop.value,
                low=drop.low,
                high=drop.high,
                threshold=f"drop > {plan.auroc_drop}",
                n=perf.n,
            )
        )


def _subgroup_alerts(
    figures: PeriodFigures,
    plan: MonitoringPlan,
    level: str,
    alerts: list[Alert],
    watches: list[Alert],
) -> None:
    """Append each judged subgroup whose AUROC fell more than the plan allows from its reference."""
    for sub in figures.subgroups:
        sp = sub.performance
        if not sp.judged:
            continue
        drop = auroc_drop(sp.auroc, sub.reference_auroc, plan.confidence)
        if drop.value is None or drop.value <= plan.subgroup_auroc_drop:
            continue
        (alerts if (drop.low or 0.0) > plan.subgroup_auroc_drop else watches).append(
            _make(
                figures,
                "subgroup_auroc_drop",
                f"{sub.variable}={sub.group}",
                f"AUROC in {sub.variable} '{sub.group}' is {sp.auroc.value:.3f}, "
                f"{drop.value:.3f} below its reference {sub.reference_auroc.value:.3f} ({level} CI "
                f"of the drop {drop.low:.3f}–{drop.high:.3f}; alert above "
                f"{plan.subgroup_auroc_drop}, n={sp.n})",
                value=drop.value,
                low=drop.low,
                high=drop.high,
                threshold=f"drop > {plan.subgroup_auroc_drop}",
                n=sp.n,
            )
        )


@dataclass(frozen=True)
class CheckResult:
    """A check: every period's figures, the alerts open now, and which were newly raised."""

    figures: tuple[PeriodFigures, ...]
    alerts: tuple[Alert, ...]
    watches: tuple[Alert, ...]
    newly_raised: tuple[str, ...]


def record_alerts(
    store: AuditStore, alerts: Iterable[Alert], *, actor: Viewer | None = None
) -> list[str]:
    """Record each alert not yet raised as an ``alert_raised`` entry, its row alongside.
    Returns the ids newly raised."""
    engine = ready_engine(store)
    wanted = list(alerts)
    with engine.connect() as conn:
        held = {
            row[0]
            for row in conn.execute(
                select(alert_table.c.alert_id).where(
                    alert_table.c.alert_id.in_([a.alert_id for a in wanted])
                )
            )
        }
    who = actor or Viewer("monitor", "caselens monitor", "system")
    raised: list[str] = []
    for alert in wanted:
        if alert.alert_id in held:
            continue

        def write(conn: Connection, entry: AuditEntry, alert: Alert = alert) -> None:
            conn.execute(
                insert(alert_table).values(
                    alert_id=alert.alert_id,
                    model_id=alert.model_id,
                    period=alert.period,
                    kind=alert.kind,
                    subject=alert.subject,
                    message=alert.message,
                    simulated=alert.simulated,
                    run_id=alert.run_id,
                    raised_seq=entry.seq,
                    detail_json=json.dumps(alert.as_dict(), sort_keys=True),
                )
            )

        store.append(
            AuditEvent(
                actor_id=who.user_id,
                actor_name=who.name,
                actor_role=who.role,
                audience="system",
                action=RAISED_ACTION,
                model_id=alert.model_id,
                detail=alert.as_dict(),
            ),
            alongside=write,
        )
        held.add(alert.alert_id)
        raised.append(alert.alert_id)
    return raised


def check(
    store: AuditStore,
    figures: Sequence[PeriodFigures],
    plan: MonitoringPlan,
    *,
    actor: Viewer | None = None,
) -> CheckResult:
    """Judge every period's figures and record the alerts not raised before."""
    alerts: list[Alert] = []
    watches: list[Alert] = []
    for period in figures:
        found, watch = evaluate(period, plan)
        alerts += found
        watches += watch
    raised = record_alerts(store, alerts, actor=actor)
    return CheckResult(tuple(figures), tuple(alerts), tuple(watches), tuple(raised))


def get_alert(store: AuditStore, alert_id_: str) -> Alert:
    """A raised alert by id (AlertNotFound if none)."""
    engine = ready_engine(store)
    with engine.connect() as conn:
        row = conn.execute(
            select(alert_table.c.detail_json).where(alert_table.c.alert_id == alert_id_)
        ).first()
    if row is None:
        raise AlertNotFound(f"There is no raised alert '{alert_id_[:40]}'.")
    return Alert(**json.loads(row[0]))


def raised_alerts(store: AuditStore, model_id: str, *, run_id: str | None = None) -> list[Alert]:
    """The alerts raised for a model (of one simulated run, or of what was shown), newest
    period first."""
    engine = ready_engine(store)
    t = alert_table.c
    query = select(t.detail_json).where(t.model_id == model_id)
    query = query.where(t.run_id == run_id) if run_id else query.where(t.simulated.is_(False))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.period.desc(), t.alert_id)).all()
    return [Alert(**json.loads(row[0])) for row in rows]
