"""Case input: every validation error is reported per field, in clinical words, all at once."""

from __future__ import annotations

import json

import pytest

from caselens.cases import (
    MAX_UPLOAD_BYTES,
    case_from_csv,
    case_from_json,
    case_from_upload,
    validate_inputs,
)
from caselens.errors import CaseValidationError


@pytest.fixture()
def schema(heart_bundle):
    return heart_bundle.features


@pytest.fixture()
def good_inputs(heart_bundle):
    return dict(heart_bundle.demo_case("H-01").inputs)


def _problems(exc_info) -> dict[str, str]:
    return {p.field: p.code for p in exc_info.value.problems}


def _csv(inputs: dict) -> str:
    header = ",".join(inputs)
    row = ",".join("" if v is None else str(v) for v in inputs.values())
    return f"{header}\n{row}\n"


def test_every_demo_case_of_both_models_validates(sample_bundles):
    for bundle in sample_bundles.values():
        for demo in bundle.demo_cases:
            case = validate_inputs(demo.inputs, bundle.features, source="demo")
            assert list(case.values) == bundle.features.names


def test_valid_inputs_give_a_case_in_schema_order(schema, good_inputs):
    case = validate_inputs(dict(reversed(list(good_inputs.items()))), schema)
    assert list(case.values) == schema.names
    assert case.to_frame().shape == (1, len(schema))


def test_wrong_type_names_the_field_and_the_expected_unit(schema, good_inputs):
    with pytest.raises(
        CaseValidationError, match=r"Age: expected a whole number of years, got 'abc'"
    ):
        validate_inputs({**good_inputs, "age": "abc"}, schema)


def test_value_outside_hard_limits_is_refused(schema, good_inputs):
    with pytest.raises(
        CaseValidationError,
        match=r"Age: 250 years is outside the possible range \(18 to 120 years\)",
    ):
        validate_inputs({**good_inputs, "age": 250}, schema)


def test_value_outside_training_range_is_accepted_and_flagged(schema, good_inputs):
    case = validate_inputs({**good_inputs, "cholesterol": 650}, schema)
    flags = {f.field: f.code for f in case.flags}
    assert flags["cholesterol"] == "outside_training_range"
    assert "range the model was trained on" in case.flags[0].message


def test_unknown_category_lists_the_allowed_ones(schema, good_inputs):
    with pytest.raises(
        CaseValidationError, match=r"Sex: 'Unknown' is not an allowed value; allowed: Female, Male"
    ):
        validate_inputs({**good_inputs, "sex": "Unknown"}, schema)


def test_category_matching_ignores_case_and_keeps_the_canonical_spelling(schema, good_inputs):
    case = validate_inputs({**good_inputs, "sex": "female"}, schema)
    assert case.values["sex"] == "Female"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "NaN", "-inf", "Infinity"])
def test_nan_or_infinity_is_refused(schema, good_inputs, bad):
    with pytest.raises(CaseValidationError) as exc_info:
        validate_inputs({**good_inputs, "cholesterol": bad}, schema)
    assert _problems(exc_info) == {"cholesterol": "not_finite"}
    assert "not a finite number" in str(exc_info.value)


def test_missing_required_field_is_named(schema, good_inputs):
    inputs = {**good_inputs}
    del inputs["resting_bp"]
    with pytest.raises(
        CaseValidationError, match=r"Resting blood pressure: required, but no value was given"
    ):
        validate_inputs(inputs, schema)


def test_missing_allowed_field_is_accepted_as_not_recorded_and_flagged(schema, good_inputs):
    case = validate_inputs({**good_inputs, "thallium_test": ""}, schema)
    assert case.values["thallium_test"] is None
    assert any(f.field == "thallium_test" and f.code == "missing_value" for f in case.flags)


def test_unknown_field_is_named(schema, good_inputs):
    with pytest.raises(CaseValidationError, match=r"'bmi' is not an input of this model"):
        validate_inputs({**good_inputs, "bmi": 31}, schema)


def test_boolean_is_not_taken_as_a_number(schema, good_inputs):
    with pytest.raises(
        CaseValidationError, match=r"Age: expected a whole number of years, got True"
    ):
        validate_inputs({**good_inputs, "age": True}, schema)


def test_fraction_for_a_whole_number_field_is_refused(schema, good_inputs):
    with pytest.raises(
        CaseValidationError,
        match=r"Resting blood pressure: expected a whole number of mm Hg, got 120.5",
    ):
        validate_inputs({**good_inputs, "resting_bp": 120.5}, schema)


def test_all_problems_are_reported_at_once(schema, good_inputs):
    with pytest.raises(CaseValidationError) as exc_info:
        validate_inputs(
            {**good_inputs, "age": "old", "sex": "X", "cholesterol": "inf", "bmi": 3}, schema
        )
    assert _problems(exc_info) == {
        "age": "wrong_type",
        "sex": "unknown_category",
        "cholesterol": "not_finite",
        "bmi": "unknown_field",
    }
    assert str(exc_info.value).startswith("The case has 4 problem(s)")


def test_one_row_csv_is_parsed(schema, good_inputs):
    case = case_from_csv(_csv(good_inputs).encode(), schema)
    assert case.source == "csv"
    assert case.values == validate_inputs(good_inputs, schema).values


def test_csv_with_several_rows_is_refused(schema, good_inputs):
    text = _csv(good_inputs)
    text += text.splitlines()[1] + "\n"
    with pytest.raises(CaseValidationError, match=r"2 patient rows; upload one patient"):
        case_from_csv(text, schema)


def test_csv_with_duplicate_columns_names_them(schema, good_inputs):
    text = _csv(good_inputs)
    header, row = text.splitlines()
    with pytest.raises(CaseValidationError, match=r"Column 'age' appears 2 times"):
        case_from_csv(f"{header},age\n{row},50\n", schema)


@pytest.mark.parametrize("content", [b"", b"   \n", b"age,sex\n"])
def test_empty_csv_is_refused(schema, content):
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_csv(content, schema)
    assert exc_info.value.problems[0].code == "empty_file"


def test_file_that_is_not_utf8_is_refused(schema, good_inputs):
    content = _csv(good_inputs).encode("utf-16")
    with pytest.raises(CaseValidationError, match=r"not UTF-8 text"):
        case_from_csv(content, schema)


def test_upload_over_one_megabyte_is_refused(schema):
    with pytest.raises(CaseValidationError, match=r"limit for one case is 1,000,000 bytes"):
        case_from_csv(b"a" * (MAX_UPLOAD_BYTES + 1), schema)


def test_json_case_flat_or_with_inputs_is_parsed(schema, good_inputs):
    flat = case_from_json(json.dumps(good_inputs), schema)
    wrapped = case_from_json(json.dumps({"case_id": "P-7", "inputs": good_inputs}), schema)
    assert flat.values == wrapped.values
    assert wrapped.case_id == "P-7"


def test_json_with_duplicate_keys_is_refused(schema):
    with pytest.raises(CaseValidationError, match=r"Field 'age' appears 2 times"):
        case_from_json('{"age": 50, "age": 60}', schema)


def test_invalid_json_says_where(schema):
    with pytest.raises(CaseValidationError, match=r"not valid JSON \(line 1, column"):
        case_from_json("{age: 50}", schema)


def test_json_nan_token_is_refused(schema, good_inputs):
    text = json.dumps({**good_inputs, "cholesterol": float("nan")})
    assert "NaN" in text
    with pytest.raises(CaseValidationError, match="not a finite number"):
        case_from_json(text, schema)


def test_json_list_of_several_patients_is_refused(schema, good_inputs):
    with pytest.raises(CaseValidationError, match=r"holds 2 patients"):
        case_from_json(json.dumps([good_inputs, good_inputs]), schema)


def test_upload_with_another_extension_is_refused(schema):
    with pytest.raises(CaseValidationError, match=r"neither \.csv nor \.json"):
        case_from_upload("case.xlsx", b"x", schema)


def test_rare_category_is_flagged(readmission_bundle):
    inputs = dict(readmission_bundle.demo_cases[0].inputs)
    inputs["admission_type"] = "Newborn"
    case = validate_inputs(inputs, readmission_bundle.features)
    assert any(f.field == "admission_type" and f.code == "rare_category" for f in case.flags)
