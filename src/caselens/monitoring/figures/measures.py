"""A period's figures from its predictions: volume; drift of the predicted probabilities
(PSI, two-sample KS) and of each input (PSI, chi-square for categories, missing share,
out-of-range rate); once outcomes are linked, AUROC, calibration, ECE, Brier, observed
rate, realised conformal coverage, sensitivity and specificity at the card's threshold,
the same per subgroup, and the largest gap between the subgroups of one variable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.performance import expected_calibration_error
from caselens.monitoring.figures.calendar_periods import Period
from caselens.monitoring.figures.reference_profile import (
    InputReference,
    ReferenceProfile,
    category_counts,
    group_series,
)
from caselens.monitoring.stats import (
    Estimate,
    auroc_estimate,
    binned_counts,
    calibration_fit,
    chi_square_p,
    mean_estimate,
    psi,
    wilson,
)


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


@dataclass(frozen=True)
class SetHits:
    """Which outcomes each prediction's conformal set held, as arrays (one entry per row).

    ``shown``: a set was shown for the row; ``has0`` / ``has1``: it held outcome 0 / 1.
    Outcomes are 0 or 1, so "the outcome is inside the set" is ``has1`` where y is 1 and
    ``has0`` where y is 0: computed for all rows at once instead of once per row and group.
    """

    shown: np.ndarray
    has0: np.ndarray
    has1: np.ndarray

    @classmethod
    def from_sets(cls, sets: Sequence[tuple[int, ...] | None]) -> SetHits:
        """From one parsed set (or None) per row."""
        return cls(
            np.array([s is not None for s in sets], dtype=bool),
            np.array([s is not None and 0 in s for s in sets], dtype=bool),
            np.array([s is not None and 1 in s for s in sets], dtype=bool),
        )

    def subset(self, mask: np.ndarray) -> SetHits:
        """The rows selected by a boolean mask."""
        return SetHits(self.shown[mask], self.has0[mask], self.has1[mask])


def performance(
    y: np.ndarray,
    p: np.ndarray,
    sets: Sequence[tuple[int, ...] | None] | SetHits | None,
    *,
    threshold: float,
    plan: MonitoringPlan,
    min_n: int,
    min_events: int,
) -> Performance:
    """The performance figures of predictions ``p`` against outcomes ``y`` (0 or 1)."""
    n = len(y)
    events = int(y.sum())
    conf = plan.confidence
    fit = calibration_fit(y, p, conf)
    positive = p >= threshold
    coverage = Estimate(None, n=0)
    by_class: dict[str, Estimate] = {}
    hits = SetHits.from_sets(sets) if isinstance(sets, Sequence) else sets
    if hits is not None and hits.shown.any():
        shown = hits.shown
        ys = y[shown]
        hit = np.where(ys == 1, hits.has1[shown], hits.has0[shown])
        coverage = wilson(int(hit.sum()), len(ys), conf)
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


def _parse_sets(values: pd.DataFrame) -> list[tuple[int, ...] | None] | None:
    if "conformal_set" not in values or values["conformal_set"].isna().all():
        return None
    return [
        None if text is None or (isinstance(text, float)) else tuple(json.loads(text))
        for text in values["conformal_set"]
    ]


def category_drift(counts: np.ndarray, n: int, ref: InputReference, conf: float) -> InputDrift:
    """A category input's drift from its counts (known categories, other, missing)."""
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


def number_drift(numbers: np.ndarray, ref: InputReference, conf: float) -> InputDrift:
    """A number input's drift from its values (NaN where missing)."""
    n = len(numbers)
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


def _input_drift(frame: pd.DataFrame, ref: InputReference, conf: float) -> InputDrift:
    n = len(frame)
    column = frame[ref.name] if ref.name in frame else pd.Series([None] * n, index=frame.index)
    if ref.kind == "category":
        return category_drift(category_counts(column, ref.categories), n, ref, conf)
    return number_drift(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), ref, conf)


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
    ``outcome`` and ``conformal_set`` columns).

    The straightforward computation, from a DataFrame: simulations use it, and the tests
    hold the database's fast path (:func:`columns_figures`) equal to it.
    """
    n = len(frame)
    p = frame["probability"].to_numpy(dtype=float) if n else np.array([])
    inputs = (
        tuple(_input_drift(frame, ref, plan.confidence) for ref in profile.inputs.values())
        if n
        else ()
    )
    has_outcome = (
        frame["outcome"].notna().to_numpy() if "outcome" in frame else np.zeros(n, dtype=bool)
    )
    y = pk = hits = None
    groups: dict[str, np.ndarray] = {}
    if has_outcome.any():
        known = frame[has_outcome]
        y = known["outcome"].to_numpy(dtype=int)
        pk = known["probability"].to_numpy(dtype=float)
        sets = _parse_sets(known)
        hits = None if sets is None else SetHits.from_sets(sets)
        groups = {
            spec.name: group_series(known[spec.name], spec).to_numpy()
            for spec in profile.subgroup_features
            if spec.name in known
        }
    versions = (
        tuple(sorted(set(frame["model_version"].dropna()))) if "model_version" in frame else ()
    )
    return assemble(
        p,
        inputs,
        has_outcome,
        y,
        pk,
        hits,
        groups,
        versions,
        profile,
        plan,
        period=period,
        displays=displays,
        simulated=simulated,
        run_id=run_id,
    )


def assemble(
    p: np.ndarray,
    inputs: tuple[InputDrift, ...],
    has_outcome: np.ndarray,
    y: np.ndarray | None,
    pk: np.ndarray | None,
    hits: SetHits | None,
    groups: dict[str, np.ndarray],
    versions: tuple[str, ...],
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    period: Period,
    displays: int | None,
    simulated: bool,
    run_id: str | None,
) -> PeriodFigures:
    """A period's figures from its arrays: the statistics shared by both ways of reading a
    period (only how the rows become arrays differs between :func:`period_figures` and
    :func:`~caselens.monitoring.figures.column_measures.columns_figures`)."""
    n = len(p)
    notes: list[str] = []
    ks = ks_p = None
    if n >= 2:
        result = sps.ks_2samp(p, profile.probabilities)
        ks, ks_p = float(result.statistic), float(result.pvalue)
    perf = None
    subgroups: list[SubgroupFigures] = []
    gap = None
    if y is not None and pk is not None:
        perf = performance(
            y,
            pk,
            hits,
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
        subgroups, gap = _subgroup_figures(groups, y, pk, hits, profile, plan)
    if 0 < n < plan.min_predictions:
        notes.append(
            f"Drift is shown but not judged: {n} predictions; the plan needs "
            f"{plan.min_predictions}."
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
    groups_of: dict[str, np.ndarray],
    y: np.ndarray,
    p: np.ndarray,
    hits: SetHits | None,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
) -> tuple[list[SubgroupFigures], dict[str, Any] | None]:
    out: list[SubgroupFigures] = []
    gap: dict[str, Any] | None = None
    for spec in profile.subgroup_features:
        if spec.name not in groups_of:
            continue
        groups = groups_of[spec.name]
        judged: list[SubgroupFigures] = []
        for group in sorted(pd.unique(groups)):
            mask = groups == group
            figures = SubgroupFigures(
                spec.name,
                str(group),
                performance(
                    y[mask],
                    p[mask],
                    None if hits is None else hits.subset(mask),
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
