"""Interventional Shapley values by antithetic permutation sampling (Štrumbelj &
Kononenko), every coalition in one model call."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _frame
from caselens.model.features import FeatureSchema


@dataclass(frozen=True)
class ShapleyEstimate:
    """Output of :func:`permutation_shapley`.

    Attributes
    ----------
    values : ndarray
        One Shapley value per variable.
    standard_errors : ndarray
        Sampling standard error per variable.
    baseline : float
        Mean probability over the background.
    n_permutations : int
        Variable orders sampled.
    model_evaluations : int
        Rows predicted (the batch, plus the case).
    """

    values: np.ndarray
    standard_errors: np.ndarray
    baseline: float
    n_permutations: int
    model_evaluations: int


def permutation_shapley(
    predict: Callable[[pd.DataFrame], np.ndarray],
    case_columns: Sequence[np.ndarray],
    background_columns: Sequence[np.ndarray],
    probability: float,
    schema: FeatureSchema,
    *,
    seed: int,
) -> ShapleyEstimate:
    """Interventional Shapley values by antithetic permutation sampling, one model call.

    Parameters
    ----------
    predict : callable
        DataFrame → probability of the outcome per row (1-D).
    case_columns : sequence of 1-element arrays
        The case, one array per variable (see ``_columns``).
    background_columns : sequence of arrays
        The background, one array per variable.
    probability : float
        The model's probability for the case, used as every chain's end point so the values
        add up to exactly this number.
    schema : FeatureSchema
    seed : int
        Seed of the variable orders.

    Returns
    -------
    ShapleyEstimate
    """
    plan = ShapleyPlan.build(case_columns, background_columns, schema, seed=seed)
    probs = np.asarray(predict(_frame(plan.batch_columns, schema)), dtype=float)
    return plan.finish(probs, probability)


@dataclass(frozen=True)
class ShapleyPlan:
    """The rows :func:`permutation_shapley` needs predicted, and how to turn them into values.

    Split from the model call so that a report can send these rows to the model together with
    every other row it needs (:class:`Attributor`): :meth:`build` draws the variable orders and
    assembles the batch, :meth:`finish` turns the batch's probabilities into Shapley values.

    Attributes
    ----------
    batch_columns : list of ndarray
        The rows to predict, one array per variable: the background rows, then the new
        coalition rows.
    """

    batch_columns: list[np.ndarray]
    orders: np.ndarray
    source: np.ndarray
    background_rows: int
    #: Per batch row, the background row it starts from; per cell, whether it holds the
    #: case's value instead (so the batch can be rebuilt in another encoding, see
    #: :meth:`column_from`).
    row_index: np.ndarray | None = None
    from_case: np.ndarray | None = None

    def column_from(self, j: int, background: np.ndarray, case_value: Any) -> np.ndarray:
        """Batch column ``j`` assembled from another encoding of the background's column ``j``
        and of the case's value (e.g. category codes): cell for cell what
        ``batch_columns[j]`` holds in the original encoding."""
        if self.row_index is None or self.from_case is None:  # pragma: no cover - set by build
            raise ValueError("this plan does not record where its cells come from")
        out = background[self.row_index]
        out[self.from_case[:, j]] = case_value
        return out

    @property
    def rows(self) -> int:
        """Rows in the batch."""
        return len(self.batch_columns[0])

    @classmethod
    def build(
        cls,
        case_columns: Sequence[np.ndarray],
        background_columns: Sequence[np.ndarray],
        schema: FeatureSchema,
        *,
        seed: int,
    ) -> ShapleyPlan:
        """Draw the orders (antithetic pairs) and assemble the coalition rows."""
        m = len(schema)
        b = len(background_columns[0])
        orders, ranks = _shapley_orders(seed, b, m)
        chain_rows = np.concatenate([np.arange(b), np.arange(b)])
        chains = len(orders)
        # Row (c, k) holds the first k variables of order c from the case, the rest from
        # background row chain_rows[c]; k = 0 (the background row) and k = m (the case) are
        # known end points. When the variable switched at step k has the same value in the
        # case and the background row, row k equals row k - 1, so its prediction is copied
        # rather than asked for again: this skips a large share of rows (most patients share
        # the common values) and changes no number, as each row is predicted on its own.
        same = np.column_stack(
            [_same_as_case(background_columns[j], case_columns[j][0]) for j in range(m)]
        )  # (b, m)
        added = orders[:, : m - 1]  # variable switched at steps 1..m-1
        changes = ~same[chain_rows[:, None], added]  # (chains, m - 1)
        chain_index, step_index = np.nonzero(changes)
        n_new = len(chain_index)
        # source[c, k]: the batch row whose prediction is path point k of chain c. The batch
        # is the b background rows, then the new rows; a step that changes nothing points back
        # to the latest new row before it in its chain, or to the chain's background row.
        source = np.empty((chains, m), dtype=np.int64)
        source[:, 0] = chain_rows
        position = np.zeros((chains, m - 1), dtype=np.int64)
        position[chain_index, step_index] = b + np.arange(n_new)
        last = np.maximum.accumulate(np.where(changes, np.arange(1, m)[None, :], 0), axis=1)
        source[:, 1:] = np.where(
            last > 0,
            np.take_along_axis(position, np.maximum(last - 1, 0), axis=1),
            chain_rows[:, None],
        )
        ranks_new = ranks[chain_index]
        source_rows = chain_rows[chain_index]
        from_case_new = ranks_new <= step_index[:, None]  # (n_new, m)
        batch_columns = []
        for j in range(m):
            mixed = background_columns[j][source_rows]
            mixed[from_case_new[:, j]] = case_columns[j][0]
            batch_columns.append(np.concatenate([background_columns[j], mixed]))
        return cls(
            batch_columns=batch_columns,
            orders=orders,
            source=source,
            background_rows=b,
            row_index=np.concatenate([np.arange(b), source_rows]),
            from_case=np.concatenate([np.zeros((b, m), dtype=bool), from_case_new]),
        )

    def finish(self, probs: np.ndarray, probability: float) -> ShapleyEstimate:
        """Shapley values from the batch's probabilities of the outcome (1-D, batch order)."""
        probs = np.asarray(probs, dtype=float)
        if probs.shape != (self.rows,):
            raise ValueError(f"expected {self.rows} probabilities, got shape {probs.shape}")
        orders, b = self.orders, self.background_rows
        chains, m = orders.shape
        background_probs = probs[:b]
        path = np.empty((chains, m + 1))
        path[:, :m] = probs[self.source]
        path[:, m] = probability
        steps_gain = np.diff(path, axis=1)
        per_chain = np.empty((chains, m))
        np.put_along_axis(per_chain, orders, steps_gain, axis=1)
        values = per_chain.mean(axis=0)
        # An order and its reverse are not independent: the pair means are, so they give the
        # standard error (zero with a single background row: no spread to measure).
        pair_means = (per_chain[:b] + per_chain[b:]) / 2
        standard_errors = pair_means.std(axis=0, ddof=1) / math.sqrt(b) if b > 1 else np.zeros(m)
        baseline = float(background_probs.mean())
        return ShapleyEstimate(
            values=values,
            standard_errors=standard_errors,
            baseline=baseline,
            n_permutations=chains,
            model_evaluations=len(probs) + 1,
        )


@functools.lru_cache(maxsize=16)
def _shapley_orders(seed: int, b: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The variable orders of :meth:`ShapleyPlan.build` (one per background row, then each
    reversed) and each order's rank of every variable: they depend only on the seed and the
    sizes, so every case of an explainer shares them (read-only)."""
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((b, m)), axis=1)
    # Antithetic pairs (an order and its reverse) cancel much of the sampling noise.
    orders = np.concatenate([orders, orders[:, ::-1]])
    ranks = np.argsort(orders, axis=1)
    orders.flags.writeable = ranks.flags.writeable = False
    return orders, ranks


def _same_as_case(column: np.ndarray, value: Any) -> np.ndarray:
    """Which background values equal the case's (two missing values count as equal)."""
    if column.dtype == object:
        return np.fromiter(
            (
                v == value if v is not None and value is not None else v is None and value is None
                for v in column
            ),
            dtype=bool,
            count=len(column),
        )
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.isnan(column)
    return column == value
