"""The feature schema: what each clinical input is, in words, units and allowed values.

A schema travels inside every model bundle (``features.json``). It drives the input form,
case validation, the grouping of explanations back to clinical variables, and the
out-of-range checks.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caselens.model.fhir_mapping import FhirMapping

FeatureKind = Literal["number", "integer", "category"]
#: What a 0/1 whole-number input means: a yes/no condition (1 = the patient has it) or a
#: category coded 0/1 (sex, a test result), named by its ``category_descriptions``.
CodedMeaning = Literal["yes_no", "category"]
#: The two codes of a 0/1 input, as category description keys.
ZERO_ONE_CODES: tuple[str, str] = ("0", "1")
#: Category descriptions that say an input is a yes/no answer ({"0": "no", "1": "yes"}).
YES_NO_WORDS = frozenset({"yes", "no"})
#: Plural units whose singular is not the plural minus its final 's' ("1 diagnosis").
IRREGULAR_SINGULAR_UNITS: dict[str, str] = {
    "diagnoses": "diagnosis",
    "analyses": "analysis",
    "crises": "crisis",
    "episodes": "episode",
    "children": "child",
    "people": "person",
    "teeth": "tooth",
    "feet": "foot",
}


#: Significant digits of a number used as a subgroup name (beyond them, ``:g`` rounds).
GROUP_NUMBER_DIGITS = 12


#: Cell texts read as "no value recorded" in a case file, the reference data and outcome files.
MISSING_TEXT = {"", "na", "n/a", "none", "null", "missing", "not recorded", "?"}


def unit_for(number: float, unit: str) -> str:
    """The unit as read after ``number``: 'visits' after 1 is 'visit' ('1 visit', '2 visits').

    Only a unit that is one lower-case word of four letters or more ending in 's' (and not
    in 'ss', 'us' or 'is') changes; symbols ('mm Hg', 'mg/dL', '%') stay as written.
    """
    if number != 1 or not re.fullmatch(r"[a-z]{3,}s", unit) or unit.endswith(("ss", "us", "is")):
        return unit
    if unit in IRREGULAR_SINGULAR_UNITS:
        return IRREGULAR_SINGULAR_UNITS[unit]
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    if unit.endswith(("sses", "ches", "shes", "xes")):
        return unit[:-2]
    return unit[:-1]


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
    category_descriptions: dict[str, str] | None = Field(
        default=None,
        description="Words for each category or 0/1 code, e.g. {'0': 'female', '1': 'male'}; "
        "used in every sentence that names the value.",
    )
    meaning: CodedMeaning | None = Field(
        default=None,
        description="For a 0/1 whole-number input: 'yes_no' (1 = the patient has the "
        "condition) or 'category' (two groups named by category_descriptions). Unstated in "
        "bundles made before this field: see coded_meaning.",
    )
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
    fhir: FhirMapping | None = Field(
        default=None,
        description="Where the input comes from in a FHIR R4 record (see "
        "caselens.model.fhir_mapping); unset, a record cannot fill it.",
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
        if self.meaning is not None and not self.is_zero_one:
            raise ValueError(
                f"{self.name}: meaning ('{self.meaning}') is for a 0/1 whole-number input "
                "(kind 'integer' with hard_min 0 and hard_max 1)"
            )
        if self.meaning == "category":
            described = set(self.category_descriptions or {})
            lacking = [code for code in ZERO_ONE_CODES if code not in described]
            if lacking:
                raise ValueError(
                    f"{self.name}: a 0/1 input whose meaning is 'category' needs "
                    f"category_descriptions for {' and '.join(lacking)} (e.g. "
                    "{'0': 'female', '1': 'male'})"
                )
        return self

    @property
    def is_zero_one(self) -> bool:
        """A whole-number input that only takes 0 and 1: its hard limits are 0 and 1, or it
        has none and every training value was 0 or 1."""
        if self.kind != "integer":
            return False
        if (self.hard_min, self.hard_max) == (0, 1):
            return True
        return (
            self.hard_min is None
            and self.hard_max is None
            and self.training_min is not None
            and self.training_max is not None
            and 0 <= self.training_min <= self.training_max <= 1
        )

    @property
    def coded_meaning(self) -> CodedMeaning | None:
        """What a 0/1 input means (None for any other input, or when nothing says).

        Stated ``meaning`` wins. Unstated (bundles made before the field): descriptions
        {'0': 'no', '1': 'yes'} make it yes/no, other descriptions a category; without them,
        a plain label that starts with an -ing word names a condition ('Smoking', 'Having
        diabetes') and is read as yes/no, as before; anything else ('Sex') is unknown, and the
        value is then shown as its code, never as 'yes' or 'no'.
        """
        if not self.is_zero_one:
            return None
        if self.meaning is not None:
            return self.meaning
        descriptions = self.category_descriptions or {}
        if any(code in descriptions for code in ZERO_ONE_CODES):
            words = {descriptions.get(code, "").strip().lower() for code in ZERO_ONE_CODES}
            return "yes_no" if words <= YES_NO_WORDS else "category"
        words = self.patient_label.split()
        if words and words[0].lower().endswith("ing"):
            return "yes_no"
        return None

    def description_of(self, value: object) -> str | None:
        """The card's words for a category or a 0/1 code ('male' for 1), or None."""
        if not self.category_descriptions or value is None:
            return None
        if self.kind == "category":
            key = str(value)
        else:
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None
            if not math.isfinite(number) or number != int(number):
                return None
            key = str(int(number))
        text = self.category_descriptions.get(key)
        return text.strip() if text and text.strip() else None

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
        described = self.description_of(value)
        if self.kind == "category":
            if described and described.lower() != str(value).lower():
                return f"{value} ({described})"
            return str(value)
        number = float(value)  # type: ignore[arg-type]
        if described:
            return f"{round(number)} ({described})"
        if self.coded_meaning == "yes_no" and number in (0, 1):
            return f"{round(number)} ({'yes' if number == 1 else 'no'})"
        text = f"{number:g}" if self.kind == "number" else f"{round(number)}"
        shown = float(text) if self.kind == "number" else round(number)
        return f"{text} {unit_for(shown, self.unit)}" if self.unit else text


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
