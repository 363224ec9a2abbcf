"""Class-conditional split-conformal prediction sets, and what a set may say next to the
threshold."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from caselens.explain.confidence._numbers import _check_outcomes, _check_probabilities, _percent
from caselens.explain.confidence.results import SetReading, Side

NOT_FITTED_MESSAGE = (
    "This SplitConformalClassifier is not fitted yet; call "
    "fit(p_calibration, y_calibration) before predict_set."
)
CONFORMAL_METHOD = (
    "class-conditional (Mondrian) split conformal, score 1 − p(class), fitted on the "
    "calibration split separately for each outcome class; per class, quantile = the "
    "ceil((n_class+1)(1−α))-th smallest score of that class's calibration patients"
)


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
