"""One patient's inputs: parsed from a form, a one-row CSV or JSON, and checked field by field.

Every problem is collected before anything is returned, so the clinician sees them all at
once; a case with any refusal raises :class:`~caselens.errors.CaseValidationError` and
nothing is half-applied. Values outside the training range are accepted but carried as
flags for the out-of-distribution checks.

Case files are untrusted: parsing is linear in the file (duplicates counted, not searched
for), bounded by the ``MAX_*`` limits below, and any parser failure becomes a '(file)'
problem, never a traceback. Numbers are plain decimals only; what was typed is quoted back
cut to ``SHOWN_CHARS`` with unprintable characters escaped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from caselens.errors import CaseValidationError
from caselens.model.bounded import json_nesting_depth
from caselens.model.column_index import column_index
from caselens.model.features import MISSING_TEXT, FeatureSchema, FeatureSpec

MAX_UPLOAD_BYTES = 1_000_000
#: Columns in a CSV header. A case has one column per input; the samples have 13 and 25.
MAX_COLUMNS = 500
#: Keys in one JSON object or one mapping of form values.
MAX_KEYS = 500
#: Characters in one value (a cell or a JSON string). Enough for a 5,000-digit number to be
#: refused as out of range rather than as too long; no real input comes near it.
MAX_VALUE_CHARS = 10_000
#: Nesting of JSON arrays and objects. A case needs at most 3: ``[{"inputs": {…}}]``.
MAX_JSON_DEPTH = 10
#: Digits in a JSON integer that is turned into an int; longer ones stay text and are judged
#: as typed (always out of range), so Python's own digit limit is never reached.
MAX_JSON_INT_DIGITS = 100
#: Characters of a case reference (``case_id``).
MAX_CASE_ID_CHARS = 100
#: Characters of typed text quoted back in a message; the rest is cut with '…'.
SHOWN_CHARS = 40
RARE_CATEGORY_MIN_COUNT = 10
RARE_CATEGORY_SHARE = 0.01
NOT_A_NUMBER_TEXT = {"nan", "-nan", "+nan"}
INFINITE_TEXT = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
#: A plain decimal number: optional sign, ASCII digits, optional '.', optional exponent.
#: Unambiguous (no nested repeats), so matching is linear even on long text; re.ASCII keeps
#: ``\d`` to 0-9, where Python's float() would also take '1_0', '１２' or '٣'.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)

ProblemCode = Literal[
    "unknown_field",
    "missing_required",
    "wrong_type",
    "not_whole_number",
    "outside_limits",
    "unknown_category",
    "not_finite",
    "duplicate_field",
    "empty_file",
    "several_rows",
    "too_large",
    "not_utf8",
    "bad_format",
]
FlagCode = Literal["outside_training_range", "rare_category", "missing_value"]


@dataclass(frozen=True)
class FieldProblem:
    """One reason a case was refused, tied to a field ('(file)' for whole-file problems)."""

    field: str
    code: ProblemCode
    message: str


@dataclass(frozen=True)
class FieldFlag:
    """A value that was accepted but that later checks should flag."""

    field: str
    code: FlagCode
    message: str


@dataclass(frozen=True)
class Case:
    """One patient's validated inputs in schema order (``None`` = not recorded).

    Attributes
    ----------
    values : dict
        Feature name → number (float), category (str) or None.
    source : str
        'form', 'csv', 'json' or 'demo'.
    case_id : str or None
        A reference for the patient or demo case, if one was given.
    flags : tuple of FieldFlag
        Accepted values that fall outside what the model saw in training.
    """

    values: dict[str, Any]
    source: str
    case_id: str | None = None
    flags: tuple[FieldFlag, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The case as a one-row DataFrame of the model's inputs.

        Every column has dtype object and holds a plain Python value (``None`` = not
        recorded), exactly as ``pd.DataFrame([values]).astype(object).where(notna, None)``
        gives it; built from one object array (one block, no type inference) with the
        shared column index, because the general way took milliseconds on every report.
        """
        cells = np.empty((1, len(self.values)), dtype=object)
        for j, value in enumerate(self.values.values()):
            cells[0, j] = _frame_cell(value)  # cell by cell: any value stays one cell
        return pd.DataFrame(
            cells,
            columns=column_index(self.values),
            index=pd.RangeIndex(1),
            dtype=object,
            copy=False,
        )


def _frame_cell(value: Any) -> Any:
    """One cell of :meth:`Case.to_frame`: NaN as None, numpy scalars as Python scalars."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _label(feature: FeatureSpec) -> str:
    return feature.label


def _number_phrase(feature: FeatureSpec) -> str:
    kind = "a whole number" if feature.kind == "integer" else "a number"
    return f"{kind} of {feature.unit}" if feature.unit else kind


def _expected(feature: FeatureSpec) -> str:
    if feature.kind == "category":
        return f"one of: {', '.join(feature.categories or ())}"
    return _number_phrase(feature)


def _range_text(low: float | None, high: float | None, unit: str | None) -> str:
    unit_text = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low:g} to {high:g}{unit_text}"
    if low is not None:
        return f"at least {low:g}{unit_text}"
    return f"at most {high:g}{unit_text}"


def _clip(text: str) -> str:
    """Text as it can be quoted back: cut to SHOWN_CHARS, unprintable characters escaped.

    Escaping keeps control characters, lone surrogates and direction overrides out of
    messages, where they could not be encoded or would change what the reader sees.
    """
    head = "".join(
        ch
        if ch.isprintable()
        else f"\\u{ord(ch):04x}"
        if ord(ch) <= 0xFFFF
        else f"\\U{ord(ch):08x}"
        for ch in text[:SHOWN_CHARS]
    )
    return head if len(text) <= SHOWN_CHARS else f"{head}… ({len(text):,} characters)"


def _shown(raw: Any) -> str:
    """What was given, for a message: quoted text, a number, or a type and its start."""
    if isinstance(raw, str):
        return f"'{_clip(raw)}'"
    if raw is None or isinstance(raw, bool | float):
        return repr(raw)
    if isinstance(raw, int):
        # str() of an int over 4,300 digits raises; say how long it is instead.
        if raw.bit_length() > 64:
            return f"a number of about {int(raw.bit_length() * math.log10(2)) + 1:,} digits"
        return str(raw)
    try:
        text = repr(raw)
    except Exception:  # any object may come from a caller: name its type
        return f"a {type(raw).__name__}"
    return f"{type(raw).__name__} {_clip(text)}"


def _field_of(name: Any) -> str:
    """A key as a problem's field: clipped, escaped and never blank (a CSV may leave it empty)."""
    text = _clip(name) if isinstance(name, str) else _shown(name)
    return text if text.strip() else "(no name)"


def _is_missing(raw: Any) -> bool:
    if raw is None:
        return True
    return isinstance(raw, str) and raw.strip().lower() in MISSING_TEXT


def _example_number(text: str, feature: FeatureSpec) -> str:
    """The typed number written plainly if that is unambiguous, else a typical value."""
    if len(text) <= SHOWN_CHARS:
        ascii_text = "".join(
            str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text
        ).replace("_", "")
        if _THOUSANDS.fullmatch(ascii_text):
            ascii_text = ascii_text.replace(",", "")
        if PLAIN_NUMBER.fullmatch(ascii_text) and math.isfinite(float(ascii_text)):
            return ascii_text
    low = feature.training_min if feature.training_min is not None else feature.hard_min
    high = feature.training_max if feature.training_max is not None else feature.hard_max
    middle = (low + high) / 2 if low is not None and high is not None else 12.0
    return f"{round(middle)}" if feature.kind == "integer" else f"{middle:g}"


def _outside_limits(feature: FeatureSpec, shown: str) -> FieldProblem:
    low, high = feature.hard_min, feature.hard_max
    limits = (
        f"the possible range ({_range_text(low, high, feature.unit)})"
        if low is not None or high is not None
        else "any value this input can take"
    )
    return FieldProblem(
        feature.name,
        "outside_limits",
        f"{feature.label}: {shown} is outside {limits}; check the value.",
    )


def _number_from_text(feature: FeatureSpec, raw: str, problems: list[FieldProblem]) -> float | None:
    name = _label(feature)
    text = raw.strip()
    lowered = text.lower()
    if lowered in NOT_A_NUMBER_TEXT or lowered in INFINITE_TEXT:
        problems.append(
            FieldProblem(
                feature.name,
                "not_finite",
                f"{name}: got {_shown(raw)}, which is not a finite number; enter "
                f"{_number_phrase(feature)}, or leave it empty if it was not recorded.",
            )
        )
        return None
    if not PLAIN_NUMBER.fullmatch(text):
        if any(ch.isdigit() for ch in text):
            # A number written another way: separators, underscores, other scripts' digits.
            # Python's float() reads some of these ('1_0' as 10), so refuse them all.
            message = (
                f"{name}: {_shown(text)} is not a plain number: write digits only, with '.' "
                f"for decimals, e.g. {_example_number(text, feature)}."
            )
        else:
            message = f"{name}: expected {_number_phrase(feature)}, got {_shown(raw)}."
        problems.append(FieldProblem(feature.name, "wrong_type", message))
        return None
    number = float(text)
    if math.isinf(number):
        # Written as finite digits (a 400-digit integer, 1e999) but beyond any float.
        problems.append(_outside_limits(feature, _shown(text)))
        return None
    return number


def _check_number(
    feature: FeatureSpec, raw: Any, problems: list[FieldProblem], flags: list[FieldFlag]
) -> float | None:
    name = _label(feature)
    if isinstance(raw, bool):
        problems.append(
            FieldProblem(
                feature.name,
                "wrong_type",
                f"{name}: expected {_number_phrase(feature)}, got {raw!r}.",
            )
        )
        return None
    if isinstance(raw, str):
        parsed = _number_from_text(feature, raw, problems)
        if parsed is None:
            return None
        number = parsed
    elif isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError:
            problems.append(_outside_limits(feature, _shown(raw)))
            return None
    else:
        problems.append(
            FieldProblem(
                feature.name,
                "wrong_type",
                f"{name}: expected {_number_phrase(feature)}, got {_shown(raw)}.",
            )
        )
        return None
    if math.isnan(number) or math.isinf(number):
        problems.append(
            FieldProblem(
                feature.name,
                "not_finite",
                f"{name}: got {number}, which is not a finite number; enter "
                f"{_number_phrase(feature)}, or leave it empty if it was not recorded.",
            )
        )
        return None
    # -0 is 0: adding +0.0 drops the sign, so it is never stored or shown as "−0".
    number += 0.0
    if feature.kind == "integer" and number != int(number):
        problems.append(
            FieldProblem(
                feature.name,
                "not_whole_number",
                f"{name}: expected a whole number of {feature.unit or 'units'}, got {number:g}.",
            )
        )
        return None
    low, high = feature.hard_min, feature.hard_max
    if (low is not None and number < low) or (high is not None and number > high):
        problems.append(
            FieldProblem(
                feature.name,
                "outside_limits",
                f"{name}: {number:g}{' ' + feature.unit if feature.unit else ''} is outside the "
                f"possible range ({_range_text(low, high, feature.unit)}); check the value.",
            )
        )
        return None
    t_low, t_high = feature.training_min, feature.training_max
    if (t_low is not None and number < t_low) or (t_high is not None and number > t_high):
        flags.append(
            FieldFlag(
                feature.name,
                "outside_training_range",
                f"{name}: {number:g}{' ' + feature.unit if feature.unit else ''} is outside the "
                f"range the model was trained on ({_range_text(t_low, t_high, feature.unit)}).",
            )
        )
    return number


def _check_category(
    feature: FeatureSpec, raw: Any, problems: list[FieldProblem], flags: list[FieldFlag]
) -> str | None:
    allowed = list(feature.categories or ())
    if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
        problems.append(
            FieldProblem(
                feature.name,
                "not_finite",
                f"{feature.label}: got {raw}; expected one of: {', '.join(allowed)}.",
            )
        )
        return None
    text: str | None = None
    if isinstance(raw, str):
        text = raw.strip()
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        # A huge int matches no category, and str() of one over 4,300 digits raises.
        text = None if isinstance(raw, int) and raw.bit_length() > 64 else str(raw)
    lowered = text.lower() if text is not None else None
    matches = [c for c in allowed if c.lower() == lowered]
    if not matches:
        problems.append(
            FieldProblem(
                feature.name,
                "unknown_category",
                f"{feature.label}: {_shown(raw)} is not an allowed value; allowed: "
                f"{', '.join(allowed)}.",
            )
        )
        return None
    value = matches[0]
    counts = feature.training_counts or {}
    seen = counts.get(value, 0)
    # Rare = fewer than 10 training patients or under 1% of them: too few to learn from.
    if counts and seen < max(RARE_CATEGORY_MIN_COUNT, RARE_CATEGORY_SHARE * sum(counts.values())):
        when = "never seen" if seen == 0 else f"seen only {seen} times"
        flags.append(
            FieldFlag(
                feature.name,
                "rare_category",
                f"{feature.label}: '{value}' was {when} in training ({sum(counts.values()):,} "
                "patients).",
            )
        )
    return value


def validate_inputs(
    data: Mapping[str, Any],
    schema: FeatureSchema,
    *,
    source: str = "form",
    case_id: str | None = None,
) -> Case:
    """Check one patient's raw inputs against the feature schema.

    Text numbers must be plain decimals (optional sign, ASCII digits, optional '.' and
    exponent); separators, underscores and other scripts' digits are refused, not guessed.

    Parameters
    ----------
    data : mapping
        Field name → raw value (number, text, or None/empty for not recorded), at most
        ``MAX_KEYS`` fields, text values at most ``MAX_VALUE_CHARS`` characters.
    schema : FeatureSchema
    source : str
        Where the inputs came from, recorded in the case.
    case_id : str, optional

    Returns
    -------
    Case

    Raises
    ------
    CaseValidationError
        Listing every problem, per field, in schema order (unknown fields last); a mapping
        with more than ``MAX_KEYS`` fields is refused as a whole ('(file)').

    Examples
    --------
    >>> from caselens.model.features import FeatureSchema, FeatureSpec
    >>> schema = FeatureSchema(features=(FeatureSpec(name="age", label="Age",
    ...     patient_label="Age", kind="integer", unit="years", hard_min=0, hard_max=120),))
    >>> validate_inputs({"age": "61"}, schema).values
    {'age': 61.0}
    """
    if len(data) > MAX_KEYS:
        raise _file_problem(
            "too_large",
            f"The case has {len(data):,} fields; expected one per input of this model "
            f"({len(schema)}), and at most {MAX_KEYS:,}.",
        )
    problems: list[FieldProblem] = []
    flags: list[FieldFlag] = []
    values: dict[str, Any] = {}
    for feature in schema:
        raw = data.get(feature.name)
        if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
            problems.append(
                FieldProblem(
                    feature.name,
                    "too_large",
                    f"{feature.label}: the value is {len(raw):,} characters long, over the "
                    f"limit of {MAX_VALUE_CHARS:,}; expected {_expected(feature)}.",
                )
            )
            values[feature.name] = None
            continue
        if _is_missing(raw):
            if not feature.missing_allowed:
                problems.append(
                    FieldProblem(
                        feature.name,
                        "missing_required",
                        f"{feature.label}: required, but no value was given.",
                    )
                )
            else:
                if feature.training_missing_share < 0.05:
                    flags.append(
                        FieldFlag(
                            feature.name,
                            "missing_value",
                            f"{feature.label}: not recorded, which was rare in training "
                            f"({feature.training_missing_share:.1%} of patients).",
                        )
                    )
                else:
                    flags.append(
                        FieldFlag(feature.name, "missing_value", f"{feature.label}: not recorded.")
                    )
            values[feature.name] = None
            continue
        if feature.kind == "category":
            values[feature.name] = _check_category(feature, raw, problems, flags)
        else:
            values[feature.name] = _check_number(feature, raw, problems, flags)
    known = set(schema.names)
    for name in data:
        if name not in known:
            problems.append(
                FieldProblem(
                    _field_of(name),
                    "unknown_field",
                    f"{_shown(name)} is not an input of this model; remove it or check the "
                    f"spelling (inputs: {', '.join(schema.names)}).",
                )
            )
    if problems:
        raise CaseValidationError(problems)
    return Case(values=values, source=source, case_id=case_id, flags=tuple(flags))


def _file_problem(code: ProblemCode, message: str) -> CaseValidationError:
    return CaseValidationError([FieldProblem("(file)", code, message)])


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        # surrogatepass: a lone surrogate becomes bytes that fail below as "not UTF-8".
        content = content.encode("utf-8", "surrogatepass")
    if len(content) > MAX_UPLOAD_BYTES:
        raise _file_problem(
            "too_large",
            f"The file is {len(content):,} bytes; the limit for one case is "
            f"{MAX_UPLOAD_BYTES:,} bytes (1 MB).",
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_problem(
            "not_utf8",
            f"The file is not UTF-8 text (byte {exc.start} cannot be read); save "
            "it as UTF-8 and upload it again.",
        ) from exc
    if not text.strip():
        raise _file_problem("empty_file", "The file is empty; expected one patient's inputs.")
    return text


def _csv_rows(text: str, schema: FeatureSchema) -> tuple[list[list[str]], int]:
    """The first two non-empty rows and the number of non-empty rows, in one pass."""
    # newline="": the csv module then ends rows at CR, LF or CRLF (old Mac Excel saves CR).
    reader = csv.reader(io.StringIO(text, newline=""))
    kept: list[list[str]] = []
    count = 0
    # filter(None, …) skips blank lines in C: a 1 MB file of line ends stays fast.
    for row in filter(None, reader):
        if len(row) > MAX_COLUMNS:
            raise _file_problem(
                "too_large",
                f"Row {count + 1} of the file has {len(row):,} columns; expected one per "
                f"input of this model ({len(schema)}), and at most {MAX_COLUMNS:,}.",
            )
        if any(map(str.strip, row)):
            count += 1
            if len(kept) < 2:
                kept.append(row)
    return kept, count


def case_from_csv(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a CSV with a header row and exactly one data row (CR, LF or CRLF line ends).

    Raises
    ------
    CaseValidationError
        For file problems (size, encoding, empty, too many columns, a value too long,
        duplicate columns, several rows, unreadable CSV) or field problems.
    """
    text = _decode(content)
    try:
        rows, count = _csv_rows(text, schema)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _file_problem(
                "too_large",
                f"A value in the file is longer than {csv.field_size_limit():,} characters; "
                f"each value can be at most {MAX_VALUE_CHARS:,} characters.",
            ) from exc
        raise _file_problem(
            "bad_format",
            f"The file could not be read as CSV ({_clip(str(exc))}); expected a header row "
            "and one row of values, separated by commas.",
        ) from exc
    except CaseValidationError:
        raise
    except Exception as exc:  # any parser failure is a message, not a traceback
        raise _file_problem(
            "bad_format",
            f"The file could not be read as CSV ({type(exc).__name__}); expected a header "
            "row and one row of values, separated by commas.",
        ) from exc
    if not rows:
        raise _file_problem("empty_file", "The file is empty; expected one patient's inputs.")
    header = [h.strip() for h in rows[0]]
    counts = Counter(header)
    duplicated = sorted(h for h, n in counts.items() if n > 1)
    if duplicated:
        raise CaseValidationError(
            [
                FieldProblem(
                    _field_of(h),
                    "duplicate_field",
                    f"Column {_shown(h)} appears {counts[h]} times; keep one.",
                )
                for h in duplicated
            ]
        )
    if count < 2:
        raise _file_problem(
            "empty_file", "The file has a header row but no patient row; expected one row."
        )
    if count > 2:
        raise _file_problem(
            "several_rows",
            f"The file has {count - 1} patient rows; upload one patient "
            "(one row under the header) at a time.",
        )
    row = rows[1]
    if len(row) != len(header):
        raise _file_problem(
            "bad_format",
            f"The header has {len(header)} columns but the patient row has "
            f"{len(row)}; check for a missing or extra comma.",
        )
    return validate_inputs(dict(zip(header, row, strict=True)), schema, source="csv")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build one JSON object, refusing too many keys or a repeated key (json keeps the last)."""
    if len(pairs) > MAX_KEYS:
        raise _file_problem(
            "too_large",
            f"A JSON object in the file has {len(pairs):,} fields; a case has one per input, "
            f"at most {MAX_KEYS:,}.",
        )
    data = dict(pairs)
    if len(data) != len(pairs):
        counts = Counter(k for k, _ in pairs)
        raise CaseValidationError(
            [
                FieldProblem(
                    _field_of(k),
                    "duplicate_field",
                    f"Field {_shown(k)} appears {n} times; keep one.",
                )
                for k, n in sorted(counts.items())
                if n > 1
            ]
        )
    return data


def _json_int(digits: str) -> int | str:
    # Past the bound the digits stay text: judged as typed (out of range), and int() never
    # meets Python's 4,300-digit limit.
    return int(digits) if len(digits) <= MAX_JSON_INT_DIGITS else digits


def _json_float(text: str) -> float | str:
    return float(text) if len(text) <= MAX_VALUE_CHARS else text


def _case_id_problems(case_id: Any) -> list[FieldProblem]:
    if case_id is None:
        return []
    text = (
        str(case_id) if isinstance(case_id, str | int) and not isinstance(case_id, bool) else None
    )
    if text is None or not 0 < len(text) <= MAX_CASE_ID_CHARS or not text.isprintable():
        return [
            FieldProblem(
                "case_id",
                "bad_format",
                f"case_id: got {_shown(case_id)}; expected a reference of 1 to "
                f'{MAX_CASE_ID_CHARS} printable characters, e.g. "P-7".',
            )
        ]
    return []


def case_from_json(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a JSON object of inputs, either flat or as ``{"case_id": …, "inputs": {…}}``.

    Raises
    ------
    CaseValidationError
        For file problems (size, encoding, empty, nesting deeper than ``MAX_JSON_DEPTH``,
        more than ``MAX_KEYS`` keys in an object, repeated keys, invalid JSON, several
        patients) or field problems.
    """
    text = _decode(content)
    depth = json_nesting_depth(text)
    too_deep = (
        f"The JSON is nested {{depth}} levels deep; a case needs at most 3 (a list around "
        f'an object with "inputs"), and the limit is {MAX_JSON_DEPTH}.'
    )
    if depth > MAX_JSON_DEPTH:
        raise _file_problem("too_large", too_deep.format(depth=f"{depth:,}"))
    try:
        data = json.loads(
            text, object_pairs_hook=_json_object, parse_int=_json_int, parse_float=_json_float
        )
    except CaseValidationError:
        raise
    except json.JSONDecodeError as exc:
        raise _file_problem(
            "bad_format",
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
        ) from exc
    except RecursionError as exc:
        # Should not happen after the depth check; kept so no input can reach a traceback.
        raise _file_problem("too_large", too_deep.format(depth="too many")) from exc
    except Exception as exc:  # any parser failure is a message, not a traceback
        raise _file_problem(
            "bad_format",
            f"The file could not be read as JSON ({type(exc).__name__}); expected one object "
            "of field names and values.",
        ) from exc
    if isinstance(data, list):
        if len(data) != 1:
            raise _file_problem(
                "several_rows" if data else "empty_file",
                f"The JSON holds {len(data)} patients; expected exactly one object.",
            )
        data = data[0]
    if not isinstance(data, dict):
        raise _file_problem("bad_format", "Expected a JSON object of field names and values.")
    case_id = None
    if isinstance(data.get("inputs"), dict):
        case_id = data.get("case_id")
        data = data["inputs"]
    id_problems = _case_id_problems(case_id)
    try:
        case = validate_inputs(
            data, schema, source="json", case_id=str(case_id) if case_id is not None else None
        )
    except CaseValidationError as exc:
        raise CaseValidationError([*exc.problems, *id_problems]) from None
    if id_problems:
        raise CaseValidationError(id_problems)
    return case


def case_from_upload(filename: str, content: bytes, schema: FeatureSchema) -> Case:
    """Parse an uploaded file by its extension (.csv or .json)."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return case_from_csv(content, schema)
    if lowered.endswith(".json"):
        return case_from_json(content, schema)
    raise _file_problem(
        "bad_format", f"{_shown(filename)} is neither .csv nor .json; upload one of those."
    )
