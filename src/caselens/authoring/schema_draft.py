"""A feature schema drafted from training data, for ``caselens bundle create``.

What the data can say is computed: each input's kind (number, whole number or category, from
its dtype and values), the training range, the categories and how often each was seen, the
share of missing values. What only a person can say is taken from the card file's optional
``features`` section (labels, patient wording, units, hard limits) or left as the column
name and reported as "to review". Hard limits are never guessed: a limit drawn from the
training data would refuse the next patient who is merely unusual.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError

from caselens.errors import BundleError
from caselens.model.features import FeatureSchema, FeatureSpec

#: Variables the card reports performance for when they are inputs (HTI-1 asks for fairness
#: by demographic group): the group name, then column names that mean it (case-insensitive,
#: spaces and '-' read as '_').
SEED_SUBGROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "sex": ("sex", "gender", "sex_at_birth"),
    "age": ("age", "age_years", "age_band", "age_group"),
    "race/ethnicity": ("race", "ethnicity", "race_ethnicity"),
    "payer": ("payer", "payer_code", "insurance", "insurance_type"),
}
#: Age band edges for a numeric age column: under 18, 18-44, 45-64, 65-79, 80 and over.
AGE_BINS: tuple[float, ...] = (18.0, 45.0, 65.0, 80.0)
#: Keys of a feature that the card file's ``features`` section may set; the rest are computed.
WRITABLE_FEATURE_KEYS = frozenset(
    {
        "label",
        "patient_label",
        "description",
        "unit",
        "hard_min",
        "hard_max",
        "category_descriptions",
        "meaning",
        "missing_allowed",
        "subgroup",
        "subgroup_bins",
    }
)


@dataclass(frozen=True)
class SchemaDraft:
    """A drafted schema and what a person should still look at.

    Attributes
    ----------
    schema : FeatureSchema
    to_review : tuple of str
        Features whose clinical or patient label is still the column name.
    seed_subgroups : dict of str to str
        Seed demographic group ('sex', 'age', …) to the input column that holds it.
    """

    schema: FeatureSchema
    to_review: tuple[str, ...]
    seed_subgroups: dict[str, str]


def _normalised(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def seed_subgroup_columns(names: Sequence[str]) -> dict[str, str]:
    """Which input column holds each seed demographic variable (first match wins)."""
    found: dict[str, str] = {}
    for group, spellings in SEED_SUBGROUP_COLUMNS.items():
        for name in names:
            if _normalised(name) in spellings:
                found[group] = name
                break
    return found


def _kind(column: pd.Series, name: str, others: Sequence[pd.Series] = ()) -> str:
    """The kind of an input from its training column and the same column in every other
    split: a whole number only when every value in every split is whole (60.667 in the
    calibration split makes age a real number, not a refusal later)."""
    kinds = {_split_kind(c, name) for c in (column, *others) if c.notna().any()}
    kinds = kinds or {_split_kind(column, name)}
    if "category" in kinds and len(kinds) > 1:
        raise BundleError(
            f"Column '{name}' holds numbers in one data file and text in another; write it "
            "the same way in every split."
        )
    if kinds == {"category"}:
        return "category"
    return "number" if "number" in kinds else "integer"


def _split_kind(column: pd.Series, name: str) -> str:
    if pd.api.types.is_bool_dtype(column.dtype):
        raise BundleError(
            f"Training data column '{name}' holds true/false values; write it as 0/1 (a "
            "number) or as text categories so that a case form can send the same values."
        )
    if pd.api.types.is_numeric_dtype(column.dtype):
        present = column.dropna()
        return "integer" if bool((present == present.round()).all()) else "number"
    present = column.dropna()
    odd = [v for v in present.tolist() if not isinstance(v, str)]
    if odd:
        raise BundleError(
            f"Training data column '{name}' mixes text with other values (e.g. {odd[0]!r}); "
            "a category column must hold text only."
        )
    return "category"


def _measured_feature(
    name: str,
    column: pd.Series,
    elsewhere: list[pd.Series],
    *,
    subgroup: bool,
    is_age: bool,
) -> dict[str, Any]:
    """One input's schema entry as measured: its kind, missing values, categories or range."""
    kind = _kind(column, name, elsewhere)
    everywhere = [column, *elsewhere]
    draft: dict[str, Any] = {
        "name": name,
        "label": name,
        "patient_label": name,
        "kind": kind,
        "missing_allowed": any(bool(c.isna().any()) for c in everywhere),
        "training_missing_share": round(float(column.isna().mean()), 4),
        "subgroup": subgroup,
    }
    if kind == "category":
        counts = column.value_counts(dropna=True)
        seen = {str(v) for c in everywhere for v in c.dropna().tolist()}
        draft["categories"] = tuple(sorted(seen))
        draft["training_counts"] = {value: int(counts.get(value, 0)) for value in sorted(seen)}
    else:
        present = column.dropna()
        if len(present):
            draft["training_min"] = float(present.min())
            draft["training_max"] = float(present.max())
        if is_age:
            draft["subgroup_bins"] = AGE_BINS
    return draft


def draft_schema(
    train: pd.DataFrame,
    names: Sequence[str],
    *,
    other_splits: Sequence[pd.DataFrame] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> SchemaDraft:
    """Draft the feature schema of ``names`` from the training data.

    Parameters
    ----------
    train : DataFrame
        The training split (the model's input columns, any order).
    names : sequence of str
        The model's inputs, in model order.
    other_splits : sequence of DataFrame
        The test (and calibration) split: every value in them is looked at. A non-whole
        number there makes the input a real number; a category seen only there is still an
        allowed value (with a training count of 0, so a case with it is flagged as rare); a
        missing value anywhere allows missing values.
    overrides : mapping, optional
        The card file's ``features`` section: column name to any of
        :data:`WRITABLE_FEATURE_KEYS`.

    Returns
    -------
    SchemaDraft

    Raises
    ------
    BundleError
        Naming the column or the ``features`` entry that is wrong.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise BundleError(
            f"The card file's features section names {', '.join(unknown)}, which the model "
            f"does not take (inputs: {', '.join(names)})."
        )
    seeds = seed_subgroup_columns(names)
    seed_columns = set(seeds.values())
    specs = []
    to_review = []
    for name in names:
        given = dict(overrides.get(name) or {})
        bad_keys = sorted(set(given) - WRITABLE_FEATURE_KEYS)
        if bad_keys:
            raise BundleError(
                f"The card file's features.{name} sets {', '.join(bad_keys)}; only "
                f"{', '.join(sorted(WRITABLE_FEATURE_KEYS))} may be set (the rest is computed "
                "from the training data)."
            )
        draft = _measured_feature(
            name,
            train[name],
            [split[name] for split in other_splits if name in split],
            subgroup=name in seed_columns,
            is_age=seeds.get("age") == name,
        )
        draft.update(given)
        if "label" not in given or "patient_label" not in given:
            to_review.append(name)
        try:
            specs.append(FeatureSpec.model_validate(draft))
        except ValidationError as exc:
            problems = "; ".join(e["msg"] for e in exc.errors())
            raise BundleError(f"The feature '{name}' cannot be described: {problems}.") from exc
    return SchemaDraft(
        schema=FeatureSchema(features=tuple(specs)),
        to_review=tuple(to_review),
        seed_subgroups=seeds,
    )
