"""Exact log-odds contributions of a calibrated logistic-regression pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _columns, _in_order
from caselens.explain.attribution.one_row_transform import OneRowTransform
from caselens.model.features import FeatureSchema


def _unwrap_logistic(model: Any) -> tuple[Any, Any] | None:
    """(preprocessing, LogisticRegression) if the model is a calibrated LR pipeline, else None.

    Generic: a single calibrated classifier (e.g. around a FrozenEstimator) whose pipeline's
    final step is a binary LogisticRegression.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    inner = model
    calibrated = getattr(inner, "calibrated_classifiers_", None)
    if calibrated is not None:
        if len(calibrated) != 1:
            return None
        inner = calibrated[0].estimator
    inner = (
        getattr(inner, "estimator", inner) if type(inner).__name__ == "FrozenEstimator" else inner
    )
    if not isinstance(inner, Pipeline) or len(inner.steps) < 2:
        return None
    final = inner.steps[-1][1]
    if not isinstance(final, LogisticRegression) or final.coef_.shape[0] != 1:
        return None
    return inner[:-1], final


def _output_groups(preprocess: Any, names: Sequence[str], n_out: int) -> list[int] | None:
    """Which input variable each transformed column comes from, or None if not knowable.

    Reads a ColumnTransformer's structure: a transformer with as many outputs as inputs is
    one-to-one; otherwise a (final) OneHotEncoder gives each input's number of columns.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [s for _, s in preprocess.steps] if isinstance(preprocess, Pipeline) else [preprocess]
    transformers = [s for s in steps if isinstance(s, ColumnTransformer)]
    if len(transformers) != 1 or len(steps) != 1:
        return None
    ct = transformers[0]
    groups = [-1] * n_out
    for name, transformer, cols in ct.transformers_:
        if transformer == "drop" or name not in ct.output_indices_:
            continue
        out = ct.output_indices_[name]
        width = out.stop - out.start
        if width == 0:
            continue
        col_list = [cols] if isinstance(cols, str | int) else list(cols)
        idx = [names.index(c) if isinstance(c, str) else int(c) for c in col_list]
        if width == len(idx):
            sizes = [1] * len(idx)
        else:
            last = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
            if not isinstance(last, OneHotEncoder):
                return None
            drop = getattr(last, "drop_idx_", None)
            sizes = [
                len(c) - (1 if drop is not None and drop[i] is not None else 0)
                for i, c in enumerate(last.categories_)
            ]
            if sum(sizes) != width:
                return None  # e.g. infrequent categories merged: do not guess
        position = out.start
        for variable, size in zip(idx, sizes, strict=True):
            for _ in range(size):
                groups[position] = variable
                position += 1
    return groups if all(g >= 0 for g in groups) else None


def logistic_log_odds(
    model: Any, case_frame: pd.DataFrame, background: pd.DataFrame, schema: FeatureSchema
) -> tuple[float, np.ndarray] | None:
    """Exact log-odds contributions of a calibrated logistic-regression pipeline.

    Parameters
    ----------
    model : estimator
    case_frame, background : DataFrame
    schema : FeatureSchema

    Returns
    -------
    (baseline, contributions) or None
        ``baseline`` = intercept + coef · mean transformed background, and contribution of a
        variable = sum over its columns of coef × (transformed x − mean transformed background),
        so baseline + sum = the uncalibrated decision function for the case. None when the
        model is not such a pipeline or its columns cannot be traced back to variables.
    """
    log_odds = _LogOdds.build(model, background, schema)
    return None if log_odds is None else log_odds.of(case_frame)


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=float)


@dataclass(frozen=True)
class _LogOdds:
    """The background half of :func:`logistic_log_odds`, computed once per background.

    ``one_row`` is the preprocessing replayed in numpy for one case (see
    :mod:`.one_row_transform`), kept only when it equals scikit-learn's transform on
    the background bit for bit; ``None`` means scikit-learn transforms every case.
    """

    preprocess: Any
    logistic: Any
    schema: FeatureSchema
    mean_t: np.ndarray
    n_out: int
    groups: list[int] | None
    one_row: OneRowTransform | None = None

    @classmethod
    def build(cls, model: Any, background: pd.DataFrame, schema: FeatureSchema) -> _LogOdds | None:
        parts = _unwrap_logistic(model)
        if parts is None:
            return None
        preprocess, logistic = parts
        frame = background[schema.names]
        b_t = _dense(preprocess.transform(frame))
        n_out = b_t.shape[1]
        groups = _output_groups(preprocess, schema.names, n_out)
        one_row = OneRowTransform.compile(preprocess, schema.names)
        if one_row is not None:
            columns = _columns(frame, schema)
            rows = [[column[i] for column in columns] for i in range(len(frame))]
            one_row = one_row.verified(rows, b_t)
        return cls(preprocess, logistic, schema, b_t.mean(axis=0), n_out, groups, one_row)

    def transformed(
        self, case_frame: pd.DataFrame, case_columns: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The case's transformed row: replayed when the fast path handles it, else
        scikit-learn's ``transform`` (``case_columns``: :func:`_columns` of the frame, when
        the caller has them)."""
        case_frame = _in_order(case_frame, self.schema.names)
        if self.one_row is not None:
            if case_columns is None:
                case_columns = _columns(case_frame, self.schema)
            x_t = self.one_row([column[0] for column in case_columns])
            if x_t is not None:
                return x_t
        return _dense(self.preprocess.transform(case_frame))[0]

    def of(
        self, case_frame: pd.DataFrame, case_columns: Sequence[np.ndarray] | None = None
    ) -> tuple[float, np.ndarray] | None:
        """(baseline, per-variable contributions) in log-odds, or None when the transformed
        columns cannot be traced to the variables."""
        x_t = self.transformed(case_frame, case_columns)
        # Which variable each column comes from is a property of the fitted preprocessing,
        # traced once at build time (the case's row has the background's width).
        groups = (
            self.groups
            if len(x_t) == self.n_out
            else _output_groups(self.preprocess, self.schema.names, len(x_t))
        )
        if groups is None:
            return None
        coef = self.logistic.coef_[0]
        per_column = coef * (x_t - self.mean_t)
        contributions = np.zeros(len(self.schema))
        np.add.at(contributions, np.asarray(groups), per_column)
        baseline = float(self.logistic.intercept_[0] + coef @ self.mean_t)
        return baseline, contributions
