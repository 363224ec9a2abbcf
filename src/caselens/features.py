"""The feature schema: what each clinical input is, in words, units and allowed values.

A schema travels inside every model bundle (``features.json``). It drives the input form,
case validation, the grouping of explanations back to clinical variables, and the
out-of-range checks.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FeatureKind = Literal["number", "integer", "category"]


#: Significant digits of a number used as a subgroup name (beyond them, ``:g`` rounds).
GROUP_NUMBER_DIGITS = 12


def format_group_number(number: float) -> str:
    """A number as a subgroup name: whole numbers without '.0' ('1'), others in ``:g`` form."""
    if math.isfinite(number) and number == int(number) and abs(number) < 10**GROUP_NUMBER_DIGITS:
        return str(int(number))
    return f"{number:.{GROUP_NUMBER_DIGITS}g}"


class FeatureSpec(BaseModel):
    """One clinical input as the clinician enters it (never a one-hot column).

    ``hard_min``/``hard_max`` are physiological or data-format limits: a value outside
    them is refused. ``training_min``/``training_max`` (numbers) and ``categories`` with
    ``training_counts`` describe what the model saw: a value outside them is accepted but
    flagged for the out-of-distribution checks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    label: str = Field(min_length=1, description="Clinical label, e.g. 'Resting blood pressure'.")
    patient_label: str = Field(min_length=1, description="Plain words for patients.")
    description: str = ""
    kind: FeatureKind
    unit: str | None = None
    hard_min: float | None = None
    hard_max: float | None = None
    training_min: float | None = None
    training_max: float | None = None
    categories: tuple[str, ...] | None = None
    category_descriptions: dict[str, str] | None = None
    training_counts: dict[str, int] | None = None
    missing_allowed: bool = False
    training_missing_share: float = 0.0
    subgroup: bool = Field(
        default=False, description="Used to report performance by subgroup (sex, age band…)."
    )
    subgroup_bins: tuple[float, ...] | None = Field(
        default=None,
        description="For a numeric subgroup feature, the band edges, e.g. (55,) gives "
        "'under 55' and '55 and over'.",
    )

    @model_validator(mode="after")
    def _check_kind(self) -> FeatureSpec:
        if self.kind == "category":
            if not self.categories:
                raise ValueError(f"{self.name}: a category feature needs its list of categories")
        elif self.categories:
            raise ValueError(f"{self.name}: only category features have categories")
        limits = (self.hard_min, self.hard_max)
        if None not in limits and limits[0] > limits[1]:  # type: ignore[operator]
            raise ValueError(f"{self.name}: hard_min is above hard_max")
        if self.subgroup_bins is not None:
            if self.kind == "category":
                raise ValueError(f"{self.name}: only numeric features have subgroup_bins")
            edges = self.subgroup_bins
            if any(not math.isfinite(e) for e in edges) or any(
                low >= high for low, high in itertools.pairwise(edges)
            ):
                raise ValueError(
                    f"{self.name}: subgroup_bins must be finite and strictly increasing, "
                    f"got {list(edges)}"
                )
        if not 0.0 <= self.training_missing_share <= 1.0:
            raise ValueError(f"{self.name}: training_missing_share must be between 0 and 1")
        return self

    def subgroup_of(self, value: object) -> str | None:
        """The subgroup a value falls in ('Female', 'under 55'), or None if missing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.kind == "category":
            return str(value)
        number = float(value)  # type: ignore[arg-type]
        if not self.subgroup_bins:
            # One spelling for a number wherever it comes from: 1, 1.0 and np.int64(1) are
            # all group "1", so a 0/1 variable read as floats (a column with a gap) still
            # finds the card's figures for "0" and "1".
            return format_group_number(number)
        edges = list(self.subgroup_bins)
        if number < edges[0]:
            return f"under {edges[0]:g}"
        for low, high in itertools.pairwise(edges):
            if low <= number < high:
                return f"{low:g} to under {high:g}"
        return f"{edges[-1]:g} and over"

    @property
    def unit_text(self) -> str:
        """The unit with a leading space, or nothing (for labels such as 'Age (years)')."""
        return f" ({self.unit})" if self.unit else ""

    def describe_value(self, value: object) -> str:
        """A value as a clinician reads it: '145 mm Hg', 'Emergency', 'not recorded'."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "not recorded"
        if self.kind == "category":
            return str(value)
        number = float(value)  # type: ignore[arg-type]
        text = f"{number:g}" if self.kind == "number" else f"{round(number)}"
        return f"{text} {self.unit}" if self.unit else text


class FeatureSchema(BaseModel):
    """The ordered list of clinical inputs a model takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: tuple[FeatureSpec, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> FeatureSchema:
        names = [f.name for f in self.features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate feature names: {', '.join(duplicated)}")
        return self

    @property
    def names(self) -> list[str]:
        """Feature names in model order."""
        return [f.name for f in self.features]

    def __getitem__(self, name: str) -> FeatureSpec:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.features)

    def __iter__(self):  # type: ignore[override]
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def subgroup_features(self) -> list[FeatureSpec]:
        """Features whose values define the subgroups the card reports on."""
        return [f for f in self.features if f.subgroup]
