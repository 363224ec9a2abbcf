"""Shared by the confidence modules: rounding, the shown interval level, input checks, percents."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Confidence level of every Wilson interval shown.
INTERVAL_CONFIDENCE = 0.95
#: Decimals kept in derived figures (the calibrated probability itself is never rounded).
DECIMALS = 6


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


def _percent(x: float) -> str:
    return f"{100 * x:.3g}%"


def _level_text(level: float) -> str:
    """A level as a percent: 95%, 99.5%."""
    return f"{100 * level:g}%"
