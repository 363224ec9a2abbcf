"""How close two computed numbers must be to count as the same result on another machine.

A report recomputed on the machine that recorded it reproduces bit for bit. On another CPU
or BLAS build the last bits of a float can differ (about 1e-16 relative): the same maths,
summed in another order. Such a difference is not clinical; a difference above the
tolerance is. The tolerance is stated on screen and stored in every re-run record.
"""

from __future__ import annotations

import math

#: Largest difference accepted between two numbers of a reproduced result: absolute for
#: numbers up to 1 in size (probabilities, contributions), relative above (e.g. a log-odds
#: or a count). Seven orders of magnitude above float rounding noise, and far below the
#: 0.1-percentage-point resolution at which probabilities are shown.
NUMERIC_TOLERANCE = 1e-9


def numeric_difference(a: float, b: float) -> float:
    """Size of the difference between two numbers on the tolerance's scale.

    Absolute below 1 in magnitude, relative above; 0 for two NaNs or two equal infinities,
    ``inf`` when only one side is NaN or infinite.

    Examples
    --------
    >>> numeric_difference(0.25, 0.25)
    0.0
    >>> numeric_difference(0.5, 0.25)  # absolute up to 1
    0.25
    >>> numeric_difference(8.0, 10.0)  # relative above 1
    0.2
    """
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    return abs(a - b) / max(1.0, abs(a), abs(b))


def within_tolerance(a: float, b: float, tolerance: float = NUMERIC_TOLERANCE) -> bool:
    """True when two numbers are the same result up to ``tolerance`` (see module docs)."""
    return numeric_difference(a, b) <= tolerance
