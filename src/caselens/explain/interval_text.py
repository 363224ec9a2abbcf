"""How a range of probabilities is printed: one rounding, everywhere.

Every screen that prints a probability range (the clinician's result card, the patient's
page, a replay, an export) calls :func:`format_interval`, so the same report never shows
"4% – 4%" on one screen and "3.6% to 4.4%" on another.

The rule: the ends are rounded *outwards* (the low end down, the high end up), so the
printed range always contains the computed one, and with just enough decimals that the
printed width stays close to the real one. A range narrower than
:data:`MIN_PRINTED_WIDTH_POINTS` is not printed as two ends at all (they would be equal or
carry false precision): it reads "about 4.0%, uncertain by less than 0.1 points".

The patient's page counts whole people out of 100 (``style="whole_people"``): the same
outward rounding to whole numbers, and when both ends would round to the same number (a
range of zero width, or one that sits on a whole number) the range is widened by one person
outward, so its ends always differ and it still holds the computed range.
:func:`printed_ends` gives the printed ends as numbers (the patient's sentences are
translated around them); :func:`format_interval` words them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

__all__ = [
    "MIN_PRINTED_WIDTH_POINTS",
    "IntervalStyle",
    "format_interval",
    "format_percent",
    "interval_decimals",
    "printed_ends",
]

#: A range at least one percentage point wide is printed in whole percents.
WHOLE_POINTS_FROM = 1.0
#: A narrower range is printed with one decimal, down to this width (in points); below it
#: the ends would need two decimals, which a clinician cannot act on: "about X%" instead.
MIN_PRINTED_WIDTH_POINTS = 0.1
#: Float noise allowed when rounding outwards (100 × 0.07 is 7.000000000000001).
_SLACK = 1e-9

IntervalStyle = Literal["percent", "out_of_100", "whole_people"]


def _check(name: str, x: float) -> float:
    value = float(x)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}: expected a probability between 0 and 1, got {x!r}.")
    return value


def interval_decimals(low: float, high: float) -> int | None:
    """Decimals of a percent the range is printed with (0 or 1), or None when it is narrower
    than :data:`MIN_PRINTED_WIDTH_POINTS` and is printed as "about X%"."""
    width = 100 * (_check("high", high) - _check("low", low))
    if width >= WHOLE_POINTS_FROM:
        return 0
    if width >= MIN_PRINTED_WIDTH_POINTS:
        return 1
    return None


def _number(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def format_percent(probability: float) -> str:
    """A single probability as printed on every screen: one decimal, e.g. ``"3.9%"``."""
    return f"{100 * _check('probability', probability):.1f}%"


def printed_ends(
    low: float, high: float, *, style: IntervalStyle = "percent"
) -> tuple[float, float] | None:
    """The ends of the range ``low``–``high`` as printed, in percent (or people out of 100).

    Parameters
    ----------
    low, high : float
        The range's ends, probabilities with ``0 <= low <= high <= 1``.
    style : {'percent', 'out_of_100', 'whole_people'}
        ``"whole_people"``: whole numbers, always two different ones (see the module notes);
        the other styles: 0 or 1 decimal by :func:`interval_decimals`.

    Returns
    -------
    tuple of float, or None
        ``(printed_low, printed_high)`` with ``printed_low <= 100 * low`` and
        ``printed_high >= 100 * high`` (up to float noise of 1e-9 points) and
        ``printed_low < printed_high``; None when the range is too narrow to print as two
        ends (never for ``"whole_people"``).

    Raises
    ------
    ValueError
        If an end is not a probability or ``low > high``.

    Examples
    --------
    >>> printed_ends(0.036283, 0.043412)
    (3.6, 4.4)
    >>> printed_ends(0.04, 0.04, style="whole_people")
    (4, 5)
    """
    lo, hi = _check("low", low), _check("high", high)
    if lo > hi:
        raise ValueError(f"low: expected at most high ({hi!r}), got {lo!r}.")
    if style == "whole_people":
        first = max(0, math.floor(100 * lo + _SLACK))
        last = min(100, math.ceil(100 * hi - _SLACK))
        if first == last:  # equal ends would read as certain: one person wider, outward
            return (first, last + 1) if last < 100 else (first - 1, last)
        return first, last
    decimals = interval_decimals(lo, hi)
    if decimals is None:
        return None
    scale = 10**decimals
    printed_low = math.floor(100 * lo * scale + _SLACK) / scale
    printed_high = math.ceil(100 * hi * scale - _SLACK) / scale
    if printed_low < printed_high:
        return printed_low, printed_high
    return None


def format_interval(low: float, high: float, *, style: IntervalStyle = "percent") -> str:
    """The range ``low``–``high`` (probabilities) as printed on every screen.

    Parameters
    ----------
    low, high : float
        The range's ends, probabilities with ``0 <= low <= high <= 1``.
    style : {'percent', 'out_of_100', 'whole_people'}
        ``"3.6% to 4.4%"``, ``"between 3.6 and 4.4 out of 100"`` or (whole people, the
        patient's page) ``"between 3 and 5 out of 100"``.

    Returns
    -------
    str
        Two ends that differ whenever ``low < high`` (rounded outwards), or, for a range
        narrower than :data:`MIN_PRINTED_WIDTH_POINTS`, ``"about 4.0%, uncertain by less
        than 0.1 points"`` (whole people: always two ends, see :func:`printed_ends`).

    Raises
    ------
    ValueError
        If an end is not a probability or ``low > high``.

    Examples
    --------
    >>> format_interval(0.036283, 0.043412)
    '3.6% to 4.4%'
    >>> format_interval(0.004423, 0.099814, style="out_of_100")
    'between 0 and 10 out of 100'
    >>> format_interval(0.04, 0.04, style="whole_people")
    'between 4 and 5 out of 100'
    """
    ends = printed_ends(low, high, style=style)
    if ends is not None:
        if style == "whole_people":
            return f"between {ends[0]:d} and {ends[1]:d} out of 100"
        decimals = interval_decimals(low, high) or 0
        a, b = _number(ends[0], decimals), _number(ends[1], decimals)
        if style == "out_of_100":
            return f"between {a} and {b} out of 100"
        return f"{a}% to {b}%"
    middle = 100 * (low + high) / 2
    if style == "out_of_100":
        return (
            f"about {middle:.1f} out of 100, uncertain by less than "
            f"{MIN_PRINTED_WIDTH_POINTS:g} in 100"
        )
    return f"about {middle:.1f}%, uncertain by less than {MIN_PRINTED_WIDTH_POINTS:g} points"


def interval_level_text(interval: Any) -> str:
    """The level a probability interval may be labelled with: "95%" only when its own
    simulation reached it, "about 90%" when the simulation measured less, "about 95%" when
    no simulation was run (reports recorded before ``level_reached`` are judged by their
    stored ``simulated_coverage``)."""
    reached = interval.level_reached
    if reached is None and interval.simulated_coverage is not None:
        reached = interval.simulated_coverage >= interval.level
    if reached:
        return f"{100 * interval.level:g}%"
    if reached is False and interval.simulated_coverage is not None:
        return f"about {math.floor(100 * interval.simulated_coverage):.0f}%"
    return f"about {100 * interval.level:g}%"
