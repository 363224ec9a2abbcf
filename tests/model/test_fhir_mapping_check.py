"""bundle check's FHIR mapping check: each kind of problem fires on a bad mapping, named by
feature and field; warnings stay warnings; the sample mappings pass."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping_check import (
    MAX_FHIRPATH_CHARS,
    check_fhir_mappings,
    fhir_mapping_problems,
    fhir_mapping_warnings,
    fhirpath_error,
    schema_unit_ucum,
)
from caselens.settings import SAMPLE_MODELS_DIR

LOINC = "http://loinc.org"
BP = {
    "resource_type": "Observation",
    "codes": [{"system": LOINC, "code": "8480-6"}],
    "value_path": "valueQuantity",
    "units": ["mm[Hg]"],
    "unit": "mm[Hg]",
}
CHOLESTEROL = {
    "resource_type": "Observation",
    "codes": [{"system": LOINC, "code": "2093-3"}],
    "value_path": "valueQuantity",
    "units": ["mg/dL", "mmol/L"],
    "unit": "mg/dL",
    "molar_mass_g_per_mol": 386.65,
}


def _schema(fhir: dict[str, Any], **spec: Any) -> FeatureSchema:
    fields: dict[str, Any] = {
        "name": "resting_bp",
        "label": "Resting blood pressure",
        "patient_label": "Blood pressure at rest",
        "kind": "integer",
        "unit": "mm Hg",
        "hard_min": 50,
        "hard_max": 300,
        "fhir": fhir,
    }
    fields.update(spec)
    return FeatureSchema(features=(FeatureSpec(**fields),))


def _category_schema(fhir: dict[str, Any], **spec: Any) -> FeatureSchema:
    fields = {"name": "sex", "kind": "category", "categories": ("Female", "Male"), "unit": None}
    fields.update(spec)
    return _schema(fhir, hard_min=None, hard_max=None, **fields)


def _one_problem(schema: FeatureSchema) -> str:
    problems = fhir_mapping_problems(schema)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_sound_mapping_has_no_problem_and_mm_hg_means_ucum_mm_hg() -> None:
    assert schema_unit_ucum("mm Hg") == "mm[Hg]"
    schema = _schema(BP)
    assert fhir_mapping_problems(schema) == [] and fhir_mapping_warnings(schema) == []
    cholesterol = _schema(CHOLESTEROL, name="cholesterol", unit="mg/dL", hard_max=1000)
    assert fhir_mapping_problems(cholesterol) == []


def test_a_fhirpath_that_does_not_parse_is_a_problem_naming_feature_and_field() -> None:
    problem = _one_problem(_schema({**BP, "value_path": "valueQuantity(("}))
    assert problem.startswith("Feature 'resting_bp', field 'fhir.value_path': ")
    assert "is not valid FHIRPath" in problem and "expected a FHIRPath expression" in problem


def test_fhirpath_that_fhirpathpy_would_silently_truncate_is_refused() -> None:
    # fhirpathpy.compile('a b c') succeeds (it recovers to 'a'); the strict parse does not.
    assert "unexpected 'b'" in (fhirpath_error("valueQuantity b c") or "")
    assert fhirpath_error("component.where(code.coding.code='8480-6').valueQuantity") is None


def test_a_fhirpath_calling_a_function_fhirpath_lacks_is_a_problem() -> None:
    problem = _one_problem(_schema({**BP, "date_path": "effectiveDateTime.latest()"}))
    assert "field 'fhir.date_path'" in problem and "calls latest" in problem


def test_a_huge_or_deeply_nested_fhirpath_is_refused_unparsed() -> None:
    huge = "a." * MAX_FHIRPATH_CHARS
    assert "limit is 500" in (fhirpath_error(huge) or "")
    assert fhirpath_error("(" * 60 + "a" + ")" * 60) is None  # nesting within the bound reads
    problem = _one_problem(_schema({**BP, "code_path": huge}))
    assert "field 'fhir.code_path'" in problem


def test_an_allowed_unit_that_is_not_ucum_is_a_problem() -> None:
    problem = _one_problem(_schema({**BP, "units": ["mmHg"]}))
    assert "field 'fhir.units[0]'" in problem and "'mmHg' is not a UCUM unit" in problem


def test_an_allowed_unit_that_does_not_convert_to_the_unit_is_a_problem() -> None:
    problem = _one_problem(_schema({**BP, "units": ["mm[Hg]", "mg/dL"]}))
    assert "field 'fhir.units[1]'" in problem and "measure different things" in problem


def test_mass_and_substance_units_need_the_molar_mass() -> None:
    without = {k: v for k, v in CHOLESTEROL.items() if k != "molar_mass_g_per_mol"}
    problem = _one_problem(_schema(without, name="cholesterol", unit="mg/dL", hard_max=1000))
    assert "field 'fhir.units[1]'" in problem and "molar mass" in problem


def test_a_mapping_unit_that_is_not_ucum_is_a_problem() -> None:
    problem = _one_problem(_schema({**BP, "units": [], "unit": "mm Hg"}))
    assert "field 'fhir.unit': 'mm Hg' is not a UCUM unit" in problem


def test_a_mapping_unit_other_than_the_schema_unit_is_a_problem() -> None:
    # kPa converts to mm Hg, but the model was trained on mm Hg: the mapping's target must be it.
    problem = _one_problem(_schema({**BP, "units": ["kPa"], "unit": "kPa"}))
    assert "field 'fhir.unit'" in problem and "is not the schema's unit 'mm Hg'" in problem


def test_a_numeric_input_with_a_unit_needs_the_mapping_unit() -> None:
    problem = _one_problem(_schema({**BP, "units": [], "unit": None}))
    assert "field 'fhir.unit'" in problem and "names no unit" in problem


def test_a_value_map_value_outside_the_categories_is_a_problem() -> None:
    mapping = {
        "resource_type": "Patient",
        "value_path": "gender",
        "value_map": {"male": "Male", "female": "F"},
    }
    problem = _one_problem(_category_schema(mapping))
    assert "field 'fhir.value_map['female']'" in problem
    assert "'F' is not one of the schema's categories" in problem and "'Female'" in problem


def test_a_band_value_outside_the_hard_limits_is_a_problem() -> None:
    mapping = {**BP, "bands": [{"value": 60}, {"lower": 140, "value": 400}]}
    problem = _one_problem(_schema(mapping))
    assert (
        "field 'fhir.bands[1].value'" in problem and "outside the schema's hard limits" in problem
    )


def test_a_when_absent_that_is_not_a_category_is_a_problem() -> None:
    mapping = {**BP, "bands": [{"value": "Female"}], "when_absent": "Not measured"}
    problem = _one_problem(_category_schema(mapping))
    assert "field 'fhir.when_absent'" in problem and "'Not measured'" in problem


def test_a_whole_number_input_gets_no_fractional_value() -> None:
    problem = _one_problem(_schema({**BP, "when_absent": 120.5}))
    assert "field 'fhir.when_absent'" in problem and "not a whole number" in problem


def test_count_on_a_number_or_plain_category_is_a_problem() -> None:
    counting = {
        "resource_type": "Encounter",
        "codes": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"}],
        "combine": "count",
    }
    problem = _one_problem(_category_schema(counting))
    assert "field 'fhir.combine'" in problem and "'count' gives a whole number" in problem
    number = _schema(counting, kind="number", unit="visits")
    assert "'count' gives a whole number" in _one_problem(number)
    banded = _category_schema(
        {**counting, "bands": [{"value": "Female"}, {"lower": 1, "value": "Male"}]}
    )
    assert fhir_mapping_problems(banded) == []


def test_max_on_a_category_without_bands_is_a_problem() -> None:
    mapping = {
        "resource_type": "Patient",
        "value_path": "gender",
        "combine": "max",
        "value_map": {"male": "Male"},
    }
    assert "'max' compares numbers" in _one_problem(_category_schema(mapping))


def test_age_on_a_category_without_bands_is_a_problem() -> None:
    mapping = {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"}
    problem = _one_problem(_category_schema(mapping, name="age_band"))
    assert "field 'fhir.derive'" in problem and "without 'bands'" in problem


def test_age_in_years_for_a_schema_in_months_is_a_problem() -> None:
    mapping = {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"}
    problem = _one_problem(_schema(mapping, name="age", unit="months", hard_min=0))
    assert "'age_years' gives a value in 'a'" in problem and "'months'" in problem
    assert fhir_mapping_problems(_schema(mapping, name="age", unit="years", hard_min=0)) == []


def test_unknown_code_system_schema_unit_and_missing_reason_are_warnings_only() -> None:
    local = {**BP, "codes": [{"system": "urn:oid:1.2.3", "code": "bp"}]}
    result = check_fhir_mappings(_schema(local, unit="torr-ish"))
    assert result.problems == []
    assert any("codes[0].system" in w and "'urn:oid:1.2.3'" in w for w in result.warnings)
    assert any("cannot confirm" in w and "'torr-ish'" in w for w in result.warnings)
    by_hand = check_fhir_mappings(_schema({"entered_by_hand": True}))
    assert by_hand.problems == [] and "no reason is given" in by_hand.warnings[0]
    assert (
        by_hand.summary() == "FHIR mapping: 0 of 1 inputs read from a FHIR record, 1 marked "
        "entered by hand."
    )


def test_a_structurally_invalid_mapping_is_refused_when_read() -> None:
    with pytest.raises(ValidationError, match="at least one code"):
        _schema({"resource_type": "Observation", "value_path": "valueQuantity"})


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_both_sample_mappings_pass_without_problem_or_warning(model_id: str) -> None:
    path = SAMPLE_MODELS_DIR / model_id / "features.json"
    schema = FeatureSchema.model_validate_json(path.read_text(encoding="utf-8"))
    result = check_fhir_mappings(schema)
    assert result.problems == [] and result.warnings == []
    assert result.unmapped == [], "every sample input is mapped or marked entered by hand"
    assert len(result.read_from_record) >= 5
    for feature in schema:
        assert feature.fhir is not None
        if feature.fhir.entered_by_hand:
            assert len(feature.fhir.by_hand_reason) > 40, feature.name


def test_a_band_bound_that_is_not_finite_is_a_problem() -> None:
    mapping = {**BP, "bands": [{"value": 60}, {"lower": float("nan"), "value": 140}]}
    problem = _one_problem(_schema(mapping))
    assert "field 'fhir.bands[1].lower': nan is not a finite number" in problem


def test_a_mapping_listing_too_many_units_is_refused_when_read() -> None:
    with pytest.raises(ValidationError, match="at most 16 items"):
        _schema({**BP, "units": ["mm[Hg]"] * 17})


MAPPINGS = st.fixed_dictionaries(
    {"resource_type": st.sampled_from(["Patient", "Observation", "Encounter"])},
    optional={
        "codes": st.lists(
            st.fixed_dictionaries(
                {"system": st.sampled_from([LOINC, "urn:x", "http://snomed.info/sct"]),
                 "code": st.text(min_size=1, max_size=6)}
            ),
            min_size=1, max_size=2,
        ),
        "value_path": st.text(alphabet="abcvalueQuntity.()'=|$ 0123", min_size=1, max_size=30),
        "units": st.lists(st.sampled_from(["mm[Hg]", "mg/dL", "mmol/L", "%", "kPa", "mmHg",
                                           "{x}", "10*3/uL", "Cel", "B"]), max_size=3),
        "unit": st.sampled_from(["mm[Hg]", "mg/dL", "%", "zz", "a", "d"]),
        "molar_mass_g_per_mol": st.floats(min_value=1, max_value=1e4),
        "combine": st.sampled_from(["latest", "max", "count", "any"]),
        "derive": st.sampled_from(["age_years", "period_days"]),
        "bands": st.lists(
            st.fixed_dictionaries({"value": st.one_of(st.sampled_from(["Female", "Male", "x"]),
                                                      st.floats(allow_nan=False))}),
            min_size=1, max_size=1,
        ),
        "when_absent": st.one_of(st.text(max_size=5), st.floats(allow_nan=True)),
    },
)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(mapping=MAPPINGS, category=st.booleans())
def test_the_check_never_raises_on_any_mapping_that_loads(mapping, category) -> None:
    try:
        schema = _category_schema(mapping) if category else _schema(mapping)
    except ValidationError:
        return
    result = check_fhir_mappings(schema)
    assert all(
        p.startswith("Feature 'sex'" if category else "Feature 'resting_bp'")
        for p in result.problems + result.warnings
    )
