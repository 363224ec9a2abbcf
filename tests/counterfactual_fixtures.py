"""Counterfactual results built from the real sample models' own probabilities, for the
display and replay tests that do not need the search itself."""

from __future__ import annotations

from typing import Any

from caselens.explain.cases import ChangedValue, validate_inputs
from caselens.explain.counterfactual import Alternative, CounterfactualResult, SearchSettings
from caselens.explain.report import CaseReport, explainer_for
from caselens.model.bundle import ModelBundle
from caselens.model.changeable_inputs import modifiable_inputs


def report_of(bundle: ModelBundle, case_id: str, **changed: Any) -> CaseReport:
    """The engine's report of a demo case, with some values changed."""
    demo = bundle.demo_case(case_id)
    values = {**demo.inputs, **changed}
    case = validate_inputs(values, bundle.features, source="demo", case_id=case_id)
    return explainer_for(bundle).explain(case)


def changed_value(bundle: ModelBundle, name: str, before: Any, after: Any) -> ChangedValue:
    spec = next(f for f in bundle.features.features if f.name == name)
    return ChangedValue(
        name=name,
        label=spec.label,
        from_value=before,
        from_text=spec.describe_value(before),
        to_value=after,
        to_text=spec.describe_value(after),
    )


def result_from_model(
    bundle: ModelBundle, case_id: str, changes: list[dict[str, Any]], *, seed: int = 7
) -> tuple[CaseReport, CounterfactualResult]:
    """The parent report of a demo case and a result whose alternatives carry the model's
    own probability and range for each set of ``changes`` (name → new value)."""
    parent = report_of(bundle, case_id)
    threshold = bundle.card.decision_threshold
    above = parent.probability >= threshold
    values = parent.case.values()
    alternatives = []
    for change in changes:
        changed = report_of(bundle, case_id, **change)
        p = changed.probability
        alternatives.append(
            Alternative(
                changes=tuple(changed_value(bundle, n, values[n], v) for n, v in change.items()),
                probability=p,
                interval=changed.confidence.interval,
                side="at_or_above" if p >= threshold else "below",
                distance=float(len(change)),
            )
        )
    result = CounterfactualResult(
        model_id=bundle.model_id,
        parent_report_id=parent.report_id,
        parent_entry=None,
        threshold=threshold,
        parent_probability=parent.probability,
        target_side="below" if above else "at_or_above",
        settings=SearchSettings(method="test-fixture", seed=seed, budget_ms=2000),
        searched_inputs=modifiable_inputs(bundle.card.changeable_inputs),
        alternatives=tuple(alternatives),
        none_reason=None if alternatives else "Nothing within the stated limits crosses it.",
        elapsed_ms=12.0,
    )
    return parent, result
