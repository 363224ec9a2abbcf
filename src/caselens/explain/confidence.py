"""How sure the model is about one patient: threshold, conformal set, local reliability.

Three levels, as in ``sklearn.calibration``:

- pure functions of outcomes and probabilities: :func:`wilson_interval`,
  :func:`reliability_table`;
- estimators with a workflow: :class:`SplitConformalClassifier` (class-conditional split
  conformal; ``fit`` returns ``self``, fitted state ends in ``_``, ``predict_set`` before
  ``fit`` fails naming the fix) and :class:`CalibrationBootstrap` (an interval for the
  calibrated probability from bootstrap refits of the bundle's sigmoid calibrator);
- a per-bundle object computed once: :class:`ConfidenceModel` predicts the reference (test)
  and calibration splits one time each, fits the conformal quantile and the reliability
  curve, and then answers :meth:`ConfidenceModel.assess` for one probability in microseconds.

Every result is a frozen, JSON-able pydantic model (no numpy scalars, no NaN).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

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
#: Confidence level of every Wilson interval shown.
INTERVAL_CONFIDENCE = 0.95
#: Decimals kept in derived figures (the calibrated probability itself is never rounded).
DECIMALS = 6

#: Bootstrap refits of the calibrator behind each probability interval, and their seed.
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0
#: The interval's coverage is simulated when a bundle is loaded if its calibration split has
#: at most this many patients (small splits are where a percentile bootstrap falls short).
SIMULATE_COVERAGE_UP_TO = 2000
#: Percentile levels tried, narrowest first, until the interval's own simulation shows it
#: holding the true probability at least as often as the stated level (a percentile
#: bootstrap on a small calibration split falls short of its nominal level: 90% for 95%
#: on 61 patients). The widest is kept, and the level stated as "about N%", if none does.
CANDIDATE_LEVELS = (0.95, 0.96, 0.97, 0.98, 0.99, 0.995)
#: A model's probabilities are taken to end in one sigmoid calibrator fitted on the
#: bundle's calibration split when a Platt refit of their log-odds on that split returns
#: slope −1 and intercept 0 within this (an ONNX file's float32 probabilities move the refit
#: by about 1e-6; a different calibrator or split moves it by far more).
RECOVERED_CALIBRATOR_TOLERANCE = 1e-3

#: What a prediction set means, jointly with the threshold statement (see :func:`set_reading`).
SetReading = Literal["both", "positive_only", "negative_only", "neither", "conflict"]
NOT_FITTED_MESSAGE = (
    "This SplitConformalClassifier is not fitted yet; call "
    "fit(p_calibration, y_calibration) before predict_set."
)
CONFORMAL_METHOD = (
    "class-conditional (Mondrian) split conformal, score 1 − p(class), fitted on the "
    "calibration split separately for each outcome class; per class, quantile = the "
    "ceil((n_class+1)(1−α))-th smallest score of that class's calibration patients"
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


class ClassCoverage(_Frozen):
    """One outcome class of a class-conditional conformal set: how it was fitted and how often
    the set held the true outcome for held-out (reference) patients of that class."""

    label: int
    name: str
    calibration_n: int
    quantile: float
    held_out_n: int
    held_out_covered: int
    held_out_coverage: float | None


class ConformalSet(_Frozen):
    """The conformal prediction set for one patient, what it means and how it was obtained.

    ``statement`` is the sentence shown; ``reading`` says which case of the joint rule
    (:func:`set_reading`) it is. ``empirical_coverage`` is measured on the reference
    (held-out) split, overall; ``class_coverage`` per outcome class. Reports recorded before
    class-conditional sets have one marginal ``quantile`` and no ``reading`` or
    ``class_coverage``.
    """

    coverage: float
    method: str
    calibration_n: int
    quantile: float | None
    labels: tuple[int, ...]
    statement: str
    empirical_coverage: float | None
    empirical_coverage_n: int
    reading: SetReading | None = None
    class_coverage: tuple[ClassCoverage, ...] = ()


class ProbabilityInterval(_Frozen):
    """An uncertainty interval for the probability itself, with its construction.

    ``level`` is the level aimed at (95%). ``nominal_level`` is the percentile range used to
    reach it (wider than ``level`` when the simulation showed the narrower one falling
    short); ``level_reached`` says whether the interval's own simulation
    (``simulated_coverage``) reached ``level``: True, False (then the level is stated as
    "about" the simulated coverage), or None when no simulation was run. Reports recorded
    before these fields have them None (``nominal_level`` was then ``level``).
    ``calibrator`` says where the refitted calibrator came from: the model's own sigmoid
    calibrator, or one recovered from the model's probabilities (an ONNX file).
    """

    low: float
    high: float
    level: float
    method: str
    resamples: int
    seed: int
    calibration_n: int
    simulated_coverage: float | None = None
    simulated_runs: int = 0
    nominal_level: float | None = None
    level_reached: bool | None = None
    calibrator: Literal["model", "recovered"] = "model"


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
    range_low, range_high : float or None
        The probability interval's ends (``interval``), or None when no interval for the
        probability can be given. In reports recorded before intervals existed they held
        the neighbourhood's Wilson interval, widened to include the probability.
    range_statement : str
        E.g. "between 9 and 13 out of 100", or why no interval is given.
    reliability_curve : tuple of ReliabilityBin
        The whole model's reliability curve on the reference split.
    calibrated : bool
        True only when the model card names a calibration method (not "none").
    calibration_method : str or None
        The card's calibration method.
    probability_label : str
        How the number is named on every screen: "Calibrated probability (sigmoid)" or
        "Model probability (not calibrated)".
    interval : ProbabilityInterval or None
    interval_unavailable_reason : str or None
        Why no interval for the probability is given (None when one is).
    conformal_unavailable_reason : str or None
        Why no conformal set is given (None when one is).
    neighbourhood_statement : str or None
        Whether the probability lies inside the neighbourhood's observed-rate interval.
    estimate_outside_neighbourhood : bool
        True when it does not.
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
    range_low: float | None
    range_high: float | None
    range_statement: str
    reliability_curve: tuple[ReliabilityBin, ...]
    calibrated: bool = True
    calibration_method: str | None = None
    probability_label: str = "Calibrated probability"
    interval: ProbabilityInterval | None = None
    interval_unavailable_reason: str | None = None
    conformal_unavailable_reason: str | None = None
    neighbourhood_statement: str | None = None
    estimate_outside_neighbourhood: bool = False


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


@functools.lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


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
    z = _z(confidence)
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

    Binning matches :func:`caselens.model.performance.expected_calibration_error` (equal
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
    """Class-conditional (Mondrian) split-conformal prediction sets for a binary classifier.

    Method (Vovk et al. 2005, "Mondrian conformal predictors"; Angelopoulos & Bates 2021,
    §4.1 "class-conditional conformal"; Sadinle, Lei & Wasserman 2019, §4.3): the score of
    label y for a patient is ``s_y = 1 − p(y)``, with ``p(1) = p`` and ``p(0) = 1 − p``. For
    each class y separately, take the ``n_y`` calibration patients whose outcome was y and
    their scores ``1 − p(y)``; with α = 1 − coverage, the class quantile q̂_y is the k_y-th
    smallest of them, ``k_y = ceil((n_y + 1)(1 − α))`` (q̂_y = 1 when k_y > n_y: the label is
    then always kept). A label y is in a new patient's set when ``1 − p(y) ≤ q̂_y``.

    The guarantee is per outcome class: for an exchangeable new patient whose outcome is y,
    ``P(y ∈ set) ≥ 1 − α`` — for those who had the outcome and for those who did not. The
    marginal (LAC) set used before held the rare class far less often than its stated
    coverage (an overall 90% could be 68% among the patients who had the outcome).

    A label left out of the set means: at most α of the calibration patients with that
    outcome had an estimate this far from it. It does not mean the other outcome is likely.

    Parameters
    ----------
    coverage : float, default 0.9
        Target share, within each outcome class, of patients whose true outcome is in
        their set, in (0, 1).

    Attributes
    ----------
    quantiles_ : tuple of float
        (q̂_0, q̂_1), the fitted class quantiles.
    class_counts_ : tuple of int
        (n_0, n_1), calibration patients per class.
    ranks_ : tuple of int
        (k_0, k_1).
    n_calibration_ : int
        Number of calibration patients.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> y = (rng.uniform(size=500) < p).astype(int)
    >>> scp = SplitConformalClassifier(coverage=0.9).fit(p, y)
    >>> scp.predict_set([0.01, 0.5, 0.99])
    [(0,), (0, 1), (1,)]
    """

    def __init__(self, coverage: float = 0.9) -> None:
        self.coverage = coverage

    def fit(self, p_calibration: ArrayLike, y_calibration: ArrayLike) -> SplitConformalClassifier:
        """Compute the two class quantiles from the calibration split.

        Parameters
        ----------
        p_calibration : array-like of float
            Probability of the outcome (class 1) for each calibration patient.
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
        alpha = 1 - self.coverage
        quantiles, counts, ranks = [], [], []
        for label in (0, 1):
            scores = np.sort(1 - p[y == 1] if label == 1 else p[y == 0])
            n = int(scores.size)
            # Tiny epsilon: (n+1)(1−α) in floating point can land just above an integer.
            k = math.ceil((n + 1) * (1 - alpha) - 1e-9)
            quantiles.append(1.0 if k > n else float(scores[k - 1]))
            counts.append(n)
            ranks.append(k)
        self.quantiles_ = tuple(quantiles)
        self.class_counts_ = tuple(counts)
        self.ranks_ = tuple(ranks)
        self.n_calibration_ = int(p.size)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "quantiles_"):
            raise NotFittedError(NOT_FITTED_MESSAGE)

    def predict_set_mask(self, p: ArrayLike) -> np.ndarray:
        """Boolean array (n, 2): column y is True when label y is in the patient's set."""
        self._check_fitted()
        arr = _check_probabilities("p", p)
        q0, q1 = self.quantiles_
        return np.column_stack([arr <= q0, 1 - arr <= q1])

    def predict_set(self, p: ArrayLike) -> list[tuple[int, ...]]:
        """Prediction set for each probability: (), (0,), (1,) or (0, 1).

        Parameters
        ----------
        p : array-like of float
            Probabilities of the outcome.

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

    def class_coverage_on(self, p: ArrayLike, y: ArrayLike) -> tuple[tuple[int, int], ...]:
        """Per class (0, then 1): (patients of that class, of whom covered by their set)."""
        mask = self.predict_set_mask(p)
        outcomes = _check_outcomes("y", y, mask.shape[0])
        return tuple(
            (int((outcomes == c).sum()), int(mask[outcomes == c, c].sum())) for c in (0, 1)
        )


def set_reading(labels: tuple[int, ...], side: Side) -> SetReading:
    """The joint rule: what a prediction set may say, given the threshold statement.

    - (0, 1) → "both": the set cannot rule out either outcome.
    - () → "neither": no outcome fits; an unusual case.
    - (1,) → "positive_only" only when the probability is *above* the threshold;
      (0,) → "negative_only" only when it is *below*. A single-label set on the other side
      of (or exactly at) the threshold → "conflict": the set and the threshold point
      different ways, and the statement says so instead of naming one outcome as the only
      one consistent with the evidence. So a set statement can never contradict the
      threshold statement on the same screen.
    """
    labels = tuple(labels)
    if labels == (0, 1):
        return "both"
    if labels == (1,):
        return "positive_only" if side == "above" else "conflict"
    if labels == (0,):
        return "negative_only" if side == "below" else "conflict"
    return "neither"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


def set_statement(
    labels: tuple[int, ...],
    *,
    coverage: float = 0.9,
    side: Side = "at",
    threshold: float = 0.5,
    outcome_labels: tuple[str, str] = ("no outcome", "outcome"),
) -> str:
    """What a prediction set means, in words, jointly with the threshold (see
    :func:`set_reading`). ``outcome_labels`` are the card's (negative, positive) labels."""
    level = f"{100 * coverage:.0f}%"
    miss = f"{100 * (1 - coverage):.0f}%"
    names = tuple(f'"{_lower_first(n)}"' for n in outcome_labels)
    reading = set_reading(labels, side)
    if reading == "both":
        return (
            f"At {level} confidence the model cannot rule out either outcome "
            f"({names[1]} or {names[0]})."
        )
    if reading == "neither":
        return (
            f"At {level} confidence neither outcome fits: patients of both outcomes rarely "
            "had an estimate like this one, so treat the result as unusual."
        )
    only = labels[0]
    other = 1 - only
    extreme = "high" if only == 1 else "low"
    if reading == "conflict":
        where = "at" if side == "at" else side
        return (
            f"At {level} confidence the set holds only {names[only]}, while the probability "
            f"is {where} the {_percent(threshold)} threshold: the two point different ways "
            "for this patient, so neither outcome can be taken as settled."
        )
    return (
        f"At {level} confidence only {names[only]} is consistent with similar patients: "
        f"{miss} or fewer of the calibration patients with {names[other]} had an estimate "
        f"this {extreme}."
    )


def neighbour_count(n_reference: int) -> int:
    """How many reference patients make up a probability neighbourhood (see the constants)."""
    k = max(MIN_NEIGHBOURS, math.ceil(NEIGHBOUR_SHARE * n_reference))
    k = min(k, math.floor(MAX_NEIGHBOUR_SHARE * n_reference))
    return max(min(FLOOR_NEIGHBOURS, n_reference), min(k, n_reference))


def _percent(x: float) -> str:
    return f"{100 * x:.3g}%"


def _level_text(level: float) -> str:
    """A level as a percent: 95%, 99.5%."""
    return f"{100 * level:g}%"


def _platt_targets(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # Platt's smoothed targets, exactly as sklearn's sigmoid calibration sets them.
    prior1 = weights @ y
    prior0 = weights.sum(axis=1) - prior1
    return np.where(
        y[None, :] == 1, ((prior1 + 1) / (prior1 + 2))[:, None], (1 / (prior0 + 2))[:, None]
    )


def platt_fit(
    scores: ArrayLike,
    outcomes: ArrayLike,
    weights: np.ndarray | None = None,
    *,
    start: tuple[float, float] | None = None,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid (Platt) calibration fits, one per row of ``weights``, by Newton's method.

    Solves the objective of scikit-learn's ``sigmoid`` calibration — log-loss against
    Platt's smoothed targets, with sample weights — for every weight vector at once, so a
    few hundred bootstrap refits (weights = resample counts) cost a few vectorised passes.
    The fitted probability is ``1 / (1 + exp(a·score + b))`` (sklearn's convention).

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        The base model's decision values (or probabilities) on the calibration split.
    outcomes : array-like of 0/1, shape (n,)
    weights : ndarray of shape (B, n), optional
        One weight vector per fit; default: one unweighted fit.
    start : (a, b), optional
        Where Newton's method starts (e.g. the fit on all patients, for bootstrap refits);
        default: slope 0 at the weighted mean log-odds.
    max_iter : int, default 100

    Returns
    -------
    (a, b) : two arrays of shape (B,)

    Raises
    ------
    ValueError
        If a fit does not converge.
    """
    f = np.asarray(scores, dtype=float).ravel()
    y = _check_outcomes("outcomes", outcomes, f.size).astype(float)
    w = np.ones((1, f.size)) if weights is None else np.asarray(weights, dtype=float)
    centre, scale = float(f.mean()), float(f.std()) or 1.0
    x = (f - centre) / scale
    targets = _platt_targets(y, w)
    # z = alpha·x + beta is the log-odds; start from the weighted-mean log-odds.
    mean_t = np.clip((w * targets).sum(axis=1) / w.sum(axis=1), 1e-6, 1 - 1e-6)
    alpha = np.zeros(w.shape[0])
    beta = np.log(mean_t / (1 - mean_t))
    if start is not None:
        # alpha·x + beta = −(a·f + b) with x = (f − centre)/scale.
        alpha = np.full(w.shape[0], -start[0] * scale)
        beta = np.full(w.shape[0], -(start[1] + start[0] * centre))
    for _ in range(max_iter):
        z = alpha[:, None] * x[None, :] + beta[:, None]
        prob = 1 / (1 + np.exp(-z))
        resid = w * (prob - targets)
        curv = w * prob * (1 - prob)
        g_a, g_b = resid @ x, resid.sum(axis=1)
        h_aa, h_ab, h_bb = curv @ (x * x), curv @ x, curv.sum(axis=1)
        det = h_aa * h_bb - h_ab * h_ab
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        alpha, beta = alpha - step_a, beta - step_b
        if np.all(np.abs(step_a) + np.abs(step_b) < 1e-10):
            break
    else:
        raise ValueError("platt_fit: Newton's method did not converge.")
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))):
        raise ValueError("platt_fit: the fit is not finite.")
    # Back to the original scores and sklearn's sign convention p = 1/(1+exp(a·f + b)).
    return -alpha / scale, -(beta - alpha * centre / scale)


def _sigmoid(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(np.clip(a * f + b, -700, 700)))


class CalibrationBootstrap:
    """An interval for a sigmoid-calibrated probability: bootstrap refits of the calibrator.

    Construction: the bundle's model is a ``CalibratedClassifierCV`` around a frozen base
    model, with one sigmoid calibrator fitted on the bundle's calibration split. The base
    model is held fixed; the calibrator is refitted (same objective, :func:`platt_fit`) on
    ``resamples`` bootstrap resamples (with replacement, same size) of the calibration
    split. A patient's interval is the (α/2, 1 − α/2) percentile range of their
    probability under the refits. It measures how much the probability depends on which
    patients happened to be in the calibration split; it does not include the base
    model's own training uncertainty, and it is never widened to fit anything.

    Since the calibrator is monotone, the patient's base score is recovered from the
    calibrated probability itself (``f = (log(1/p − 1) − b) / a``), so the interval needs
    nothing but the probability.

    Parameters
    ----------
    scores, outcomes : array-like
        The base model's scores on the calibration split and the observed outcomes.
    a, b : float
        The bundle's fitted calibrator (``p = 1/(1+exp(a·f+b))``).
    resamples : int, default BOOTSTRAP_RESAMPLES
    level : float, default INTERVAL_CONFIDENCE
    seed : int, default BOOTSTRAP_SEED
    """

    def __init__(
        self,
        scores: ArrayLike,
        outcomes: ArrayLike,
        *,
        a: float,
        b: float,
        resamples: int = BOOTSTRAP_RESAMPLES,
        level: float = INTERVAL_CONFIDENCE,
        seed: int = BOOTSTRAP_SEED,
        calibrator: Literal["model", "recovered"] = "model",
    ) -> None:
        f = np.asarray(scores, dtype=float).ravel()
        y = _check_outcomes("outcomes", outcomes, f.size)
        if f.size == 0 or a == 0 or not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError("CalibrationBootstrap: needs calibration patients and a slope ≠ 0.")
        self.a, self.b = float(a), float(b)
        self.resamples, self.level, self.seed = int(resamples), float(level), int(seed)
        self.calibration_n = int(f.size)
        self._scores, self._outcomes = f, y
        self.simulated_coverage: float | None = None
        self.simulated_runs = 0
        #: The percentile range used; widened by :meth:`simulate_coverage` when needed.
        self.nominal_level = self.level
        self.level_reached: bool | None = None
        #: Simulated coverage of every candidate percentile range tried.
        self.coverage_by_level: dict[float, float] = {}
        self.calibrator = calibrator
        rng = np.random.default_rng(seed)
        slopes, intercepts = [], []
        # Resample counts as weights; in chunks so a 20,000-patient split stays small.
        for start in range(0, self.resamples, 50):
            size = min(50, self.resamples - start)
            draws = rng.integers(0, f.size, size=(size, f.size))
            counts = np.stack([np.bincount(d, minlength=f.size) for d in draws])
            ra, rb = platt_fit(f, y, counts, start=(self.a, self.b))
            slopes.append(ra)
            intercepts.append(rb)
        self.slopes_ = np.concatenate(slopes)
        self.intercepts_ = np.concatenate(intercepts)

    def simulate_coverage(
        self, held_out_probabilities: ArrayLike, *, runs: int = 60, resamples: int = 100
    ) -> float:
        """How often the interval holds the true calibrated probability, by simulation, and
        the narrowest percentile range that holds it at the stated level.

        Truth is the bundle's own calibrator. Each run draws new calibration outcomes from
        it (same calibration scores), refits the calibrator, builds the bootstrap interval
        from that refit and checks it at the held-out (reference) patients' scores, for
        every percentile range of :data:`CANDIDATE_LEVELS` at once. The narrowest range
        whose share covered (over all runs and patients) reaches ``level`` becomes the
        interval (``nominal_level``; ``level_reached`` True); if none does, the widest is
        kept and ``level_reached`` is False, so the level is stated as "about" what was
        measured. The chosen range's share is returned and kept on the object.
        """
        p = np.clip(_check_probabilities("held_out", held_out_probabilities), 1e-15, 1 - 1e-15)
        f_held = (np.log(1 / p - 1) - self.b) / self.a
        truth = _sigmoid(np.float64(self.a), np.float64(self.b), f_held)
        truth_cal = _sigmoid(np.float64(self.a), np.float64(self.b), self._scores)
        candidates = sorted({self.level, *(c for c in CANDIDATE_LEVELS if c > self.level)})
        rng = np.random.default_rng(self.seed + 1)
        covered: dict[float, list[float]] = {c: [] for c in candidates}
        for run in range(runs):
            y = (rng.uniform(size=self._scores.size) < truth_cal).astype(int)
            a, b = platt_fit(self._scores, y)
            refit = CalibrationBootstrap(
                self._scores, y, a=a[0], b=b[0], resamples=resamples, level=self.level, seed=run
            )
            ordered = refit._ordered_refits(_sigmoid(a[0], b[0], f_held))
            for level in candidates:
                low, high = refit._ends(ordered, level)
                covered[level].append(float(np.mean((low <= truth) & (truth <= high))))
        self.coverage_by_level = {c: float(np.mean(v)) for c, v in covered.items()}
        reaching = [c for c in candidates if self.coverage_by_level[c] >= self.level]
        self.level_reached = bool(reaching)
        self.nominal_level = reaching[0] if reaching else candidates[-1]
        self.simulated_coverage = self.coverage_by_level[self.nominal_level]
        self.simulated_runs = runs
        return self.simulated_coverage

    def method(self) -> str:
        """The construction, in one sentence, with its simulated coverage when measured."""
        calibrator = (
            "the sigmoid calibrator"
            if self.calibrator == "model"
            else "the model's final sigmoid calibration step (recovered from its own "
            "probabilities on the calibration split, where a refit reproduces it exactly)"
        )
        text = (
            f"{_level_text(self.nominal_level)} percentile bootstrap: {calibrator} refitted "
            f"on {self.resamples} resamples of the {self.calibration_n:,}-patient calibration "
            f"split (seed {self.seed}), base model held fixed; it shows the calibration "
            "step's uncertainty, not the base model's"
        )
        if self.simulated_coverage is not None:
            text += (
                f". In {self.simulated_runs} simulations on this bundle's held-out patients it "
                f"held the true calibrated probability {100 * self.simulated_coverage:.1f}% of "
                "the time"
            )
            if self.nominal_level != self.level and self.level_reached:
                text += (
                    f" (the {_level_text(self.level)} range held it only "
                    f"{100 * self.coverage_by_level[self.level]:.1f}% of the time, so the "
                    f"{_level_text(self.nominal_level)} range is used to reach "
                    f"{_level_text(self.level)})"
                )
            elif self.level_reached is False:
                text += f", short of {_level_text(self.level)}, so its level is stated as that"
        else:
            text += ". Its level was not checked by simulation on this bundle"
        return text

    def _ordered_refits(self, probabilities: ArrayLike) -> np.ndarray:
        """The refitted calibrators' probabilities, sorted, one column per probability."""
        p = np.clip(_check_probabilities("probabilities", probabilities), 1e-15, 1 - 1e-15)
        f = (np.log(1 / p - 1) - self.b) / self.a
        refits = _sigmoid(self.slopes_[:, None], self.intercepts_[:, None], f[None, :])
        return np.sort(refits, axis=0)

    def intervals(self, probabilities: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Interval ends for many probabilities (vectorised), at ``nominal_level``."""
        return self._ends(self._ordered_refits(probabilities), self.nominal_level)

    def _ends(self, ordered: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        # Percentiles with numpy's default (linear) rule, written out: it is the hot path.
        ends = []
        for share in ((1 - level) / 2, 1 - (1 - level) / 2):
            position = share * (self.resamples - 1)
            below = math.floor(position)
            above = min(below + 1, self.resamples - 1)
            weight = position - below
            ends.append(ordered[below] + weight * (ordered[above] - ordered[below]))
        return ends[0], ends[1]

    def interval(self, probability: float) -> ProbabilityInterval:
        """The interval for one probability."""
        low, high = self.intervals([probability])
        return ProbabilityInterval(
            low=_round(low[0]),
            high=_round(high[0]),
            level=self.level,
            method=self.method(),
            resamples=self.resamples,
            seed=self.seed,
            calibration_n=self.calibration_n,
            simulated_coverage=(
                None if self.simulated_coverage is None else _round(self.simulated_coverage)
            ),
            simulated_runs=self.simulated_runs,
            nominal_level=self.nominal_level,
            level_reached=self.level_reached,
            calibrator=self.calibrator,
        )

    @classmethod
    def for_bundle(
        cls, bundle: ModelBundle, calibration_probabilities: ArrayLike | None = None
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """The bootstrap for a bundle, or None and the reason no interval can be given.

        ``calibration_probabilities`` (the model's probabilities on the calibration split)
        spare a second pass of the model when the caller already has them."""
        method = bundle.card.calibration.method
        if method == "none":
            return None, (
                "The model is not calibrated (model card: calibration method 'none'), so no "
                "interval for the probability can be given."
            )
        model = bundle.model
        calibrated = getattr(model, "calibrated_classifiers_", None)
        unsupported = (
            "CaseLens gives an interval for the probability only for a CalibratedClassifierCV "
            "with one sigmoid calibrator around a frozen base model, fitted on the bundle's "
            f"calibration split; this model ({type(model).__name__}) is not one, so no "
            "interval is given."
        )
        if bundle.calibration_data is None or not len(bundle.calibration_data):
            return None, "The bundle has no calibration split, so no interval can be given."
        if (
            type(model).__name__ != "CalibratedClassifierCV"
            or getattr(model, "method", None) != "sigmoid"
            or method != "sigmoid"
            or not calibrated
            or len(calibrated) != 1
            or type(calibrated[0].estimator).__name__ != "FrozenEstimator"
            or len(calibrated[0].calibrators) != 1
            or list(getattr(model, "classes_", [])) != [0, 1]
        ):
            # Not a model CaseLens can open up (an ONNX file, another library's pipeline):
            # the same method applies when its probabilities are one sigmoid fitted on the
            # calibration split, which a refit of their log-odds there shows.
            if method != "sigmoid":
                return None, unsupported
            return cls.recovered(bundle, calibration_probabilities)
        calibrator = calibrated[0].calibrators[0]
        try:
            a, b = float(calibrator.a_), float(calibrator.b_)
            if calibration_probabilities is None:
                calibration_probabilities = bundle.predict_proba(bundle.calibration_data)
            shown = _check_probabilities("calibration_probabilities", calibration_probabilities)
            # The calibrator is p = 1/(1+exp(a·f+b)), so the base scores are recovered from
            # the model's own probabilities without calling the base model again.
            clipped = np.clip(shown, 1e-15, 1 - 1e-15)
            scores = (np.log(1 / clipped - 1) - b) / a
            return cls(scores, bundle.calibration_data["outcome"].to_numpy(), a=a, b=b), None
        except (AttributeError, ValueError, TypeError, ZeroDivisionError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"

    @classmethod
    def recovered(
        cls, bundle: ModelBundle, calibration_probabilities: ArrayLike | None = None
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """The bootstrap for a model whose calibrator cannot be read (an ONNX file), when its
        probabilities show it ends in one sigmoid fitted on the bundle's calibration split.

        A Platt refit of the model's log-odds ``z`` on the calibration split gives
        ``p = 1/(1+exp(a·z+b))``; for a sigmoid calibrator fitted on that split (on any
        base score, since ``z`` is an affine function of it) the refit is exactly
        ``a = −1, b = 0``. Then ``z`` serves as the base score and the bootstrap is the
        same as with the calibrator in hand. Otherwise no interval, and the reason says why.
        """
        outcomes = bundle.calibration_data["outcome"].to_numpy()  # type: ignore[index]
        try:
            if calibration_probabilities is None:
                calibration_probabilities = bundle.predict_proba(bundle.calibration_data)
        except (ValueError, TypeError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"
        return cls.from_probabilities(
            calibration_probabilities, outcomes, model_name=type(bundle.model).__name__
        )

    @classmethod
    def from_probabilities(
        cls, calibration_probabilities: ArrayLike, outcomes: ArrayLike, *, model_name: str
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """:meth:`recovered` from a model's probabilities on the calibration split and the
        outcomes there (``model_name`` names the model in the reason when there is none)."""
        try:
            shown = _check_probabilities("calibration_probabilities", calibration_probabilities)
            clipped = np.clip(shown, 1e-15, 1 - 1e-15)
            log_odds = np.log(clipped / (1 - clipped))
            a, b = platt_fit(log_odds, outcomes)
        except (ValueError, TypeError, ZeroDivisionError, FloatingPointError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"
        slope, intercept = float(a[0]), float(b[0])
        if (
            abs(slope + 1) > RECOVERED_CALIBRATOR_TOLERANCE
            or abs(intercept) > RECOVERED_CALIBRATOR_TOLERANCE
        ):
            return None, (
                f"No interval for the probability: this model ({model_name}) "
                "cannot be opened up, and its probabilities are not one sigmoid calibration "
                "fitted on the bundle's calibration split (refitting one there changes them: "
                f"slope {-slope:.3f}, shift {-intercept:.3f}, where 1 and 0 would mean it is). "
                "The interval refits that calibration step, so without it none can be given."
            )
        return cls(log_odds, outcomes, a=-1.0, b=0.0, calibrator="recovered"), None


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
        side: Side = "above" if probability > t else "below" if probability < t else "at"
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
        side: Side = "above" if p > t else "below" if p < t else "at"
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
        if outside:
            neighbourhood_statement = (
                f"The estimate {_percent(p)} is {'above' if p > hood.ci_high else 'below'} "
                f"the {INTERVAL_CONFIDENCE:.0%} interval of the rate observed among the "
                f"{hood.n:,} most similar test patients ({_percent(hood.ci_low)} to "
                f"{_percent(hood.ci_high)}; {hood.events} of {hood.n:,} had the outcome)."
            )
        else:
            neighbourhood_statement = (
                f"The estimate {_percent(p)} is inside the {INTERVAL_CONFIDENCE:.0%} interval "
                f"of the rate observed among the {hood.n:,} most similar test patients "
                f"({_percent(hood.ci_low)} to {_percent(hood.ci_high)})."
            )
        reasons = []
        if distance <= NEAR_THRESHOLD_POINTS:
            reasons.append(
                f"within {NEAR_THRESHOLD_POINTS:g} points of the {_percent(t)} threshold"
            )
        if interval is not None and interval.low <= t <= interval.high:
            reasons.append(f"the {_percent(t)} threshold lies inside the probability's interval")
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
            neighbourhood_statement=neighbourhood_statement,
            estimate_outside_neighbourhood=outside,
        )
