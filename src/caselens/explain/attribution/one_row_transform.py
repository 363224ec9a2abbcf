"""One case through a logistic regression's fitted preprocessing, without scikit-learn's
per-call overhead, bit for bit equal to its ``transform``.

The exact log-odds contributions of a logistic-regression pipeline need the case's
transformed row. ``ColumnTransformer.transform`` on one row costs about 3 ms, almost all of
it input validation and dispatch, which is as much as a third of a cheap model's report
beyond its one model call. The common preprocessing of clinical tabular models is a
``ColumnTransformer`` of ``SimpleImputer``, ``StandardScaler`` and ``OneHotEncoder`` (in
pipelines), and columns passed through (``remainder="passthrough"`` included); their fitted
arithmetic is small and public (``statistics_``, ``mean_``, ``scale_``, ``categories_``), so
it is replayed here with the same floating-point operations.

Trust comes from checking, not from the copy: :meth:`OneRowTransform.compile` accepts only
the transformers and settings listed above (an allow-list; anything else returns ``None`` and
the caller uses scikit-learn), and :meth:`OneRowTransform.verified` keeps the fast path only
if it equals scikit-learn's own output on every background row it can handle, bit for bit.
A case it cannot handle (a missing category, a category the encoder never saw, a text that
is not a category) is left to scikit-learn too (``__call__`` returns ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: One step of a block: the block's values in, its next values out; ``None`` = not handled.
_Step = Callable[[np.ndarray], np.ndarray | None]


@dataclass(frozen=True)
class _Block:
    """One ColumnTransformer entry: its input variables, their kind and its steps."""

    variables: tuple[int, ...]
    numeric: bool
    steps: tuple[_Step, ...]
    out: slice


@dataclass(frozen=True)
class OneRowTransform:
    """A fitted preprocessing's ``transform`` of one row, replayed in numpy.

    Call it with the case's values in schema order (floats with NaN for a missing number,
    text for a category); it returns the dense transformed row, or ``None`` when this case
    is not one it handles.
    """

    blocks: tuple[_Block, ...]
    width: int

    @classmethod
    def compile(cls, preprocess: Any, names: Sequence[str]) -> OneRowTransform | None:
        """The fast path for ``preprocess`` (a fitted ColumnTransformer, alone or as the one
        step of a Pipeline), or ``None`` if any part of it is not on the allow-list."""
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        if isinstance(preprocess, Pipeline):
            if len(preprocess.steps) != 1:
                return None
            preprocess = preprocess.steps[0][1]
        if type(preprocess) is not ColumnTransformer:
            return None
        blocks = []
        width = 0
        for name, transformer, columns in preprocess.transformers_:
            out = preprocess.output_indices_.get(name)
            if transformer == "drop" or out is None or out.stop == out.start:
                continue
            column_list = [columns] if isinstance(columns, str) else list(columns)
            if not column_list or not all(isinstance(c, str) for c in column_list):
                return None
            if any(c not in names for c in column_list):
                return None
            variables = tuple(names.index(c) for c in column_list)
            steps = _steps(transformer)
            if steps is None:
                return None
            numeric, compiled = steps
            blocks.append(_Block(variables, numeric, compiled, out))
            width = max(width, out.stop)
        if not blocks:
            return None
        return cls(tuple(blocks), width)

    def __call__(self, values: Sequence[Any]) -> np.ndarray | None:
        row = np.empty(self.width)
        for block in self.blocks:
            data = _block_values(values, block)
            if data is None:
                return None
            for step in block.steps:
                data = step(data)
                if data is None:
                    return None
            if data.shape != (block.out.stop - block.out.start,):
                return None
            row[block.out] = data
        return row

    def verified(
        self, rows: Sequence[Sequence[Any]], transformed: np.ndarray
    ) -> OneRowTransform | None:
        """Itself if it equals ``transformed`` (scikit-learn's dense output for ``rows``) on
        every row it handles and handles at least one; else ``None``."""
        if transformed.ndim != 2 or transformed.shape[1] != self.width:
            return None
        handled = 0
        for row, expected in zip(rows, transformed, strict=True):
            mine = self(row)
            if mine is None:
                continue
            if not np.array_equal(mine, expected, equal_nan=True):
                return None
            handled += 1
        return self if handled else None


def _is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _block_values(values: Sequence[Any], block: _Block) -> np.ndarray | None:
    picked = [values[j] for j in block.variables]
    if block.numeric:
        numbers = []
        for v in picked:
            if v is None:
                numbers.append(math.nan)
            elif _is_number(v):
                numbers.append(float(v))
            else:
                return None
        return np.asarray(numbers, dtype=float)
    if not all(type(v) is str for v in picked):
        return None  # a missing or non-text category: scikit-learn decides
    return np.asarray(picked, dtype=object)


def _steps(transformer: Any) -> tuple[bool, tuple[_Step, ...]] | None:
    """(whether the block is numeric, its compiled steps), or None if not allow-listed."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    if isinstance(transformer, str):
        return (True, ()) if transformer == "passthrough" else None
    if type(transformer) is FunctionTransformer:
        # remainder="passthrough" is fitted as an identity FunctionTransformer; any other
        # function is code this module does not replay.
        identity = transformer.func is None and transformer.inverse_func is None
        return (True, ()) if identity else None
    parts = [s for _, s in transformer.steps] if type(transformer) is Pipeline else [transformer]
    numeric: bool | None = None
    compiled: list[_Step] = []
    for position, part in enumerate(parts):
        kind = type(part)
        if kind is SimpleImputer:
            step = _imputer(part)
        elif kind is StandardScaler:
            step = _scaler(part)
            numeric = True if numeric is None else numeric
        elif kind is OneHotEncoder and position == len(parts) - 1:
            step = _one_hot(part)
            numeric = False if numeric is None else numeric
        else:
            return None
        if step is None:
            return None
        compiled.append(step)
    if numeric is None:
        return None  # imputers alone: which dtype scikit-learn would pick is not known here
    return numeric, tuple(compiled)


def _imputer(imputer: Any) -> _Step | None:
    statistics = np.asarray(imputer.statistics_)
    missing = imputer.missing_values
    if imputer.add_indicator or not (isinstance(missing, float) and math.isnan(missing)):
        return None
    fill = None
    # A constant fill is kept as object even when it is a number.
    numbers = statistics.dtype.kind in "fiu" or all(_is_number(v) for v in statistics)
    if numbers:
        fill = statistics.astype(float)
        if np.isnan(fill).any():
            return None  # an all-missing column at fit time is dropped: not replayed

    def impute(x: np.ndarray) -> np.ndarray | None:
        if len(x) != len(statistics):
            return None
        if x.dtype.kind == "f":
            return None if fill is None else np.where(np.isnan(x), fill, x)
        # Only texts reach here (a missing category is left to scikit-learn): nothing to fill.
        return x if x.dtype == object else None

    return impute


def _scaler(scaler: Any) -> _Step:
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def standardise(x: np.ndarray) -> np.ndarray | None:
        if x.dtype.kind != "f":
            return None
        x = x.copy()
        # The same in-place operations as StandardScaler.transform.
        if mean is not None:
            x -= mean
        if scale is not None:
            x /= scale
        return x

    return standardise


def _one_hot(encoder: Any) -> _Step | None:
    if (
        encoder.drop is not None
        or encoder.min_frequency is not None
        or encoder.max_categories is not None
        or np.dtype(encoder.dtype) != np.float64
    ):
        return None
    ignore = encoder.handle_unknown in ("ignore", "infrequent_if_exist")
    lookups = [
        {c: i for i, c in enumerate(categories) if type(c) is str}
        for categories in encoder.categories_
    ]
    sizes = [len(categories) for categories in encoder.categories_]

    def encode(x: np.ndarray) -> np.ndarray | None:
        if len(x) != len(lookups):
            return None
        out = np.zeros(sum(sizes))
        start = 0
        for value, lookup, size in zip(x, lookups, sizes, strict=True):
            index = lookup.get(value) if type(value) is str else None
            if index is not None:
                out[start + index] = 1.0
            elif not ignore:
                return None  # scikit-learn raises on it: let it
            start += size
        return out

    return encode
