"""The values a counterfactual may try for each input the card states as modifiable.

One :class:`InputRange` per modifiable input: the patient's value, the values the search
may move it to, and what one step of it costs (its spread in the reference data times the
card's cost weight). Every value offered here is already within all of:

- the card's stated direction and bounds (``changeable_inputs``),
- the schema's hard limits,
- the training range (``training_min``/``training_max``; for a category, the categories
  seen in training and the card's ``to_categories``),
- whole numbers for an integer input.

A value that is not recorded (None) is never changed: the search cannot tell which way a
change from an unknown value goes, so it cannot honour the stated direction, and "from not
recorded to 120 mm Hg" is a measurement, not a change care can make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.changeable_inputs import ChangeableInput
from caselens.model.features import FeatureSpec

#: Grid points tried between the patient's value and each end of its allowed range: the
#: first pass is coarse on purpose; :data:`REFINE_STEPS` then finds the smallest crossing.
GRID_STEPS = 12
#: Points tried between the patient's value and a crossing value to make the change smaller.
REFINE_STEPS = 32
#: With no finite limit on a side (no hard limit, training range or stated bound), the
#: search goes at most this many spreads from the patient's value, a plausible distance.
UNBOUNDED_SPREADS = 3.0
#: A number input's values are rounded to a tenth of its spread (at least): a change
#: smaller than that is not one a clinician would read as different.
ROUNDING_SHARE_OF_SPREAD = 0.1


@dataclass(frozen=True)
class InputRange:
    """One modifiable input: where the patient is and where the search may take it.

    Attributes
    ----------
    spec : FeatureSpec
    statement : ChangeableInput
    current : float or str or None
        The patient's value (None: not recorded, so never changed).
    values : tuple
        Every value the search may try, nearest to ``current`` first within each direction
        (numbers as floats, categories as text); empty when nothing may be tried.
    lowest, highest : float or None
        The allowed range for a number input (None for a category or when empty).
    spread : float
        The reference data's standard deviation of the input (numbers), 1 for a category.
    """

    spec: FeatureSpec
    statement: ChangeableInput
    current: float | str | None
    values: tuple[Any, ...]
    lowest: float | None
    highest: float | None
    spread: float

    @property
    def name(self) -> str:
        """The input's name in the schema."""
        return self.spec.name

    @property
    def is_category(self) -> bool:
        """Whether the input is a category (a change costs one weight, whatever its size)."""
        return self.spec.kind == "category"

    def cost(self, value: Any) -> float:
        """The distance of moving this input to ``value``: |change| / spread × cost weight,
        or 1 × cost weight for a category; 0 for no change."""
        if value == self.current:
            return 0.0
        weight = self.statement.cost_weight
        if self.is_category:
            return weight
        return abs(float(value) - float(self.current)) / self.spread * weight  # type: ignore[arg-type]

    def direction_of(self, value: Any) -> str:
        """'up' / 'down' for a number, the category itself for a category: two changes of
        the same input with the same direction are "the same change at another size"."""
        if self.is_category:
            return str(value)
        return "up" if float(value) > float(self.current) else "down"  # type: ignore[arg-type]

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is one the search may show for this input (every limit held)."""
        if value == self.current:
            return False
        if self.is_category:
            return value in self.values
        number = float(value)
        if self.lowest is None or self.highest is None or not math.isfinite(number):
            return False
        if self.spec.kind == "integer" and number != round(number):
            return False
        return self.lowest <= number <= self.highest

    def between(self, target: float, start: float | None = None) -> tuple[float, ...]:
        """Values strictly between ``start`` (default: ``current``) and ``target``, and
        ``target``, nearest to ``start`` first, for making a found change smaller (numbers
        only): every whole number when there are at most REFINE_STEPS, else REFINE_STEPS
        evenly spaced points."""
        begin = float(self.current if start is None else start)  # type: ignore[arg-type]
        if self.spec.kind == "integer":
            step = 1.0 if target > begin else -1.0
            count = int(abs(target - begin))
            if count <= REFINE_STEPS:
                points = [begin + step * k for k in range(1, count + 1)]
            else:
                points = [round(p) for p in np.linspace(begin, target, REFINE_STEPS + 1)[1:]]
        else:
            digits = _decimals(self.spread)
            points = [round(p, digits) for p in np.linspace(begin, target, REFINE_STEPS + 1)[1:]]
        return tuple(dict.fromkeys(p for p in points if self.allows(p) and p != begin))


def input_range(
    spec: FeatureSpec, statement: ChangeableInput, current: Any, reference: pd.DataFrame
) -> InputRange:
    """The values the search may try for one modifiable input of one patient."""
    spread = _spread(spec, reference)
    if current is None or (isinstance(current, float) and math.isnan(current)):
        return InputRange(spec, statement, None, (), None, None, spread)
    if spec.kind == "category":
        return InputRange(
            spec, statement, current, _category_values(spec, statement, current), None, None, 1.0
        )
    number = float(current)
    lowest, highest = _number_limits(spec, statement, number, spread)
    values = _number_grid(spec, number, lowest, highest, spread)
    return InputRange(spec, statement, number, values, lowest, highest, spread)


def _category_values(spec: FeatureSpec, statement: ChangeableInput, current: str) -> tuple:
    allowed = statement.to_categories or spec.categories or ()
    seen = spec.training_counts
    return tuple(
        c
        for c in allowed
        if c != current
        and c in (spec.categories or ())
        and (seen is None or seen.get(c, 0) > 0)  # never a category the model did not see
    )


def _number_limits(
    spec: FeatureSpec, statement: ChangeableInput, current: float, spread: float
) -> tuple[float, float]:
    """The allowed range: the tightest of the hard limits, the training range and the
    stated bounds, cut at the patient's value on the side the direction forbids."""
    lows = [v for v in (spec.hard_min, spec.training_min, statement.lower) if v is not None]
    highs = [v for v in (spec.hard_max, spec.training_max, statement.upper) if v is not None]
    lowest = max(lows) if lows else current - UNBOUNDED_SPREADS * spread
    highest = min(highs) if highs else current + UNBOUNDED_SPREADS * spread
    if statement.direction == "up":
        lowest = max(lowest, current)
    elif statement.direction == "down":
        highest = min(highest, current)
    if spec.kind == "integer":
        lowest, highest = float(math.ceil(lowest)), float(math.floor(highest))
    return lowest, highest


def _number_grid(
    spec: FeatureSpec, current: float, lowest: float, highest: float, spread: float
) -> tuple[float, ...]:
    """Up to GRID_STEPS values towards each end of the range, nearest first; every value in
    the range, whole for an integer input, never the patient's own value."""
    if lowest > highest:
        return ()
    digits = _decimals(spread)
    values: list[float] = []
    for end in (lowest, highest):
        if end == current:
            continue
        start = min(max(current, lowest), highest)  # a value outside the range starts at its edge
        points = np.linspace(start, end, GRID_STEPS + 1)
        if start == current:
            points = points[1:]
        if spec.kind == "integer":
            span = int(abs(end - start))
            if span <= GRID_STEPS:
                step = 1.0 if end > start else -1.0
                points = np.array([start + step * k for k in range(span + 1)])
            points = np.round(points)
        else:
            points = np.round(points, digits)
        values.extend(float(p) for p in points)
    return tuple(dict.fromkeys(v for v in values if lowest <= v <= highest and v != current))


def _decimals(spread: float) -> int:
    """Decimal places that resolve a tenth of the spread (0 for a spread of 10 or more)."""
    if not math.isfinite(spread) or spread <= 0:
        return 2
    return max(0, -math.floor(math.log10(ROUNDING_SHARE_OF_SPREAD * spread)))


def _spread(spec: FeatureSpec, reference: pd.DataFrame) -> float:
    """The reference data's standard deviation of a number input (its training range over
    4, or 1, when the reference has no spread), 1 for a category."""
    if spec.kind == "category":
        return 1.0
    if spec.name in reference.columns:
        column = pd.to_numeric(reference[spec.name], errors="coerce").to_numpy(dtype=float)
        column = column[np.isfinite(column)]
        if len(column) > 1:
            deviation = float(np.std(column, ddof=1))
            if deviation > 0 and math.isfinite(deviation):
                return deviation
    if spec.training_min is not None and spec.training_max is not None:
        width = spec.training_max - spec.training_min
        if width > 0:
            return width / 4
    return 1.0
