"""Property-based fuzz of case input: every input is a valid case or per-field problems.

The CSV and JSON parsers and ``validate_inputs`` are fed both sample schemas' demo cases with
one field mutated (odd text, huge numbers, other scripts' digits, nesting, duplicates, odd line
endings) and raw text or bytes. Whatever comes in, the outcome is a :class:`Case` or a
:class:`CaseValidationError` of :class:`FieldProblem` objects with a message; any other
exception fails. Time per input is bounded by construction (linear parsing, size limits), so
no time is asserted here; ``caselens bench cases`` measures it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from functools import cache
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from caselens.errors import CaseValidationError
from caselens.explain.cases import (
    MAX_JSON_DEPTH,
    MAX_VALUE_CHARS,
    Case,
    FieldProblem,
    case_from_csv,
    case_from_json,
    case_from_upload,
    validate_inputs,
)
from caselens.model.bundle import DEMO_CASES_FILE, FEATURES_FILE, load_feature_schema
from caselens.model.features import FeatureSchema
from caselens.settings import SAMPLE_MODELS_DIR

SAMPLE_IDS = ("heart-disease", "readmission-30d")
WHOLE_INPUT_FIELDS = {"(file)", "case_id"}

# Bounded so the module runs in seconds on two shared cores; database=None so a run leaves
# nothing behind and does not depend on earlier runs.
settings.register_profile(
    "case-fuzz",
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("case-fuzz")


@cache
def _schema(model_id: str) -> FeatureSchema:
    return load_feature_schema(SAMPLE_MODELS_DIR / model_id / FEATURES_FILE)


@cache
def _demo_inputs(model_id: str) -> tuple[tuple[str, Any], ...]:
    demos = json.loads((SAMPLE_MODELS_DIR / model_id / DEMO_CASES_FILE).read_text())
    return tuple(demos[0]["inputs"].items())


def _note(parse: Any, outcome: str) -> None:
    # Shown by --hypothesis-show-statistics: which outcomes the search reached.
    if currently_in_test_context():
        event(getattr(parse, "__name__", "parse"), outcome)


def _check_outcome(parse: Any, content: Any, schema: FeatureSchema) -> Case | None:
    """Run one parse: a valid Case, or per-field problems with a message; nothing else."""
    try:
        case = parse(content, schema)
    except CaseValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem, FieldProblem)
            assert isinstance(problem.field, str) and problem.field
            assert (
                problem.field in schema
                or problem.field in WHOLE_INPUT_FIELDS
                or problem.code in ("unknown_field", "duplicate_field")
            ), problem
            assert isinstance(problem.message, str) and problem.message.strip()
            problem.message.encode("utf-8")  # can always be shown or stored
            assert len(problem.message) < 2_000  # typed text is cut, not echoed whole
        _note(parse, ", ".join(sorted({p.code for p in exc.problems})))
        return None
    _note(parse, "a valid case")
    assert isinstance(case, Case)
    assert list(case.values) == schema.names
    for feature in schema:
        value = case.values[feature.name]
        if value is None:
            assert feature.missing_allowed
        elif feature.kind == "category":
            assert value in (feature.categories or ())
        else:
            assert isinstance(value, float) and math.isfinite(value)
            assert math.copysign(1.0, value) == 1.0 or value != 0.0  # never -0
            assert feature.hard_min is None or value >= feature.hard_min
            assert feature.hard_max is None or value <= feature.hard_max
    return case


# Odd text a clinician, a spreadsheet or an attacker might put in a cell.
HOSTILE_TEXT = [
    "1,000",
    "1_0",
    "１２",
    "٣",
    "-0",
    "-0.0",
    "+0e-0",
    "1e400",
    "-1e400",
    "1e-400",
    "9" * 400,
    "9" * 5_000,
    "0." + "0" * 5_000 + "1",
    "x" * (MAX_VALUE_CHARS + 1),
    "NaN",
    "-inf",
    "Infinity",
    "0x10",
    "1.2.3",
    "12 mm",
    " 61 ",
    "6.1e1",
    ".5",
    "5.",
    "e5",
    "+-1",
    "",
    "  ",
    "n/a",
    "?",
    "\x00",
    "\r",
    "\n",
    "\r\n",
    '"',
    "'",
    ",",
    "\ufeff61",
    "6\u200b1",
    "61\u00a0",
    "\u202eelaM",
    "\ud800",
    "Ｍale",
    "female",
    " MALE ",
    "[1]",
    '{"a": 1}',
    "[" * 50,
]


class HugeInt(int):
    """An int too long for Python's own repr (over 4,300 digits), so Hypothesis can print it."""

    def __repr__(self) -> str:
        return f"HugeInt(<{self.bit_length()} bits>)"


HUGE_NUMBERS: list[Any] = [
    HugeInt(10**400),
    HugeInt(-(10**5_000)),
    2**64,
    -(2**63),
    1e308,
    -0.0,
    float("nan"),
    float("inf"),
    -float("inf"),
    5e-324,
]

digit_text = st.text(
    alphabet=st.characters(categories=["Nd", "No", "Nl"]) | st.sampled_from("0123456789.,_-+eE "),
    min_size=1,
    max_size=12,
)
odd_text = st.sampled_from(HOSTILE_TEXT) | digit_text | st.text(max_size=30)
nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
odd_value = (
    odd_text
    | st.sampled_from(HUGE_NUMBERS)
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.none()
    | nested
)


@st.composite
def mutated_inputs(draw: st.DrawFn, values: st.SearchStrategy[Any] = odd_value) -> tuple:
    """(model id, a demo case's inputs with one field changed, dropped or added)."""
    model_id = draw(st.sampled_from(SAMPLE_IDS))
    inputs = dict(_demo_inputs(model_id))
    names = list(inputs)
    action = draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
    if action == "set":
        inputs[draw(st.sampled_from(names))] = draw(values)
    elif action == "drop":
        del inputs[draw(st.sampled_from(names))]
    else:
        inputs[draw(odd_text)] = draw(values)
    return model_id, inputs


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "9" * 400  # str() of a huge int is limited in Python itself
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if not isinstance(value, float)
        else repr(value)
    )


@st.composite
def csv_texts(draw: st.DrawFn) -> tuple[str, str]:
    """A one-patient CSV with one mutation, odd line ends and sometimes a file-level fault."""
    model_id, inputs = draw(mutated_inputs(values=odd_text | st.sampled_from(HUGE_NUMBERS)))
    header = list(inputs)
    row = [_cell(v) for v in inputs.values()]
    fault = draw(st.sampled_from(["none", "none", "dup_column", "extra_row", "short_row", "bom"]))
    if fault == "dup_column":
        header.append(header[0])
        row.append(row[0])
    elif fault == "short_row":
        row.pop()
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r", "\r\n"])))
    writer.writerow(header)
    writer.writerow(row)
    if fault == "extra_row":
        writer.writerow(row)
    text = buffer.getvalue()
    if fault == "bom":
        text = "\ufeff" + text
    if draw(st.integers(0, 7)) == 0:
        # A cut anywhere: mid-quote, mid-line, mid-number.
        text = text[: draw(st.integers(len(text) // 4, len(text)))]
    return model_id, text


@st.composite
def json_texts(draw: st.DrawFn) -> tuple[str, str]:
    """A one-patient JSON with one mutation, a wrapper, duplicates, nesting or a huge literal."""
    model_id, inputs = draw(mutated_inputs())
    shape = draw(st.sampled_from(["flat", "wrapped", "listed", "deep", "duplicate", "literal"]))
    case_id = draw(st.none() | odd_text | st.integers() | nested)
    body: Any = {"case_id": case_id, "inputs": inputs} if shape == "wrapped" else inputs
    if shape == "listed":
        body = [inputs] * draw(st.integers(0, 3))
    if shape == "deep":
        for _ in range(draw(st.integers(1, 3 * MAX_JSON_DEPTH))):
            body = draw(st.sampled_from([lambda b: [b], lambda b: {"inputs": b}]))(body)
    try:
        text = json.dumps(body)
    except ValueError:  # an int json itself cannot write (over 4,300 digits)
        text = json.dumps({k: None for k in inputs})
    if shape == "duplicate":
        key = json.dumps(draw(st.sampled_from(list(inputs)) | odd_text))
        text = f"{text[:-1]}, {key}: {json.dumps(_cell(draw(odd_value)))}}}"
    if shape == "literal":
        name = json.dumps(draw(st.sampled_from(list(inputs))))
        literal = draw(
            st.sampled_from(["9" * 400, "-" + "9" * 5_000, "1e400", "-0", "-0.0", "1E-400", "NaN"])
        )
        text = f"{text[:-1]}, {name}: {literal}}}" if len(text) > 2 else f"{{{name}: {literal}}}"
    return model_id, text


@FUZZ
@given(mutated_inputs())
def test_validate_inputs_on_mutated_dicts(drawn):
    model_id, inputs = drawn
    _check_outcome(validate_inputs, inputs, _schema(model_id))


@FUZZ
@given(csv_texts(), st.booleans())
def test_csv_parser_on_near_valid_files(drawn, as_bytes):
    model_id, text = drawn
    content = text.encode("utf-8", "surrogatepass") if as_bytes else text
    _check_outcome(case_from_csv, content, _schema(model_id))


@FUZZ
@given(json_texts(), st.booleans())
def test_json_parser_on_near_valid_files(drawn, as_bytes):
    model_id, text = drawn
    content = text.encode("utf-8", "surrogatepass") if as_bytes else text
    _check_outcome(case_from_json, content, _schema(model_id))


@FUZZ
@given(
    st.sampled_from(SAMPLE_IDS),
    st.sampled_from(["case.csv", "case.json", "case.CSV", "case.txt"]),
    st.binary(max_size=2_000) | st.text(max_size=2_000).map(lambda t: t.encode("utf-8")),
)
def test_upload_of_raw_bytes(model_id, filename, content):
    schema = _schema(model_id)

    def upload(data: bytes, schema: FeatureSchema) -> Case:
        return case_from_upload(filename, data, schema)

    _check_outcome(upload, content, schema)


@FUZZ
@given(
    st.sampled_from(SAMPLE_IDS),
    st.text(
        alphabet=st.sampled_from('{}[]",:0123456789.-eE \r\n\\agesxtrufnl') | st.characters(),
        max_size=400,
    ),
)
def test_both_parsers_on_raw_text(model_id, text):
    schema = _schema(model_id)
    _check_outcome(case_from_json, text, schema)
    _check_outcome(case_from_csv, text, schema)


def test_the_mutated_demo_cases_are_themselves_valid():
    # So that a mutation, not a broken starting point, is what each example tests.
    for model_id in SAMPLE_IDS:
        schema = _schema(model_id)
        inputs = dict(_demo_inputs(model_id))
        assert _check_outcome(validate_inputs, inputs, schema) is not None
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r")
        writer.writerow(list(inputs))
        writer.writerow([_cell(v) for v in inputs.values()])
        assert _check_outcome(case_from_csv, buffer.getvalue(), schema) is not None
        assert _check_outcome(case_from_json, json.dumps(inputs), schema) is not None
