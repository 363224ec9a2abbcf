"""SHAP for one case: permutation Shapley values of the calibrated probability, refused
when they do not add up, with exact log-odds for a calibrated logistic regression."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _columns
from caselens.explain.attribution._runtime import _finite_or_none, _library_version, _model_threads
from caselens.explain.attribution.log_odds import _LogOdds
from caselens.explain.attribution.results import ShapExplanation, variable_weights
from caselens.explain.attribution.shapley import ShapleyEstimate, permutation_shapley
from caselens.model.features import FeatureSchema

#: Largest accepted |baseline + sum(contributions) - probability|: float rounding, not sampling.
ADDITIVITY_TOLERANCE = 1e-6

SHAP_METHOD = (
    "permutation Shapley values of the calibrated probability (Štrumbelj–Kononenko sampling: "
    "each background row paired with one random variable order and its reverse, "
    "interventional; CaseLens implementation, all coalitions in one model call)"
)


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
    errors = [float(e) for e in standard_errors] if standard_errors is not None else []
    return ShapExplanation(
        status="ok",
        failure_reason=None,
        baseline=float(baseline),
        probability=float(probability),
        contributions=variable_weights(schema, values),
        **_log_odds_fields(schema, log_odds, log_odds_note),
        standard_errors=variable_weights(schema, errors),
        max_standard_error=_finite_or_none(max(errors)) if errors else None,
        **common,
    )


def _log_odds_fields(
    schema: FeatureSchema,
    log_odds: tuple[float, Sequence[float]] | None,
    note: str | None,
) -> dict[str, Any]:
    """The log-odds fields of an added-up SHAP result (None where there are none)."""
    if log_odds is None:
        return dict(log_odds_baseline=None, log_odds_contributions=None, log_odds_note=note)
    return dict(
        log_odds_baseline=_finite_or_none(log_odds[0]),
        log_odds_contributions=variable_weights(schema, log_odds[1]),
        log_odds_note=note,
    )


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
