"""The feature schema: what each validator refuses, how values map to subgroups, and that the
sample schemas load and round-trip."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from caselens.model.bundle import FEATURES_FILE
from caselens.model.bundle_write import schema_file_data
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.settings import SAMPLE_MODELS_DIR


def _spec(name: str = "resting_bp", **changes: Any) -> FeatureSpec:
    fields: dict[str, Any] = {
        "name": name,
        "label": "Resting blood pressure",
        "patient_label": "Blood pressure at rest",
        "kind": "number",
        "unit": "mm Hg",
    }
    fields.update(changes)
    return FeatureSpec(**fields)


def _category(name: str = "sex", **changes: Any) -> FeatureSpec:
    fields: dict[str, Any] = {"kind": "category", "categories": ("Female", "Male"), "unit": None}
    fields.update(changes)
    return _spec(name, **fields)


# -- FeatureSpec validators -------------------------------------------------------------------


@pytest.mark.parametrize("categories", [None, ()])
def test_a_category_feature_without_categories_is_refused_naming_it(categories):
    with pytest.raises(ValidationError, match="chest_pain: a category feature needs its list"):
        _category("chest_pain", categories=categories)


@pytest.mark.parametrize("kind", ["number", "integer"])
def test_categories_on_a_numeric_feature_are_refused_naming_it(kind):
    with pytest.raises(
        ValidationError, match="cholesterol: only category features have categories"
    ):
        _spec("cholesterol", kind=kind, categories=("low", "high"))


def test_hard_min_above_hard_max_is_refused_naming_the_feature():
    with pytest.raises(ValidationError, match="max_heart_rate: hard_min is above hard_max"):
        _spec("max_heart_rate", hard_min=220, hard_max=30)


def test_equal_or_one_sided_hard_limits_are_accepted():
    assert _spec(hard_min=5, hard_max=5).hard_max == 5
    assert _spec(hard_min=300).hard_max is None
    assert _spec(hard_max=-1).hard_min is None


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError, match="kind"):
        _spec(kind="text")


def test_an_unknown_field_is_refused_by_name():
    # extra="forbid": a misspelt limit in features.json must not silently drop the limit.
    with pytest.raises(ValidationError, match="hardmax"):
        _spec(hardmax=200)


@pytest.mark.parametrize("field", ["name", "label", "patient_label"])
def test_empty_names_and_labels_are_refused(field):
    with pytest.raises(ValidationError, match=field):
        _spec(**{field: ""})


def test_a_spec_is_frozen():
    spec = _spec(hard_min=0, hard_max=300)
    with pytest.raises(ValidationError):
        spec.hard_max = 10  # type: ignore[misc]
    assert spec.hard_max == 300


def test_decreasing_subgroup_bins_are_refused_naming_the_feature():
    with pytest.raises(ValidationError, match="age"):
        _spec("age", kind="integer", subgroup=True, subgroup_bins=(60.0, 40.0))


# -- FeatureSchema ----------------------------------------------------------------------------


def test_duplicate_feature_names_are_refused_and_each_is_named():
    features = (_spec("sex"), _spec("age"), _spec("sex"), _spec("bmi"), _spec("age"))
    with pytest.raises(ValidationError, match="duplicate feature names: age, sex"):
        FeatureSchema(features=features)


def test_names_lookup_and_iteration_keep_model_order():
    order = ("st_depression", "age", "sex", "chest_pain")
    schema = FeatureSchema(
        features=tuple(
            _category(n) if n in ("sex", "chest_pain") else _spec(n, kind="number") for n in order
        )
    )
    assert schema.names == list(order)
    assert [f.name for f in schema] == list(order)
    assert len(schema) == 4
    assert schema["sex"].kind == "category"
    assert "age" in schema and "weight" not in schema
    with pytest.raises(KeyError, match="weight"):
        schema["weight"]


def test_subgroup_features_are_exactly_the_flagged_ones_in_order():
    schema = FeatureSchema(
        features=(
            _spec("age", kind="integer", subgroup=True, subgroup_bins=(55,)),
            _spec("resting_bp"),
            _category("sex", subgroup=True),
            _category("chest_pain"),
        )
    )
    assert [f.name for f in schema.subgroup_features] == ["age", "sex"]
    assert FeatureSchema(features=(_spec("resting_bp"),)).subgroup_features == []


# -- subgroup_of ------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, np.float64("nan")])
def test_a_missing_value_has_no_subgroup(missing):
    assert _category().subgroup_of(missing) is None
    assert _spec("age", subgroup_bins=(55,)).subgroup_of(missing) is None


def test_a_category_value_is_its_own_subgroup():
    sex = _category()
    assert sex.subgroup_of("Female") == "Female"
    assert sex.subgroup_of("Male") == "Male"


def test_a_numeric_feature_without_bins_groups_by_its_value():
    assert _spec("major_vessels", kind="integer").subgroup_of(2) == "2"


@pytest.mark.parametrize(
    ("value", "group"),
    [
        (18, "under 55"),
        (54.999, "under 55"),
        (55, "55 and over"),
        (55.0, "55 and over"),
        (90, "55 and over"),
    ],
)
def test_one_edge_splits_at_the_edge_with_the_edge_in_the_upper_group(value, group):
    assert _spec("age", kind="integer", subgroup_bins=(55.0,)).subgroup_of(value) == group


@pytest.mark.parametrize(
    ("value", "group"),
    [
        (-math.inf, "under 40"),
        (39.99, "under 40"),
        (40, "40 to under 65.5"),
        (65.49, "40 to under 65.5"),
        (65.5, "65.5 to under 80"),
        (79.999, "65.5 to under 80"),
        (80, "80 and over"),
        (math.inf, "80 and over"),
    ],
)
def test_several_edges_make_half_open_bands(value, group):
    spec = _spec("age", subgroup_bins=(40.0, 65.5, 80.0))
    assert spec.subgroup_of(value) == group


def _bands(edges: list[float]) -> list[tuple[str, float, float]]:
    """Each band's label with its [low, high) bounds, written independently of the code."""
    bands = [(f"under {edges[0]:g}", -math.inf, edges[0])]
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        bands.append((f"{lo:g} to under {hi:g}", lo, hi))
    bands.append((f"{edges[-1]:g} and over", edges[-1], math.inf))
    return bands


@given(
    edges=st.lists(st.integers(-500, 500), min_size=1, max_size=6, unique=True).map(
        lambda xs: sorted(x / 2 for x in xs)
    ),
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
        st.integers(-300, 300).map(lambda x: x / 2),  # often exactly on an edge
    ),
)
def test_every_finite_value_lands_in_the_one_band_whose_bounds_contain_it(edges, value):
    spec = _spec("age", subgroup_bins=tuple(edges))
    bands = _bands(edges)
    assert len({label for label, _, _ in bands}) == len(bands)
    containing = [label for label, lo, hi in bands if lo <= value < hi]
    assert len(containing) == 1
    assert spec.subgroup_of(value) == containing[0]


def test_the_heart_age_bands_are_the_groups_the_card_reports(heart_bundle):
    age = heart_bundle.features["age"]
    assert age.subgroup_of(54) == "under 55"
    assert age.subgroup_of(55) == "55 and over"
    card_groups = {s.group for s in heart_bundle.card.validation.subgroups if s.variable == "age"}
    assert card_groups == {"under 55", "55 and over"}


def test_every_card_subgroup_is_a_group_the_schema_can_produce(sample_bundles):
    for bundle in sample_bundles.values():
        subgroup_names = {f.name for f in bundle.features.subgroup_features}
        for s in bundle.card.validation.subgroups:
            assert s.variable in subgroup_names
            spec = bundle.features[s.variable]
            if spec.kind == "category":
                assert s.group in spec.categories or s.group == "not recorded"


# -- describe_value ---------------------------------------------------------------------------


def test_values_are_described_as_a_clinician_reads_them():
    assert _spec().describe_value(145.0) == "145 mm Hg"
    assert _spec("age", kind="integer", unit="years").describe_value(54.6) == "55 years"
    assert _spec("ratio", unit=None).describe_value(0.25) == "0.25"
    assert _category().describe_value("Female") == "Female"
    assert _spec().describe_value(None) == "not recorded"
    assert _spec().describe_value(float("nan")) == "not recorded"
    assert _spec().unit_text == " (mm Hg)"
    assert _spec(unit=None).unit_text == ""


# -- the sample schemas -----------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_the_sample_schema_file_loads_and_round_trips(model_id, sample_bundles):
    text = (SAMPLE_MODELS_DIR / model_id / FEATURES_FILE).read_text(encoding="utf-8")
    schema = FeatureSchema.model_validate_json(text)
    assert schema == sample_bundles[model_id].features
    assert FeatureSchema.model_validate(schema.model_dump()) == schema
    assert FeatureSchema.model_validate_json(schema.model_dump_json()) == schema
    assert schema_file_data(schema) == json.loads(text)
    assert len(schema) > 0 and schema.subgroup_features


# -- 0/1 inputs: what they mean ----------------------------------------------------------------


def _zero_one(name: str = "sex", **changes: Any) -> FeatureSpec:
    fields: dict[str, Any] = dict(
        name=name, label=name.title(), patient_label=name.title(), kind="integer"
    )
    fields.update(hard_min=0, hard_max=1)
    fields.update(changes)
    return FeatureSpec(**fields)


def test_a_0_1_category_is_named_by_its_descriptions_and_never_yes_or_no():
    from caselens.explain.narrative import factor_phrase, yes_no_state

    sex = _zero_one(meaning="category", category_descriptions={"0": "Female", "1": "Male"})
    assert sex.coded_meaning == "category"
    assert yes_no_state(sex, 1) is None
    assert sex.describe_value(1) == "1 (Male)" and sex.describe_value(0.0) == "0 (Female)"
    assert factor_phrase(sex, 1) == "Sex (male)" and factor_phrase(sex, 0) == "Sex (female)"


def test_a_0_1_input_without_a_stated_meaning_is_never_worse_than_before():
    from caselens.explain.narrative import factor_phrase, yes_no_state

    # No meaning, no descriptions, a label that names no condition: the code, not 'yes'.
    sex = _zero_one()
    assert sex.coded_meaning is None and yes_no_state(sex, 1) is None
    assert factor_phrase(sex, 1) == "Sex (recorded as 1)"
    # A label that names a condition ('Smoking', 'Having diabetes') reads yes/no, as before.
    smoking = _zero_one("smoking", patient_label="Smoking")
    assert smoking.coded_meaning == "yes_no"
    assert factor_phrase(smoking, 1) == "Smoking" and factor_phrase(smoking, 0) == "Not smoking"
    # Descriptions that are yes/no make it yes/no; any others, a category.
    told = _zero_one("diabetes", category_descriptions={"0": "No", "1": "Yes"})
    assert told.coded_meaning == "yes_no" and factor_phrase(told, 0) == "Diabetes (no)"
    assert _zero_one(category_descriptions={"1": "Male"}).coded_meaning == "category"
    # An old features.json (no 'meaning' key) still loads.
    old = json.loads(_zero_one().model_dump_json())
    del old["meaning"]
    assert FeatureSpec.model_validate(old).meaning is None


def test_a_stated_meaning_is_checked():
    with pytest.raises(ValidationError, match="category_descriptions for 0 and 1"):
        _zero_one(meaning="category")
    with pytest.raises(ValidationError, match="is for a 0/1 whole-number input"):
        _spec(meaning="yes_no")
    assert _zero_one(meaning="yes_no").coded_meaning == "yes_no"
    # Without hard limits, a whole number seen only as 0 and 1 in training is a 0/1 input.
    drafted = _zero_one(hard_min=None, hard_max=None, training_min=0.0, training_max=1.0)
    assert drafted.is_zero_one


def test_meaning_warnings_name_every_unstated_0_1_input_and_odd_descriptions():
    from caselens.model.card_check import input_meaning_warnings

    schema = FeatureSchema(
        features=(
            _zero_one("sex"),
            _zero_one("smoking", patient_label="Smoking"),
            _zero_one("diabetes", meaning="yes_no"),
            _category("gender", category_descriptions={"Female": "female", "Other": "?"}),
        )
    )
    notes = input_meaning_warnings(schema)
    assert notes[0].startswith("WARNING: 2 0/1 input(s) do not say what 1 means: sex (")
    assert "smoking (read as a yes/no condition from its label)" in notes[0]
    assert "diabetes" not in notes[0].split(". Set ")[0]
    assert any("category_descriptions name value(s) it cannot take: Other" in n for n in notes)


def test_schema_drafting_reads_every_split_it_is_given():
    import pandas as pd

    from caselens.authoring.schema_draft import draft_schema
    from caselens.model.card_check import data_problems

    train = pd.DataFrame({"age": [50, 61, 72, 80], "smoking": [0, 1, 0, 1]})
    test = pd.DataFrame({"age": [55, 66], "smoking": [1, 0]})
    # A real value in a public heart-failure data set (age 60.667), only in calibration.
    calibration = pd.DataFrame({"age": [60.667, 70.0], "smoking": [0, 0], "outcome": [1, 0]})
    draft = draft_schema(train, ["age", "smoking"], other_splits=[test, calibration])
    assert draft.schema["age"].kind == "number"
    assert draft.schema["smoking"].kind == "integer"
    assert draft.schema["age"].training_max == 80.0  # the range stays the training range
    assert data_problems(draft.schema, calibration, "calibration data") == []
    alone = draft_schema(train, ["age", "smoking"], other_splits=[test])
    assert alone.schema["age"].kind == "integer"


@given(
    st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=20),
    st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), min_size=1, max_size=20),
)
def test_no_value_of_any_split_is_refused_by_the_drafted_schema(train_ages, other_ages):
    import pandas as pd

    from caselens.authoring.schema_draft import draft_schema
    from caselens.model.card_check import data_problems

    train = pd.DataFrame({"age": train_ages})
    other = pd.DataFrame({"age": other_ages, "outcome": 0})
    draft = draft_schema(train, ["age"], other_splits=[other])
    assert data_problems(draft.schema, other, "calibration data") == []
    whole = all(float(a).is_integer() for a in other_ages)
    assert (draft.schema["age"].kind == "integer") is whole
