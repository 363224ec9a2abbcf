"""The sample bundles: reproducible, honest cards, demo cases that cover what they must."""

from __future__ import annotations

import numpy as np
import pytest

from caselens.bundle import sha256_file
from caselens.cases import validate_inputs
from caselens.samples import build_samples
from caselens.samples._common import subgroup_performance
from caselens.samples.readmission import diagnosis_group
from caselens.settings import ASSETS_DIR, SAMPLE_MODELS_DIR
from caselens.validation_metrics import performance_figures


def test_both_bundles_reproduce_their_card_figures_from_the_stored_reference_data(sample_bundles):
    for bundle in sample_bundles.values():
        card = bundle.card
        y = bundle.reference["outcome"].to_numpy()
        p = bundle.predict_proba(bundle.reference)
        overall = performance_figures(
            y, p, threshold=card.decision_threshold, bootstrap=True, seed=card.random_seed
        )
        assert overall == card.validation.overall
        subgroups = subgroup_performance(
            bundle.features, bundle.reference, y, p, threshold=card.decision_threshold
        )
        assert subgroups == card.validation.subgroups


@pytest.mark.parametrize(("model_id", "seconds"), [("heart-disease", 5), ("readmission-30d", 30)])
def test_rebuilding_a_sample_gives_byte_identical_files(tmp_path, model_id, seconds):
    build_samples(ASSETS_DIR, tmp_path, only=[model_id], progress=lambda _: None)
    for name in (
        "model.skops",
        "card.json",
        "features.json",
        "demo_cases.json",
        "reference.parquet",
    ):
        assert sha256_file(tmp_path / model_id / name) == sha256_file(
            SAMPLE_MODELS_DIR / model_id / name
        ), name


def test_demo_cases_cover_low_and_high_risk_missing_out_of_range_and_subgroups(sample_bundles):
    for bundle in sample_bundles.values():
        cases = bundle.demo_cases
        assert 8 <= len(cases) <= 12
        p = [
            float(bundle.predict_proba(validate_inputs(c.inputs, bundle.features).to_frame())[0])
            for c in cases
        ]
        threshold = bundle.card.decision_threshold
        assert min(p) < threshold / 2 and max(p) > threshold
        flags = [validate_inputs(c.inputs, bundle.features).flags for c in cases]
        codes = {f.code for fs in flags for f in fs}
        assert {"missing_value", "outside_training_range"} <= codes
        assert {c.inputs["sex"] for c in cases} == {"Female", "Male"}


def test_readmission_demo_cases_span_several_races_and_age_bands(readmission_bundle):
    cases = readmission_bundle.demo_cases
    assert len({c.inputs["race"] for c in cases if c.inputs["race"]}) >= 3
    assert len({c.inputs["age_band"] for c in cases}) >= 4


def test_readmission_reference_split_holds_no_patient_from_training(readmission_bundle):
    # The split is by patient; the card says so, and the sizes add up to the cohort.
    td = readmission_bundle.card.training_data
    assert "by patient" in td.split
    assert td.n_test == len(readmission_bundle.reference)
    assert td.n_calibration == len(readmission_bundle.calibration_data)


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("428", "Circulatory"),
        ("786.05", "Respiratory"),
        ("250.83", "Diabetes"),
        ("820", "Injury"),
        ("V57", "Other"),
        ("715", "Musculoskeletal"),
        ("599", "Genitourinary"),
        ("162", "Neoplasms"),
        ("578", "Digestive"),
        (None, None),
    ],
)
def test_icd9_codes_are_grouped_as_strack_et_al(code, group):
    assert diagnosis_group(code) == group


def test_calibration_choice_and_reason_are_in_the_card(sample_bundles):
    for bundle in sample_bundles.values():
        calibration = bundle.card.calibration
        assert calibration.method in {"isotonic", "sigmoid"}
        assert set(calibration.candidates) == {"isotonic", "sigmoid"}
        chosen = calibration.candidates[calibration.method]["brier"]
        assert chosen == min(c["brier"] for c in calibration.candidates.values())
        assert "Brier" in calibration.rationale


def test_calibrated_probabilities_match_observed_rate_on_the_test_split(readmission_bundle):
    figures = readmission_bundle.card.validation.overall
    assert abs(figures.mean_predicted - figures.observed_rate) < 0.01
    assert 0.8 < figures.calibration_slope < 1.2
    assert np.isfinite(figures.auroc) and figures.auroc > 0.6
