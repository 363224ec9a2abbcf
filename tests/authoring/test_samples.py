"""The sample bundles: reproducible, honest cards, demo cases that cover what they must."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from caselens.authoring.samples import build_samples
from caselens.authoring.samples.readmission import diagnosis_group
from caselens.authoring.samples.reproducibility import compare_sample
from caselens.explain.cases import validate_inputs
from caselens.explain.context import subgroup_status
from caselens.model.card_check import subgroup_figures
from caselens.model.performance import performance_figures
from caselens.numeric_tolerance import NUMERIC_TOLERANCE
from caselens.settings import ASSETS_DIR, SAMPLE_MODELS_DIR


def test_every_bundle_reproduces_its_card_figures_from_the_stored_reference_data(
    sample_bundles, sample_v2_bundles
):
    for bundle in [*sample_bundles.values(), *sample_v2_bundles.values()]:
        card = bundle.card
        y = bundle.reference["outcome"].to_numpy()
        p = bundle.predict_proba(bundle.reference)
        overall = performance_figures(
            y, p, threshold=card.decision_threshold, bootstrap=True, seed=card.random_seed
        )
        assert overall == card.validation.overall
        subgroups = subgroup_figures(
            bundle.features, bundle.reference, y, p, threshold=card.decision_threshold
        )
        assert subgroups == card.validation.subgroups


@pytest.mark.parametrize(
    "model_id", ["heart-disease", "readmission-30d", "heart-disease-v2", "readmission-30d-v2"]
)
def test_rebuilding_a_sample_reproduces_the_committed_bundle_on_any_machine(tmp_path, model_id):
    # model_id names the bundle folder: each sample model's second version is its own folder.
    # What must hold on every CPU and BLAS: data and schema bytes, the card (but for the
    # model hash) and the model's probabilities on every reference row within tolerance.
    # model.skops bytes are only reported: their last float bits follow the CPU.
    build_samples(ASSETS_DIR, tmp_path, only=[model_id], progress=lambda _: None)
    result = compare_sample(tmp_path / model_id, SAMPLE_MODELS_DIR / model_id)
    assert result.reproduces, "\n".join(result.lines())
    statuses = {f.name: f.status for f in result.files}
    for name in ("features.json", "demo_cases.json", "reference.parquet", "card.json"):
        assert statuses[name] == "identical", name
    assert statuses["model.skops"] in {"identical", "within_tolerance"}
    assert result.largest_probability_difference <= NUMERIC_TOLERANCE
    print("\n".join(result.lines()))  # shown with -s: whether the model bytes matched here


def test_the_sample_check_finds_a_changed_card_field_data_file_and_model(tmp_path, bundle_copy):
    committed = SAMPLE_MODELS_DIR / "heart-disease"
    assert compare_sample(committed, committed).reproduces
    changed = bundle_copy("heart-disease")
    card = json.loads((changed / "card.json").read_text())
    card["threshold_rationale"] = card.get("threshold_rationale", "") + " (edited)"
    (changed / "card.json").write_text(json.dumps(card))
    reference = pd.read_parquet(changed / "reference.parquet")
    reference.loc[0, "age"] = reference.loc[0, "age"] + 1
    reference.to_parquet(changed / "reference.parquet", index=False)
    result = compare_sample(changed, committed)
    statuses = {f.name: f for f in result.files}
    assert not result.reproduces
    assert statuses["card.json"].status == "differs"
    assert "threshold_rationale" in statuses["card.json"].detail
    assert statuses["reference.parquet"].status == "differs"


def test_a_model_whose_probabilities_move_beyond_the_tolerance_does_not_reproduce(
    tmp_path, heart_bundle
):
    # The same fitted classifier, calibrated the other way: close, but not the same model.
    import shutil

    import sklearn.base
    import skops.io as sio

    from caselens.model.bundle import sha256_file

    calibration = heart_bundle.calibration_data
    changed = sklearn.base.clone(heart_bundle.model).set_params(method="isotonic")
    changed.fit(calibration[heart_bundle.features.names], calibration["outcome"])
    committed = SAMPLE_MODELS_DIR / "heart-disease"
    # The committed card with the changed model swapped in (create_bundle would refuse it:
    # the card's figures are no longer the model's).
    rebuilt = tmp_path / "heart-disease"
    shutil.copytree(committed, rebuilt)
    sio.dump(changed, rebuilt / "model.skops")
    card = json.loads((committed / "card.json").read_text())
    card["model_sha256"] = sha256_file(rebuilt / "model.skops")
    (rebuilt / "card.json").write_text(json.dumps(card))
    result = compare_sample(rebuilt, committed)
    model = next(f for f in result.files if f.name == "model.skops")
    assert model.status == "differs" and result.largest_probability_difference > 1e-3
    assert not result.reproduces


def test_demo_cases_cover_low_and_high_risk_missing_out_of_range_and_subgroups(
    sample_bundles, sample_v2_bundles
):
    for bundle in [*sample_bundles.values(), *sample_v2_bundles.values()]:
        cases = bundle.demo_cases
        assert 8 <= len(cases) <= 12
        validated = [validate_inputs(c.inputs, bundle.features, case_id=c.case_id) for c in cases]
        p = [float(bundle.predict_proba(v.to_frame())[0]) for v in validated]
        threshold = bundle.card.decision_threshold
        assert min(p) < threshold / 2, "a clearly low-risk case"
        assert sum(x > threshold for x in p) >= 2, "at least two cases above the threshold"
        codes = {f.code for v in validated for f in v.flags}
        assert {"missing_value", "outside_training_range"} <= codes
        # Every subgroup variable of the card is seen in at least two of its groups.
        groups: dict[str, set[str]] = {}
        for v in validated:
            for status in subgroup_status(v, bundle.features, bundle.card):
                if status.group is not None:
                    groups.setdefault(status.variable, set()).add(status.group)
        for variable in {s.variable for s in bundle.card.validation.subgroups}:
            assert len(groups.get(variable, set())) >= 2, (bundle.model_id, variable, groups)


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


def test_calibration_choice_and_reason_are_in_the_card(sample_bundles, sample_v2_bundles):
    for bundle in [*sample_bundles.values(), *sample_v2_bundles.values()]:
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
