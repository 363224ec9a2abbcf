"""The feature schema checked against a bundle's reference or calibration data: a row the
schema would refuse as a patient case cannot be evidence about the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.bundle_layout import OUTCOME_COLUMN
from caselens.model.features import MISSING_TEXT, FeatureSchema, FeatureSpec


def is_missing_cell(value: Any) -> bool:
    """Whether a cell holds no value: None, NaN, NA, NaT, or a missing-value text ('NA')."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TEXT


def _cell_problem(spec: FeatureSpec, value: Any) -> str | None:
    """Why the schema would refuse this present (non-missing) value, or None."""
    if spec.kind == "category":
        allowed = {c.lower(): c for c in spec.categories or ()}
        text = None
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            text = str(value)
        if text is None or text.lower() not in allowed:
            return f"{value!r} is not one of the categories ({', '.join(spec.categories or ())})"
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        return f"{value!r} is not a number"
    number = float(value)
    if math.isinf(number):
        return f"{number} is not a finite number"
    if spec.kind == "integer" and number != int(number):
        return f"{number:g} is not a whole number (the schema says integer)"
    if spec.hard_min is not None and number < spec.hard_min:
        return f"{number:g} is below the hard limit hard_min = {spec.hard_min:g}"
    if spec.hard_max is not None and number > spec.hard_max:
        return f"{number:g} is above the hard limit hard_max = {spec.hard_max:g}"
    return None


def _column_problems(spec: FeatureSpec, column: pd.Series) -> list[tuple[int, str]]:
    """(row position, reason) for each cell of one column the schema would refuse.

    Judged once per distinct value (a reference table has 20,000 rows but few distinct
    values per column); a float column is judged with array operations.
    """
    missing_reason = "the value is missing but the schema does not allow a missing value"
    if spec.kind != "category" and pd.api.types.is_float_dtype(column.dtype):
        values = column.to_numpy(dtype=float)
        bad = np.isinf(values)
        if spec.kind == "integer":
            bad |= np.isfinite(values) & (values != np.round(values))
        if spec.hard_min is not None:
            bad |= values < spec.hard_min
        if spec.hard_max is not None:
            bad |= values > spec.hard_max
        if not spec.missing_allowed:
            bad |= np.isnan(values)
        return [
            (
                int(i),
                missing_reason if math.isnan(values[i]) else _cell_problem(spec, values[i]) or "",
            )
            for i in np.flatnonzero(bad)
        ]
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    verdicts: list[str | None] = []
    for value in uniques.tolist():
        if is_missing_cell(value):
            verdicts.append(None if spec.missing_allowed else missing_reason)
        else:
            verdicts.append(_cell_problem(spec, value))
    na_verdict = None if spec.missing_allowed else missing_reason
    # Only the refused rows are visited (in row order), not every row.
    bad = np.isin(codes, [i for i, v in enumerate(verdicts) if v is not None])
    if na_verdict is not None:
        bad |= codes == -1
    return [
        (int(position), (na_verdict or "") if code == -1 else (verdicts[code] or ""))
        for position, code in zip(np.flatnonzero(bad).tolist(), codes[bad].tolist(), strict=True)
    ]


def data_problems(schema: FeatureSchema, frame: pd.DataFrame, what: str) -> list[str]:
    """Rows of ``frame`` that the feature schema would refuse as a case, naming row and field.

    Rows are counted from 1 in file order (a CSV's header line is not a row). Checks each
    feature's type, hard limits, categories, whole numbers for integer features and missing
    values where the schema does not allow them, and that the outcome is 0 or 1.

    Parameters
    ----------
    schema : FeatureSchema
    frame : DataFrame
        Feature columns and ``outcome``.
    what : str
        The data's name in messages, e.g. ``"reference data"``.

    Returns
    -------
    list of str
        One message per refused cell (missing columns: one message each).
    """
    problems: list[str] = []
    missing_columns = [c for c in [*schema.names, OUTCOME_COLUMN] if c not in frame.columns]
    if missing_columns:
        return [f"the {what} lacks column(s): {', '.join(missing_columns)}"]
    for spec in schema:
        for position, reason in _column_problems(spec, frame[spec.name]):
            problems.append(f"{what} row {position + 1}, field '{spec.name}': {reason}")
    outcome = frame[OUTCOME_COLUMN]
    if isinstance(outcome.dtype, np.dtype) and outcome.dtype.kind in "iu":
        # A plain integer column (no gaps): only the rows that are not 0 or 1 are visited.
        values = outcome.to_numpy()
        suspects = np.flatnonzero((values != 0) & (values != 1))
    else:
        suspects = np.arange(len(outcome))
    outcome_values = outcome.astype(object).to_numpy()
    for position in suspects.tolist():
        value = outcome_values[position]
        is_binary = (
            not is_missing_cell(value)
            and isinstance(value, int | float | np.integer | np.floating | bool | np.bool_)
            and float(value) in (0.0, 1.0)
        )
        if not is_binary:
            problems.append(
                f"{what} row {position + 1}, field '{OUTCOME_COLUMN}': {value!r} is not 0 or 1"
            )
    return problems
