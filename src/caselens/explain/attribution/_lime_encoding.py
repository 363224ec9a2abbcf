"""The case and background in LIME's numbers: categories as integer codes, missing values
at the background's median or mode."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _columns, _frame
from caselens.model.features import FeatureSchema


class _LimeEncoding:
    """Integer codes for categoricals and median/mode imputation, as LIME needs numbers."""

    def __init__(self, background: pd.DataFrame, schema: FeatureSchema) -> None:
        self.schema = schema
        self.categorical = [j for j, s in enumerate(schema) if s.kind == "category"]
        self.categories = {
            j: np.asarray(schema.features[j].categories, dtype=object) for j in self.categorical
        }
        columns = _columns(background, schema)
        self.fill: list[float] = []
        encoded = []
        for j, values in enumerate(columns):
            codes = self._codes(j, values)
            observed = codes[~np.isnan(codes)]
            if j in self.categorical:
                # Mode, smallest code on ties, so the choice is deterministic.
                fill = float(np.bincount(observed.astype(int)).argmax()) if observed.size else 0.0
            else:
                fill = float(np.median(observed)) if observed.size else 0.0
            self.fill.append(fill)
            encoded.append(np.where(np.isnan(codes), fill, codes))
        self.training = np.column_stack(encoded)

    def _codes(self, j: int, values: np.ndarray) -> np.ndarray:
        if j not in self.categorical:
            return values.astype(float)
        lookup = {c: float(i) for i, c in enumerate(self.categories[j])}
        return np.array([lookup.get(v, np.nan) if v is not None else np.nan for v in values])

    def encode_case(
        self, case_frame: pd.DataFrame, columns: Sequence[np.ndarray] | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """The case in LIME's numbers, and which variables were imputed (``columns``:
        :func:`_columns` of the frame, when the caller has them)."""
        if columns is None:
            columns = _columns(case_frame, self.schema)
        row, imputed = [], []
        for j, values in enumerate(columns):
            code = self._codes(j, values)[0]
            if np.isnan(code):
                imputed.append(j)
                code = self.fill[j]
            row.append(code)
        return np.asarray(row, dtype=float), imputed

    def decode_columns(self, matrix: np.ndarray) -> list[np.ndarray]:
        """Every column of ``matrix`` (LIME's numbers) as model input values."""
        return [self.decode_column(matrix, j) for j in range(matrix.shape[1])]

    def decode_column(self, matrix: np.ndarray, j: int) -> np.ndarray:
        """Column ``j`` of ``matrix``: categories from their codes, numbers as float."""
        if j in self.categories:
            return self.categories[j][np.rint(matrix[:, j]).astype(int)]
        return matrix[:, j].astype(float)

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        return _frame(self.decode_columns(matrix), self.schema)
