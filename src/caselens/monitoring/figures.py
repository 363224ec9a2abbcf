"""Monitoring figures for one model and one period, each with its n and interval.

The reference is the bundle's own reference data (the held-out rows every figure CaseLens
shows about a model is measured on): the predicted-probability and input distributions,
the training ranges, and the AUROC overall and per subgroup. A period's figures are
computed from that model's prediction-log rows of that period only, read in one query,
with the outcomes of those patients linked in a second: never from the whole trail.

* volume: displays, and distinct predictions (one patient's report shown to the clinician
  and previewed for the patient is one prediction);
* drift: PSI and a two-sample KS test of the predicted probabilities; per input, PSI over
  reference-quantile bins (numbers) or categories, with a missing bin, a chi-square test
  for categories, the missing share and the out-of-range rate (outside the training range
  or categories);
* once outcomes are linked: AUROC, calibration-in-the-large, calibration slope, ECE,
  Brier, observed vs mean predicted rate, realised conformal coverage (overall and per
  outcome class), sensitivity and specificity at the card's threshold; the same per
  subgroup, and the largest gap between the subgroups of one variable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sqlalchemy import Engine, func, select

from caselens.bundle import ModelBundle
from caselens.features import FeatureSpec
from caselens.monitoring.plan import MonitoringPlan
from caselens.monitoring.stats import (
    Estimate,
    auroc_estimate,
    binned_counts,
    calibration_fit,
    chi_square_p,
    mean_estimate,
    psi,
    quantile_edges,
    wilson,
)
from caselens.monitoring.tables import current_outcome, outcome_table, prediction_log
from caselens.validation_metrics import expected_calibration_error

#: The group name of a missing subgroup value (the card's spelling).
NOT_RECORDED = "not recorded"
#: Patient references looked up per outcome query.
_CHUNK = 500


# -- the reference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InputReference:
    """One input's reference distribution."""

    name: str
    kind: str
    edges: np.ndarray | None
    categories: tuple[str, ...]
    counts: np.ndarray
    missing_share: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReferenceProfile:
    """What a period is compared with, measured once on the bundle's reference rows."""

    model_id: str
    threshold: float
    probabilities: np.ndarray
    probability_edges: np.ndarray
    probability_counts: np.ndarray
    inputs: dict[str, InputReference]
    auroc: Estimate
    subgroup_auroc: dict[tuple[str, str], Estimate]
    subgroup_features: tuple[FeatureSpec, ...]
    n: int


def _category_counts(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Counts per known category, then one for any other value, then one for missing."""
    missing = values.isna()
    text = values[~missing].astype(str)
    known = [int((text == c).sum()) for c in categories]
    other = int((~text.isin(categories)).sum())
    return np.array([*known, other, int(missing.sum())], dtype=float)


def _group_series(values: pd.Series, spec: FeatureSpec) -> pd.Series:
    return values.map(lambda v: spec.subgroup_of(v) or NOT_RECORDED)


def build_profile(
    bundle: ModelBundle, plan: MonitoringPlan, probabilities: np.ndarray | None = None
) -> ReferenceProfile:
    """Measure the reference once: distributions, ranges, AUROC overall and per subgroup."""
    reference = bundle.reference
    p = (
        np.asarray(bundle.predict_proba(reference), dtype=float)
        if probabilities is None
        else probabilities
    )
    y = reference["outcome"].to_numpy(dtype=int)
    edges = quantile_edges(p, plan.psi_bins)
    inputs: dict[str, InputReference] = {}
    for spec in bundle.features:
        column = reference[spec.name]
        if spec.kind == "category":
            cats = tuple(spec.categories or ())
            counts = _category_counts(column, cats)
            inputs[spec.name] = InputReference(
                spec.name, spec.kind, None, cats, counts, float(column.isna().mean()), None, None
            )
        else:
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            e = quantile_edges(numbers, plan.psi_bins)
            inputs[spec.name] = InputReference(
                spec.name,
                spec.kind,
                e,
                (),
                binned_counts(numbers, e),
                float(np.mean(~np.isfinite(numbers))),
                spec.training_min,
                spec.training_max,
            )
    subgroups = tuple(bundle.features.subgroup_features)
    by_group: dict[tuple[str, str], Estimate] = {}
    for spec in subgroups:
        groups = _group_series(reference[spec.name], spec).to_numpy()
        for group in pd.unique(groups):
            mask = groups == group
            by_group[(spec.name, str(group))] = auroc_estimate(y[mask], p[mask], plan.confidence)
    return ReferenceProfile(
        model_id=bundle.model_id,
        threshold=bundle.card.decision_threshold,
        probabilities=p,
        probability_edges=edges,
        probability_counts=binned_counts(p, edges),
        inputs=inputs,
        auroc=auroc_estimate(y, p, plan.confidence),
        subgroup_auroc=by_group,
        subgroup_features=subgroups,
        n=len(y),
    )


# -- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One month ('2026-03') or ISO week ('2026-W05'): ``start <= day < end``."""

    label: str
    start: dt.date
    end: dt.date


def period_of(day: dt.date, kind: str) -> Period:
    """The month or ISO week holding ``day``."""
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + dt.timedelta(days=7))
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return Period(f"{start:%Y-%m}", start, end)


def parse_period(label: str, kind: str | None = None) -> Period:
    """A period from its label ('2026-03' or '2026-W05')."""
    if "-W" in label:
        year, week = label.split("-W")
        return period_of(dt.date.fromisocalendar(int(year), int(week), 1), "week")
    if kind == "week":
        raise ValueError(f"'{label}' is not a week label such as 2026-W05")
    return period_of(dt.date.fromisoformat(f"{label}-01"), "month")


def _source_filter(simulated: bool, run_id: str | None) -> list[Any]:
    c = prediction_log.c
    conditions: list[Any] = [c.simulated.is_(simulated)]
    if simulated and run_id is not None:
        conditions.append(c.run_id == run_id)
    return conditions


def periods(
    engine: Engine, model_id: str, kind: str, *, simulated: bool = False, run_id: str | None = None
) -> list[Period]:
    """Every period from the model's first logged prediction to its last."""
    c = prediction_log.c
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(c.recorded_on), func.max(c.recorded_on)).where(
                c.model_id == model_id, *_source_filter(simulated, run_id)
            )
        ).one()
    if first is None:
        return []
    out = [period_of(dt.date.fromisoformat(first), kind)]
    stop = dt.date.fromisoformat(last)
    while out[-1].end <= stop:
        out.append(period_of(out[-1].end, kind))
    return out


def read_period(
    engine: Engine,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    simulated: bool = False,
    run_id: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The period's predictions (one row per distinct prediction, inputs as columns,
    ``outcome`` linked or NaN) and the number of displays they came from."""
    c = prediction_log.c
    stmt = (
        select(
            c.id,
            c.patient_ref,
            c.report_id,
            c.recorded_on,
            c.model_version,
            c.probability,
            c.conformal_set,
            c.inputs_json,
        )
        .where(
            c.model_id == model_id,
            *_source_filter(simulated, run_id),
            c.recorded_at >= period.start.isoformat(),
            c.recorded_at < period.end.isoformat(),
        )
        .order_by(c.id)
    )
    with engine.connect() as conn:
        # Plain tuples: pandas probes each SQLAlchemy Row for attributes, which is slow.
        rows = pd.DataFrame(
            [tuple(row) for row in conn.execute(stmt)],
            columns=[k.name for k in stmt.selected_columns],
        )
        displays = len(rows)
        if rows.empty:
            return rows.assign(outcome=pd.Series(dtype=float)), 0
        rows = rows.drop_duplicates(["patient_ref", "report_id"], keep="first")
        linked = link_outcomes(conn, model_id, rows, window_days=window_days, simulated=simulated)
    rows = rows.assign(outcome=linked)
    inputs = pd.DataFrame([json.loads(text) for text in rows["inputs_json"]], index=rows.index)
    return pd.concat([rows.drop(columns=["inputs_json"]), inputs], axis=1), displays


def link_outcomes(
    conn: Any, model_id: str, rows: pd.DataFrame, *, window_days: int, simulated: bool
) -> np.ndarray:
    """Each prediction's outcome: 1 if any outcome of that patient and model known within
    ``[prediction day, prediction day + window]`` is 1, else 0 if one is known, else NaN."""
    refs = sorted({r for r in rows["patient_ref"] if r is not None})
    t = outcome_table.c
    found = []
    for start in range(0, len(refs), _CHUNK):
        found += [
            tuple(row)
            for row in conn.execute(
                select(t.patient_ref, t.known_on, current_outcome()).where(
                    t.model_id == model_id,
                    t.simulated.is_(simulated),
                    t.patient_ref.in_(refs[start : start + _CHUNK]),
                )
            )
        ]
    if not found:
        return np.full(len(rows), np.nan)
    outcomes = pd.DataFrame(found, columns=["patient_ref", "known_on", "outcome"])
    left = rows[["patient_ref", "recorded_on"]].reset_index(names="row")
    merged = left.merge(outcomes, on="patient_ref")
    day = pd.to_datetime(merged["recorded_on"])
    known = pd.to_datetime(merged["known_on"])
    inside = (known >= day) & (known <= day + pd.Timedelta(days=window_days))
    best = merged[inside].groupby("row")["outcome"].max()
    return left["row"].map(best).to_numpy(dtype=float)


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputDrift:
    """One input in one period compared with the reference."""

    name: str
    kind: str
    n: int
    psi: float | None
    chi_square_p: float | None
    ks_p: float | None
    missing_share: Estimate
    reference_missing_share: float
    out_of_range: Estimate


@dataclass(frozen=True)
class Performance:
    """Discrimination, calibration, coverage and threshold figures on linked outcomes."""

    n: int
    events: int
    auroc: Estimate
    calibration_in_the_large: Estimate
    calibration_slope: Estimate
    ece: float | None
    brier: Estimate
    observed_rate: Estimate
    mean_predicted: float | None
    coverage: Estimate
    coverage_by_class: dict[str, Estimate]
    sensitivity: Estimate
    specificity: Estimate
    judged: bool


@dataclass(frozen=True)
class SubgroupFigures:
    """One subgroup's performance now and its AUROC on the reference."""

    variable: str
    group: str
    performance: Performance
    reference_auroc: Estimate


@dataclass(frozen=True)
class PeriodFigures:
    """Everything measured for one model in one period."""

    model_id: str
    period: str
    start: str
    end: str
    simulated: bool
    run_id: str | None
    versions: tuple[str, ...]
    displays: int
    predictions: int
    with_outcomes: int
    drift_judged: bool
    prediction_psi: float | None
    prediction_ks: float | None
    prediction_ks_p: float | None
    mean_probability: float | None
    inputs: tuple[InputDrift, ...]
    performance: Performance | None
    reference_auroc: Estimate
    subgroups: tuple[SubgroupFigures, ...] = ()
    largest_gap: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures (numbers, not arrays)."""
        return asdict(self)


def performance(
    y: np.ndarray,
    p: np.ndarray,
    sets: list[tuple[int, ...] | None] | None,
    *,
    threshold: float,
    plan: MonitoringPlan,
    min_n: int,
    min_events: int,
) -> Performance:
    """The performance figures of predictions ``p`` against outcomes ``y``."""
    n = len(y)
    events = int(y.sum())
    conf = plan.confidence
    fit = calibration_fit(y, p, conf)
    positive = p >= threshold
    coverage = Estimate(None, n=0)
    by_class: dict[str, Estimate] = {}
    if sets is not None:
        known = [i for i, s in enumerate(sets) if s is not None]
        if known:
            hit = np.array([int(y[i]) in (sets[i] or ()) for i in known])
            coverage = wilson(int(hit.sum()), len(known), conf)
            ys = y[known]
            for label in (0, 1):
                mask = ys == label
                by_class[str(label)] = wilson(int(hit[mask].sum()), int(mask.sum()), conf)
    return Performance(
        n=n,
        events=events,
        auroc=auroc_estimate(y, p, conf),
        calibration_in_the_large=fit.in_the_large,
        calibration_slope=fit.slope,
        ece=expected_calibration_error(y, p, n_bins=plan.ece_bins) if n else None,
        brier=mean_estimate((p - y) ** 2, conf),
        observed_rate=wilson(events, n, conf),
        mean_predicted=float(p.mean()) if n else None,
        coverage=coverage,
        coverage_by_class=by_class,
        sensitivity=wilson(int((positive & (y == 1)).sum()), events, conf),
        specificity=wilson(int((~positive & (y == 0)).sum()), n - events, conf),
        judged=n >= min_n and min(events, n - events) >= min_events,
    )


def _parse_sets(values: pd.Series) -> list[tuple[int, ...] | None] | None:
    if "conformal_set" not in values or values["conformal_set"].isna().all():
        return None
    return [
        None if text is None or (isinstance(text, float)) else tuple(json.loads(text))
        for text in values["conformal_set"]
    ]


def _input_drift(frame: pd.DataFrame, ref: InputReference, conf: float) -> InputDrift:
    n = len(frame)
    column = frame[ref.name] if ref.name in frame else pd.Series([None] * n, index=frame.index)
    if ref.kind == "category":
        counts = _category_counts(column, ref.categories)
        missing = int(counts[-1])
        outside = int(counts[-2])
        return InputDrift(
            ref.name,
            ref.kind,
            n,
            psi(ref.counts, counts),
            chi_square_p(ref.counts, counts),
            None,
            wilson(missing, n, conf),
            ref.missing_share,
            wilson(outside, n - missing, conf),
        )
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    counts = binned_counts(numbers, ref.edges if ref.edges is not None else np.array([]))
    outside = 0
    if ref.low is not None:
        outside += int((finite < ref.low).sum())
    if ref.high is not None:
        outside += int((finite > ref.high).sum())
    return InputDrift(
        ref.name,
        ref.kind,
        n,
        psi(ref.counts, counts),
        None,
        None,
        wilson(n - len(finite), n, conf),
        ref.missing_share,
        wilson(outside, len(finite), conf),
    )


def period_figures(
    frame: pd.DataFrame,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    period: Period,
    displays: int | None = None,
    simulated: bool = False,
    run_id: str | None = None,
) -> PeriodFigures:
    """All figures of one period from its predictions (``probability``, inputs, optional
    ``outcome`` and ``conformal_set`` columns)."""
    conf = plan.confidence
    n = len(frame)
    p = frame["probability"].to_numpy(dtype=float) if n else np.array([])
    notes: list[str] = []
    ks = ks_p = None
    if n >= 2:
        result = sps.ks_2samp(p, profile.probabilities)
        ks, ks_p = float(result.statistic), float(result.pvalue)
    inputs = tuple(_input_drift(frame, ref, conf) for ref in profile.inputs.values()) if n else ()
    has_outcome = (
        frame["outcome"].notna().to_numpy() if "outcome" in frame else np.zeros(n, dtype=bool)
    )
    perf = None
    subgroups: list[SubgroupFigures] = []
    gap = None
    if has_outcome.any():
        known = frame[has_outcome]
        y = known["outcome"].to_numpy(dtype=int)
        pk = known["probability"].to_numpy(dtype=float)
        sets = _parse_sets(known)
        perf = performance(
            y,
            pk,
            sets,
            threshold=profile.threshold,
            plan=plan,
            min_n=plan.min_outcomes,
            min_events=plan.min_events,
        )
        if not perf.judged:
            notes.append(
                f"Performance is shown but not judged: {perf.n} predictions with outcomes "
                f"({perf.events} events); the plan needs {plan.min_outcomes} with at least "
                f"{plan.min_events} of each outcome."
            )
        subgroups, gap = _subgroup_figures(known, y, pk, sets, profile, plan)
    if 0 < n < plan.min_predictions:
        notes.append(
            f"Drift is shown but not judged: {n} predictions; the plan needs "
            f"{plan.min_predictions}."
        )
    versions = (
        tuple(sorted(set(frame["model_version"].dropna()))) if "model_version" in frame else ()
    )
    if len(versions) > 1:
        notes.append(f"More than one model version in this period: {', '.join(versions)}.")
    return PeriodFigures(
        model_id=profile.model_id,
        period=period.label,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        simulated=simulated,
        run_id=run_id,
        versions=versions,
        displays=n if displays is None else displays,
        predictions=n,
        with_outcomes=int(has_outcome.sum()),
        drift_judged=n >= plan.min_predictions,
        prediction_psi=psi(profile.probability_counts, binned_counts(p, profile.probability_edges))
        if n
        else None,
        prediction_ks=ks,
        prediction_ks_p=ks_p,
        mean_probability=float(p.mean()) if n else None,
        inputs=inputs,
        performance=perf,
        reference_auroc=profile.auroc,
        subgroups=tuple(subgroups),
        largest_gap=gap,
        notes=tuple(notes),
    )


def _subgroup_figures(
    known: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    sets: list[tuple[int, ...] | None] | None,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
) -> tuple[list[SubgroupFigures], dict[str, Any] | None]:
    out: list[SubgroupFigures] = []
    gap: dict[str, Any] | None = None
    for spec in profile.subgroup_features:
        if spec.name not in known:
            continue
        groups = _group_series(known[spec.name], spec).to_numpy()
        judged: list[SubgroupFigures] = []
        for group in sorted(pd.unique(groups)):
            mask = groups == group
            idx = np.flatnonzero(mask)
            figures = SubgroupFigures(
                spec.name,
                str(group),
                performance(
                    y[mask],
                    p[mask],
                    None if sets is None else [sets[i] for i in idx],
                    threshold=profile.threshold,
                    plan=plan,
                    min_n=plan.min_subgroup_outcomes,
                    min_events=plan.min_subgroup_events,
                ),
                profile.subgroup_auroc.get((spec.name, str(group)), Estimate(None)),
            )
            out.append(figures)
            if figures.performance.judged and figures.performance.auroc.value is not None:
                judged.append(figures)
        if len(judged) >= 2:
            best = max(judged, key=lambda f: f.performance.auroc.value or 0.0)
            worst = min(judged, key=lambda f: f.performance.auroc.value or 0.0)
            value = (best.performance.auroc.value or 0.0) - (worst.performance.auroc.value or 0.0)
            ref_gap = None
            if best.reference_auroc.value is not None and worst.reference_auroc.value is not None:
                ref_gap = best.reference_auroc.value - worst.reference_auroc.value
            if gap is None or value > gap["value"]:
                gap = {
                    "variable": spec.name,
                    "higher": best.group,
                    "lower": worst.group,
                    "value": value,
                    "reference_value": ref_gap,
                }
    return out, gap


def auroc_drop(now: Estimate, reference: Estimate, confidence: float) -> Estimate:
    """Reference AUROC minus current AUROC, with an interval that carries the uncertainty of
    both (each from Hanley–McNeil, taken as independent samples)."""
    if now.value is None or reference.value is None or now.low is None or reference.low is None:
        return Estimate(None)
    # Half-widths are z·SE, so combining them in quadrature is z·sqrt(SE_now² + SE_ref²).
    now_half = (now.high - now.low) / 2 if now.high is not None else 0.0
    ref_half = (reference.high - reference.low) / 2 if reference.high is not None else 0.0
    half = float(np.hypot(now_half, ref_half))
    value = reference.value - now.value
    return Estimate(value, value - half, value + half, now.n)


def iter_figures(
    engine: Engine,
    bundle: ModelBundle,
    plan: MonitoringPlan,
    *,
    profile: ReferenceProfile | None = None,
    simulated: bool = False,
    run_id: str | None = None,
    only: str | None = None,
) -> Iterator[PeriodFigures]:
    """Figures for each period of a model's log (or only the period labelled ``only``)."""
    profile = profile or build_profile(bundle, plan)
    window = plan.window_days(bundle.card.outcome.time_window)
    chosen = (
        [parse_period(only, plan.period)]
        if only
        else periods(engine, bundle.model_id, plan.period, simulated=simulated, run_id=run_id)
    )
    for period in chosen:
        frame, displays = read_period(
            engine,
            bundle.model_id,
            period,
            window_days=window,
            simulated=simulated,
            run_id=run_id,
        )
        yield period_figures(
            frame,
            profile,
            plan,
            period=period,
            displays=displays,
            simulated=simulated,
            run_id=run_id,
        )


def simulated_runs(engine: Engine, model_id: str) -> list[str]:
    """The ids of the simulated runs logged for a model, most recent first."""
    t = prediction_log.c
    query = (
        select(t.run_id, func.max(t.id))
        .where(t.model_id == model_id, t.simulated.is_(True), t.run_id.is_not(None))
        .group_by(t.run_id)
        .order_by(func.max(t.id).desc())
    )
    with engine.connect() as conn:
        return [str(row[0]) for row in conn.execute(query)]
