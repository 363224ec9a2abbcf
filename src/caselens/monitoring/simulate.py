"""Simulated predictions and outcomes, to see what monitoring catches and what it does not.

Cases are drawn (with replacement) from a bundle's reference rows month by month, scored
by the bundle's model, and given outcomes: by default the sampled row's own outcome, so an
unshifted simulation behaves like the population the model was validated on. Shifts can be
injected from a given month:

``mix``          a population mix change: rows of one group (``variable=group``) drawn
                 ``amount`` times as often (default 4);
``shift``        a numeric input shifted by ``amount`` reference standard deviations (1);
``missing``      an input going missing in a share ``amount`` of cases (0.5);
``calibration``  calibration decay: outcomes drawn from ``logit⁻¹(a + amount·logit p)``
                 with ``a`` keeping the mean rate, i.e. a calibration slope of ``amount``
                 (0.4);
``subgroup``     a subgroup getting worse: in ``variable=group`` outcomes are drawn at the
                 group's mean predicted rate, unrelated to the prediction (AUROC 0.5).

Written rows are flagged ``simulated`` with their run id and point at one
``monitoring_simulated`` audit entry; they are never displays to a person and never
display entries.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditStore
from caselens.errors import CaseLensError
from caselens.model.bundle import ModelBundle
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import (
    NOT_RECORDED,
    Period,
    PeriodFigures,
    ReferenceProfile,
    build_profile,
    period_figures,
    period_of,
)
from caselens.monitoring.outcomes import OutcomeRow, outcome_values_writer
from caselens.monitoring.prediction_log import SIMULATED_ACTION, bounded_inputs
from caselens.monitoring.tables import prediction_log, ready_engine

ShiftKind = Literal["mix", "shift", "missing", "calibration", "subgroup"]
SHIFT_KINDS: tuple[str, ...] = ("mix", "shift", "missing", "calibration", "subgroup")
#: Default strength of each shift (see the module docstring).
DEFAULT_AMOUNT = {"mix": 4.0, "shift": 1.0, "missing": 0.5, "calibration": 0.4, "subgroup": 0.0}
#: Where a simulation starts unless told otherwise: a fixed month, so runs reproduce.
DEFAULT_START = dt.date(2025, 1, 1)
#: Most simulated predictions in one run (the rows go into one transaction).
MAX_SIMULATED = 500_000


class SimulationError(CaseLensError):
    """A simulation that cannot run as asked (the message says which option)."""


@dataclass(frozen=True)
class Shift:
    """One injected change, from month ``start_month`` (0-based) on."""

    kind: ShiftKind
    start_month: int
    variable: str | None = None
    group: str | None = None
    amount: float | None = None

    @property
    def strength(self) -> float:
        return DEFAULT_AMOUNT[self.kind] if self.amount is None else float(self.amount)

    def describe(self) -> str:
        target = f" {self.variable}" if self.variable else ""
        target += f"={self.group}" if self.group else ""
        return f"{self.kind}{target} x{self.strength:g} from month {self.start_month + 1}"


def simulated_prediction_row(
    bundle: Any,
    *,
    run: str,
    number: int,
    patient_ref: str,
    stamp: str,
    probability: float,
    threshold: float,
    conformal_set: Any,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """One prediction-log row of a simulated run: flagged simulated, never a display."""
    return {
        "entry_seq": None,
        "simulated": True,
        "run_id": run,
        "recorded_at": stamp,
        "recorded_on": stamp[:10],
        "action": "simulated",
        "audience": "system",
        "model_id": bundle.model_id,
        "model_version": bundle.version,
        "patient_ref": patient_ref,
        "report_id": f"simulated-{run}-{number}",
        "probability": probability,
        "threshold": threshold,
        "conformal_set": None if conformal_set is None else json.dumps(list(conformal_set)),
        "limitation_codes": "[]",
        "inputs_json": bounded_inputs(values),
    }


def parse_shift(text: str) -> Shift:
    """A shift from ``KIND[:VARIABLE[=GROUP]][@MONTH][*AMOUNT]``, months counted from 1.

    Examples
    --------
    >>> parse_shift("missing:num_medications@3*0.6")
    Shift(kind='missing', start_month=2, variable='num_medications', group=None, amount=0.6)
    """
    amount = None
    month = 1
    body = text.strip()
    if "*" in body:
        body, amount_text = body.rsplit("*", 1)
        amount = float(amount_text)
    if "@" in body:
        body, month_text = body.rsplit("@", 1)
        month = int(month_text)
    kind, _, target = body.partition(":")
    if kind not in SHIFT_KINDS:
        raise SimulationError(f"Shift '{text}': the kind must be one of {', '.join(SHIFT_KINDS)}.")
    variable, _, group = target.partition("=")
    if month < 1:
        raise SimulationError(f"Shift '{text}': months are counted from 1.")
    return Shift(kind, month - 1, variable or None, group or None, amount)  # type: ignore[arg-type]


def _check_shift(shift: Shift, bundle: ModelBundle) -> None:
    needs_variable = shift.kind in ("mix", "shift", "missing", "subgroup")
    if needs_variable and (shift.variable is None or shift.variable not in bundle.features):
        raise SimulationError(
            f"Shift {shift.kind}: name an input of {bundle.model_id} "
            f"(one of {', '.join(bundle.features.names)})."
        )
    if shift.kind in ("mix", "subgroup") and not shift.group:
        raise SimulationError(f"Shift {shift.kind}: name the group, e.g. {shift.variable}=VALUE.")
    if shift.kind == "shift" and bundle.features[shift.variable or ""].kind == "category":
        raise SimulationError(f"Shift shift: '{shift.variable}' is a category; use mix.")


def _group_of(bundle: ModelBundle, variable: str, frame: pd.DataFrame) -> pd.Series:
    spec = bundle.features[variable]
    return frame[variable].map(lambda v: spec.subgroup_of(v) or NOT_RECORDED).astype(str)


@dataclass
class SimulatedMonth:
    """One simulated month: the predictions (inputs, probability, outcome, times)."""

    period: Period
    frame: pd.DataFrame


def _calibration_offset(logit: np.ndarray, slope: float, target: float) -> float:
    """The intercept ``a`` with mean ``logit⁻¹(a + slope·logit)`` equal to ``target``."""
    a = 0.0
    for _ in range(60):
        q = 1 / (1 + np.exp(-(a + slope * logit)))
        step = (q.mean() - target) / max(float((q * (1 - q)).mean()), 1e-9)
        a -= step
        if abs(step) < 1e-10:
            break
    return a


def simulate_months(
    bundle: ModelBundle,
    *,
    months: int,
    per_month: int,
    shifts: Sequence[Shift] = (),
    seed: int = 0,
    start: dt.date = DEFAULT_START,
    reference_probabilities: np.ndarray | None = None,
) -> list[SimulatedMonth]:
    """Draw ``months`` months of ``per_month`` cases each, with the shifts injected."""
    if months < 1 or per_month < 1:
        raise SimulationError("months and per-month must be at least 1.")
    if months * per_month > MAX_SIMULATED:
        raise SimulationError(f"At most {MAX_SIMULATED} simulated predictions per run.")
    for shift in shifts:
        _check_shift(shift, bundle)
    rng = np.random.default_rng(seed)
    reference = bundle.reference.reset_index(drop=True)
    names = bundle.features.names
    p_ref = (
        np.asarray(bundle.predict_proba(reference), dtype=float)
        if reference_probabilities is None
        else reference_probabilities
    )
    y_ref = reference["outcome"].to_numpy(dtype=int)
    out: list[SimulatedMonth] = []
    period = period_of(start, "month")
    for month in range(months):
        active = [s for s in shifts if s.start_month <= month]
        weights = np.ones(len(reference))
        for shift in active:
            if shift.kind == "mix":
                groups = _group_of(bundle, shift.variable or "", reference)
                weights[(groups == shift.group).to_numpy()] *= shift.strength
        idx = rng.choice(len(reference), size=per_month, replace=True, p=weights / weights.sum())
        frame = reference.loc[idx, names].reset_index(drop=True)
        changed_inputs = False
        for shift in active:
            if shift.kind == "shift":
                column = pd.to_numeric(frame[shift.variable], errors="coerce")
                sd = float(pd.to_numeric(reference[shift.variable], errors="coerce").std())
                frame[shift.variable] = column + shift.strength * sd
                changed_inputs = True
            elif shift.kind == "missing":
                gone = rng.random(per_month) < shift.strength
                frame[shift.variable] = frame[shift.variable].astype(object).where(~gone, None)
                changed_inputs = True
        p = (
            np.asarray(bundle.predict_proba(frame), dtype=float)
            if changed_inputs
            else p_ref[idx].copy()
        )
        y = y_ref[idx].copy()
        for shift in active:
            if shift.kind == "calibration":
                logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
                a = _calibration_offset(logit, shift.strength, float(p.mean()))
                truth = 1 / (1 + np.exp(-(a + shift.strength * logit)))
                y = (rng.random(per_month) < truth).astype(int)
            elif shift.kind == "subgroup":
                members = (_group_of(bundle, shift.variable or "", frame) == shift.group).to_numpy()
                rate = float(p[members].mean()) if members.any() else 0.0
                y[members] = (rng.random(int(members.sum())) < rate).astype(int)
        days = (period.end - period.start).days
        offsets = rng.integers(0, days * 86_400_000, size=per_month)
        frame = frame.assign(probability=p, outcome=y, _offset_ms=offsets)
        out.append(SimulatedMonth(period, frame))
        period = period_of(period.end, "month")
    return out


def simulated_figures(
    sim: Sequence[SimulatedMonth],
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    run_id: str | None = None,
) -> list[PeriodFigures]:
    """Each simulated month's figures, straight from memory (no database)."""
    return [
        period_figures(
            month.frame, profile, plan, period=month.period, simulated=True, run_id=run_id
        )
        for month in sim
    ]


@dataclass(frozen=True)
class SimulationRun:
    """A simulation written to the monitoring tables."""

    run_id: str
    seq: int
    predictions: int
    outcomes: int
    months: tuple[str, ...]
    shifts: tuple[str, ...]


def _stamp(period: Period, offset_ms: int) -> str:
    moment = dt.datetime.combine(period.start, dt.time()) + dt.timedelta(milliseconds=offset_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def write_simulation(
    store: AuditStore,
    bundle: ModelBundle,
    sim: Sequence[SimulatedMonth],
    *,
    plan: MonitoringPlan,
    shifts: Sequence[Shift] = (),
    seed: int = 0,
    run_id: str | None = None,
    actor: Viewer | None = None,
) -> SimulationRun:
    """Write simulated predictions and outcomes, flagged ``simulated``, with one
    ``monitoring_simulated`` entry, in one transaction."""
    run = run_id or uuid.uuid4().hex[:12]
    window = plan.window_days(bundle.card.outcome.time_window)
    predictions, outcomes = _simulated_rows(bundle, sim, run=run, window=window, seed=seed)
    ready_engine(store)
    write_outcomes = outcome_values_writer(outcomes, run_id=run)

    def write(conn: Connection, entry: AuditEntry) -> None:
        rows = [{**row, "source_seq": entry.seq} for row in predictions]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(prediction_log), rows[start : start + 5000])
        write_outcomes(conn, entry)

    who = actor or Viewer("monitor", "caselens monitor", "system")
    entry = store.append(
        AuditEvent(
            actor_id=who.user_id,
            actor_name=who.name,
            actor_role=who.role,
            audience="system",
            action=SIMULATED_ACTION,
            model_id=bundle.model_id,
            model_version=bundle.version,
            detail={
                "run_id": run,
                "simulated": True,
                "predictions": len(predictions),
                "outcomes": len(outcomes),
                "months": [m.period.label for m in sim],
                "seed": seed,
                "shifts": [asdict(s) for s in shifts],
            },
        ),
        alongside=write,
    )
    return SimulationRun(
        run,
        entry.seq,
        len(predictions),
        len(outcomes),
        tuple(m.period.label for m in sim),
        tuple(s.describe() for s in shifts),
    )


def _simulated_rows(
    bundle: ModelBundle,
    sim: Sequence[SimulatedMonth],
    *,
    run: str,
    window: int,
    seed: int,
) -> tuple[list[dict[str, Any]], list[OutcomeRow]]:
    """The prediction-log rows and outcome rows of every simulated case, months in order."""
    sets_of = _conformal(bundle)
    threshold = bundle.card.decision_threshold
    rng = np.random.default_rng(seed + 1)
    predictions: list[dict[str, Any]] = []
    outcomes: list[OutcomeRow] = []
    names = bundle.features.names
    counter = 0
    for month in sim:
        frame = month.frame
        sets = sets_of(frame["probability"].to_numpy(dtype=float))
        records = frame[names].astype(object).where(frame[names].notna(), None)
        for i, values in enumerate(records.to_dict("records")):
            counter += 1
            ref = f"SIM-{run}-{counter:06d}"
            stamp = _stamp(month.period, int(frame["_offset_ms"].iat[i]))
            predictions.append(
                simulated_prediction_row(
                    bundle,
                    run=run,
                    number=counter,
                    patient_ref=ref,
                    stamp=stamp,
                    probability=float(frame["probability"].iat[i]),
                    threshold=threshold,
                    conformal_set=None if sets is None else sets[i],
                    values=values,
                )
            )
            day = dt.date.fromisoformat(stamp[:10])
            outcome = int(frame["outcome"].iat[i])
            # A positive is known some day inside the window; a negative when follow-up ends.
            after = int(rng.integers(0, window + 1)) if outcome else window
            outcomes.append(OutcomeRow(ref, bundle.model_id, outcome, day + dt.timedelta(after)))
    return predictions, outcomes


def _conformal(bundle: ModelBundle) -> Any:
    """A function from probabilities to conformal sets (or to None without a calibration
    split), from the bundle's cached explainer."""
    from caselens.explain.report import explainer_for

    conformal = getattr(explainer_for(bundle).confidence_model, "conformal", None)
    if conformal is None:
        return lambda p: None
    return lambda p: conformal.predict_set(p)


# -- operating characteristics ---------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """How often monitoring raises an alert on unshifted data, and catches each shift."""

    runs: int
    months: int
    per_month: int
    false_alarm_runs: int
    false_alarm_kinds: dict[str, int]
    detections: dict[str, tuple[int, int]]

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarm_runs / self.runs if self.runs else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "months": self.months,
            "per_month": self.per_month,
            "false_alarm_rate": self.false_alarm_rate,
            "false_alarm_runs": self.false_alarm_runs,
            "false_alarm_kinds": self.false_alarm_kinds,
            "detection": {
                name: {"detected": hit, "runs": n, "rate": hit / n if n else None}
                for name, (hit, n) in self.detections.items()
            },
        }


#: Which alert kinds count as catching each shift kind.
EXPECTED_ALERTS = {
    "mix": {"input_psi", "prediction_psi"},
    "shift": {"input_psi", "prediction_psi"},
    "missing": {"input_psi"},
    "calibration": {"calibration_slope"},
    "subgroup": {"subgroup_auroc_drop"},
}


def detected(figures: Sequence[PeriodFigures], plan: MonitoringPlan, shift: Shift) -> bool:
    """Whether an alert of the kind the shift should raise fires in the month it starts."""
    from caselens.monitoring.alerts import evaluate

    alerts, _ = evaluate(figures[shift.start_month], plan)
    wanted = EXPECTED_ALERTS[shift.kind]
    subject_ok = {"input_psi": shift.variable, "subgroup_auroc_drop": None}
    for alert in alerts:
        if alert.kind not in wanted:
            continue
        if alert.kind == "input_psi" and alert.subject != subject_ok["input_psi"]:
            continue
        if (
            alert.kind == "subgroup_auroc_drop"
            and alert.subject != f"{shift.variable}={shift.group}"
        ):
            continue
        return True
    return False


def operating_rates(
    bundle: ModelBundle,
    plan: MonitoringPlan,
    *,
    runs: int,
    months: int,
    per_month: int,
    shifts: Sequence[Shift],
    first_seed: int = 0,
    profile: ReferenceProfile | None = None,
) -> Rates:
    """Run ``runs`` unshifted simulations (the false-alarm rate: runs with any alert in any
    month) and ``runs`` simulations per shift (detected in the month it starts)."""
    from caselens.monitoring.alerts import evaluate

    profile = profile or build_profile(bundle, plan)
    p_ref = profile.probabilities
    alarms = 0
    kinds: dict[str, int] = {}
    for seed in range(first_seed, first_seed + runs):
        sim = simulate_months(
            bundle, months=months, per_month=per_month, seed=seed, reference_probabilities=p_ref
        )
        fired = set()
        for figures in simulated_figures(sim, profile, plan):
            fired |= {a.kind for a in evaluate(figures, plan)[0]}
        if fired:
            alarms += 1
            for kind in fired:
                kinds[kind] = kinds.get(kind, 0) + 1
    detections: dict[str, tuple[int, int]] = {}
    for shift in shifts:
        hits = 0
        for seed in range(first_seed, first_seed + runs):
            sim = simulate_months(
                bundle,
                months=shift.start_month + 1,
                per_month=per_month,
                shifts=[shift],
                seed=10_000 + seed,
                reference_probabilities=p_ref,
            )
            hits += detected(simulated_figures(sim, profile, plan), plan, shift)
        detections[shift.describe()] = (hits, runs)
    return Rates(runs, months, per_month, alarms, kinds, detections)
