"""Picking demo cases: real rows of the test split, unchanged, chosen to show what a
demonstration must show (low and high risk, a missing value, a value outside training, each
subgroup, the spread of risk).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from caselens.errors import BundleError
from caselens.model.card_check import (
    NOT_RECORDED_GROUP,
    group_labels,
)
from caselens.model.features import FeatureSchema

#: Demo cases picked when ``--demo-cases`` gives no number.
DEFAULT_DEMO_CASES = 8


def _outside_training(schema: FeatureSchema, row: pd.Series) -> tuple[str, str] | None:
    for spec in schema:
        value = row[spec.name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if spec.kind == "category":
            if (spec.training_counts or {}).get(str(value), 1) == 0:
                return spec.name, f"{spec.label} '{value}' was never seen in training"
        elif (spec.training_min is not None and float(value) < spec.training_min) or (
            spec.training_max is not None and float(value) > spec.training_max
        ):
            return spec.name, (
                f"{spec.label} {float(value):g} is outside the training range "
                f"{spec.training_min:g}–{spec.training_max:g}"
            )
    return None


def clean_value(value: Any) -> Any:
    """A DataFrame cell as plain JSON: NaN/None → None, numpy scalars → Python."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(float(value))):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _as_demo_cases(
    picked: list[tuple[int, str, str]],
    schema: FeatureSchema,
    test: pd.DataFrame,
    p_test: np.ndarray,
    threshold: float,
) -> list[dict[str, Any]]:
    """The picked rows as demo cases, each saying which row it is and why it was picked."""
    cases = []
    for number, (index, title, why) in enumerate(picked, start=1):
        risk = float(p_test[index])
        side = "above" if risk >= threshold else "below"
        cases.append(
            {
                "case_id": f"D-{number:02d}",
                "title": title,
                "description": f"A real patient row from the test split (row {index + 1}), "
                f"unchanged: {why}. Predicted risk {risk:.0%}, {side} the threshold of "
                f"{threshold:.0%}.",
                # Column by column: a row of a mixed frame would turn whole numbers into floats.
                "inputs": {n: clean_value(test[n].iloc[index]) for n in schema.names},
            }
        )
    return cases


def pick_demo_cases(
    schema: FeatureSchema,
    test: pd.DataFrame,
    p_test: np.ndarray,
    *,
    count: int,
    threshold: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pick ``count`` real test rows as demo cases covering what a demonstration must show.

    In order: the lowest and the highest risk, a row with a missing value, a row with a
    value outside the training range, then rows from subgroups not yet shown, then rows
    spread over the risk range. Every case is a real row, unchanged; its description says
    which row and why it was picked.

    Returns
    -------
    (list of dict, list of str)
        The demo cases, and notes on what no row could show.
    """
    if count < 1:
        raise BundleError("--demo-cases must be at least 1.")
    order = np.argsort(p_test, kind="stable")
    picked: list[tuple[int, str, str]] = []
    notes: list[str] = []

    def take(index: int, title: str, why: str) -> None:
        if len(picked) < count and index not in {i for i, _, _ in picked}:
            picked.append((int(index), title, why))

    take(order[0], "Low risk", "the lowest predicted risk in the test split")
    take(order[-1], "High risk", "the highest predicted risk in the test split")
    missing = [i for i in order if test.iloc[i][schema.names].isna().any()]
    if missing:
        i = missing[len(missing) // 2]
        fields = [n for n in schema.names if pd.isna(test.iloc[i][n])]
        take(i, "A value not recorded", f"{', '.join(fields)} not recorded in this row")
    else:
        notes.append("No test row has a missing value, so no demo case shows one.")
    outside = [(i, _outside_training(schema, test.iloc[i])) for i in order]
    outside = [(i, found) for i, found in outside if found is not None]
    if outside:
        i, (_, why) = outside[len(outside) // 2]
        take(i, "Outside the training range", f"kept as the real row: {why}")
    else:
        notes.append(
            "No test row has a value outside the training range, so no demo case shows one."
        )
    for spec in schema.subgroup_features:
        labels = group_labels(spec, test[spec.name].tolist())
        for group in sorted(set(labels.tolist())):
            if group == NOT_RECORDED_GROUP:
                continue
            shown = {str(labels[i]) for i, _, _ in picked}
            if group in shown:
                continue
            rows = [i for i in order if labels[i] == group]
            take(
                rows[len(rows) // 2],
                f"{spec.label}: {group}",
                f"a patient in {spec.name} group {group}",
            )
    for quantile in np.linspace(0.1, 0.9, max(count, 2)):
        take(
            order[int(quantile * (len(order) - 1))], "Typical patient", "spread over the risk range"
        )
    return _as_demo_cases(picked, schema, test, p_test, threshold), notes
