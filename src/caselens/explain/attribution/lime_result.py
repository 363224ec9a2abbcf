"""LIME's runs turned into one result: mean weights, fidelity, stability and the note that
says so, or the failed result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from caselens.explain.attribution._runtime import _finite_or_none, _library_version
from caselens.explain.attribution.agreement import mean_pairwise_jaccard, top_k_indices
from caselens.explain.attribution.results import LimeExplanation, variable_weights
from caselens.model.features import FeatureSchema

if TYPE_CHECKING:
    from caselens.explain.attribution._lime_setup import _LimeDraw

#: Below this local R², LIME's straight-line surrogate does not describe the model near the case.
LOW_FIDELITY_R2 = 0.5
#: Below this mean pairwise Jaccard of the top-k sets, LIME's ranking changes with the seed.
UNSTABLE_JACCARD = 0.6


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
        weights=variable_weights(schema, mean),
        spread=variable_weights(schema, spread),
        top_k=k,
        top_k_jaccard=jac,
        low_fidelity=low_fidelity,
        unstable=unstable,
        imputed_variables=imputed,
        note=_lime_note(
            schema, draw, k, (r2_mean, r2_min), jac, low_fidelity=low_fidelity, unstable=unstable
        ),
    )


def _lime_note(
    schema: FeatureSchema,
    draw: _LimeDraw,
    k: int,
    fidelity: tuple[float, float],
    jac: float,
    *,
    low_fidelity: bool,
    unstable: bool,
) -> str:
    """The plain statement of LIME's fidelity (R² mean and lowest), its stability over the
    runs (mean pairwise Jaccard of the top-k sets) and any value it filled in."""
    runs, imputed = len(draw.seeds), draw.imputed
    r2_mean, r2_min = fidelity
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
    return " ".join(notes)
