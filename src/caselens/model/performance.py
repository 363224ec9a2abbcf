"""Held-out performance figures for a calibrated binary risk model.

Pure functions of outcomes and predicted probabilities, so that the sample-model build,
the model card and the tests that re-check the card all compute the same numbers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from caselens.model.card import PerformanceFigures

_EPS = 1e-6


@functools.cache
def _thread_controller() -> Any:
    # Scanning the loaded native libraries takes milliseconds: do it once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    The weighted mean of |observed rate − mean predicted| per bin. Sensitive to the bin
    choice, so always report it beside the calibration slope and intercept.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def calibration_slope_intercept(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[float, float]:
    """Calibration slope and intercept (logistic recalibration on the logit of the prediction).

    Slope < 1 means predictions are too extreme; intercept ≠ 0 means systematic over- or
    under-estimation (Van Calster et al. 2019). The intercept is calibration-in-the-large,
    fitted with the slope fixed at 1.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(y_prob, dtype=float), _EPS, 1 - _EPS)
    logit = np.log(p / (1 - p))
    slope_model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)
    # One BLAS/OpenMP thread: on a two-core machine with other work, handing each tiny
    # gradient product to a second thread made this fit about 15x slower (a bundle load runs
    # one per subgroup). The slope then also no longer depends on the machine's core count
    # (with two BLAS threads it differed in the 16th digit).
    with _thread_controller().limit(limits=1):
        slope_model.fit(logit.reshape(-1, 1), y)
    slope = float(slope_model.coef_[0, 0])
    # Intercept with slope fixed at 1: Newton steps on the offset model.
    a = 0.0
    for _ in range(50):
        q = 1 / (1 + np.exp(-(a + logit)))
        grad = float(np.sum(y - q))
        hess = float(np.sum(q * (1 - q)))
        step = grad / hess
        a += step
        if abs(step) < 1e-12:
            break
    return slope, float(a)


def weighted_auroc(y_true: ArrayLike, y_prob: ArrayLike, weights: ArrayLike) -> float:
    """Exact AUROC (ties count one half) of the sample in which row ``i`` appears
    ``weights[i]`` times — a bootstrap resample without copying the rows.

    Equal to ``roc_auc_score`` on the expanded sample; linear after one sort, so 200
    bootstrap resamples of 20,000 patients take a fraction of a second.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(y_prob, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(p, kind="mergesort")
    p, y = p[order], y[order]
    _, starts = np.unique(p, return_index=True)  # one group per distinct probability
    return _sorted_weighted_auroc(y, starts, w[order])


def _sorted_weighted_auroc(y: np.ndarray, starts: np.ndarray, w: np.ndarray) -> float:
    """:func:`weighted_auroc` on rows already sorted by probability (``starts``: the first
    row of each distinct probability), so that bootstrap resamples share one sort."""
    positives = np.add.reduceat(w * (y == 1), starts)
    negatives = np.add.reduceat(w * (y == 0), starts)
    negatives_below = np.cumsum(negatives) - negatives
    total = positives.sum() * negatives.sum()
    return float((positives * (negatives_below + 0.5 * negatives)).sum() / total)


def bootstrap_auroc_ci(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_boot: int = 200, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile 95% bootstrap interval of the AUROC, or None if it cannot be estimated."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(y_prob, dtype=float)
    rng = np.random.default_rng(seed)
    # A resample only reweights the rows: sort by probability once, not per resample (the
    # same operations on the same sorted rows as weighted_auroc, so the same numbers).
    order = np.argsort(p, kind="mergesort")
    y_sorted = y[order]
    _, starts = np.unique(p[order], return_index=True)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            counts = np.bincount(idx, minlength=len(y)).astype(float)
            values.append(_sorted_weighted_auroc(y_sorted, starts, counts[order]))
    if len(values) < n_boot // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def performance_figures(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    threshold: float,
    n_bins: int = 10,
    bootstrap: bool = False,
    seed: int = 0,
) -> PerformanceFigures:
    """Discrimination, threshold and calibration figures, rounded to 4 decimals.

    Figures that cannot be estimated (e.g. AUROC when the group has one class only) are
    None rather than a misleading number.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(y_prob, dtype=float)
    n = len(y)
    events = int(y.sum())
    both = 0 < events < n

    def r(x: float | None) -> float | None:
        return None if x is None else round(float(x), 4)

    predicted_positive = p >= threshold
    tp = int(np.sum(predicted_positive & (y == 1)))
    tn = int(np.sum(~predicted_positive & (y == 0)))
    sens = tp / events if events else None
    spec = tn / (n - events) if n - events else None
    ppv = tp / int(predicted_positive.sum()) if predicted_positive.any() else None
    slope = intercept = None
    if both and n >= 20:
        slope, intercept = calibration_slope_intercept(y, p)
    return PerformanceFigures(
        n=n,
        events=events,
        auroc=r(roc_auc_score(y, p)) if both else None,
        auroc_ci95=bootstrap_auroc_ci(y, p, seed=seed) if (bootstrap and both) else None,
        sensitivity=r(sens),
        specificity=r(spec),
        ppv=r(ppv),
        brier=r(brier_score_loss(y, p)) if n else None,
        ece=r(expected_calibration_error(y, p, n_bins=n_bins)) if n else None,
        calibration_slope=r(slope),
        calibration_intercept=r(intercept),
        observed_rate=r(events / n) if n else None,
        mean_predicted=r(p.mean()) if n else None,
    )
