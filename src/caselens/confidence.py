"""How sure the model is about one patient: threshold, conformal set, local reliability.

Three levels, as in ``sklearn.calibration``:

- pure functions of outcomes and probabilities: :func:`wilson_interval`,
  :func:`reliability_table`;
- an estimator with a workflow: :class:`SplitConformalClassifier` (``fit`` returns ``self``,
  fitted state ends in ``_``, ``predict_set`` before ``fit`` fails naming the fix);
- a per-bundle object computed once: :class:`ConfidenceModel` predicts the reference (test)
  and calibration splits one time each, fits the conformal quantile and the reliability
  curve, and then answers :meth:`ConfidenceModel.assess` for one probability in microseconds.

Every result is a frozen, JSON-able pydantic model (no numpy scalars, no NaN).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

if TYPE_CHECKING:
    from caselens.bundle import ModelBundle

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
#: Confidence level of every Wilson interval shown.
INTERVAL_CONFIDENCE = 0.95
#: Decimals kept in derived figures (the calibrated probability itself is never rounded).
DECIMALS = 6

STATEMENT_HIGH = "confident: high risk"
STATEMENT_LOW = "confident: low risk"
STATEMENT_BOTH = "uncertain: both outcomes plausible"
STATEMENT_EMPTY = "uncertain: neither outcome fits the calibration patients"
NOT_FITTED_MESSAGE = (
    "This SplitConformalClassifier is not fitted yet; call "
    "fit(p_calibration, y_calibration) before predict_set."
)
CONFORMAL_METHOD = (
    "split conformal, LAC score 1 − p(true class), fitted on the calibration split; "
    "quantile = the ceil((n+1)(1−α))-th smallest score"
)

Side = Literal["above", "below", "at"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReliabilityBin(_Frozen):
    """One bin of the reliability curve: predicted against observed, with its evidence.

    ``mean_predicted``, ``observed_rate`` and the interval are None for an empty bin.
    """

    bin_low: float
    bin_high: float
    count: int
    events: int
    mean_predicted: float | None
    observed_rate: float | None
    ci_low: float | None
    ci_high: float | None


class ConformalSet(_Frozen):
    """The split-conformal prediction set for one patient and how it was obtained."""

    coverage: float
    method: str
    calibration_n: int
    quantile: float
    labels: tuple[int, ...]
    statement: str
    empirical_coverage: float | None
    empirical_coverage_n: int


class Neighbourhood(_Frozen):
    """Reference (test) patients whose predicted probability was closest to this one.

    ``prob_low``/``prob_high`` are the lowest and highest predicted probabilities in the
    neighbourhood. ``outside_reference`` is True when the patient's probability lies outside
    that span: no tested patient had a probability this extreme, so the neighbourhood is
    only the nearest available evidence and the definition says so. ``off_centre`` is True
    when the neighbourhood's mean predicted probability is more than ``OFF_CENTRE_POINTS``
    from the patient's (a sparse tail): its observed rate then describes patients at a
    different risk, and the definition says so too.
    """

    n: int
    events: int
    observed_rate: float
    ci_low: float
    ci_high: float
    mean_predicted: float
    prob_low: float
    prob_high: float
    outside_reference: bool
    off_centre: bool
    definition: str


class ConfidenceAssessment(_Frozen):
    """Everything the screen says about how sure the model is for one patient.

    Attributes
    ----------
    probability : float
        The calibrated probability, unrounded.
    base_rate : float
        Observed outcome rate in the reference (test) split.
    threshold : float
        The card's decision threshold.
    side : {'above', 'below', 'at'}
        Where the probability falls relative to the threshold.
    side_statement : str
        E.g. "above the 20% threshold by 3.1 points".
    distance_points : float
        |probability − threshold| in percentage points.
    near_threshold : bool
        True when within ``near_threshold_margin`` points, or when the threshold lies inside
        the uncertainty range.
    near_threshold_margin : float
        The margin in percentage points (``NEAR_THRESHOLD_POINTS``).
    near_threshold_reason : str or None
        Why it is near (None when it is not).
    conformal : ConformalSet or None
        None when the bundle has no calibration split.
    neighbourhood : Neighbourhood
    range_low, range_high : float
        Uncertainty range: the 95% Wilson interval of the neighbourhood's observed rate.
    range_statement : str
        E.g. "between 9 and 13 out of 100".
    reliability_curve : tuple of ReliabilityBin
        The whole model's reliability curve on the reference split.
    """

    probability: float
    base_rate: float
    threshold: float
    side: Side
    side_statement: str
    distance_points: float
    near_threshold: bool
    near_threshold_margin: float
    near_threshold_reason: str | None
    conformal: ConformalSet | None
    neighbourhood: Neighbourhood
    range_low: float
    range_high: float
    range_statement: str
    reliability_curve: tuple[ReliabilityBin, ...]


def _round(x: float) -> float:
    return round(float(x), DECIMALS)


def _check_probabilities(name: str, p: ArrayLike) -> np.ndarray:
    arr = np.asarray(p, dtype=float).ravel()
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{name}: expected probabilities between 0 and 1, got values outside "
            "that range or not finite."
        )
    return arr


def _check_outcomes(name: str, y: ArrayLike, n: int) -> np.ndarray:
    arr = np.asarray(y).ravel()
    if arr.size != n:
        raise ValueError(f"{name}: expected {n} outcomes (one per probability), got {arr.size}.")
    if arr.size and not np.isin(arr, (0, 1)).all():
        seen = sorted(set(arr.tolist()))[:5]
        raise ValueError(f"{name}: expected outcomes coded 0/1, got values such as {seen}.")
    return arr.astype(int)


def wilson_interval(
    successes: int, n: int, *, confidence: float = INTERVAL_CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Preferred to the Wald interval because it stays inside [0, 1] and keeps near-nominal
    coverage for small n and rates near 0 or 1 (Brown, Cai & DasGupta 2001).

    Parameters
    ----------
    successes : int
        Number of events.
    n : int
        Number of trials (must be ≥ 1).
    confidence : float, default 0.95

    Returns
    -------
    (low, high) : tuple of float

    Raises
    ------
    ValueError
        If n < 1 or successes is not between 0 and n.

    Examples
    --------
    >>> low, high = wilson_interval(10, 100)
    >>> round(low, 3), round(high, 3)
    (0.055, 0.174)
    """
    if n < 1:
        raise ValueError(f"n: expected at least 1 trial, got {n}.")
    if not 0 <= successes <= n:
        raise ValueError(f"successes: expected between 0 and n={n}, got {successes}.")
    z = float(norm.ppf(0.5 + confidence / 2))
    rate = successes / n
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    # Clamp only float noise: the exact interval is always inside [0, 1].
    return max(0.0, centre - half), min(1.0, centre + half)


def reliability_table(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """Reliability-curve data: per equal-width probability bin, predicted against observed.

    Binning matches :func:`caselens.validation_metrics.expected_calibration_error` (equal
    widths; a probability of exactly 1 goes in the last bin), so the curve and the card's
    ECE describe the same bins.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_prob : array-like of float in [0, 1]
    n_bins : int, default 10

    Returns
    -------
    tuple of ReliabilityBin
        ``n_bins`` bins in increasing order; counts sum to ``len(y_true)``. Empty bins
        carry ``count=0`` and None for their rates.

    Raises
    ------
    ValueError
        If the lengths differ, outcomes are not 0/1, probabilities are outside [0, 1],
        or n_bins < 1.

    Examples
    --------
    >>> bins = reliability_table([0, 1, 1, 0], [0.1, 0.8, 0.9, 0.3], n_bins=2)
    >>> [b.count for b in bins]
    [2, 2]
    """
    if n_bins < 1:
        raise ValueError(f"n_bins: expected at least 1, got {n_bins}.")
    p = _check_probabilities("y_prob", y_prob)
    y = _check_outcomes("y_true", y_true, p.size)
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        events = int(y[mask].sum())
        if count:
            low, high = wilson_interval(events, count)
            rows.append(
                ReliabilityBin(
                    bin_low=_round(b / n_bins),
                    bin_high=_round((b + 1) / n_bins),
                    count=count,
                    events=events,
                    mean_predicted=_round(p[mask].mean()),
                    observed_rate=_round(events / count),
                    ci_low=_round(low),
                    ci_high=_round(high),
                )
            )
        else:
            rows.append(
                ReliabilityBin(
                    bin_low=_round(b / n_bins),
                    bin_high=_round((b + 1) / n_bins),
                    count=0,
                    events=0,
                    mean_predicted=None,
                    observed_rate=None,
                    ci_low=None,
                    ci_high=None,
                )
            )
    return tuple(rows)


class SplitConformalClassifier(BaseEstimator):
    """Split-conformal prediction sets for a binary classifier's calibrated probabilities.

    Method (LAC / "least ambiguous set-valued classifier", Sadinle, Lei & Wasserman 2019;
    Angelopoulos & Bates 2021, §1): the non-conformity score of a calibration patient is
    ``s = 1 − p(true class)``, with ``p(1) = p`` and ``p(0) = 1 − p``. With n calibration
    scores and α = 1 − coverage, the quantile q̂ is the k-th smallest score with
    ``k = ceil((n + 1)(1 − α))`` — i.e. the empirical quantile at level
    ``ceil((n+1)(1−α))/n``, the finite-sample correction that guarantees coverage ≥ 1 − α
    for an exchangeable new patient. If k > n, q̂ = 1 and every set holds both labels.
    A label y is in a new patient's set when ``1 − p(y) ≤ q̂``.

    The guarantee is marginal (on average over patients), not per patient or per class.
    LAC is used rather than class-conditional (Mondrian) sets because with a rare outcome
    the class-conditional quantile for the positive class puts both labels in nearly every
    set, which says nothing.

    Parameters
    ----------
    coverage : float, default 0.9
        Target share of patients whose true outcome is in their set, in (0, 1).

    Attributes
    ----------
    quantile_ : float
        q̂, the fitted score quantile.
    n_calibration_ : int
        Number of calibration patients.
    k_ : int
        Rank of q̂ among the sorted calibration scores, ``ceil((n+1)(1−α))``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> y = (rng.uniform(size=500) < p).astype(int)
    >>> scp = SplitConformalClassifier(coverage=0.9).fit(p, y)
    >>> scp.predict_set([0.01])
    [(0,)]
    """

    def __init__(self, coverage: float = 0.9) -> None:
        self.coverage = coverage

    def fit(self, p_calibration: ArrayLike, y_calibration: ArrayLike) -> SplitConformalClassifier:
        """Compute the conformal quantile from the calibration split.

        Parameters
        ----------
        p_calibration : array-like of float
            Calibrated probability of the outcome (class 1) for each calibration patient.
        y_calibration : array-like of 0/1
            Their observed outcomes.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If coverage is not in (0, 1), the inputs are empty or mismatched, or outcomes
            are not 0/1.
        """
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage: expected a share between 0 and 1, got {self.coverage}.")
        p = _check_probabilities("p_calibration", p_calibration)
        y = _check_outcomes("y_calibration", y_calibration, p.size)
        if p.size == 0:
            raise ValueError("p_calibration: expected at least one calibration patient, got none.")
        scores = np.where(y == 1, 1 - p, p)
        n = int(p.size)
        alpha = 1 - self.coverage
        # Tiny epsilon: (n+1)(1−α) in floating point can land just above an integer.
        k = math.ceil((n + 1) * (1 - alpha) - 1e-9)
        self.n_calibration_ = n
        self.k_ = k
        self.quantile_ = 1.0 if k > n else float(np.sort(scores)[k - 1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "quantile_"):
            raise NotFittedError(NOT_FITTED_MESSAGE)

    def predict_set_mask(self, p: ArrayLike) -> np.ndarray:
        """Boolean array (n, 2): column y is True when label y is in the patient's set."""
        self._check_fitted()
        arr = _check_probabilities("p", p)
        return np.column_stack([arr <= self.quantile_, 1 - arr <= self.quantile_])

    def predict_set(self, p: ArrayLike) -> list[tuple[int, ...]]:
        """Prediction set for each probability: (), (0,), (1,) or (0, 1).

        Parameters
        ----------
        p : array-like of float
            Calibrated probabilities of the outcome.

        Returns
        -------
        list of tuple of int

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If called before :meth:`fit` (the message names the fix).
        """
        mask = self.predict_set_mask(p)
        return [tuple(int(c) for c in (0, 1) if row[c]) for row in mask]

    def coverage_on(self, p: ArrayLike, y: ArrayLike) -> float:
        """Share of patients whose observed outcome is in their prediction set."""
        mask = self.predict_set_mask(p)
        outcomes = _check_outcomes("y", y, mask.shape[0])
        if outcomes.size == 0:
            raise ValueError("y: expected at least one patient, got none.")
        return float(mask[np.arange(outcomes.size), outcomes].mean())


def set_statement(labels: tuple[int, ...]) -> str:
    """The plain statement for a prediction set ((1,) → 'confident: high risk')."""
    return {(1,): STATEMENT_HIGH, (0,): STATEMENT_LOW, (0, 1): STATEMENT_BOTH}.get(
        tuple(labels), STATEMENT_EMPTY
    )


def neighbour_count(n_reference: int) -> int:
    """How many reference patients make up a probability neighbourhood (see the constants)."""
    k = max(MIN_NEIGHBOURS, math.ceil(NEIGHBOUR_SHARE * n_reference))
    k = min(k, math.floor(MAX_NEIGHBOUR_SHARE * n_reference))
    return max(min(FLOOR_NEIGHBOURS, n_reference), min(k, n_reference))


def _percent(x: float) -> str:
    return f"{100 * x:.3g}%"


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
        if bundle.calibration_data is not None and len(bundle.calibration_data):
            calibration = bundle.calibration_data
            conformal = SplitConformalClassifier(coverage=bundle.card.conformal_coverage).fit(
                np.asarray(bundle.predict_proba(calibration), dtype=float),
                calibration["outcome"].to_numpy(),
            )
        return cls(
            p_ref,
            reference["outcome"].to_numpy(),
            threshold=bundle.card.decision_threshold,
            conformal=conformal,
            n_bins=n_bins,
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
        """The conformal prediction set for one probability (None without a calibration split)."""
        if self.conformal is None:
            return None
        labels = self.conformal.predict_set([probability])[0]
        return ConformalSet(
            coverage=float(self.conformal.coverage),
            method=CONFORMAL_METHOD,
            calibration_n=self.conformal.n_calibration_,
            quantile=_round(self.conformal.quantile_),
            labels=labels,
            statement=set_statement(labels),
            empirical_coverage=(
                None if self.empirical_coverage is None else _round(self.empirical_coverage)
            ),
            empirical_coverage_n=self.n_reference,
        )

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
        side: Side = "above" if p > t else "below" if p < t else "at"
        distance = abs(p - t) * 100
        hood = self.neighbourhood(p)
        # The range always contains the probability shown: where the nearest tested patients
        # sit off-centre (sparse tails), their interval is widened to reach it rather than
        # shown beside a number it does not include.
        range_low, range_high = min(hood.ci_low, _round(p)), max(hood.ci_high, _round(p))
        reasons = []
        if distance <= NEAR_THRESHOLD_POINTS:
            reasons.append(
                f"within {NEAR_THRESHOLD_POINTS:g} points of the {_percent(t)} threshold"
            )
        if range_low <= t <= range_high:
            reasons.append(f"the {_percent(t)} threshold lies inside the uncertainty range")
        side_statement = (
            f"at the {_percent(t)} threshold"
            if side == "at"
            else f"{side} the {_percent(t)} threshold by {distance:.1f} points"
        )
        return ConfidenceAssessment(
            probability=p,
            base_rate=_round(self.base_rate),
            threshold=t,
            side=side,
            side_statement=side_statement,
            distance_points=_round(distance),
            near_threshold=bool(reasons),
            near_threshold_margin=NEAR_THRESHOLD_POINTS,
            near_threshold_reason="; ".join(reasons) or None,
            conformal=self.conformal_set(p),
            neighbourhood=hood,
            range_low=range_low,
            range_high=range_high,
            range_statement=(
                f"between {math.floor(100 * range_low)} and "
                f"{math.ceil(100 * range_high)} out of 100"
            ),
            reliability_curve=self.reliability_curve,
        )
