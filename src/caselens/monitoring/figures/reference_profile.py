"""The reference a period is compared with, measured once on the bundle's own reference rows:
the predicted-probability and input distributions, the training ranges, and the AUROC
overall and per subgroup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from caselens.model.bundle import ModelBundle
from caselens.model.features import FeatureSpec
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.stats import (
    Estimate,
    auroc_estimate,
    binned_counts,
    quantile_edges,
)

#: The group name of a missing subgroup value (the card's spelling).
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class InputReference:
    """One input's reference distribution."""

    name: str
    kind: str
    edges: np.ndarray | None
    categories: tuple[str, ...]
    counts: np.ndarray
    missing_share: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReferenceProfile:
    """What a period is compared with, measured once on the bundle's reference rows."""

    model_id: str
    threshold: float
    probabilities: np.ndarray
    probability_edges: np.ndarray
    probability_counts: np.ndarray
    inputs: dict[str, InputReference]
    auroc: Estimate
    subgroup_auroc: dict[tuple[str, str], Estimate]
    subgroup_features: tuple[FeatureSpec, ...]
    n: int


def category_counts(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Counts per known category, then one for any other value, then one for missing."""
    missing = values.isna()
    text = values[~missing].astype(str)
    known = [int((text == c).sum()) for c in categories]
    other = int((~text.isin(categories)).sum())
    return np.array([*known, other, int(missing.sum())], dtype=float)


def group_series(values: pd.Series, spec: FeatureSpec) -> pd.Series:
    """Each value's subgroup by the card, ``not recorded`` for a missing one."""
    return values.map(lambda v: spec.subgroup_of(v) or NOT_RECORDED)


def build_profile(
    bundle: ModelBundle, plan: MonitoringPlan, probabilities: np.ndarray | None = None
) -> ReferenceProfile:
    """Measure the reference once: distributions, ranges, AUROC overall and per subgroup."""
    reference = bundle.reference
    p = (
        np.asarray(bundle.predict_proba(reference), dtype=float)
        if probabilities is None
        else probabilities
    )
    y = reference["outcome"].to_numpy(dtype=int)
    edges = quantile_edges(p, plan.psi_bins)
    inputs: dict[str, InputReference] = {}
    for spec in bundle.features:
        column = reference[spec.name]
        if spec.kind == "category":
            cats = tuple(spec.categories or ())
            counts = category_counts(column, cats)
            inputs[spec.name] = InputReference(
                spec.name, spec.kind, None, cats, counts, float(column.isna().mean()), None, None
            )
        else:
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            e = quantile_edges(numbers, plan.psi_bins)
            inputs[spec.name] = InputReference(
                spec.name,
                spec.kind,
                e,
                (),
                binned_counts(numbers, e),
                float(np.mean(~np.isfinite(numbers))),
                spec.training_min,
                spec.training_max,
            )
    subgroups = tuple(bundle.features.subgroup_features)
    by_group: dict[tuple[str, str], Estimate] = {}
    for spec in subgroups:
        groups = group_series(reference[spec.name], spec).to_numpy()
        for group in pd.unique(groups):
            mask = groups == group
            by_group[(spec.name, str(group))] = auroc_estimate(y[mask], p[mask], plan.confidence)
    return ReferenceProfile(
        model_id=bundle.model_id,
        threshold=bundle.card.decision_threshold,
        probabilities=p,
        probability_edges=edges,
        probability_counts=binned_counts(p, edges),
        inputs=inputs,
        auroc=auroc_estimate(y, p, plan.confidence),
        subgroup_auroc=by_group,
        subgroup_features=subgroups,
        n=len(y),
    )
