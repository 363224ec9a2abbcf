"""One patient's inputs: parsed from a form, a one-row CSV or JSON, and checked field by field.

Every problem is collected before anything is returned, so the clinician sees them all at
once; a case with any refusal raises :class:`~caselens.errors.CaseValidationError` and
nothing is half-applied. Values outside the training range are accepted but carried as
flags for the out-of-distribution checks.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from caselens.errors import CaseValidationError
from caselens.features import FeatureSchema, FeatureSpec

MAX_UPLOAD_BYTES = 1_000_000
RARE_CATEGORY_MIN_COUNT = 10
RARE_CATEGORY_SHARE = 0.01
MISSING_TEXT = {"", "na", "n/a", "none", "null", "missing", "not recorded", "?"}
NOT_A_NUMBER_TEXT = {"nan", "-nan", "+nan"}
INFINITE_TEXT = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}

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
        """The case as a one-row DataFrame of the model's inputs."""
        frame = pd.DataFrame([self.values], columns=list(self.values))
        return frame.astype(object).where(frame.notna(), None)


def _label(feature: FeatureSpec) -> str:
    return feature.label


def _number_phrase(feature: FeatureSpec) -> str:
    kind = "a whole number" if feature.kind == "integer" else "a number"
    return f"{kind} of {feature.unit}" if feature.unit else kind


def _range_text(low: float | None, high: float | None, unit: str | None) -> str:
    unit_text = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low:g} to {high:g}{unit_text}"
    if low is not None:
        return f"at least {low:g}{unit_text}"
    return f"at most {high:g}{unit_text}"


def _is_missing(raw: Any) -> bool:
    if raw is None:
        return True
    return isinstance(raw, str) and raw.strip().lower() in MISSING_TEXT


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
        text = raw.strip().replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw
        lowered = str(text).strip().lower()
        if lowered in NOT_A_NUMBER_TEXT or lowered in INFINITE_TEXT:
            problems.append(
                FieldProblem(
                    feature.name,
                    "not_finite",
                    f"{name}: got '{raw}', which is not a finite number; enter "
                    f"{_number_phrase(feature)}, or leave it empty if it was not recorded.",
                )
            )
            return None
        try:
            number = float(text)
        except ValueError:
            problems.append(
                FieldProblem(
                    feature.name,
                    "wrong_type",
                    f"{name}: expected {_number_phrase(feature)}, got '{raw}'.",
                )
            )
            return None
    elif isinstance(raw, int | float):
        number = float(raw)
    else:
        problems.append(
            FieldProblem(
                feature.name,
                "wrong_type",
                f"{name}: expected {_number_phrase(feature)}, got {type(raw).__name__} {raw!r}.",
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
    text = (
        str(raw).strip()
        if isinstance(raw, str | int | float) and not isinstance(raw, bool)
        else None
    )
    if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
        problems.append(
            FieldProblem(
                feature.name,
                "not_finite",
                f"{feature.label}: got {raw}; expected one of: {', '.join(allowed)}.",
            )
        )
        return None
    matches = [c for c in allowed if text is not None and c.lower() == text.lower()]
    if not matches:
        problems.append(
            FieldProblem(
                feature.name,
                "unknown_category",
                f"{feature.label}: '{raw}' is not an allowed value; allowed: {', '.join(allowed)}.",
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

    Parameters
    ----------
    data : mapping
        Field name → raw value (number, text, or None/empty for not recorded).
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
        Listing every problem, per field, in schema order (unknown fields last).

    Examples
    --------
    >>> from caselens.features import FeatureSchema, FeatureSpec
    >>> schema = FeatureSchema(features=(FeatureSpec(name="age", label="Age",
    ...     patient_label="Age", kind="integer", unit="years", hard_min=0, hard_max=120),))
    >>> validate_inputs({"age": "61"}, schema).values
    {'age': 61.0}
    """
    problems: list[FieldProblem] = []
    flags: list[FieldFlag] = []
    values: dict[str, Any] = {}
    for feature in schema:
        raw = data.get(feature.name)
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
    for name in data:
        if name not in schema:
            problems.append(
                FieldProblem(
                    str(name),
                    "unknown_field",
                    f"'{name}' is not an input of this model; remove it or check the spelling "
                    f"(inputs: {', '.join(schema.names)}).",
                )
            )
    if problems:
        raise CaseValidationError(problems)
    return Case(values=values, source=source, case_id=case_id, flags=tuple(flags))


def _file_problem(code: ProblemCode, message: str) -> CaseValidationError:
    return CaseValidationError([FieldProblem("(file)", code, message)])


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        content = content.encode("utf-8")
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


def case_from_csv(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a CSV with a header row and exactly one data row.

    Raises
    ------
    CaseValidationError
        For file problems (size, encoding, empty, duplicate columns, several rows) or field
        problems.
    """
    text = _decode(content)
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise _file_problem("empty_file", "The file is empty; expected one patient's inputs.")
    header = [h.strip() for h in rows[0]]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise CaseValidationError(
            [
                FieldProblem(
                    h, "duplicate_field", f"Column '{h}' appears {header.count(h)} times; keep one."
                )
                for h in duplicated
            ]
        )
    body = rows[1:]
    if not body:
        raise _file_problem(
            "empty_file", "The file has a header row but no patient row; expected one row."
        )
    if len(body) > 1:
        raise _file_problem(
            "several_rows",
            f"The file has {len(body)} patient rows; upload one patient "
            "(one row under the header) at a time.",
        )
    row = body[0]
    if len(row) != len(header):
        raise _file_problem(
            "bad_format",
            f"The header has {len(header)} columns but the patient row has "
            f"{len(row)}; check for a missing or extra comma.",
        )
    return validate_inputs(dict(zip(header, row, strict=True)), schema, source="csv")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise CaseValidationError(
            [
                FieldProblem(
                    k, "duplicate_field", f"Field '{k}' appears {keys.count(k)} times; keep one."
                )
                for k in duplicated
            ]
        )
    return dict(pairs)


def case_from_json(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a JSON object of inputs, either flat or as ``{"case_id": …, "inputs": {…}}``."""
    text = _decode(content)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _file_problem(
            "bad_format",
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
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
    return validate_inputs(
        data, schema, source="json", case_id=str(case_id) if case_id is not None else None
    )


def case_from_upload(filename: str, content: bytes, schema: FeatureSchema) -> Case:
    """Parse an uploaded file by its extension (.csv or .json)."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return case_from_csv(content, schema)
    if lowered.endswith(".json"):
        return case_from_json(content, schema)
    raise _file_problem(
        "bad_format", f"'{filename}' is neither .csv nor .json; upload one of those."
    )
