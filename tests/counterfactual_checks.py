"""What every counterfactual result must hold, whatever the model and case, and the
bring-your-own bundles the counterfactual tests search: a random forest and an ONNX file
on the other-family cohort (``other_family.py``), with a statement of their changeable
inputs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from caselens.explain.cases import HYPOTHETICAL_LABEL, Case
from caselens.explain.counterfactual import CounterfactualResult, alternative_case
from caselens.explain.report import CaseExplainer, CaseReport
from caselens.model.bundle import ModelBundle
from caselens.model.changeable_inputs import ChangeableInput, changeable_input_problems

#: What the owners of the other-family model might state (a test fixture's statement).
OTHER_FAMILY_STATEMENT = {
    "age": ChangeableInput(modifiable=False, why="Age cannot be changed."),
    "ejection_fraction": ChangeableInput(
        modifiable=True,
        why="Heart-failure medicines can improve the pumping strength.",
        direction="up",
        upper=70,
    ),
    "serum_creatinine": ChangeableInput(
        modifiable=True,
        why="Kidney function can improve with treatment.",
        direction="down",
        lower=0.6,
        cost_weight=2.0,
    ),
    "diabetes": ChangeableInput(modifiable=False, why="Diabetes is a diagnosis."),
    "smoking": ChangeableInput(modifiable=True, why="Smoking can be stopped.", direction="down"),
    "high_blood_pressure": ChangeableInput(modifiable=False, why="A diagnosis."),
    "sex_male": ChangeableInput(modifiable=False, why="Sex cannot be changed by care."),
}


def with_statement(bundle: ModelBundle, statement: dict | None) -> ModelBundle:
    """The bundle with its card's ``changeable_inputs`` replaced (checked against its schema)."""
    assert changeable_input_problems(statement, bundle.features) == []
    card = bundle.card.model_copy(update={"changeable_inputs": statement})
    return dataclasses.replace(bundle, card=card)


def onnx_other_family(bundle: ModelBundle) -> ModelBundle:
    """The bundle served by a real ONNX file: a scaled logistic regression with a sigmoid
    calibrator on the other-family cohort, converted by ``bundle convert``'s converter."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from caselens.authoring.onnx_convert import convert_model
    from caselens.model.onnx import OnnxClassifier
    from other_family import cohort

    names = list(bundle.features.names)
    rows = cohort().iloc[:1200]
    split = [(np.arange(900), np.arange(900, 1200))]
    calibrated = CalibratedClassifierCV(LogisticRegression(), method="sigmoid", cv=split)
    source = Pipeline([("scale", StandardScaler()), ("calibrated", calibrated)])
    source.fit(rows[names], rows["outcome"])
    return dataclasses.replace(
        bundle, model=OnnxClassifier(convert_model(source, rows[names]).onnx_bytes)
    )


def own_probability(bundle: ModelBundle, case: Case) -> float:
    """The model's probability for a case, asked as a report asks it (the case's frame)."""
    frame = case.to_frame()[bundle.features.names]
    return float(bundle.model.predict_proba(frame)[0, 1])


def _crosses(p: float, threshold: float, target: str) -> bool:
    return p < threshold if target == "below" else p >= threshold


def check_result(
    explainer: CaseExplainer,
    case: Case,
    parent: CaseReport,
    result: CounterfactualResult,
    *,
    full_report: bool = False,
) -> None:
    """Assert every invariant of a counterfactual result (see the module docstring of
    ``caselens.explain.counterfactual.search``). With ``full_report``, each alternative's
    changed case is explained by the engine and its report must cross the threshold too."""
    bundle = explainer.bundle
    statements = bundle.card.changeable_inputs or {}
    threshold = parent.model.threshold
    assert result.threshold == threshold
    assert result.parent_report_id == parent.report_id
    assert result.parent_probability == parent.probability
    expected_target = "below" if parent.probability >= threshold else "at_or_above"
    assert result.target_side == expected_target
    assert result.searched_inputs == tuple(n for n, s in statements.items() if s.modifiable)
    assert len(result.alternatives) <= result.settings.max_alternatives
    if not result.alternatives:
        assert result.none_reason
    else:
        assert result.none_reason is None
    order = [(len(a.changes), a.distance) for a in result.alternatives]
    assert order == sorted(order)
    signatures = set()
    for alternative in result.alternatives:
        assert 1 <= len(alternative.changes) <= result.settings.max_changes
        names = [c.name for c in alternative.changes]
        assert len(set(names)) == len(names)
        signature = []
        for change in alternative.changes:
            statement = statements[change.name]
            spec = bundle.features[change.name]
            assert statement.modifiable, change.name
            assert change.from_value is not None  # a value not recorded is never changed
            assert change.from_value == case.values[change.name]
            assert change.to_value != change.from_value
            assert change.label == spec.label
            assert change.from_text == spec.describe_value(change.from_value)
            assert change.to_text == spec.describe_value(change.to_value)
            if spec.kind == "category":
                assert change.to_value in (statement.to_categories or spec.categories)
                assert change.to_value in spec.categories
                if spec.training_counts is not None:
                    assert spec.training_counts.get(change.to_value, 0) > 0
                signature.append((change.name, change.to_value))
                continue
            value = float(change.to_value)
            assert math.isfinite(value)
            if spec.kind == "integer":
                assert value == round(value), (change.name, value)
            for low in (spec.hard_min, spec.training_min, statement.lower):
                assert low is None or value >= low, (change.name, value, low)
            for high in (spec.hard_max, spec.training_max, statement.upper):
                assert high is None or value <= high, (change.name, value, high)
            if statement.direction == "up":
                assert value > change.from_value
            elif statement.direction == "down":
                assert value < change.from_value
            signature.append((change.name, "up" if value > change.from_value else "down"))
        assert tuple(signature) not in signatures  # never the same change at another size
        signatures.add(tuple(signature))
        # Validity: the model's own probability for the changed case, on the target side.
        changed = alternative_case(
            case, alternative, parent_report_id=parent.report_id, parent_entry=None
        )
        p = own_probability(bundle, changed)
        assert p == alternative.probability
        assert _crosses(p, threshold, result.target_side)
        assert alternative.side == ("at_or_above" if p >= threshold else "below")
        assert alternative.side == result.target_side
        if full_report:
            report = explainer.explain(changed)
            assert _crosses(report.probability, threshold, result.target_side)
            # The same model and row; a float32 (ONNX) model's batch differs in the 8th digit.
            assert abs(report.probability - alternative.probability) < 1e-6
            assert report.case.hypothetical is not None
            assert report.case.hypothetical.kind == "counterfactual"
            assert report.case.hypothetical.label == HYPOTHETICAL_LABEL
            assert report.case.hypothetical.changes == alternative.changes
            assert report.confidence.interval == alternative.interval
