"""The statistics monitoring needs, each fast enough to run per period, subgroup and seed.

Closed forms where a standard one exists (Wilson for proportions, Hanley–McNeil for the
AUROC, Wald from the observed information for the logistic calibration fit), so a check
over every subgroup of every month takes milliseconds rather than a bootstrap's seconds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

#: Probabilities are clipped this far from 0 and 1 before taking logits.
_EPS = 1e-6
#: Added to every bin's count before PSI so an empty bin gives a large, finite term.
PSI_SMOOTHING = 0.5
#: A calibration coefficient beyond this means the fit is running away (separation).
_MAX_COEFFICIENT = 50.0


@dataclass(frozen=True)
class Estimate:
    """A figure with its n and, where one applies, its confidence interval."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


@functools.lru_cache(maxsize=16)
def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 at 0.95)."""
    return float(sps.norm.ppf(0.5 + confidence / 2))


def wilson(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """A proportion with its Wilson interval (sound near 0 and 1 and at small n)."""
    if n <= 0:
        return Estimate(None, n=0)
    z = z_value(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    """The AUROC by ranks (the Mann–Whitney statistic), or None with one class only."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = sps.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auroc_se(value: float, n1: int, n0: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUROC from n1 events and n0 non-events."""
    q1 = value / (2 - value)
    q2 = 2 * value * value / (1 + value)
    var = (
        value * (1 - value) + (n1 - 1) * (q1 - value * value) + (n0 - 1) * (q2 - value * value)
    ) / (n1 * n0)
    return math.sqrt(max(var, 1e-12))


def auroc_estimate(y: np.ndarray, p: np.ndarray, confidence: float = 0.95) -> Estimate:
    """AUROC with its Hanley–McNeil interval."""
    value = auroc(y, p)
    if value is None:
        return Estimate(None, n=len(y))
    n1 = int(y.sum())
    se = auroc_se(value, n1, len(y) - n1)
    z = z_value(confidence)
    return Estimate(value, max(0.0, value - z * se), min(1.0, value + z * se), len(y))


@dataclass(frozen=True)
class CalibrationFit:
    """Logistic recalibration: slope, its intercept, and calibration-in-the-large (the
    intercept with the slope fixed at 1), each with its interval."""

    slope: Estimate
    intercept: Estimate
    in_the_large: Estimate


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def calibration_fit(
    y: np.ndarray, p: np.ndarray, confidence: float = 0.95, *, iterations: int = 50
) -> CalibrationFit:
    """Fit ``logit P(y=1) = a + b·logit(p)`` by Newton's method and the offset model
    ``a + logit(p)``; Wald intervals from the observed information.

    The same model as :func:`caselens.model.performance.calibration_slope_intercept`
    (a test keeps them equal), written out so each period and subgroup costs microseconds.
    """
    n = len(y)
    events = int(y.sum())
    if n < 3 or events == 0 or events == n:
        none = Estimate(None, n=n)
        return CalibrationFit(none, none, none)
    z = z_value(confidence)
    x = _logit(p)
    design = np.column_stack([np.ones(n), x])
    beta = np.zeros(2)
    info = np.eye(2)
    converged = False
    for _ in range(iterations):
        q = _expit(design @ beta)
        w = q * (1 - q)
        info = design.T @ (design * w[:, None])
        try:
            step = np.linalg.solve(info, design.T @ (y - q))
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > _MAX_COEFFICIENT:
            break  # separation: the outcomes are perfectly ordered; no finite fit exists
        if np.max(np.abs(step)) < 1e-10:
            converged = True
            break
    none = Estimate(None, n=n)
    slope = intercept = none
    if converged:
        try:
            cov = np.linalg.inv(info)
            se_a, se_b = math.sqrt(max(cov[0, 0], 0.0)), math.sqrt(max(cov[1, 1], 0.0))
            b, a0 = float(beta[1]), float(beta[0])
            slope = Estimate(b, b - z * se_b, b + z * se_b, n)
            intercept = Estimate(a0, a0 - z * se_a, a0 + z * se_a, n)
        except np.linalg.LinAlgError:
            pass
    a = 0.0
    hess = 0.0
    in_the_large = none
    for _ in range(iterations):
        q = _expit(a + x)
        hess = float(np.sum(q * (1 - q)))
        if hess <= 0:
            break
        step = float(np.sum(y - q)) / hess
        a += step
        if abs(step) < 1e-12:
            se = 1 / math.sqrt(hess)
            in_the_large = Estimate(a, a - z * se, a + z * se, n)
            break
    return CalibrationFit(slope, intercept, in_the_large)


def _expit(v: np.ndarray | float) -> np.ndarray:
    # Clipped so a wild step cannot overflow exp; beyond ±30 the probability is 0 or 1 anyway.
    return 1 / (1 + np.exp(-np.clip(v, -30, 30)))


def mean_estimate(values: np.ndarray, confidence: float = 0.95) -> Estimate:
    """A mean with its normal-approximation interval (the Brier score is a mean)."""
    n = len(values)
    if n == 0:
        return Estimate(None, n=0)
    mean = float(values.mean())
    if n < 2:
        return Estimate(mean, n=n)
    half = z_value(confidence) * float(values.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def quantile_edges(reference: ArrayLike, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (ties merged), for PSI on numbers."""
    values = np.asarray(reference, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.array([])
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(edges)


def binned_counts(values: ArrayLike, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (``len(edges) + 1`` bins) plus a last bin for missing values."""
    arr = np.asarray(values, dtype=float)
    missing = ~np.isfinite(arr)
    idx = np.searchsorted(edges, arr[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return np.append(counts, float(missing.sum()))


def psi(reference_counts: Sequence[float], current_counts: Sequence[float]) -> float | None:
    """Population stability index between two binned distributions.

    ``Σ (c − r)·ln(c / r)`` over bins, shares smoothed by :data:`PSI_SMOOTHING` per bin so
    a bin empty on one side counts heavily but finitely; bins empty on both sides are
    dropped (they say nothing).
    """
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    used = (ref + cur) > 0
    ref, cur = ref[used] + PSI_SMOOTHING, cur[used] + PSI_SMOOTHING
    if ref.sum() <= PSI_SMOOTHING * len(ref) or cur.sum() <= PSI_SMOOTHING * len(cur):
        return None
    r = ref / ref.sum()
    c = cur / cur.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def chi_square_p(
    reference_counts: Sequence[float], current_counts: Sequence[float]
) -> float | None:
    """p-value of the chi-square test that two count vectors share one distribution."""
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    used = (ref + cur) > 0
    if used.sum() < 2 or cur.sum() == 0 or ref.sum() == 0:
        return None
    table = np.vstack([ref[used], cur[used]])
    return float(sps.chi2_contingency(table, correction=False)[1])
