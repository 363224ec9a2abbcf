"""One patient's inputs checked field by field against the schema (:func:`validate_inputs`).

Every problem is collected before anything is returned; values outside the training range are
accepted and carried as flags. Text numbers are plain decimals only."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from caselens.errors import CaseValidationError
from caselens.explain.cases._quoting import SHOWN_CHARS, _field_of, _shown
from caselens.explain.cases.records import Case, FieldFlag, FieldProblem, _file_problem
from caselens.model.features import MISSING_TEXT, FeatureSchema, FeatureSpec

#: Keys in one JSON object or one mapping of form values.
MAX_KEYS = 500
#: Characters in one value (a cell or a JSON string). Enough for a 5,000-digit number to be
#: refused as out of range rather than as too long; no real input comes near it.
MAX_VALUE_CHARS = 10_000
#: A value not recorded is called rare when fewer than this share of training patients lacked it
#: (:mod:`caselens.explain.context` flags a missing value as unusual by the same cut-off).
MISSING_RARE_SHARE = 0.05
#: A category seen in training for fewer than max(RARE_CATEGORY_MIN_COUNT,
#: RARE_CATEGORY_SHARE × training patients) is flagged as rare: too few to learn it from.
RARE_CATEGORY_MIN_COUNT = 10
RARE_CATEGORY_SHARE = 0.01
#: Text float() would read as not-a-number or infinity; refused as not a finite number.
NOT_A_NUMBER_TEXT = {"nan", "-nan", "+nan"}
INFINITE_TEXT = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
#: A plain decimal number: optional sign, ASCII digits, optional '.', optional exponent.
#: Unambiguous (no nested repeats), so matching is linear even on long text; re.ASCII keeps
#: ``\d`` to 0-9, where Python's float() would also take '1_0', '１２' or '٣'.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)


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
    values = {
        feature.name: _check_field(feature, data.get(feature.name), problems, flags)
        for feature in schema
    }
    problems.extend(_unknown_fields(data, schema))
    if problems:
        raise CaseValidationError(problems)
    return Case(values=values, source=source, case_id=case_id, flags=tuple(flags))


def _check_field(
    feature: FeatureSpec, raw: Any, problems: list[FieldProblem], flags: list[FieldFlag]
) -> Any:
    """One input's value (None when not recorded or refused); its problems and flags are added."""
    if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
        problems.append(
            FieldProblem(
                feature.name,
                "too_large",
                f"{feature.label}: the value is {len(raw):,} characters long, over the "
                f"limit of {MAX_VALUE_CHARS:,}; expected {_expected(feature)}.",
            )
        )
        return None
    if _is_missing(raw):
        _check_missing(feature, problems, flags)
        return None
    if feature.kind == "category":
        return _check_category(feature, raw, problems, flags)
    return _check_number(feature, raw, problems, flags)


def _check_missing(
    feature: FeatureSpec, problems: list[FieldProblem], flags: list[FieldFlag]
) -> None:
    """A value not given: refused when required, else flagged (as rare when it was rare)."""
    if not feature.missing_allowed:
        problems.append(
            FieldProblem(
                feature.name,
                "missing_required",
                f"{feature.label}: required, but no value was given.",
            )
        )
    elif feature.training_missing_share < MISSING_RARE_SHARE:
        flags.append(
            FieldFlag(
                feature.name,
                "missing_value",
                f"{feature.label}: not recorded, which was rare in training "
                f"({feature.training_missing_share:.1%} of patients).",
            )
        )
    else:
        flags.append(FieldFlag(feature.name, "missing_value", f"{feature.label}: not recorded."))


def _unknown_fields(data: Mapping[str, Any], schema: FeatureSchema) -> list[FieldProblem]:
    """A problem for every given field that is not an input of this model, in the order given."""
    known = set(schema.names)
    return [
        FieldProblem(
            _field_of(name),
            "unknown_field",
            f"{_shown(name)} is not an input of this model; remove it or check the "
            f"spelling (inputs: {', '.join(schema.names)}).",
        )
        for name in data
        if name not in known
    ]
