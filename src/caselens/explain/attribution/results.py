"""The frozen records of one case's attributions: each explainer's result, one row per
clinical variable, and the whole (what a :class:`~caselens.explain.report.CaseReport` holds).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from caselens.explain.attribution.agreement import ExplainerAgreement
from caselens.model.features import FeatureSchema


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


def variable_weights(schema: FeatureSchema, values: Iterable[float]) -> tuple[VariableWeight, ...]:
    """One weight per clinical variable, in schema order, each value as a plain float."""
    return tuple(
        VariableWeight(name=s.name, label=s.label, value=float(v))
        for s, v in zip(schema, values, strict=True)
    )
