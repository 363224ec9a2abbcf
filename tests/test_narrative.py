"""Narratives: risk in 'out of 100' words, the measured reading grade, no causal claims."""

from __future__ import annotations

import pytest

from caselens.narrative import out_of_100, reading_grade


@pytest.mark.parametrize(
    ("p", "count"), [(0.0, 0), (0.001, 1), (0.004, 1), (0.244, 24), (0.996, 99), (1.0, 100)]
)
def test_probability_becomes_a_count_out_of_100_that_never_hides_a_small_risk(p, count):
    assert out_of_100(p) == count


def test_reading_grade_ranks_hard_text_higher():
    easy = "About 12 out of 100 people like you go back to the hospital. Ask your care team."
    hard = (
        "Multivariable calibrated probabilistic estimation demonstrates heterogeneous "
        "discriminative performance characteristics notwithstanding considerable "
        "methodological sophistication."
    )
    assert reading_grade(easy) < 6 < reading_grade(hard)


def test_clinician_summary_has_risk_confidence_drivers_and_caution(heart_bundle):
    from caselens.cases import validate_inputs
    from caselens.report import CaseExplainer

    case = validate_inputs(heart_bundle.demo_case("H-09").inputs, heart_bundle.features)
    report = CaseExplainer(heart_bundle).explain(case)
    summary = report.narrative.clinician_summary
    sentences = [s for s in summary.split(". ") if s]
    assert 2 <= len(sentences) <= 6
    assert "Calibrated probability (sigmoid)" in summary
    assert "The model's estimate rests most on (SHAP)" in summary
    assert "Main caution:" in summary and "cholesterol" in summary.lower()
    patient = report.narrative.patient
    assert patient.headline.startswith(f"About {patient.out_of_100} out of 100 people like you")
    assert patient.range_low_out_of_100 <= patient.out_of_100 <= patient.range_high_out_of_100
    assert "linked with" in patient.factors_sentence
    assert reading_grade(patient.full_text()) == patient.reading_grade


def test_an_old_stored_report_still_replays_and_renders_its_text():
    """Reports recorded before class-conditional sets, intervals and values in factors
    (tests/data/reports_before_class_conformal.json, written by the code at ac55297)."""
    import json
    from pathlib import Path

    from caselens.report import CaseReport, displayed_text

    stored = json.loads(
        (Path(__file__).parent / "data" / "reports_before_class_conformal.json").read_text()
    )
    for data in stored.values():
        report = CaseReport.from_json(json.dumps(data))
        assert report.to_json() == CaseReport.from_json(report.to_json()).to_json()
        assert report.confidence.interval is None and report.confidence.calibrated
        assert report.confidence.conformal is None or report.confidence.conformal.reading is None
        assert report.narrative.patient.full_text() in displayed_text(report, "patient")
