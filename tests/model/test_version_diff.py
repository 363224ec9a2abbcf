"""The computed diff of two versions of a model: every section compared, in plain sentences.

Real bundles: the sample, and an edited copy loaded with every check (threshold, an input's
accepted range, a card text changed). Open-ended edits (any threshold, any text, any input
dropped or re-ranged) are generated with Hypothesis on the loaded sample, replacing its card
and schema: the diff of a version with itself is empty, and diff(a, b) and diff(b, a) name the
same items with before and after swapped.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.model.bundle import load_bundle
from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.version_diff import (
    ABSENT,
    SECTION_CALIBRATION,
    SECTION_CARD,
    SECTION_INPUTS,
    SECTION_MODEL,
    SECTION_MONITORING,
    SECTION_THRESHOLD,
    SECTION_VALIDATION,
    SECTIONS,
    VersionDiffError,
    diff_versions,
)
from caselens.settings import SAMPLE_MODELS_DIR
from version_fixtures import NEW_AGE_MAX, NEW_INTENDED_USE, edited_version


@pytest.fixture(scope="module")
def heart_v11(tmp_path_factory):
    return edited_version(tmp_path_factory.mktemp("versions") / "heart-disease-v1.1")


def _words(diff, section):
    return [c.words for c in diff.changes if c.section == section]


def test_identical_versions_have_no_changes(heart_bundle):
    diff = diff_versions(heart_bundle, heart_bundle)
    assert diff.changes == ()
    assert diff.by_section() == {}


def test_an_edited_copy_names_the_threshold_the_input_range_and_the_card_text(
    heart_bundle, heart_v11
):
    diff = diff_versions(heart_bundle, heart_v11)
    assert diff.model_id == "heart-disease"
    assert (diff.older_version, diff.newer_version) == ("1.0.0", "1.1.0")
    assert diff.older_sha == heart_bundle.bundle_sha256 != diff.newer_sha
    assert _words(diff, SECTION_THRESHOLD) == ["Decision threshold 0.50 → 0.40."]
    assert "Age (age): highest accepted value 120 → 110." in _words(diff, SECTION_INPUTS)
    intended = next(c for c in diff.changes if c.item == "Intended use")
    assert intended.section == SECTION_CARD
    assert intended.after == NEW_INTENDED_USE
    assert intended.words == "Intended use changed (a long text: see its before and after)."
    assert "Version 1.0.0 → 1.1.0." in _words(diff, SECTION_CARD)
    # The same model file: no change in the model section, none in calibration.
    assert _words(diff, SECTION_MODEL) == []
    assert _words(diff, SECTION_CALIBRATION) == []
    # A lower threshold changes the figures measured at it, overall and in subgroups: the
    # diff shows the measured figures, not the card's.
    measured = heart_v11.measured_validation.overall
    specificity = next(c for c in diff.changes if c.item == "Overall · Specificity")
    assert specificity.after == f"{measured.specificity:.4f}".rstrip("0")
    assert any(c.item.startswith("Subgroup sex: Female · ") for c in diff.changes)
    # Sections come in their stated order.
    ranks = [SECTIONS.index(c.section) for c in diff.changes]
    assert ranks == sorted(ranks)
    assert NEW_AGE_MAX == 110.0


def test_the_reverse_diff_names_the_same_items_with_before_and_after_swapped(
    heart_bundle, heart_v11
):
    forward = diff_versions(heart_bundle, heart_v11)
    backward = diff_versions(heart_v11, heart_bundle)
    assert forward.items == backward.items
    swapped = {(c.section, c.item): (c.after, c.before) for c in backward.changes}
    assert {(c.section, c.item): (c.before, c.after) for c in forward.changes} == swapped


@pytest.fixture(scope="module")
def second_versions():
    """The samples' version 2 folders (sample_models/*-v2), loaded with every check."""
    return {
        model_id: load_bundle(SAMPLE_MODELS_DIR / f"{model_id}-v2")
        for model_id in ("heart-disease", "readmission-30d")
    }


def test_the_samples_version_2_diffs_name_family_added_input_and_threshold(
    sample_bundles, second_versions
):
    heart = diff_versions(sample_bundles["heart-disease"], second_versions["heart-disease"])
    assert (heart.older_version, heart.newer_version) == ("1.0.0", "2.0.0")
    family = next(c for c in heart.changes if c.item == "Model family")
    assert family.section == SECTION_MODEL
    assert family.words.startswith("Model family Logistic regression")
    new_family = second_versions["heart-disease"].card.model_type
    assert family.after == new_family and family.words.endswith(f"→ {new_family}.")
    assert (SECTION_MODEL, "Model file SHA-256") in heart.items
    new_threshold = second_versions["heart-disease"].card.decision_threshold
    assert f"Decision threshold 0.50 → {new_threshold:.2f}." in _words(heart, SECTION_THRESHOLD)
    assert not any(c.section == SECTION_INPUTS and c.after == ABSENT for c in heart.changes)
    # A retrained model's measured figures differ: AUROC with its interval, overall.
    assert (SECTION_VALIDATION, "Overall · AUROC") in heart.items

    readmission = diff_versions(
        sample_bundles["readmission-30d"], second_versions["readmission-30d"]
    )
    added = [c for c in readmission.changes if c.section == SECTION_INPUTS and c.before == ABSENT]
    assert [c.item for c in added] == ["Input Glipizide (glipizide)"]
    assert added[0].words.startswith("Input Glipizide (glipizide) added: category")
    new_threshold = second_versions["readmission-30d"].card.decision_threshold
    assert f"Decision threshold 0.20 → {new_threshold:.2f}." in _words(
        readmission, SECTION_THRESHOLD
    )
    assert (SECTION_MODEL, "Model family") in readmission.items
    # The card's statements about the new input are named where they are.
    assert (SECTION_CARD, "Changeable inputs · glipizide") in readmission.items


def test_a_changed_model_file_and_family_are_named(heart_bundle, readmission_bundle):
    other_file = dataclasses.replace(
        heart_bundle,
        model_sha256=readmission_bundle.model_sha256,
        card=heart_bundle.card.model_copy(update={"model_type": "Random forest"}),
    )
    diff = diff_versions(heart_bundle, other_file)
    items = {c.item: c for c in diff.changes if c.section == SECTION_MODEL}
    assert items["Model family"].after == "Random forest"
    assert items["Model family"].before == heart_bundle.card.model_type
    assert items["Model file SHA-256"].after == readmission_bundle.model_sha256


def test_inputs_added_and_removed_are_named_with_their_description(heart_bundle):
    kept = tuple(f for f in heart_bundle.features if f.name != "cholesterol")
    fewer = dataclasses.replace(heart_bundle, features=FeatureSchema(features=kept))
    diff = diff_versions(heart_bundle, fewer)
    removed = [c for c in diff.changes if c.section == SECTION_INPUTS]
    assert len(removed) == 1
    assert removed[0].after == ABSENT
    assert removed[0].item == f"Input {heart_bundle.features['cholesterol'].label} (cholesterol)"
    assert removed[0].words == (
        "Input Serum cholesterol (cholesterol) removed (was whole number, mg/dL, accepted 50 "
        "to 1000)."
    )
    added = diff_versions(fewer, heart_bundle)
    assert [c.words.split(" added")[0] for c in added.changes] == [removed[0].item]


def test_calibration_monitoring_plan_and_subgroup_figures_are_compared(heart_bundle):
    card = heart_bundle.card
    validation = heart_bundle.measured_validation
    female = validation.subgroups[2]
    lower = female.figures.model_copy(update={"auroc": 0.7, "auroc_ci95": (0.55, 0.82)})
    changed_group = female.model_copy(update={"figures": lower})
    groups = (*validation.subgroups[:2], changed_group, *validation.subgroups[3:])
    other = dataclasses.replace(
        heart_bundle,
        card=card.model_copy(
            update={
                "calibration": card.calibration.model_copy(update={"method": "isotonic"}),
                "monitoring": MonitoringPlan(min_predictions=250),
            }
        ),
        measured_validation=validation.model_copy(update={"subgroups": groups}),
    )
    diff = diff_versions(heart_bundle, other)
    assert "Calibration method sigmoid → isotonic." in _words(diff, SECTION_CALIBRATION)
    assert "Min predictions 100 → 250." in _words(diff, SECTION_MONITORING)
    auroc = next(c for c in diff.changes if c.item == "Subgroup sex: Female · AUROC")
    assert auroc.section == SECTION_VALIDATION
    assert auroc.before == f"{female.figures.auroc} (no interval)"
    assert auroc.after == "0.7 (0.55–0.82)"


def test_a_card_field_added_later_is_compared_without_changing_the_diff(heart_bundle):
    class LaterCard(ModelCard):
        deployment_site: str = "Not stated"

    later = LaterCard(**heart_bundle.card.model_dump(), deployment_site="Ward 7")
    diff = diff_versions(heart_bundle, dataclasses.replace(heart_bundle, card=later))
    assert [(c.section, c.item, c.before, c.after) for c in diff.changes] == [
        (SECTION_CARD, "Deployment site", ABSENT, "Ward 7")
    ]


def test_two_different_models_are_refused(heart_bundle, readmission_bundle):
    with pytest.raises(VersionDiffError, match="heart-disease and readmission-30d are two models"):
        diff_versions(heart_bundle, readmission_bundle)


_TEXT_FIELDS = ("intended_use", "summary", "owner", "target_population")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    threshold=st.none() | st.floats(0.01, 0.99),
    text=st.none() | st.tuples(st.sampled_from(_TEXT_FIELDS), st.text(min_size=1, max_size=200)),
    dropped=st.none() | st.integers(0, 12),
    ranged=st.none() | st.tuples(st.integers(0, 12), st.floats(-1e6, 1e6, allow_nan=False)),
)
def test_diff_of_any_edit_is_empty_with_itself_and_names_the_same_items_both_ways(
    heart_bundle, threshold, text, dropped, ranged
):
    card = heart_bundle.card
    update = {}
    if threshold is not None:
        update["decision_threshold"] = threshold
    if text is not None:
        update[text[0]] = text[1]
    features = list(heart_bundle.features)
    if ranged is not None:
        index, value = ranged
        index %= len(features)
        features[index] = features[index].model_copy(update={"training_max": value})
    if dropped is not None:
        del features[dropped % len(features)]
    edited = dataclasses.replace(
        heart_bundle,
        card=card.model_copy(update=update),
        features=FeatureSchema(features=tuple(features)),
    )
    assert diff_versions(edited, edited).changes == ()
    forward = diff_versions(heart_bundle, edited)
    backward = diff_versions(edited, heart_bundle)
    assert forward.items == backward.items
    assert len(forward.items) == len(forward.changes)  # each item named once
    for change in forward.changes:
        assert change.before != change.after
        assert change.words.endswith(".")
    if threshold is not None and f"{threshold:.4f}" != f"{card.decision_threshold:.4f}":
        assert (SECTION_THRESHOLD, "Decision threshold") in forward.items
    if text is not None and text[1] != getattr(card, text[0]):
        assert any(c.section == SECTION_CARD for c in forward.changes)
    if dropped is not None:
        assert any(c.after == ABSENT for c in forward.changes)
