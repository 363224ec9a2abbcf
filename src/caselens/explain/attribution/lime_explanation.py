"""LIME for one case over several seeded runs, with its local fidelity and stability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._lime_setup import _LimeSetup
from caselens.explain.attribution._runtime import _model_threads
from caselens.explain.attribution.agreement import TOP_K
from caselens.explain.attribution.results import LimeExplanation
from caselens.model.features import FeatureSchema

#: Seeded runs per case: enough to measure how far LIME's ranking moves with the seed.
LIME_RUNS = 5
#: Neighbourhood rows per run (LIME's default is 5,000): every run's rows go to the model in the
#: report's one call.
LIME_SAMPLES = 1000


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
