"""SHAP, LIME and their agreement joined into one row per clinical variable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from caselens.explain.attribution.agreement import compare_explanations
from caselens.explain.attribution.results import (
    Attributions,
    LimeExplanation,
    ShapExplanation,
    VariableContribution,
)
from caselens.model.features import FeatureSchema


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
