"""SHAP and LIME for one case, per clinical variable, and how far the two agree.

The raw model inputs *are* the clinical variables (the bundle's pipeline does its own encoding),
so both explainers work on the raw DataFrame columns and no one-hot column ever leaks out.

SHAP
    Interventional Shapley values of the *calibrated* probability, estimated by antithetic
    permutation sampling over a fixed-seed background sample (Štrumbelj & Kononenko). Each
    background row is paired with one random variable order and its reverse; along each order
    the variables are switched from the background row to the patient's value one by one, and
    every switch's change in probability is credited to that variable. Every chain starts at the
    background row's probability and ends at the patient's, so the contributions add up exactly
    (telescoping) to the probability minus the baseline (the mean background probability). All
    coalitions go to the model in ONE ``predict_proba`` call. shap's own explainers are not used:
    TreeExplainer does not take calibrated wrappers or scikit-learn native categorical support,
    and PermutationExplainer calls the model once per permutation with every background row for
    every coalition, which does not fit the latency budget (and pays a numba compile); the shap
    version is still recorded. For a calibrated logistic regression the exact contributions in
    log-odds of the uncalibrated model are given as well.

LIME
    ``lime.lime_tabular.LimeTabularExplainer`` on integer-coded categoricals, run with several
    seeds; the result carries its local fidelity (R²) and its stability across seeds.

Agreement
    :func:`caselens.explain.agreement.compare_explanations`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import platform
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel, ConfigDict

from caselens.explain.agreement import (
    ExplainerAgreement,
    compare_explanations,
    mean_pairwise_jaccard,
    top_k_indices,
)
from caselens.explain.one_row_transform import OneRowTransform
from caselens.model.budget import ModelBudgetError
from caselens.model.column_index import column_index
from caselens.model.features import FeatureSchema
from caselens.model.output_check import check_probabilities

BACKGROUND_SIZE = 100
LIME_RUNS = 5
LIME_SAMPLES = 1000
TOP_K = 3
ADDITIVITY_TOLERANCE = 1e-6
#: Below this local R², LIME's straight-line surrogate does not describe the model near the case.
LOW_FIDELITY_R2 = 0.5
#: Below this mean pairwise Jaccard of the top-k sets, LIME's ranking changes with the seed.
UNSTABLE_JACCARD = 0.6

SHAP_METHOD = (
    "permutation Shapley values of the calibrated probability (Štrumbelj–Kononenko sampling: "
    "each background row paired with one random variable order and its reverse, "
    "interventional; CaseLens implementation, all coalitions in one model call)"
)


# --------------------------------------------------------------------------- result models


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariableWeight(_Frozen):
    """One variable's weight in one explanation (name, clinical label, weight)."""

    name: str
    label: str
    value: float


class ShapExplanation(_Frozen):
    """SHAP contributions to the calibrated probability, one per clinical variable.

    Attributes
    ----------
    status : 'ok' or 'failed'
        'failed' when the contributions did not add up or could not be computed; the
        contributions are then empty and must not be shown.
    failure_reason : str or None
    method : str
        How the values were computed.
    library_version : str
        Versions of the libraries involved (and of shap, whose explainers are not called).
    background_size, seed : int
        Rows of the reference data used as background, and the seed of their selection and of
        the permutations.
    n_permutations : int
        Variable orders sampled (background rows × 2, antithetic pairs).
    model_evaluations : int
        Rows passed to the model's ``predict_proba`` (one call, plus one for the case).
    baseline : float
        Mean calibrated probability over the background.
    probability : float
        ``model.predict_proba(case)[0, 1]``.
    contributions : tuple of VariableWeight
        In schema order; positive pushes the risk up.
    additivity_error : float or None
        ``|baseline + sum(contributions) - probability|``.
    log_odds_baseline : float or None
        For a calibrated logistic regression: the uncalibrated model's mean log-odds over the
        background (intercept + coefficients · mean transformed background).
    log_odds_contributions : tuple of VariableWeight or None
        Exact contributions in log-odds, coef × (transformed x − mean transformed background),
        summed over each variable's columns.
    log_odds_note : str or None
        Why log-odds contributions are absent, or what they mean.
    standard_errors : tuple of VariableWeight
        Sampling (Monte Carlo) standard error of each contribution, from the spread of the
        antithetic pair means: how much the value could move with another seed and background
        sample. Conservative: on the readmission demo cases the values moved about half as much
        between seeds as these errors suggest.
    max_standard_error : float or None
        The largest of them.
    """

    status: Literal["ok", "failed"]
    failure_reason: str | None
    method: str
    library_version: str
    background_size: int
    seed: int
    n_permutations: int
    model_evaluations: int
    baseline: float | None
    probability: float | None
    contributions: tuple[VariableWeight, ...]
    additivity_error: float | None
    log_odds_baseline: float | None = None
    log_odds_contributions: tuple[VariableWeight, ...] | None = None
    log_odds_note: str | None = None
    standard_errors: tuple[VariableWeight, ...] = ()
    max_standard_error: float | None = None


class LimeExplanation(_Frozen):
    """LIME weights over several seeded runs, with local fidelity and stability.

    Attributes
    ----------
    status : 'ok' or 'failed'
    failure_reason : str or None
    library_version : str
    num_samples : int
        Neighbourhood size of each run.
    seeds : tuple of int
        One seed per run.
    runs : int
    fidelity_r2 : tuple of float
        The surrogate's R² (``explanation.score``) per run.
    fidelity_r2_mean, fidelity_r2_min : float or None
    weights : tuple of VariableWeight
        Mean weight per variable over the runs (probability units), schema order.
    spread : tuple of VariableWeight
        Standard deviation of each variable's weight over the runs.
    top_k : int
    top_k_jaccard : float or None
        Mean pairwise Jaccard index of the runs' top-k sets (1 = the same every time).
    low_fidelity, unstable : bool
    imputed_variables : tuple of str
        Variables not recorded for this case that LIME saw at the background median/mode.
    note : str
        Plain statement of fidelity, stability and any imputation.
    """

    status: Literal["ok", "failed"]
    failure_reason: str | None
    library_version: str
    num_samples: int
    seeds: tuple[int, ...]
    runs: int
    fidelity_r2: tuple[float, ...]
    fidelity_r2_mean: float | None
    fidelity_r2_min: float | None
    weights: tuple[VariableWeight, ...]
    spread: tuple[VariableWeight, ...]
    top_k: int
    top_k_jaccard: float | None
    low_fidelity: bool
    unstable: bool
    imputed_variables: tuple[str, ...]
    note: str


class VariableContribution(_Frozen):
    """One clinical variable's row in the side-by-side explanation table."""

    name: str
    label: str
    value_text: str
    shap_value: float | None
    lime_weight: float | None
    lime_spread: float | None
    log_odds: float | None


class Attributions(_Frozen):
    """SHAP, LIME and their agreement for one case.

    Attributes
    ----------
    shap : ShapExplanation
    lime : LimeExplanation
    agreement : ExplainerAgreement or None
        None when either explanation failed (nothing to compare).
    variables : tuple of VariableContribution
        One row per clinical variable, in schema order.
    """

    shap: ShapExplanation
    lime: LimeExplanation
    agreement: ExplainerAgreement | None
    variables: tuple[VariableContribution, ...]


# --------------------------------------------------------------------------- helpers


@functools.cache
def _library_version() -> str:
    # Package metadata, not imports: importing shap costs seconds and is not needed here.
    return (
        f"python {platform.python_version()}; numpy {np.__version__}; "
        f"pandas {pd.__version__}; scikit-learn {sklearn.__version__}; "
        f"shap {_dist_version('shap')} (installed; its explainers are not called); "
        f"lime {_dist_version('lime')}"
    )


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - lime is a pinned dependency
        return "unknown"


@functools.cache
def _thread_controller() -> Any:
    # Scanning the loaded native libraries takes milliseconds: do it once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _model_threads(
    single_threaded: bool, *, every_api: bool = False
) -> contextlib.AbstractContextManager:
    """One thread for the model's OpenMP code (and, with ``every_api``, its BLAS too)."""
    if not single_threaded:
        return contextlib.nullcontext()
    if every_api:
        return _thread_controller().limit(limits=1)
    return _thread_controller().limit(limits=1, user_api="openmp")


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


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


def select_background(
    reference: pd.DataFrame,
    *,
    size: int = BACKGROUND_SIZE,
    seed: int = 0,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A fixed-seed sample of the reference data to explain against.

    Parameters
    ----------
    reference : DataFrame
        The bundle's held-out rows (an ``outcome`` column, if present, is dropped).
    size : int
        Rows wanted; all rows are used when the reference has fewer.
    seed : int
        Seed of the sample; the same seed gives the same rows.
    columns : sequence of str, optional
        Feature columns to keep (default: every column but ``outcome``).

    Returns
    -------
    DataFrame
        ``min(size, len(reference))`` rows, index reset, in the order drawn.
    """
    if size < 1:
        raise ValueError("the background needs at least one row")
    keep = (
        list(columns) if columns is not None else [c for c in reference.columns if c != "outcome"]
    )
    n = len(reference)
    if n == 0:
        raise ValueError("the reference data is empty: there is no background to explain against")
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(size, n), replace=False)
    return reference.iloc[rows][keep].reset_index(drop=True)


def check_additivity(
    baseline: float,
    contributions: Sequence[float],
    probability: float,
    *,
    tolerance: float = ADDITIVITY_TOLERANCE,
) -> tuple[float, str | None]:
    """Whether the contributions add up to the probability.

    Parameters
    ----------
    baseline : float
    contributions : sequence of float
    probability : float
    tolerance : float
        Largest accepted ``|baseline + sum(contributions) - probability|`` (default 1e-6).

    Returns
    -------
    error : float
        The additivity error (``inf`` if any number is not finite).
    reason : str or None
        None when the check passes, else why the explanation must not be shown.
    """
    values = [float(baseline), float(probability), *map(float, contributions)]
    if not all(math.isfinite(v) for v in values):
        return math.inf, "the explanation contains a value that is not a finite number"
    error = abs(float(baseline) + math.fsum(map(float, contributions)) - float(probability))
    if error > tolerance:
        return error, (
            f"the contributions do not add up: baseline + contributions differs from "
            f"the probability by {error:.2e} (allowed {tolerance:.0e})"
        )
    return error, None


def build_shap_explanation(
    *,
    schema: FeatureSchema,
    values: Sequence[float],
    baseline: float,
    probability: float,
    background_size: int,
    seed: int,
    n_permutations: int,
    model_evaluations: int,
    method: str = SHAP_METHOD,
    tolerance: float = ADDITIVITY_TOLERANCE,
    log_odds: tuple[float, Sequence[float]] | None = None,
    log_odds_note: str | None = None,
    standard_errors: Sequence[float] | None = None,
) -> ShapExplanation:
    """Assemble a SHAP result, refusing (status 'failed') when it does not add up.

    Parameters
    ----------
    schema : FeatureSchema
    values : sequence of float
        One contribution per variable, schema order.
    baseline, probability : float
    background_size, seed, n_permutations, model_evaluations : int
        Recorded as given.
    method : str
    tolerance : float
    log_odds : (baseline, contributions), optional
        Exact log-odds decomposition of an uncalibrated linear model.
    log_odds_note : str, optional
    standard_errors : sequence of float, optional
        Sampling standard error per variable.

    Returns
    -------
    ShapExplanation
    """
    error, reason = check_additivity(baseline, values, probability, tolerance=tolerance)
    common: dict[str, Any] = dict(
        method=method,
        library_version=_library_version(),
        background_size=background_size,
        seed=seed,
        n_permutations=n_permutations,
        model_evaluations=model_evaluations,
        additivity_error=_finite_or_none(error),
    )
    if reason is not None:
        return ShapExplanation(
            status="failed",
            failure_reason=reason,
            baseline=_finite_or_none(baseline),
            probability=_finite_or_none(probability),
            contributions=(),
            **common,
        )
    log_odds_baseline = log_odds_contribs = None
    errors = [float(e) for e in standard_errors] if standard_errors is not None else []
    if log_odds is not None:
        log_odds_baseline = _finite_or_none(log_odds[0])
        log_odds_contribs = tuple(
            VariableWeight(name=s.name, label=s.label, value=float(v))
            for s, v in zip(schema, log_odds[1], strict=True)
        )
    return ShapExplanation(
        status="ok",
        failure_reason=None,
        baseline=float(baseline),
        probability=float(probability),
        contributions=tuple(
            VariableWeight(name=s.name, label=s.label, value=float(v))
            for s, v in zip(schema, values, strict=True)
        ),
        log_odds_baseline=log_odds_baseline,
        log_odds_contributions=log_odds_contribs,
        log_odds_note=log_odds_note,
        standard_errors=tuple(
            VariableWeight(name=sp.name, label=sp.label, value=float(e))
            for sp, e in zip(schema, errors, strict=True)
        ),
        max_standard_error=_finite_or_none(max(errors)) if errors else None,
        **common,
    )


# --------------------------------------------------------------------------- SHAP


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
    :mod:`caselens.explain.one_row_transform`), kept only when it equals scikit-learn's transform on
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


def explain_shap(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int = 0,
    single_threaded: bool = True,
) -> ShapExplanation:
    """SHAP contributions to the calibrated probability for one case.

    Parameters
    ----------
    model : estimator
        Calibrated classifier taking a DataFrame of the clinical inputs.
    case_frame : DataFrame
        One row, columns = ``schema.names``.
    background : DataFrame
        The background sample (see :func:`select_background`).
    schema : FeatureSchema
    seed : int
        Seed of the variable orders.
    single_threaded : bool
        Run the model's OpenMP code (HistGradientBoosting prediction) on one thread. On a small
        shared machine, OpenMP threads waiting for a busy core turn a 90 ms batch into seconds;
        one thread is a little slower when the machine is idle but steady. The numbers do not
        change: each row is predicted on its own.

    Returns
    -------
    ShapExplanation
        Status 'failed' (with the reason, and no contributions) if the model could not be
        evaluated or the contributions do not add up within 1e-6.
    """
    with _model_threads(single_threaded):
        return _explain_shap(model, case_frame, background, schema, seed=seed)


def _explain_shap(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int,
) -> ShapExplanation:
    probability = float(model.predict_proba(case_frame[schema.names])[0, 1])
    common = dict(background_size=len(background), seed=seed)
    try:
        estimate = permutation_shapley(
            lambda frame: model.predict_proba(frame)[:, 1],
            _columns(case_frame, schema),
            _columns(background, schema),
            probability,
            schema,
            seed=seed,
        )
    except Exception as exc:  # the result must say it failed rather than raise mid-report
        return _shap_failed(exc, probability, common)
    return _shap_from_estimate(
        estimate,
        probability,
        schema,
        lambda: _LogOdds.build(model, background, schema),
        case_frame,
        common,
    )


def _shap_failed(exc: Exception, probability: float, common: dict[str, Any]) -> ShapExplanation:
    return ShapExplanation(
        status="failed",
        failure_reason=f"the model could not be evaluated on the "
        f"background: {type(exc).__name__}: {exc}",
        method=SHAP_METHOD,
        library_version=_library_version(),
        n_permutations=0,
        model_evaluations=0,
        baseline=None,
        probability=probability,
        contributions=(),
        additivity_error=None,
        **common,
    )


def _shap_from_estimate(
    estimate: ShapleyEstimate,
    probability: float,
    schema: FeatureSchema,
    log_odds_model: Callable[[], _LogOdds | None] | None,
    case_frame: pd.DataFrame,
    common: dict[str, Any],
    *,
    case_columns: Sequence[np.ndarray] | None = None,
) -> ShapExplanation:
    log_odds = note = None
    model_log_odds = log_odds_model() if log_odds_model is not None else None
    if model_log_odds is not None:
        log_odds = model_log_odds.of(case_frame, case_columns)
        note = (
            "Exact contributions in log-odds of the uncalibrated logistic regression "
            "(before calibration), against the same background."
            if log_odds is not None
            else "The model is a logistic regression, but its transformed columns could "
            "not be traced back to the clinical variables, so no log-odds are given."
        )
    return build_shap_explanation(
        schema=schema,
        values=estimate.values,
        baseline=estimate.baseline,
        probability=probability,
        n_permutations=estimate.n_permutations,
        model_evaluations=estimate.model_evaluations,
        log_odds=log_odds,
        log_odds_note=note,
        standard_errors=estimate.standard_errors,
        **common,
    )


# --------------------------------------------------------------------------- LIME


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


def _lime_failed(
    reason: str, *, num_samples: int, seeds: Sequence[int], top_k: int, imputed: Sequence[str] = ()
) -> LimeExplanation:
    return LimeExplanation(
        status="failed",
        failure_reason=reason,
        library_version=_library_version(),
        num_samples=num_samples,
        seeds=tuple(seeds),
        runs=len(seeds),
        fidelity_r2=(),
        fidelity_r2_mean=None,
        fidelity_r2_min=None,
        weights=(),
        spread=(),
        top_k=top_k,
        top_k_jaccard=None,
        low_fidelity=True,
        unstable=True,
        imputed_variables=tuple(imputed),
        note=f"LIME could not explain this case: {reason}.",
    )


def explain_lime(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int = 0,
    runs: int = LIME_RUNS,
    num_samples: int = LIME_SAMPLES,
    top_k: int = TOP_K,
    single_threaded: bool = True,
) -> LimeExplanation:
    """LIME weights for one case over ``runs`` seeds, with fidelity and stability.

    Parameters
    ----------
    model : estimator
    case_frame : DataFrame
        One row, columns = ``schema.names``.
    background : DataFrame
        LIME's training data (its sampling distribution and discretisation).
    schema : FeatureSchema
    seed : int
        Run i uses seed ``seed + i``.
    runs : int
        Number of seeded runs (default 5).
    num_samples : int
        Neighbourhood size per run (default 1000).
    top_k : int
        Size of the top sets compared across runs.
    single_threaded : bool
        Run the model's OpenMP code on one thread (see :func:`explain_shap`).

    Returns
    -------
    LimeExplanation
    """
    with _model_threads(single_threaded):
        return _explain_lime(
            model,
            case_frame,
            background,
            schema,
            seed=seed,
            runs=runs,
            num_samples=num_samples,
            top_k=top_k,
        )


def _explain_lime(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int,
    runs: int,
    num_samples: int,
    top_k: int,
) -> LimeExplanation:
    setup = _LimeSetup(background, schema, seed=seed)
    draw = setup.draw(case_frame, runs=runs, num_samples=num_samples, top_k=top_k)
    if isinstance(draw, LimeExplanation):
        return draw
    try:
        all_probs = np.asarray(model.predict_proba(draw.frame()), dtype=float)
    except Exception as exc:  # a failed LIME is reported, never silently dropped
        return draw.failed(f"{type(exc).__name__}: {exc}")
    return setup.finish(
        draw, all_probs, lambda frame: np.asarray(model.predict_proba(frame), dtype=float)
    )


@dataclass(frozen=True)
class _LimeDraw:
    """Every run's neighbourhood of one case, drawn with LIME's own sampler, not yet predicted."""

    encoding: _LimeEncoding
    row: np.ndarray
    imputed: tuple[str, ...]
    seeds: tuple[int, ...]
    num_samples: int
    top_k: int
    neighbourhoods: list[tuple[np.ndarray, np.ndarray]]

    @property
    def rows(self) -> int:
        return len(self.seeds) * self.num_samples

    def columns(self) -> list[np.ndarray]:
        """The rows the model must predict (every run's, in run order), one array per variable."""
        return self.encoding.decode_columns(self.stacked())

    def stacked(self) -> np.ndarray:
        """Every run's sampled rows in LIME's numeric encoding (categories as codes)."""
        return np.concatenate([inverse for _, inverse in self.neighbourhoods])

    def frame(self) -> pd.DataFrame:
        return _frame(self.columns(), self.encoding.schema)

    def failed(self, reason: str) -> LimeExplanation:
        return _lime_failed(
            reason,
            num_samples=self.num_samples,
            seeds=self.seeds,
            top_k=self.top_k,
            imputed=self.imputed,
        )


class _LimeSetup:
    """LIME's encoding and explainer for one background, built once and reused per case.

    LIME's own sampler draws, per seed, categories and quartile bins from the background's
    frequencies, then a value inside each drawn bin; only the first row (the case) and the 0/1
    "same as the case" matrix depend on the case. That case-free part is drawn once per seed
    with LIME's own random state and discretiser (:meth:`_seed_draw`), and each case derives
    its neighbourhood from it: the rows are exactly those LIME's sampler returns for that case
    (``tests/explain/test_attribution.py`` compares them bit for bit).

    The weighted ridge fits that LIME runs on a neighbourhood (:meth:`_surrogate`) are done
    here in numpy, operation for operation as scikit-learn's ``Ridge`` does them, because the
    scikit-learn calls spent most of their time validating 1,000 × 13 arrays; the weights and
    R² are LIME's to the last bit (compared by the same tests). LIME's explainer keeps one
    random state shared by its discretiser and its base, so drawing is serialised by a lock.
    """

    #: LIME's 'auto' feature selection uses forward selection up to this many variables
    #: (which, selecting every variable, only orders the columns: see ``_surrogate``).
    _FORWARD_SELECTION_MAX = 6
    #: Per-seed draws kept (a report uses ``lime_runs`` of them; other seeds are rare).
    _MAX_CACHED_DRAWS = 64

    def __init__(self, background: pd.DataFrame, schema: FeatureSchema, *, seed: int) -> None:
        self.schema = schema
        self.seed = seed
        self.encoding = _LimeEncoding(background, schema)
        self._explainer: Any = None
        self._lock = threading.Lock()
        self._draws: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._kernel_by_zeros: np.ndarray | None = None

    def _get_explainer(self) -> Any:
        if self._explainer is None:
            from lime.lime_tabular import LimeTabularExplainer

            encoding = self.encoding
            explainer = LimeTabularExplainer(
                encoding.training,
                mode="classification",
                feature_names=self.schema.names,
                categorical_features=encoding.categorical,
                categorical_names={j: list(c) for j, c in encoding.categories.items()},
                class_names=["no outcome", "outcome"],
                discretize_continuous=True,
                random_state=self.seed,
            )
            # With the discretiser every variable is sampled as a category (LIME sets the
            # scaler to mean 0, scale 1 for them): what _seed_draw and _surrogate rely on.
            if (
                explainer.discretizer is None
                or explainer.categorical_features != list(range(len(self.schema)))
                or not (explainer.scaler.mean_ == 0).all()
                or not (explainer.scaler.scale_ == 1).all()
            ):  # pragma: no cover - fixed by the arguments above
                raise RuntimeError("LIME's explainer is not set up as CaseLens expects")
            # LIME's kernel weight of a row with k zeros (distance √k to the case), k = 0..m.
            table = explainer.base.kernel_fn(np.sqrt(np.arange(len(self.schema) + 1.0)))
            table.flags.writeable = False
            self._kernel_by_zeros = table
            self._explainer = explainer
        return self._explainer

    def _seed_draw(self, seed: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """LIME's case-free draw for one seed: (drawn codes and bins, sampled values).

        Replays ``LimeTabularExplainer.__data_inverse`` with the discretiser: per variable,
        ``random_state.choice`` over the discretised background's values and frequencies,
        then ``discretizer.undiscretize`` of rows 1.. (LIME overwrites row 0 with the case).
        The random state is consumed exactly as there, and neither step looks at the case.
        Call with the lock held.
        """
        key = (seed, num_samples)
        cached = self._draws.get(key)
        if cached is not None:
            return cached
        explainer = self._get_explainer()
        state = explainer.random_state  # shared by the discretiser and LIME's base
        state.seed(seed)
        m = len(self.schema)
        drawn = np.empty((num_samples, m))
        for column in range(m):
            drawn[:, column] = state.choice(
                explainer.feature_values[column],
                size=num_samples,
                replace=True,
                p=explainer.feature_frequencies[column],
            )
        values = drawn.copy()
        values[1:] = explainer.discretizer.undiscretize(drawn[1:])
        drawn.flags.writeable = values.flags.writeable = False  # shared by every case
        if len(self._draws) >= self._MAX_CACHED_DRAWS:
            self._draws.pop(next(iter(self._draws)))
        self._draws[key] = (drawn, values)
        return drawn, values

    def _neighbourhood(
        self, row: np.ndarray, seed: int, num_samples: int, case_bins: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(data, inverse) as LIME's sampler returns them for this case and seed.

        ``data`` is 1 where a row's category or bin equals the case's (row 0, the case, all
        ones), ``inverse`` the sampled values with the case as row 0. ``case_bins``: the
        discretiser's bins of ``row``, when the caller has them. Call with the lock held.
        """
        drawn, values = self._seed_draw(seed, num_samples)
        if case_bins is None:
            case_bins = self._get_explainer().discretizer.discretize(row)
        data = (drawn == case_bins).astype(float)
        data[0] = 1.0
        inverse = values.copy()
        inverse[0] = row
        return data, inverse

    def draw(
        self,
        case_frame: pd.DataFrame,
        *,
        runs: int,
        num_samples: int,
        top_k: int,
        case_columns: Sequence[np.ndarray] | None = None,
    ) -> _LimeDraw | LimeExplanation:
        """Every run's neighbourhood (run i seeded ``seed + i``), or the failed result
        (``case_columns``: :func:`_columns` of the frame, when the caller has them)."""
        if runs < 1:
            raise ValueError("LIME needs at least one run")
        schema = self.schema
        seeds = tuple(self.seed + i for i in range(runs))
        row, imputed_idx = self.encoding.encode_case(case_frame, case_columns)
        imputed = tuple(schema.names[j] for j in imputed_idx)
        try:
            with self._lock:
                # Every run's neighbourhood first, so the model sees all of them in ONE call.
                bins = self._get_explainer().discretizer.discretize(row)  # the same every run
                neighbourhoods = [self._neighbourhood(row, s, num_samples, bins) for s in seeds]
        except Exception as exc:  # a failed LIME is reported, never silently dropped
            return _lime_failed(
                f"{type(exc).__name__}: {exc}",
                num_samples=num_samples,
                seeds=seeds,
                top_k=top_k,
                imputed=imputed,
            )
        return _LimeDraw(
            encoding=self.encoding,
            row=row,
            imputed=imputed,
            seeds=seeds,
            num_samples=num_samples,
            top_k=top_k,
            neighbourhoods=neighbourhoods,
        )

    def finish(
        self,
        draw: _LimeDraw,
        all_probs: np.ndarray,
        predict: Callable[[pd.DataFrame], np.ndarray] | None = None,
    ) -> LimeExplanation:
        """Each run's surrogate on its predicted neighbourhood; fidelity, stability and notes.

        ``all_probs`` holds ``predict_proba`` of :meth:`_LimeDraw.frame` (both classes, run
        order). ``predict`` is not needed (the surrogate sees only the drawn rows); it is
        accepted for callers written when LIME could ask the model again.
        """
        del predict
        try:
            explainer = self._get_explainer()
            weights_runs, scores = [], []
            with warnings.catch_warnings():  # as LIME's calls were: ill-conditioning
                warnings.simplefilter("ignore")  # warnings do not reach the screen
                for i, (data, _) in enumerate(draw.neighbourhoods):
                    probs = all_probs[i * draw.num_samples : (i + 1) * draw.num_samples]
                    weights, score = self._surrogate(explainer, data, probs)
                    weights_runs.append(weights)
                    scores.append(score)
        except Exception as exc:  # a failed LIME is reported, never silently dropped
            return draw.failed(f"{type(exc).__name__}: {exc}")
        return _lime_result(self.schema, draw, weights_runs, scores)

    def _surrogate(
        self, explainer: Any, data: np.ndarray, probs: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """LIME's weighted linear fit of one neighbourhood: weight per variable, and R².

        What ``explain_instance`` does after sampling, for label 1 and every variable:
        distances of the scaled rows to the case, LIME's kernel, feature selection (its
        'auto': above six variables 'highest_weights', a ridge fit with alpha 0.01 that
        orders the variables by |coef × case|), then a ridge fit with alpha 1 on the
        variables in that order, and its weighted R². The fits are :class:`_WeightedFits`
        (scikit-learn's operations): above six variables the result is LIME's bit for bit.

        Up to six variables LIME's 'auto' is 'forward_selection': 21 unpenalised fits and
        scores for six variables, per run, only to decide the ORDER of the columns of the
        final fit, since every variable is selected. A ridge fit and its R² do not depend on
        the order of the columns (the penalty and the centring treat each alike), so the
        variables are taken in schema order: the weights and R² are LIME's up to float
        rounding (about 1e-16; tested against LIME within 1e-12), at a fifth of the cost.
        Should a fit be singular, LIME itself is asked (scikit-learn then switches solver).
        """
        m = data.shape[1]
        labels = probs[:, 1]
        if explainer.feature_selection == "auto" and len(data) >= m:
            # (with fewer rows than variables scikit-learn solves the kernel (dual) problem)
            # LIME's scaler is the identity here (mean 0, scale 1: checked when it is built),
            # so the scaled rows are the 0/1 rows themselves. Row 0 (the case) is all ones,
            # so a row's squared distance to it is its count of zeros: a small whole number,
            # exact whichever way it is summed, and LIME's kernel of it is looked up.
            zeros = (m - data @ np.ones(m)).astype(np.intp)  # sums of 0/1: exact in BLAS
            weights = self._kernel_by_zeros[zeros]  # type: ignore[index]  # set with explainer
            try:
                fits = _WeightedFits(labels, weights)
                if m > self._FORWARD_SELECTION_MAX:
                    order = fits.highest_weights(data)
                    used = data[:, order]
                else:  # forward selection would only permute the columns (see above)
                    order, used = list(range(m)), data
                coef, intercept = fits.fit(used, alpha=1.0)
            except np.linalg.LinAlgError:  # scikit-learn would switch to SVD: let LIME do it
                pass
            else:
                result = np.zeros(m)
                result[order] = coef
                return result, fits.r2(used @ coef + intercept)
        from sklearn.metrics import pairwise_distances

        scaled = (data - explainer.scaler.mean_) / explainer.scaler.scale_

        distances = pairwise_distances(scaled, scaled[0].reshape(1, -1)).ravel()
        _, pairs, score, _ = explainer.base.explain_instance_with_data(
            scaled, probs, distances, 1, m, feature_selection=explainer.feature_selection
        )
        result = np.zeros(m)
        for j, w in pairs:
            result[j] = w
        return result, float(score)


def _solve_positive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.solve(a, b, assume_a="pos")`` bit for bit, without its per-call cost.

    scipy divides when ``a`` is 1 × 1 and otherwise runs LAPACK's Cholesky solve (``posv``,
    upper triangle) through its batched wrapper, which with its checks costs about 14 µs a
    call; the same LAPACK routine called directly costs 1 µs (LIME fits five times a
    report). Raises as scipy does: ``ValueError`` on a non-finite entry, ``LinAlgError``
    when ``a`` is not positive definite.
    """
    from scipy.linalg import lapack

    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("array must not contain infs or NaNs")
    if a.shape == (1, 1):
        if a[0, 0] == 0:
            raise np.linalg.LinAlgError("A singular matrix detected.")
        return b / a
    _, x, info = lapack.dposv(a, b, lower=False)
    if info > 0:
        raise np.linalg.LinAlgError("The matrix is not positive definite.")
    if info < 0:  # pragma: no cover - the arguments are well formed
        raise ValueError(f"LAPACK dposv: illegal value in argument {-info}")
    return x


class _WeightedFits:
    """LIME's weighted ridge fits and R² scores on one neighbourhood, as scikit-learn does
    them, with what depends only on the labels and weights computed once.

    :meth:`fit` is ``Ridge(alpha, fit_intercept=True).fit(x, y, sample_weight=weights)``:
    the same operations in the same order as scikit-learn's dense Cholesky path (weighted
    centring, rescaling by √weights, ``solve(XᵀX + αI, Xᵀy, assume_a="pos")``), so the
    result is scikit-learn's bit for bit, without its per-call validation. :meth:`r2` is
    ``r2_score(y, predicted, sample_weight=weights)``, same operations. The label and
    weight terms (their sums, the label's weighted mean and spread) are the very arrays
    scikit-learn would compute on every call: computing them once changes no bit.
    """

    def __init__(self, y: np.ndarray, weights: np.ndarray) -> None:
        # np.add.reduce is what np.sum calls (same sums, without its Python wrapper).
        total = np.add.reduce
        self.w_col = weights[:, None]
        self.w_col_total = total(self.w_col, axis=0)
        self.root = np.sqrt(weights)[:, None]
        self.y_offset = total(np.multiply(y, weights), axis=0) / total(weights, axis=0)
        self.ys = (y - self.y_offset).reshape(-1, 1) * self.root
        self.truth = y.reshape(-1, 1)
        mean = total(np.multiply(self.truth, self.w_col), axis=0) / self.w_col_total
        self.r2_denominator = total(self.w_col * (self.truth - mean) ** 2, axis=0)

    def fit(self, x: np.ndarray, *, alpha: float) -> tuple[np.ndarray, float]:
        """(coef, intercept); raises ``LinAlgError`` where scikit-learn would switch solver."""
        x_offset = np.add.reduce(np.multiply(x, self.w_col), axis=0) / self.w_col_total
        xs = (x - x_offset) * self.root
        gram = xs.T @ xs
        gram.flat[:: gram.shape[1] + 1] += alpha
        coef = _solve_positive(gram, xs.T @ self.ys).T.ravel()
        return coef, float(self.y_offset - x_offset @ coef)

    def r2(self, predicted: np.ndarray) -> float:
        """Weighted R² of ``predicted`` (scikit-learn's force_finite: a perfect fit scores 1,
        a constant target otherwise 0)."""
        numerator = np.add.reduce(self.w_col * (self.truth - predicted.reshape(-1, 1)) ** 2, axis=0)
        if numerator[0] == 0:
            return 1.0
        if self.r2_denominator[0] == 0:
            return 0.0
        # scikit-learn averages this one output's score: the mean of one number is itself.
        return float(1 - numerator[0] / self.r2_denominator[0])

    def highest_weights(self, scaled: np.ndarray) -> list[int]:
        """LIME's 'highest_weights' order of every variable: |coef × case| of a ridge fit
        with alpha 0.01, largest first (Python's stable sort, as LIME's)."""
        m = scaled.shape[1]
        selection, _ = self.fit(scaled, alpha=0.01)
        weighted = selection * scaled[0]
        return [
            j
            for j, _ in sorted(
                zip(range(m), weighted, strict=True), key=lambda x: np.abs(x[1]), reverse=True
            )
        ]


def _lime_result(
    schema: FeatureSchema,
    draw: _LimeDraw,
    weights_runs: list[np.ndarray],
    scores: list[float],
) -> LimeExplanation:
    seeds, num_samples, top_k, imputed = draw.seeds, draw.num_samples, draw.top_k, draw.imputed
    runs = len(seeds)
    matrix = np.vstack(weights_runs)
    if not (np.isfinite(matrix).all() and all(math.isfinite(r2) for r2 in scores)):
        return _lime_failed(
            "a weight or a local fit (R²) was not a finite number",
            num_samples=num_samples,
            seeds=seeds,
            top_k=top_k,
            imputed=imputed,
        )
    mean, spread = matrix.mean(axis=0), matrix.std(axis=0)
    k = min(top_k, len(schema))
    jac = mean_pairwise_jaccard([set(top_k_indices(w, k)) for w in matrix])
    r2_mean, r2_min = float(np.mean(scores)), float(np.min(scores))
    low_fidelity = not (math.isfinite(r2_mean) and r2_mean >= LOW_FIDELITY_R2)
    unstable = jac < UNSTABLE_JACCARD
    notes = [
        f"LIME's local straight-line fit explains {r2_mean:.0%} of the model's variation "
        f"near this case (R² {r2_mean:.2f} on average, lowest {r2_min:.2f}, over {runs} "
        "runs)"
        + (
            ": low fidelity, so LIME's weights may not reflect the model here."
            if low_fidelity
            else "."
        )
    ]
    notes.append(
        f"Across {runs} seeds the top {k} factors overlapped by {jac:.0%} on average"
        + (": unstable, so LIME's ranking depends on chance." if unstable else ".")
    )
    if imputed:
        labels = [schema[n].label for n in imputed]
        notes.append(
            "Not recorded for this case, so LIME used the background's typical value: "
            + ", ".join(labels)
            + "."
        )

    def weights_of(values: np.ndarray) -> tuple[VariableWeight, ...]:
        return tuple(
            VariableWeight(name=s.name, label=s.label, value=float(v))
            for s, v in zip(schema, values, strict=True)
        )

    return LimeExplanation(
        status="ok",
        failure_reason=None,
        library_version=_library_version(),
        num_samples=num_samples,
        seeds=seeds,
        runs=runs,
        fidelity_r2=tuple(scores),
        fidelity_r2_mean=_finite_or_none(r2_mean),
        fidelity_r2_min=_finite_or_none(r2_min),
        weights=weights_of(mean),
        spread=weights_of(spread),
        top_k=k,
        top_k_jaccard=jac,
        low_fidelity=low_fidelity,
        unstable=unstable,
        imputed_variables=imputed,
        note=" ".join(notes),
    )


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class ModelUsage:
    """How the model was asked for one report's numbers.

    Attributes
    ----------
    rows : int
        Rows passed to ``predict_proba`` (every LIME run's neighbourhood, the SHAP
        coalitions, the case).
    calls : int
        ``predict_proba`` calls: 1 (every row, the case last), more only if that call
        failed and the case and each part were asked alone.
    predict_ms : float
        Milliseconds spent inside those calls.
    """

    rows: int
    calls: int
    predict_ms: float


class _CountingPredict:
    """``model.predict_proba`` that counts calls, rows and time."""

    def __init__(self, model: Any) -> None:
        self.model = model
        # A model that checks its own answers (an ONNX model, on every call) is not checked
        # twice; any other model's answer is checked here.
        self._checks_itself = getattr(model, "answers_checked", False) is True
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0

    @property
    def takes_columns(self) -> bool:
        """Whether the model takes a batch as columns (``predict_proba_columns``)."""
        return callable(getattr(self.model, "predict_proba_columns", None))

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self._counted(self.model.predict_proba, frame, len(frame))

    def columns(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """``model.predict_proba_columns(columns)``, counted (see :attr:`takes_columns`)."""
        rows = len(next(iter(columns.values()))) if columns else 0
        return self._counted(self.model.predict_proba_columns, columns, rows)

    def _counted(self, method: Callable[[Any], Any], data: Any, rows: int) -> np.ndarray:
        """The model's answer, checked to be a probability per row (ModelOutputError)."""
        start = time.perf_counter()
        try:
            answer = method(data)
            if self._checks_itself:
                return np.asarray(answer, dtype=float)
            return check_probabilities(answer, rows=rows)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1
            self.rows += rows

    def usage(self) -> ModelUsage:
        return ModelUsage(
            rows=self.rows, calls=self.calls, predict_ms=round(1000 * self.seconds, 3)
        )


@dataclass(frozen=True)
class CaseAttribution:
    """:meth:`Attributor.explain`'s answer: the probability, SHAP/LIME, and the model's use."""

    probability: float
    attributions: Attributions
    usage: ModelUsage


class Attributor:
    """The probability, SHAP and LIME of one case, in one model call whatever the model.

    Everything that depends only on the background is prepared once (its columns, LIME's
    encoding and explainer, the logistic regression's transformed background mean). Per case,
    the SHAP coalitions and every LIME run's neighbourhood are drawn and go to
    ``predict_proba`` in ONE call with the case itself as the last row: a model wrapped in
    k-fold calibration, or a pipeline whose per-call cost is milliseconds of validation, pays
    that cost once per report. Should that call raise, the case is asked alone (its failure
    is the report's: there is nothing to show), then each part alone, so that a failure is
    reported for the part that failed.

    The model predicts each row on its own, so the numbers are those of separate calls, with
    one caveat: BLAS (a logistic regression's matrix product) may round a row's last bit
    differently in a batch of another size or at another position (about 1e-17 on a
    probability; trees are bit-exact). The batch is ordered LIME, SHAP, then the case, so the
    explanation rows keep the positions they had before the case joined the call; the case's
    probability may differ from a one-row ``predict_proba`` call in its last bit, far below
    the numeric tolerance of a re-run and the 0.1-point resolution shown.

    Parameters
    ----------
    model : estimator
        Calibrated classifier taking a DataFrame of the clinical inputs.
    background : DataFrame
        From :func:`select_background`.
    schema : FeatureSchema
    seed, lime_runs, lime_samples, top_k, single_threaded
        As for :func:`explain_attributions`.
    """

    def __init__(
        self,
        model: Any,
        background: pd.DataFrame,
        schema: FeatureSchema,
        *,
        seed: int = 0,
        lime_runs: int = LIME_RUNS,
        lime_samples: int = LIME_SAMPLES,
        top_k: int = TOP_K,
        single_threaded: bool = True,
    ) -> None:
        self.model = model
        self.schema = schema
        self.background = background[schema.names]
        self.seed = seed
        self.lime_runs = lime_runs
        self.lime_samples = lime_samples
        self.top_k = top_k
        self.single_threaded = single_threaded
        self._background_columns: list[np.ndarray] | None = None
        self._lime: _LimeSetup | None = None
        self._is_logistic = _unwrap_logistic(model) is not None
        self._log_odds: _LogOdds | None = None
        self._codes: dict[int, tuple[Any, dict[str, int], np.ndarray]] | None = None

    def _lime_setup(self) -> _LimeSetup:
        if self._lime is None:
            self._lime = _LimeSetup(self.background, self.schema, seed=self.seed)
        return self._lime

    def _log_odds_model(self) -> _LogOdds | None:
        if self._is_logistic and self._log_odds is None:
            self._log_odds = _LogOdds.build(self.model, self.background, self.schema)
        return self._log_odds

    def explain(self, case_frame: pd.DataFrame) -> CaseAttribution:
        """The probability, SHAP, LIME and their agreement for one case (one model call).

        Raises whatever the model raises on the case itself (there is nothing to show then);
        a failure of SHAP or LIME alone is reported in its result.
        """
        schema = self.schema
        if len(case_frame) != 1:
            raise ValueError(f"explain one case at a time (got {len(case_frame)} rows)")
        case_frame = _in_order(case_frame, schema.names)
        values = _case_values(case_frame, schema)  # read once: a mixed-type row is slow to read
        predict = _CountingPredict(self.model)
        with _model_threads(self.single_threaded, every_api=True):
            probability, shap_result, lime_result = self._explain(case_frame, values, predict)
        return CaseAttribution(
            probability=probability,
            attributions=_combine(schema, values, shap_result, lime_result, self.top_k),
            usage=predict.usage(),
        )

    def _category_codes(self) -> dict[int, tuple[Any, dict[str, int], np.ndarray]]:
        """Per category variable whose background values are all schema categories (or
        missing): (the categories as an Arrow text array, category → code, the background's
        codes with -1 = missing)."""
        if self._codes is None:
            import pyarrow as pa

            codes: dict[int, tuple[Any, dict[str, int], np.ndarray]] = {}
            columns = self._background_columns or _columns(self.background, self.schema)
            for j, spec in enumerate(self.schema):
                if spec.kind != "category" or not spec.categories:
                    continue
                lookup = {c: i for i, c in enumerate(spec.categories)}
                values = columns[j]
                if all(v is None or (type(v) is str and v in lookup) for v in values):
                    background = np.array([-1 if v is None else lookup[v] for v in values])
                    categories = pa.array(list(spec.categories), type=pa.large_string())
                    codes[j] = (categories, lookup, background)
            self._codes = codes
        return self._codes

    def _batch_columns(
        self,
        draw: _LimeDraw,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
        *,
        text_dtype: Any = None,
    ) -> list[Any]:
        """Every LIME row, every SHAP row, then the case, one array per variable: float64
        (NaN = missing) or object (None = missing), as :func:`_columns` gives them; with
        ``text_dtype`` (pandas' Arrow-backed text dtype), the category columns that can be
        are that dtype's arrays built from category codes (see :meth:`_batch_frame`)."""
        stacked = draw.stacked()
        text: dict[int, Any] = {}
        if text_dtype is not None:
            try:
                text = self._text_columns(text_dtype, stacked, plan, case_columns)
            except Exception:  # pragma: no cover - never a reason to fail a report
                text = {}
        return [
            text[j]
            if j in text
            else np.concatenate(
                [draw.encoding.decode_column(stacked, j), plan.batch_columns[j], case_columns[j]]
            )
            for j in range(len(self.schema))
        ]

    def _batch_frame(
        self, draw: _LimeDraw, plan: ShapleyPlan, case_columns: Sequence[np.ndarray]
    ) -> pd.DataFrame:
        """The frame of every LIME row, every SHAP row, then the case: exactly ``_frame`` of
        :meth:`_batch_columns`, with the text columns built from category codes.

        pandas turns a column of Python strings into its Arrow-backed ``str`` dtype by
        converting every string (about 0.3 ms per 8,000-row column); LIME's rows are codes
        already and SHAP's rows are background rows with some cells set to the case's value,
        so the same column is taken from the category list by code in Arrow instead. Used
        only where the result is that dtype and every value is a schema category; otherwise
        (and on any surprise) the frame is built the plain way.
        """
        columns = self._batch_columns(draw, plan, case_columns, text_dtype=_inferred_text_dtype())
        return _frame(columns, self.schema)

    def _predict_batch(
        self,
        predict: _CountingPredict,
        draw: _LimeDraw,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
    ) -> np.ndarray:
        """The one model call on the batch. A model that takes the batch as columns (an ONNX
        model: :meth:`~caselens.model.onnx.OnnxClassifier.predict_proba_columns`, the same
        probabilities bit for bit) gets them without a DataFrame being built and taken apart
        again; any other model gets :meth:`_batch_frame`."""
        if predict.takes_columns:
            columns = self._batch_columns(draw, plan, case_columns)
            return predict.columns(dict(zip(self.schema.names, columns, strict=True)))
        return predict(self._batch_frame(draw, plan, case_columns))

    def _text_columns(
        self,
        text_dtype: Any,
        stacked: np.ndarray,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
    ) -> dict[int, Any]:
        """The batch's category columns that can be taken from the category list by code,
        as pandas' Arrow-backed text arrays (see :meth:`_batch_frame`)."""
        import pyarrow as pa

        text = {}
        for j, (categories, lookup, background) in self._category_codes().items():
            case_value = case_columns[j][0]
            known = case_value is None or (type(case_value) is str and case_value in lookup)
            if not known:
                continue
            case_code = -1 if case_value is None else lookup[case_value]
            codes = np.concatenate(
                [
                    np.rint(stacked[:, j]).astype(int),
                    plan.column_from(j, background, case_code),
                    [case_code],
                ]
            )
            if not (codes >= 0).any():
                continue  # all missing: pandas would not make it a text column
            text[j] = text_dtype.__from_arrow__(categories.take(pa.array(codes, mask=codes < 0)))
        return text

    def _explain(
        self, case_frame: pd.DataFrame, values: Sequence[Any], predict: _CountingPredict
    ) -> tuple[float, ShapExplanation, LimeExplanation]:
        schema = self.schema
        common = dict(background_size=len(self.background), seed=self.seed)
        plan: ShapleyPlan | None = None
        shap_error: Exception | None = None
        case_columns: list[np.ndarray] | None = None
        try:
            case_columns = _columns(case_frame, schema, values)
            if self._background_columns is None:
                self._background_columns = _columns(self.background, schema)
            plan = ShapleyPlan.build(case_columns, self._background_columns, schema, seed=self.seed)
        except Exception as exc:  # reported in the SHAP result, as a failed model call was
            shap_error = exc
        lime = self._lime_setup()
        draw = lime.draw(
            case_frame,
            runs=self.lime_runs,
            num_samples=self.lime_samples,
            top_k=self.top_k,
            case_columns=case_columns,
        )
        lime_draw = draw if isinstance(draw, _LimeDraw) else None

        probability: float | None = None
        shap_probs = lime_probs = None
        if plan is not None and lime_draw is not None and case_columns is not None:
            # The one call: every LIME run's rows, then SHAP's rows, then the case (last, so
            # that the explanation rows keep the positions they had when the case was asked
            # alone: BLAS may round a row's last bit differently at another position).
            try:
                probs = self._predict_batch(predict, lime_draw, plan, case_columns)
                lime_probs = probs[: lime_draw.rows]
                shap_probs = probs[lime_draw.rows : -1, 1]
                probability = float(probs[-1, 1])
            except ModelBudgetError:
                raise  # over its time or memory: asking again part by part would only stall
            except Exception:  # ask each part alone below, so the failing part is named
                pass
        if probability is None:
            # The case alone; raises: there is nothing to show.
            probability = float(predict(case_frame)[0, 1])
        if plan is not None and shap_probs is None:
            try:
                shap_probs = predict(_frame(plan.batch_columns, schema))[:, 1]
            except Exception as exc:
                shap_error = exc
        if lime_draw is not None and lime_probs is None:
            try:
                lime_probs = predict(lime_draw.frame())
            except Exception as exc:
                draw = lime_draw.failed(f"{type(exc).__name__}: {exc}")
                lime_draw = None

        if plan is None or shap_probs is None:
            shap_result = _shap_failed(shap_error, probability, common)
        else:
            shap_result = _shap_from_estimate(
                plan.finish(shap_probs, probability),
                probability,
                schema,
                self._log_odds_model,
                case_frame,
                common,
                case_columns=case_columns,
            )
        lime_result = draw if lime_draw is None else lime.finish(lime_draw, lime_probs, predict)
        return probability, shap_result, lime_result


@functools.cache
def _inferred_text_dtype() -> Any:
    """The dtype pandas gives a column of Python strings, if it is Arrow-backed (else None)."""
    dtype = pd.Series(np.array(["a"], dtype=object)).dtype
    if getattr(dtype, "storage", None) != "pyarrow" or not hasattr(dtype, "__from_arrow__"):
        return None
    return dtype


def explain_attributions(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int = 0,
    lime_runs: int = LIME_RUNS,
    lime_samples: int = LIME_SAMPLES,
    top_k: int = TOP_K,
    single_threaded: bool = True,
) -> Attributions:
    """SHAP, LIME and their agreement for one case.

    Parameters
    ----------
    model : estimator
        Calibrated classifier taking a DataFrame of the clinical inputs.
    case_frame : DataFrame
        One row (e.g. ``Case.to_frame()``).
    background : DataFrame
        From :func:`select_background` (its size and seed are the caller's to record; the
        result records the size).
    schema : FeatureSchema
    seed : int
        Seed of the SHAP orders and of the first LIME run.
    lime_runs, lime_samples, top_k : int
    single_threaded : bool
        Run the model's native code on one thread (see :func:`explain_shap`).

    Returns
    -------
    Attributions
        The model is asked twice (see :class:`Attributor`, which also keeps the background's
        preparation for the next case).
    """
    if len(case_frame) != 1:
        raise ValueError(f"explain one case at a time (got {len(case_frame)} rows)")
    attributor = Attributor(
        model,
        background,
        schema,
        seed=seed,
        lime_runs=lime_runs,
        lime_samples=lime_samples,
        top_k=top_k,
        single_threaded=single_threaded,
    )
    return attributor.explain(case_frame).attributions


def _combine(
    schema: FeatureSchema,
    case_values: Sequence[Any],
    shap_result: ShapExplanation,
    lime_result: LimeExplanation,
    top_k: int,
) -> Attributions:
    agreement = None
    if shap_result.status == "ok" and lime_result.status == "ok":
        agreement = compare_explanations(
            schema.names,
            [c.value for c in shap_result.contributions],
            [w.value for w in lime_result.weights],
            labels=[s.label for s in schema],
            k=top_k,
        )
    shap_by = {c.name: c.value for c in shap_result.contributions}
    lime_by = {w.name: w.value for w in lime_result.weights}
    spread_by = {w.name: w.value for w in lime_result.spread}
    log_odds_by = {c.name: c.value for c in shap_result.log_odds_contributions or ()}
    variables = tuple(
        VariableContribution(
            name=s.name,
            label=s.label,
            value_text=s.describe_value(_plain(value)),
            shap_value=shap_by.get(s.name),
            lime_weight=lime_by.get(s.name),
            lime_spread=spread_by.get(s.name),
            log_odds=log_odds_by.get(s.name),
        )
        for s, value in zip(schema, case_values, strict=True)
    )
    return Attributions(
        shap=shap_result, lime=lime_result, agreement=agreement, variables=variables
    )


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def warm_up(
    model: Any = None, background: pd.DataFrame | None = None, schema: FeatureSchema | None = None
) -> None:
    """Pay the one-off costs (imports, first model calls) at start-up, not on the first case.

    Parameters
    ----------
    model, background, schema : optional
        When all three are given, one small explanation of the first background row is run.
    """
    import lime.lime_tabular  # noqa: F401  (slow first import)
    import scipy.stats  # noqa: F401

    _library_version()

    if model is None or background is None or schema is None or len(background) == 0:
        return
    small = background.iloc[: min(20, len(background))]
    explain_attributions(model, background.iloc[[0]], small, schema, lime_runs=1, lime_samples=200)
