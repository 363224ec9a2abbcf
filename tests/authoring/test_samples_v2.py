"""The samples' second versions (issue 27): each model id holds two versions, and version 2
differs from version 1 exactly where its builder says — a different family (gradient-boosted
trees for a logistic regression) and threshold for
heart-disease, an added input and a threshold for readmission-30d — signed, checked and
scoring a version-1 case that lacks the added input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from caselens.access import DEMO_PASSWORD
from caselens.authoring.samples import SAMPLE_CHANGE_REASONS, SAMPLES, heart_disease_v2
from caselens.authoring.samples import readmission_v2 as r2
from caselens.cli.main import main
from caselens.explain.cases import validate_inputs
from caselens.explain.copy_check import demo_case_copy_problems
from caselens.explain.honesty import run_honesty
from caselens.model.bundle import CARD_FILE, discover_bundles, load_card
from caselens.model.bundle_signing import check_bundle_signature
from caselens.model.catalogue import BundleCatalogue
from caselens.model.fhir_mapping_check import check_fhir_mappings
from caselens.runtime import Runtime, bundle_trust
from caselens.settings import SAMPLE_MODELS_DIR, Settings
from caselens.workflow import UserSession

HEART, READMISSION = "heart-disease", "readmission-30d"
#: Reference rows the honesty harness explains per second version here (the full --deep run
#: over every row is done by hand and reported; these rows keep the suite fast).
HONESTY_ROWS = 3


def _final_estimator(bundle):
    """The fitted classifier inside the calibrated, frozen pipeline of a sample bundle."""
    frozen = bundle.model.calibrated_classifiers_[0].estimator
    pipeline = frozen.estimator
    assert isinstance(pipeline, Pipeline)
    return pipeline[-1]


def test_each_sample_model_holds_two_signed_versions_and_the_first_folder_comes_first():
    # The catalogue takes the first folder by name per model id as the one demo mode
    # registers live; version 2 must sort after it and be signed with the demo key.
    folders = discover_bundles(SAMPLE_MODELS_DIR)
    cards = {folder.name: load_card(folder / CARD_FILE) for folder in folders}
    assert list(cards) == [HEART, "heart-disease-v2", READMISSION, "readmission-30d-v2"]
    trust = bundle_trust(Settings(demo=True))
    for model_id in (HEART, READMISSION):
        first, second = cards[model_id], cards[f"{model_id}-v2"]
        assert (first.model_id, second.model_id) == (model_id, model_id)
        assert (first.version, second.version) == ("1.0.0", "2.0.0")
        verdict = check_bundle_signature(SAMPLE_MODELS_DIR / f"{model_id}-v2", trust)
        assert verdict.status == "trusted" and verdict.demo_key, verdict.sentence()


def test_the_catalogue_serves_both_versions_with_version_1_first(sample_bundles, sample_v2_bundles):
    catalogue = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={m: (sample_bundles[m], sample_v2_bundles[m]) for m in sample_bundles},
    )
    for model_id, v2 in sample_v2_bundles.items():
        assert v2.bundle_sha256 != sample_bundles[model_id].bundle_sha256
        assert catalogue.version(model_id, v2.bundle_sha256) is v2
        assert catalogue.producer(v2.model_sha256, v2.bundle_sha256) is v2


def test_demo_mode_keeps_version_1_live_and_leaves_version_2_loaded_not_registered(tmp_path):
    # The real path: a models folder holding both heart-disease folders, a demo runtime.
    models = tmp_path / "models"
    for folder in (HEART, f"{HEART}-v2"):
        shutil.copytree(SAMPLE_MODELS_DIR / folder, models / folder)
    settings = Settings.from_environment(
        {
            "CASELENS_DATA_DIR": str(tmp_path / "data"),
            "CASELENS_DEMO": "1",
            "CASELENS_MODELS_DIR": str(models),
        }
    )
    runtime = Runtime.from_settings(settings, background=False)
    try:
        workflow = runtime.workflow
        v1, v2 = runtime.catalogue.all_versions(HEART)
        assert (v1.path.name, v2.path.name) == (HEART, f"{HEART}-v2")
        assert runtime.catalogue.refused == {}
        assert workflow.lifecycle.live_versions() == {HEART: v1.bundle_sha256}
        assert [v.bundle_sha256 for v in workflow.lifecycle.versions(HEART)] == [v1.bundle_sha256]
        assert workflow.lifecycle.version(HEART, v2.bundle_sha256) is None
        assert workflow.bundle(HEART) is v1
        session = UserSession()
        workflow.sign_in(session, "dr.lee", DEMO_PASSWORD)
        demo = v1.demo_cases[0]
        case = validate_inputs(demo.inputs, v1.features, source="demo", case_id=demo.case_id)
        report = workflow.show_report(session, HEART, case, patient_ref=demo.case_id)
        assert report.model.bundle_sha256 == v1.bundle_sha256
    finally:
        runtime.close()


def test_heart_disease_v2_is_gradient_boosting_with_a_40_percent_threshold(
    heart_bundle, sample_v2_bundles
):
    v1, v2 = heart_bundle, sample_v2_bundles[HEART]
    assert isinstance(_final_estimator(v1), LogisticRegression)
    assert isinstance(_final_estimator(v2), HistGradientBoostingClassifier)
    assert v1.card.decision_threshold == 0.5
    assert v2.card.decision_threshold == heart_disease_v2.THRESHOLD == 0.4
    assert v2.card.validation.threshold_used == 0.4
    assert v2.card.model_type.startswith("Histogram gradient-boosted trees")
    assert "40%" in v2.card.threshold_rationale
    # The same recipe otherwise: inputs, split and seed are version 1's.
    assert v2.features == v1.features
    assert v2.card.random_seed == v1.card.random_seed
    assert v2.reference.equals(v1.reference)
    assert v2.model_sha256 != v1.model_sha256


def test_readmission_v2_adds_glipizide_allowing_missing_and_moves_the_threshold_to_25(
    readmission_bundle, sample_v2_bundles
):
    v1, v2 = readmission_bundle, sample_v2_bundles[READMISSION]
    assert v2.features.names == [*v1.features.names, "glipizide"]
    added = v2.features["glipizide"]
    assert added.missing_allowed and added.kind == "category"
    assert added.fhir is not None and added.fhir.entered_by_hand
    # Every input version 1 has is specified exactly as in version 1 (same training split).
    for spec in v1.features:
        assert v2.features[spec.name] == spec, spec.name
    assert (v1.card.decision_threshold, v2.card.decision_threshold) == (0.2, 0.25)
    assert v2.card.validation.threshold_used == r2.THRESHOLD == 0.25
    # The card's other statements name the new input: not changeable, worded for patients.
    assert v2.card.changeable_inputs["glipizide"].modifiable is False
    assert set(v2.card.changeable_inputs) == set(v2.features.names)
    for language, texts in v2.card.patient_texts.items():
        assert "glipizide" in texts.inputs, language
    assert v2.card.next_steps == v1.card.next_steps
    assert isinstance(_final_estimator(v2), type(_final_estimator(v1)))


def test_a_version_1_case_is_scored_by_version_2_with_the_added_input_missing(
    readmission_bundle, sample_v2_bundles
):
    v2 = sample_v2_bundles[READMISSION]
    for case in readmission_bundle.demo_cases:
        assert "glipizide" not in case.inputs
        validated = validate_inputs(case.inputs, v2.features, case_id=case.case_id)
        assert any(f.code == "missing_value" and f.field == "glipizide" for f in validated.flags), (
            validated.flags
        )
        frame = validated.to_frame()
        p = float(v2.predict_proba(frame)[0])
        assert 0 < p < 1
        # The calibrated pipeline itself, the added input missing (the booster's
        # missing-value branch): the bundle adds nothing of its own.
        direct = frame[v2.features.names].astype(object).assign(glipizide=None)
        assert p == pytest.approx(float(v2.model.predict_proba(direct)[0, 1]), abs=1e-12)
    # Version 1's test split without the input (a seeded 2,000 rows keep the test fast).
    reference = readmission_bundle.reference.sample(2000, random_state=20261207)
    rows = reference[readmission_bundle.features.names].assign(glipizide=None)
    p = v2.predict_proba(rows)
    assert np.all((p > 0) & (p < 1)) and len(p) == len(rows)


def test_each_second_version_states_its_change_in_the_card_and_for_registration(
    sample_bundles, sample_v2_bundles
):
    assert set(SAMPLE_CHANGE_REASONS) == {"heart-disease-v2", "readmission-30d-v2"}
    assert [r.folder for r in SAMPLES if r.change_reason is None] == [READMISSION, HEART]
    for model_id, v2 in sample_v2_bundles.items():
        reason = SAMPLE_CHANGE_REASONS[v2.path.name]
        assert v2.card.source_attributes["update_process"].startswith(reason)
        assert v2.card.version == "2.0.0" and str(v2.card.release_date) == "2026-12-07"
        v1 = sample_bundles[model_id]
        assert not v1.card.source_attributes["update_process"].startswith("Version")
    assert "from logistic regression to histogram" in SAMPLE_CHANGE_REASONS["heart-disease-v2"]
    assert "from 50% to 40%" in SAMPLE_CHANGE_REASONS["heart-disease-v2"]
    assert "glipizide" in SAMPLE_CHANGE_REASONS["readmission-30d-v2"]
    assert "from 20% to 25%" in SAMPLE_CHANGE_REASONS["readmission-30d-v2"]


@pytest.mark.parametrize("model_id", [HEART, READMISSION])
def test_a_second_version_passes_the_bundle_check_honesty_invariants_and_copy_check(
    sample_v2_bundles, model_id
):
    bundle = sample_v2_bundles[model_id]
    result = CliRunner().invoke(main, ["bundle", "check", str(bundle.path)])
    assert result.exit_code == 0, result.output
    assert f"OK: {model_id} 2.0.0" in result.output
    assert not bundle.card_problems
    assert not check_fhir_mappings(bundle.features).problems
    honesty = run_honesty(bundle, HONESTY_ROWS)
    for name, invariant in honesty.results.items():
        assert invariant.failed == 0, (name, invariant.first_failure)
    assert honesty.results["report_computes"].passed == HONESTY_ROWS
    copy = demo_case_copy_problems(bundle)
    assert copy.ok, copy.problems
