"""A bundle CaseLens did not train loads and explains: the baseline every honesty check
builds on (the figures are computed by the fixture, never typed)."""

from __future__ import annotations

import pytest

from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer


@pytest.mark.parametrize("which", ["calibrated", "uncalibrated"])
def test_a_random_forest_on_numeric_and_binary_inputs_explains_additively(
    other_family_bundles, which
):
    bundle = other_family_bundles[which]
    explainer = CaseExplainer(bundle)
    for demo in bundle.demo_cases:
        case = validate_inputs(demo.inputs, bundle.features, case_id=demo.case_id)
        report = explainer.explain(case)
        assert report.probability == pytest.approx(
            float(bundle.predict_proba(case.to_frame())[0]), abs=1e-12
        )
        shap = report.attributions.shap
        total = sum(c.value for c in shap.contributions)
        assert abs(shap.baseline + total - report.probability) <= 1e-6
    assert bundle.card.calibration.method == ("sigmoid" if which == "calibrated" else "none")
