"""Per-bundle confidence figures computed once (:class:`ConfidenceModel`), then one patient's
assessment in microseconds (:meth:`ConfidenceModel.assess`), and the headline's name for the
number."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from caselens.explain.confidence._numbers import (
    INTERVAL_CONFIDENCE,
    _check_outcomes,
    _check_probabilities,
    _percent,
    _round,
)
from caselens.explain.confidence.bootstrap import SIMULATE_COVERAGE_UP_TO, CalibrationBootstrap
from caselens.explain.confidence.conformal import (
    CONFORMAL_METHOD,
    SplitConformalClassifier,
    set_reading,
    set_statement,
)
from caselens.explain.confidence.reliability import reliability_table, wilson_interval
from caselens.explain.confidence.results import (
    ClassCoverage,
    ConfidenceAssessment,
    ConformalSet,
    Neighbourhood,
    ProbabilityInterval,
    Side,
)
from caselens.explain.interval_text import format_interval

if TYPE_CHECKING:
    from caselens.model.bundle import ModelBundle

#: A probability within this many percentage points of the threshold is "near" it.
NEAR_THRESHOLD_POINTS = 5.0
#: The neighbourhood is the K reference patients with the nearest predicted probabilities,
#: K = max(MIN_NEIGHBOURS, NEIGHBOUR_SHARE × n) ...
MIN_NEIGHBOURS = 50
NEIGHBOUR_SHARE = 0.05
#: ... but never more than this share of the reference, so that it stays local on tiny
#: reference sets (61 rows would otherwise make the "neighbourhood" almost everyone) ...
MAX_NEIGHBOUR_SHARE = 0.25
#: ... and never fewer than this many patients (or all of them, if there are fewer).
FLOOR_NEIGHBOURS = 10
#: A neighbourhood whose mean predicted probability is more than this many points from the
#: patient's is "off centre": too few test patients had a risk like this one.
OFF_CENTRE_POINTS = 5.0


def headline_label(calibrated: bool, calibration_method: str | None, outcome: str) -> str:
    """What the probability is called on a screen's headline, in a clinician's words.

    "Chance of heart disease" only for a calibrated model; otherwise "Model score for heart
    disease (not calibrated)" (or "(calibration not stated)"). The calibration method is
    named in the details, never here. Drawn from a report's stored ``calibrated`` and
    ``calibration_method`` at render time, so the stored ``probability_label`` (part of
    every report id, old entries included) is never changed.

    Parameters
    ----------
    calibrated, calibration_method :
        The report's ``ConfidenceAssessment.calibrated`` and ``calibration_method``.
    outcome : str
        The outcome in running text, e.g. "heart disease".
    """
    if calibrated:
        return f"Chance of {outcome}"
    if calibration_method == "none":
        return f"Model score for {outcome} (not calibrated)"
    return f"Model score for {outcome} (calibration not stated)"


def neighbour_count(n_reference: int) -> int:
    """How many reference patients make up a probability neighbourhood (see the constants)."""
    k = max(MIN_NEIGHBOURS, math.ceil(NEIGHBOUR_SHARE * n_reference))
    k = min(k, math.floor(MAX_NEIGHBOUR_SHARE * n_reference))
    return max(min(FLOOR_NEIGHBOURS, n_reference), min(k, n_reference))


class ConfidenceModel:
    """Per-bundle confidence figures, computed once; :meth:`assess` is then cheap.

    Parameters
    ----------
    reference_probabilities : array-like of float
        Calibrated probabilities for the reference (test) split.
    reference_outcomes : array-like of 0/1
    threshold : float
        The card's decision threshold.
    conformal : SplitConformalClassifier or None
        Fitted on the calibration split; None when the bundle has none.
    n_bins : int, default 10
        Bins of the whole-model reliability curve.

    Notes
    -----
    The neighbourhood of a probability is the K reference patients with the nearest
    predicted probabilities (K from :func:`neighbour_count`; ties resolved towards the lower
    probabilities). It is found by binary search over the sorted reference probabilities
    with running sums, so one call costs O(log n).

    The uncertainty range is the 95% Wilson interval of the neighbourhood's observed outcome
    rate: the range of true rates compatible with what happened to the K most similar-risk
    patients the model was tested on. It reflects local calibration evidence, not the
    model's parameter uncertainty (no bootstrap refit).
    """

    def __init__(
        self,
        reference_probabilities: ArrayLike,
        reference_outcomes: ArrayLike,
        *,
        threshold: float,
        conformal: SplitConformalClassifier | None = None,
        n_bins: int = 10,
        calibration_method: str | None = None,
        outcome_labels: tuple[str, str] = ("no outcome", "outcome"),
        bootstrap: CalibrationBootstrap | None = None,
        interval_unavailable_reason: str | None = None,
        conformal_unavailable_reason: str | None = None,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold: expected a probability between 0 and 1, got {threshold}.")
        p = _check_probabilities("reference_probabilities", reference_probabilities)
        y = _check_outcomes("reference_outcomes", reference_outcomes, p.size)
        if p.size == 0:
            raise ValueError("reference_probabilities: the reference split is empty.")
        if conformal is not None:
            conformal._check_fitted()
        order = np.argsort(p, kind="stable")
        self._p_sorted = p[order]
        self._y_sorted = y[order]
        # Running sums (with a leading 0) give any block's events and mean in O(1).
        self._cum_y = np.concatenate([[0], np.cumsum(self._y_sorted)])
        self._cum_p = np.concatenate([[0.0], np.cumsum(self._p_sorted)])
        self._reference_p = p.copy()
        self._reference_p.setflags(write=False)
        self.threshold = float(threshold)
        self.base_rate = float(y.mean())
        self.n_reference = int(p.size)
        self.k_neighbours = neighbour_count(self.n_reference)
        self.conformal = conformal
        self.reliability_curve = reliability_table(y, p, n_bins=n_bins)
        self.empirical_coverage = conformal.coverage_on(p, y) if conformal is not None else None
        self.class_coverage: tuple[ClassCoverage, ...] = ()
        if conformal is not None:
            self.class_coverage = tuple(
                ClassCoverage(
                    label=c,
                    name=outcome_labels[c],
                    calibration_n=conformal.class_counts_[c],
                    quantile=_round(conformal.quantiles_[c]),
                    held_out_n=n_c,
                    held_out_covered=covered,
                    held_out_coverage=_round(covered / n_c) if n_c else None,
                )
                for c, (n_c, covered) in enumerate(conformal.class_coverage_on(p, y))
            )
        self.calibration_method = calibration_method
        self.calibrated = calibration_method not in (None, "none")
        self.outcome_labels = outcome_labels
        self.bootstrap = bootstrap
        self.interval_unavailable_reason = (
            None
            if bootstrap is not None
            else interval_unavailable_reason or "No interval for the probability was computed."
        )
        self.conformal_unavailable_reason = (
            None
            if conformal is not None
            else conformal_unavailable_reason
            or "No conformal set: the bundle has no calibration split to fit one on."
        )

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, *, n_bins: int = 10) -> ConfidenceModel:
        """Predict the bundle's reference and calibration splits once and fit everything.

        Parameters
        ----------
        bundle : ModelBundle
        n_bins : int, default 10

        Returns
        -------
        ConfidenceModel
        """
        reference = bundle.reference
        p_ref = np.asarray(bundle.predict_proba(reference), dtype=float)
        conformal = None
        p_cal = None
        if bundle.calibration_data is not None and len(bundle.calibration_data):
            calibration = bundle.calibration_data
            p_cal = np.asarray(bundle.predict_proba(calibration), dtype=float)
            conformal = SplitConformalClassifier(coverage=bundle.card.conformal_coverage).fit(
                p_cal, calibration["outcome"].to_numpy()
            )
        bootstrap, reason = CalibrationBootstrap.for_bundle(bundle, p_cal)
        if bootstrap is not None and bootstrap.calibration_n <= SIMULATE_COVERAGE_UP_TO:
            bootstrap.simulate_coverage(p_ref)
        outcome = bundle.card.outcome
        return cls(
            p_ref,
            reference["outcome"].to_numpy(),
            threshold=bundle.card.decision_threshold,
            conformal=conformal,
            n_bins=n_bins,
            calibration_method=bundle.card.calibration.method,
            outcome_labels=(outcome.negative_label, outcome.positive_label),
            bootstrap=bootstrap,
            interval_unavailable_reason=reason,
            conformal_unavailable_reason=(
                None
                if conformal is not None
                else "No conformal set: the bundle has no calibration split to fit one on "
                "(the reference split is kept for measuring, not fitting)."
            ),
        )

    @property
    def reference_probabilities(self) -> np.ndarray:
        """Calibrated probabilities of the reference split, in its row order (read-only)."""
        return self._reference_p

    def _neighbour_block(self, probability: float) -> tuple[int, int]:
        # Classic "k closest elements in a sorted array": the block [lo, lo + k) whose
        # farther end is nearest; binary search on the block's start.
        a, k = self._p_sorted, self.k_neighbours
        lo, hi = 0, self.n_reference - k
        while lo < hi:
            mid = (lo + hi) // 2
            if probability - a[mid] > a[mid + k] - probability:
                lo = mid + 1
            else:
                hi = mid
        return lo, lo + k

    def neighbourhood(self, probability: float) -> Neighbourhood:
        """Observed outcomes among the reference patients with the nearest probabilities."""
        start, stop = self._neighbour_block(probability)
        n = stop - start
        events = int(self._cum_y[stop] - self._cum_y[start])
        low, high = wilson_interval(events, n)
        mean_p = float(self._cum_p[stop] - self._cum_p[start]) / n
        p_low, p_high = float(self._p_sorted[start]), float(self._p_sorted[stop - 1])
        outside = not p_low <= probability <= p_high
        caveat = ""
        if outside:
            caveat = (
                f"; no patient in the test data had a predicted probability as "
                f"{'high' if probability > p_high else 'low'} as {_percent(probability)}, "
                "so these are the nearest available"
            )
        off_centre = abs(mean_p - probability) * 100 > OFF_CENTRE_POINTS
        if off_centre:
            caveat += (
                f"; their average predicted risk was {_percent(mean_p)}, not "
                f"{_percent(probability)}: few test patients had a risk like this one"
            )
        return Neighbourhood(
            n=n,
            events=events,
            observed_rate=_round(events / n),
            ci_low=_round(low),
            ci_high=_round(high),
            mean_predicted=_round(mean_p),
            prob_low=_round(p_low),
            prob_high=_round(p_high),
            outside_reference=outside,
            off_centre=off_centre,
            definition=(
                f"the {n:,} patients in the test data whose predicted probability was closest "
                f"to this one ({_percent(p_low)} to {_percent(p_high)}); observed rate with a "
                f"{INTERVAL_CONFIDENCE:.0%} Wilson interval{caveat}"
            ),
        )

    def conformal_set(self, probability: float) -> ConformalSet | None:
        """The conformal prediction set for one probability (None without a calibration split),
        with the statement of what it means next to the threshold (:func:`set_reading`)."""
        if self.conformal is None:
            return None
        t = self.threshold
        side = _side(probability, t)
        labels = self.conformal.predict_set([probability])[0]
        return ConformalSet(
            coverage=float(self.conformal.coverage),
            method=CONFORMAL_METHOD,
            calibration_n=self.conformal.n_calibration_,
            quantile=None,
            labels=labels,
            statement=set_statement(
                labels,
                coverage=float(self.conformal.coverage),
                side=side,
                threshold=t,
                outcome_labels=self.outcome_labels,
            ),
            empirical_coverage=(
                None if self.empirical_coverage is None else _round(self.empirical_coverage)
            ),
            empirical_coverage_n=self.n_reference,
            reading=set_reading(labels, side),
            class_coverage=self.class_coverage,
        )

    def probability_label(self) -> str:
        """How the number is named: calibrated (method named) only when the card says so."""
        if self.calibrated:
            return f"Calibrated probability ({self.calibration_method})"
        if self.calibration_method == "none":
            return "Model probability (not calibrated)"
        return "Model probability (calibration not stated)"

    def assess(self, probability: float) -> ConfidenceAssessment:
        """All confidence figures for one calibrated probability.

        Parameters
        ----------
        probability : float
            The patient's calibrated probability (kept unrounded in the result).

        Returns
        -------
        ConfidenceAssessment

        Raises
        ------
        ValueError
            If the probability is not a finite number in [0, 1].
        """
        p = float(probability)
        if not (math.isfinite(p) and 0 <= p <= 1):
            raise ValueError(f"probability: expected a number between 0 and 1, got {probability}.")
        t = self.threshold
        side = _side(p, t)
        distance = abs(p - t) * 100
        hood = self.neighbourhood(p)
        # The interval is for the probability itself (bootstrap refits of the calibrator);
        # the neighbourhood's observed rate is a separate reliability check. Nothing is
        # widened to fit: when the estimate falls outside the neighbourhood's interval, the
        # assessment says so.
        interval = self.bootstrap.interval(p) if self.bootstrap is not None else None
        range_low = None if interval is None else interval.low
        range_high = None if interval is None else interval.high
        outside = not hood.ci_low <= _round(p) <= hood.ci_high
        reasons = _near_threshold_reasons(distance, t, interval)
        return ConfidenceAssessment(
            probability=p,
            base_rate=_round(self.base_rate),
            threshold=t,
            side=side,
            side_statement=_side_statement(side, t, distance),
            distance_points=_round(distance),
            near_threshold=bool(reasons),
            near_threshold_margin=NEAR_THRESHOLD_POINTS,
            near_threshold_reason="; ".join(reasons) or None,
            conformal=self.conformal_set(p),
            neighbourhood=hood,
            range_low=range_low,
            range_high=range_high,
            range_statement=(
                format_interval(range_low, range_high, style="out_of_100")
                if interval is not None
                else str(self.interval_unavailable_reason)
            ),
            reliability_curve=self.reliability_curve,
            calibrated=self.calibrated,
            calibration_method=self.calibration_method,
            probability_label=self.probability_label(),
            interval=interval,
            interval_unavailable_reason=self.interval_unavailable_reason,
            conformal_unavailable_reason=self.conformal_unavailable_reason,
            neighbourhood_statement=_neighbourhood_statement(p, hood, outside),
            estimate_outside_neighbourhood=outside,
        )


def _side(probability: float, threshold: float) -> Side:
    """Where the probability falls relative to the threshold."""
    return "above" if probability > threshold else "below" if probability < threshold else "at"


def _side_statement(side: Side, threshold: float, distance: float) -> str:
    """E.g. "above the 20% threshold by 3.1 points" (``distance`` in percentage points)."""
    if side == "at":
        return f"at the {_percent(threshold)} threshold"
    return f"{side} the {_percent(threshold)} threshold by {distance:.1f} points"


def _near_threshold_reasons(
    distance: float, threshold: float, interval: ProbabilityInterval | None
) -> list[str]:
    """Why the probability counts as near the threshold (empty when it does not)."""
    reasons = []
    if distance <= NEAR_THRESHOLD_POINTS:
        reasons.append(
            f"within {NEAR_THRESHOLD_POINTS:g} points of the {_percent(threshold)} threshold"
        )
    if interval is not None and interval.low <= threshold <= interval.high:
        reasons.append(
            f"the {_percent(threshold)} threshold lies inside the probability's interval"
        )
    return reasons


def _neighbourhood_statement(probability: float, hood: Neighbourhood, outside: bool) -> str:
    """Whether the estimate lies inside the neighbourhood's observed-rate interval, in words."""
    p = probability
    if outside:
        return (
            f"The estimate {_percent(p)} is {'above' if p > hood.ci_high else 'below'} "
            f"the {INTERVAL_CONFIDENCE:.0%} interval of the rate observed among the "
            f"{hood.n:,} most similar test patients ({_percent(hood.ci_low)} to "
            f"{_percent(hood.ci_high)}; {hood.events} of {hood.n:,} had the outcome)."
        )
    return (
        f"The estimate {_percent(p)} is inside the {INTERVAL_CONFIDENCE:.0%} interval "
        f"of the rate observed among the {hood.n:,} most similar test patients "
        f"({_percent(hood.ci_low)} to {_percent(hood.ci_high)})."
    )
