"""Pure functions of outcomes and probabilities: the Wilson interval and the reliability curve."""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from caselens.explain.confidence._numbers import (
    INTERVAL_CONFIDENCE,
    _check_outcomes,
    _check_probabilities,
    _round,
)
from caselens.explain.confidence.results import ReliabilityBin


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
