"""CaseReport: truthfulness rules on every demo case, JSON round trip, determinism."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from caselens.errors import CaseValidationError
from caselens.explain.cases import validate_inputs
from caselens.explain.report import (
    CaseExplainer,
    CaseReport,
    displayed_digest,
    displayed_text,
    explain,
    explainer_for,
    reproducible_digest,
)

FIXED_NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def explainers(sample_bundles):
    return {m: CaseExplainer(b) for m, b in sample_bundles.items()}


@pytest.fixture(scope="session")
def demo_reports(sample_bundles, explainers) -> list[CaseReport]:
    reports = []
    for model_id, bundle in sample_bundles.items():
        for demo in bundle.demo_cases:
            case = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
            reports.append(explainers[model_id].explain(case, now=FIXED_NOW))
    return reports


def test_contributions_add_up_to_the_probability_shown_on_every_demo_case(demo_reports):
    for report in demo_reports:
        shap = report.attributions.shap
        assert shap.status == "ok", report.case.case_id
        total = shap.baseline + sum(c.value for c in shap.contributions)
        assert abs(total - report.probability) <= 1e-6, report.case.case_id
        assert shap.probability == report.probability


def test_probability_shown_is_the_calibrated_one_with_its_method_and_figures(
    demo_reports, sample_bundles
):
    for report in demo_reports:
        bundle = sample_bundles[report.model.model_id]
        frame = validate_inputs(report.case.values(), bundle.features).to_frame()
        # The case's row of the report's one model call: its last bit may differ from a
        # one-row call's (BLAS rounding), nothing more.
        alone = float(bundle.model.predict_proba(frame)[0, 1])
        assert abs(report.probability - alone) <= 1e-15
        assert report.model.calibration_method == bundle.card.calibration.method
        assert report.model.validation == bundle.card.validation.overall


def test_lime_is_never_without_its_fidelity_and_stability(demo_reports):
    for report in demo_reports:
        lime = report.attributions.lime
        assert lime.status == "ok"
        assert lime.fidelity_r2_mean is not None and lime.top_k_jaccard is not None
        assert len(lime.seeds) == lime.runs >= 5
        assert len(lime.spread) == len(lime.weights) == len(report.case.inputs)


def test_disagreement_between_shap_and_lime_is_stated_as_a_limitation(demo_reports):
    for report in demo_reports:
        agreement = report.attributions.agreement
        codes = {lim.code for lim in report.limitations}
        assert ("EXPLAINER_DISAGREEMENT" in codes) == (not agreement.agree)


def test_patient_summary_reads_at_grade_8_or_below_on_every_demo_case(demo_reports):
    for report in demo_reports:
        assert report.narrative.patient.reading_grade <= 8.0, report.case.case_id


def test_patient_text_uses_out_of_100_with_the_time_window_and_no_causal_claims(demo_reports):
    for report in demo_reports:
        text = report.narrative.patient.full_text()
        assert "out of 100" in text and " 1 in " not in text
        assert "causes" not in text.replace("do not cause", "")
        assert "times more likely" not in text and "%" not in text
    readmission = [r for r in demo_reports if r.model.model_id == "readmission-30d"]
    assert all("within 30 days" in r.narrative.patient.headline for r in readmission)


def test_json_round_trip_gives_an_equal_report(demo_reports):
    for report in demo_reports:
        text = report.to_json()
        assert CaseReport.from_json(text) == report
        assert CaseReport.from_json(text).to_json() == text
        assert json.loads(text)["report_id"] == report.report_id


def test_same_inputs_give_identical_reports_except_time_and_timings(sample_bundles):
    bundle = sample_bundles["heart-disease"]
    case = validate_inputs(bundle.demo_cases[4].inputs, bundle.features, source="demo")
    first = CaseExplainer(bundle).explain(case)
    second = CaseExplainer(bundle).explain(case)
    a, b = (json.loads(r.to_json()) for r in (first, second))
    for data in (a, b):
        data.pop("created_at")
        data["provenance"].pop("timings_ms")
    assert a == b
    assert first.report_id == second.report_id == reproducible_digest(json.loads(first.to_json()))


def test_report_records_model_hash_versions_seeds_and_timings(demo_reports):
    report = demo_reports[0]
    prov = report.provenance
    assert report.model.sha256 and len(report.model.sha256) == 64
    assert {"scikit-learn", "shap", "lime", "numpy", "caselens"} <= set(prov.library_versions)
    assert set(prov.seeds) >= {"background", "shap", "lime_first"}
    assert {"predict", "confidence", "attributions", "context"} <= set(prov.timings_ms)
    assert report.created_at == "2026-11-25T12:00:00.000Z"


def test_bad_inputs_get_per_field_errors_naming_field_and_problem(heart_bundle):
    with pytest.raises(CaseValidationError) as info:
        validate_inputs({"age": "old"}, heart_bundle.features)
    problems = {p.field: p for p in info.value.problems}
    assert problems["age"].code == "wrong_type"
    assert "old" in problems["age"].message
    # Every other required field is reported missing in the same error, not one at a time.
    required = [
        f.name for f in heart_bundle.features.features if not f.missing_allowed and f.name != "age"
    ]
    assert required and all(problems[name].code == "missing_required" for name in required)


def test_displayed_text_differs_by_audience_and_its_digest_is_stable(demo_reports):
    report = demo_reports[0]
    assert displayed_text(report, "patient") == report.narrative.patient.full_text()
    assert report.narrative.clinician_summary in displayed_text(report, "clinician")
    assert displayed_digest(report, "patient") != displayed_digest(report, "clinician")
    assert displayed_digest(report, "clinician") == displayed_digest(
        CaseReport.from_json(report.to_json()), "clinician"
    )


def test_explain_reuses_one_explainer_per_bundle(heart_bundle):
    case = validate_inputs(heart_bundle.demo_cases[0].inputs, heart_bundle.features)
    first = explainer_for(heart_bundle)
    assert explainer_for(heart_bundle) is first
    report = explain(heart_bundle, case)
    assert explainer_for(heart_bundle) is first
    assert report.probability == first.explain(case).probability
    assert report.report_id == first.explain(case).report_id
