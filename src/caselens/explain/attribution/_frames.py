"""The case and the background as typed columns, one array per clinical variable, and
back to a DataFrame with the schema's shared column index."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.column_index import column_index
from caselens.model.features import FeatureSchema


def _columns(
    frame: pd.DataFrame, schema: FeatureSchema, values: Sequence[Any] | None = None
) -> list[np.ndarray]:
    """The frame as one array per variable: float64 (NaN = missing) or object (None = missing).

    Typed arrays let the coalition frames be assembled with plain numpy indexing. ``values``:
    :func:`_case_values` of a one-row frame, when the caller has them.
    """
    if len(frame) == 1:
        quick = _case_columns(frame, schema, values)
        if quick is not None:
            return quick
    return _frame_columns(frame, schema)


def _frame_columns(frame: pd.DataFrame, schema: FeatureSchema) -> list[np.ndarray]:
    """:func:`_columns` the general way, one pandas conversion per column."""
    columns = []
    for spec in schema:
        series = frame[spec.name]
        if spec.kind == "category":
            values = series.astype(object).to_numpy(dtype=object, copy=True)
            values[pd.isna(values)] = None
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)
        columns.append(values)
    return columns


def _case_columns(
    frame: pd.DataFrame, schema: FeatureSchema, values: Sequence[Any] | None = None
) -> list[np.ndarray] | None:
    """:func:`_columns` of a one-row frame of plain values, without a pandas call per column.

    Only plain Python/numpy numbers, strings and missing values are taken (what a validated
    case holds); anything else returns None and goes the general way, so the arrays are
    always those the general way gives.
    """
    columns: list[np.ndarray] = []
    if values is None:
        values = _case_values(frame, schema)
    for spec, value in zip(schema, values, strict=True):
        missing = value is None or (isinstance(value, float | np.floating) and math.isnan(value))
        if spec.kind == "category":
            if not (missing or isinstance(value, str)):
                return None
            columns.append(np.array([None if missing else value], dtype=object))
        else:
            if isinstance(value, bool | np.bool_) or not (
                missing or isinstance(value, int | float | np.integer | np.floating)
            ):
                return None
            columns.append(np.array([math.nan if missing else float(value)]))
    return columns


def _case_values(frame: pd.DataFrame, schema: FeatureSchema) -> list[Any]:
    """The one row's values in schema order (one array conversion, not a pandas row)."""
    if _has_columns(frame, schema.names):
        return list(frame.to_numpy(dtype=object)[0])
    row = frame.iloc[0]
    return [row[name] for name in schema.names]


def _in_order(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``frame[names]``, or the frame itself when its columns already are ``names`` in order
    (selecting copies the frame, which is most of the cost of a one-row frame)."""
    return frame if _has_columns(frame, names) else frame[list(names)]


def _has_columns(frame: pd.DataFrame, names: Sequence[str]) -> bool:
    """Whether the frame's columns are ``names``, in order. A frame built with the shared
    :func:`column_index` of ``names`` is known to be (listing a text Index reads every
    label out of Arrow: several microseconds each time, a few times per report)."""
    columns = frame.columns
    return columns is column_index(names) or list(columns) == list(names)


def _frame(columns: Sequence[np.ndarray], schema: FeatureSchema) -> pd.DataFrame:
    """``pd.DataFrame(dict(zip(schema.names, columns)), copy=False)``, with the schema's
    shared column index in place of a new one."""
    if len(columns) != len(schema):
        raise ValueError(f"{len(columns)} columns for {len(schema)} variables")
    frame = pd.DataFrame(dict(enumerate(columns)), copy=False)
    frame.columns = column_index(schema.names)
    return frame
