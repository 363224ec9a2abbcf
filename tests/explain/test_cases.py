"""Case input: every validation error is reported per field, in clinical words, all at once."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from caselens.errors import CaseValidationError
from caselens.explain.cases import (
    MAX_COLUMNS,
    MAX_JSON_DEPTH,
    MAX_KEYS,
    MAX_UPLOAD_BYTES,
    MAX_VALUE_CHARS,
    Case,
    case_from_csv,
    case_from_json,
    case_from_upload,
    validate_inputs,
)


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


# Hostile and odd inputs: every one is refused per field or per file, or parsed; never a
# traceback. Sizes are asserted, not speed (timings are in ``caselens bench cases``).


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"])
def test_csv_with_cr_lf_or_crlf_line_endings_is_parsed(schema, good_inputs, newline):
    text = _csv(good_inputs).replace("\n", newline)
    case = case_from_csv(text.encode(), schema)
    assert case.values == validate_inputs(good_inputs, schema).values


def test_cr_only_csv_still_counts_several_rows(schema, good_inputs):
    text = _csv(good_inputs)
    text = (text + text.splitlines()[1] + "\n").replace("\n", "\r")
    with pytest.raises(CaseValidationError, match=r"2 patient rows"):
        case_from_csv(text, schema)


def test_deeply_nested_json_is_refused_for_the_file(schema):
    for text in ("[" * 400_000 + "]" * 400_000, '{"age": ' + "[" * 50 + "]" * 50 + "}"):
        with pytest.raises(CaseValidationError) as exc_info:
            case_from_json(text, schema)
        ((problem),) = exc_info.value.problems
        assert (problem.field, problem.code) == ("(file)", "too_large")
        assert f"the limit is {MAX_JSON_DEPTH}" in problem.message


def test_brackets_inside_json_strings_do_not_count_as_nesting(schema, good_inputs):
    inputs = {"case_id": '[[[[[[[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{', "inputs": good_inputs}
    case = case_from_json(json.dumps(inputs), schema)
    assert case.case_id == inputs["case_id"]


@pytest.mark.parametrize("digits", [400, 5_000])
def test_huge_integer_is_refused_as_out_of_range(schema, good_inputs, digits):
    number = "9" * digits
    as_json = json.dumps({**good_inputs, "age": 0}).replace('"age": 0', f'"age": {number}')
    as_csv = _csv({**good_inputs, "age": number})
    for parse, content in ((case_from_json, as_json), (case_from_csv, as_csv)):
        with pytest.raises(CaseValidationError) as exc_info:
            parse(content, schema)
        assert _problems(exc_info) == {"age": "outside_limits"}
        message = exc_info.value.problems[0].message
        assert "outside the possible range (18 to 120 years)" in message
        assert f"({digits:,} characters)" in message  # the typed text is cut, not echoed whole


def test_huge_python_integer_from_a_form_is_refused_as_out_of_range(schema, good_inputs):
    with pytest.raises(CaseValidationError) as exc_info:
        validate_inputs({**good_inputs, "age": 10**5_000}, schema)
    assert _problems(exc_info) == {"age": "outside_limits"}
    assert "digits is outside the possible range" in str(exc_info.value)


def test_json_float_beyond_any_double_is_not_finite(schema, good_inputs):
    text = json.dumps({**good_inputs, "cholesterol": 0}).replace(
        '"cholesterol": 0', '"cholesterol": 1e400'
    )
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_json(text, schema)
    assert _problems(exc_info) == {"cholesterol": "not_finite"}


def test_200_kb_cell_is_refused(schema, good_inputs):
    big = "x" * 200_000
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_csv(_csv({**good_inputs, "sex": big}), schema)
    assert _problems(exc_info) == {"(file)": "too_large"}
    assert f"at most {MAX_VALUE_CHARS:,} characters" in str(exc_info.value)
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_json(json.dumps({**good_inputs, "sex": big}), schema)
    assert _problems(exc_info) == {"sex": "too_large"}
    assert "200,000 characters long" in str(exc_info.value)
    assert "expected one of: Female, Male" in str(exc_info.value)


def test_cell_over_the_value_limit_is_refused_for_its_field(schema, good_inputs):
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_csv(_csv({**good_inputs, "sex": "x" * (MAX_VALUE_CHARS + 1)}), schema)
    assert _problems(exc_info) == {"sex": "too_large"}


def test_json_with_80000_keys_is_refused_for_the_file(schema):
    text = "{" + ",".join(f'"k{i}":1' for i in range(80_000)) + "}"
    assert len(text) < MAX_UPLOAD_BYTES
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_json(text, schema)
    assert _problems(exc_info) == {"(file)": "too_large"}
    assert f"80,000 fields; a case has one per input, at most {MAX_KEYS:,}" in str(exc_info.value)


def test_json_with_80000_repeats_of_one_key_is_refused_for_the_file(schema):
    text = "{" + ",".join(['"age":1'] * 80_000) + "}"
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_json(text, schema)
    assert _problems(exc_info) == {"(file)": "too_large"}


def test_every_duplicated_json_key_is_named_once_with_its_count(schema):
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_json('{"age": 1, "sex": "x", "age": 2, "sex": "y", "age": 3}', schema)
    assert [p.message for p in exc_info.value.problems] == [
        "Field 'age' appears 3 times; keep one.",
        "Field 'sex' appears 2 times; keep one.",
    ]


def test_wide_csv_is_refused_for_the_file(schema):
    header = ",".join(f"c{i}" for i in range(50_000))
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_csv(f"{header}\n{',' * 49_999}\n", schema)
    assert _problems(exc_info) == {"(file)": "too_large"}
    assert f"at most {MAX_COLUMNS:,}" in str(exc_info.value)


def test_form_mapping_with_too_many_fields_is_refused_as_a_whole(schema, good_inputs):
    with pytest.raises(CaseValidationError) as exc_info:
        validate_inputs({**good_inputs, **{f"k{i}": 1 for i in range(MAX_KEYS)}}, schema)
    assert _problems(exc_info) == {"(file)": "too_large"}


# '2,5' could mean 2.5 or 25, so the example is a typical cholesterol, not a guess.
@pytest.mark.parametrize(
    ("typed", "example"),
    [("1,000", "1000"), ("1_0", "10"), ("１２", "12"), ("٣", "3"), ("2,5", "246")],
)
def test_number_that_is_not_plain_is_refused_showing_what_was_typed(
    schema, good_inputs, typed, example
):
    expected = (
        f"Serum cholesterol: '{typed}' is not a plain number: write digits only, with '.' for "
        f"decimals, e.g. {example}."
    )
    inputs = {**good_inputs, "cholesterol": typed}
    for parse, content in (
        (validate_inputs, inputs),
        (case_from_json, json.dumps(inputs)),
        (case_from_csv, _csv({**good_inputs, "cholesterol": f'"{typed}"'})),
    ):
        with pytest.raises(CaseValidationError) as exc_info:
            parse(content, schema)
        assert _problems(exc_info) == {"cholesterol": "wrong_type"}
        assert exc_info.value.problems[0].message == expected


@pytest.mark.parametrize("typed", ["61", " 61 ", "+61", "61.0", "6.1e1", "610E-1", "61."])
def test_plain_decimal_numbers_are_accepted(schema, good_inputs, typed):
    assert validate_inputs({**good_inputs, "age": typed}, schema).values["age"] == 61.0


@pytest.mark.parametrize("typed", ["-0", "-0.0", "-0e5", -0.0, 0])
def test_minus_zero_is_stored_as_zero(schema, good_inputs, typed):
    case = validate_inputs({**good_inputs, "st_depression": typed}, schema)
    value = case.values["st_depression"]
    assert value == 0.0 and math.copysign(1.0, value) == 1.0
    assert schema["st_depression"].describe_value(value) == "0 mm"


def test_minus_zero_from_csv_and_json_is_stored_as_zero(schema, good_inputs):
    for case in (
        case_from_csv(_csv({**good_inputs, "st_depression": "-0"}), schema),
        case_from_json(json.dumps({**good_inputs, "st_depression": -0.0}), schema),
    ):
        assert math.copysign(1.0, case.values["st_depression"]) == 1.0


def test_unprintable_text_is_escaped_and_long_text_cut_in_messages(schema, good_inputs):
    with pytest.raises(CaseValidationError) as exc_info:
        validate_inputs({**good_inputs, "sex": "Ma\u202ele\ud800", "x" * 5_000: 1}, schema)
    messages = [p.message for p in exc_info.value.problems]
    assert messages[0].startswith("Sex: 'Ma\\u202ele\\ud800' is not an allowed value")
    assert "… (5,000 characters)" in messages[1]
    assert all(len(p.field) < 100 for p in exc_info.value.problems)


def test_unreadable_case_id_is_refused(schema, good_inputs):
    for case_id in ("P\u202e7", "x" * 1_000, {"a": 1}, True):
        with pytest.raises(CaseValidationError) as exc_info:
            case_from_json(json.dumps({"case_id": case_id, "inputs": good_inputs}), schema)
        assert _problems(exc_info) == {"case_id": "bad_format"}


def test_text_with_a_lone_surrogate_is_refused_as_not_utf8(schema):
    with pytest.raises(CaseValidationError, match=r"not UTF-8 text"):
        case_from_csv("age\n\ud800\n", schema)


def test_csv_the_csv_module_cannot_read_is_a_file_problem(schema):
    with pytest.raises(CaseValidationError) as exc_info:
        case_from_csv('age,sex\n"61"x,"Male\n', schema)
    assert all(p.field for p in exc_info.value.problems)


@pytest.mark.parametrize(
    "values",
    [
        {"a": 1.0, "b": "Male", "c": None, "d": float("nan"), "e": 3, "f": -0.0},
        {"x": np.float64(2.5), "y": np.int64(4), "z": True},
        {"only_missing": None},
    ],
)
def test_the_case_frame_is_the_one_pandas_infers_then_casts_to_object(values):
    # to_frame is built from one object array for speed; the model must see exactly the frame
    # the plain construction gives: object columns, Python values, None for missing.
    plain = pd.DataFrame([values], columns=list(values))
    plain = plain.astype(object).where(plain.notna(), None)
    built = Case(values=values, source="test").to_frame()
    pd.testing.assert_frame_equal(built, plain, check_column_type=True, check_index_type=True)
    for name in values:
        got, expected = built[name].iloc[0], plain[name].iloc[0]
        assert type(got) is type(expected) and (got == expected or got is expected is None)


#: Every public name of the one-file ``caselens.explain.cases`` before it became a package.
CASES_NAMES_BEFORE_THE_SPLIT = [
    "INFINITE_TEXT",
    "MAX_CASE_ID_CHARS",
    "MAX_COLUMNS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT_DIGITS",
    "MAX_KEYS",
    "MAX_UPLOAD_BYTES",
    "MAX_VALUE_CHARS",
    "MISSING_TEXT",
    "NOT_A_NUMBER_TEXT",
    "PLAIN_NUMBER",
    "RARE_CATEGORY_MIN_COUNT",
    "RARE_CATEGORY_SHARE",
    "SHOWN_CHARS",
    "Case",
    "FieldFlag",
    "FieldProblem",
    "FlagCode",
    "ProblemCode",
    "case_from_csv",
    "case_from_json",
    "case_from_upload",
    "validate_inputs",
]


def test_the_cases_face_still_offers_every_name_of_the_one_file_module():
    import importlib

    from caselens.explain import cases as face

    assert set(CASES_NAMES_BEFORE_THE_SPLIT) <= set(face.__all__)
    for name in face.__all__:
        value = getattr(face, name)
        # The face hands out the defining module's own object, not a copy.
        home = importlib.import_module(f"caselens.explain.cases.{face._PARTS[name]}")
        assert getattr(home, name) is value, name
    with pytest.raises(AttributeError, match="has no attribute 'case_from_xml'"):
        face.case_from_xml  # noqa: B018


def test_the_field_checks_docstring_example_runs():
    import doctest

    from caselens.explain.cases import fields

    result = doctest.testmod(fields)
    assert result.attempted > 0
    assert result.failed == 0
