"""Measured, not claimed: card figures are recomputed from the bundle's reference data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from caselens.cli.main import main
from caselens.errors import BundleError
from caselens.model.bundle import CARD_FILE, REFERENCE_FILE, create_bundle, load_bundle
from caselens.model.card import SubgroupPerformance
from caselens.model.card_check import (
    INTERSECTION_MARK,
    check_card,
    compare_figures,
    data_problems,
    subgroup_figures,
)
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.performance import performance_figures


def _edit_card(folder: Path, edit) -> None:
    card = json.loads((folder / CARD_FILE).read_text())
    edit(card)
    (folder / CARD_FILE).write_text(json.dumps(card))


def test_both_sample_bundles_pass_unchanged_and_carry_their_measured_figures(sample_bundles):
    for bundle in sample_bundles.values():
        assert bundle.card_problems == ()
        assert not [w for w in bundle.warnings if "card claims" in w]
        assert bundle.measured_validation is not None
        assert bundle.measured_validation.overall == bundle.card.validation.overall
        assert bundle.measured_validation.subgroups == bundle.card.validation.subgroups


def test_a_card_figure_beyond_rounding_is_a_loud_warning_at_load_with_the_measured_value(
    bundle_copy, heart_bundle
):
    folder = bundle_copy()
    true_auroc = heart_bundle.card.validation.overall.auroc
    claimed = round(true_auroc + 0.02, 4)
    _edit_card(folder, lambda c: c["validation"]["overall"].update(auroc=claimed))
    loaded = load_bundle(folder)  # not refused: a deployed bundle stays visible
    expected = (
        f"overall auroc: the card claims {claimed:g}; measured on the bundle's reference "
        f"data: {true_auroc:g}"
    )
    assert expected in loaded.card_problems
    assert any(expected in w and w.startswith("WARNING") for w in loaded.warnings)
    assert loaded.measured_validation.overall.auroc == true_auroc


def test_bundle_check_refuses_a_card_whose_figures_the_data_does_not_bear_out(bundle_copy):
    folder = bundle_copy()
    _edit_card(folder, lambda c: c["validation"]["subgroups"][0]["figures"].update(n=999))
    result = CliRunner().invoke(main, ["bundle", "check", str(folder)])
    assert result.exit_code == 1
    assert "subgroup age = '55 and over' n: the card claims 999; measured on the bundle's" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_create_refuses_a_disagreeing_card_and_leaves_nothing_behind(heart_bundle, tmp_path):
    card = heart_bundle.card.model_dump(mode="json")
    card["validation"]["overall"]["brier"] = 0.01
    with pytest.raises(BundleError, match=r"overall brier: the card claims 0\.01; measured"):
        create_bundle(
            heart_bundle.model,
            card=card,
            features=heart_bundle.features,
            reference=heart_bundle.reference,
            path=tmp_path / "out" / "heart",
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_differences_within_rounding_are_not_differences(heart_bundle):
    measured = heart_bundle.card.validation.overall
    nudged = measured.model_copy(update={"auroc": measured.auroc + 0.00009})
    assert compare_figures(nudged, measured, "overall") == []
    # A card that writes fewer decimals claims only what it writes: 0.85 covers 0.845-0.855.
    coarse = measured.model_copy(update={"brier": round(measured.brier, 2)})
    assert compare_figures(coarse, measured, "overall") == []
    beyond = measured.model_copy(update={"auroc": round(measured.auroc + 0.0003, 4)})
    assert [d.figure for d in compare_figures(beyond, measured, "overall")] == ["auroc"]


def test_a_card_subgroup_matching_no_group_is_an_error_naming_it(bundle_copy):
    folder = bundle_copy()

    def rename(card):
        card["validation"]["subgroups"][2]["group"] = "Woman"

    _edit_card(folder, rename)
    loaded = load_bundle(folder)
    [problem] = [p for p in loaded.card_problems if "matches no group" in p]
    assert "subgroup sex = 'Woman'" in problem and "'Female', 'Male'" in problem


def test_a_reference_row_the_schema_refuses_names_the_row_and_the_field(bundle_copy):
    folder = bundle_copy()
    reference = pd.read_parquet(folder / REFERENCE_FILE)
    reference.loc[4, "age"] = 130  # hard_max is 120
    reference["resting_bp"] = reference["resting_bp"].astype(float)
    reference.loc[6, "resting_bp"] = 120.5  # an integer feature
    reference.loc[9, "sex"] = "Unknown"
    reference.to_parquet(folder / REFERENCE_FILE, index=False)
    loaded = load_bundle(folder)
    problems = "\n".join(loaded.card_problems)
    assert "reference data row 5, field 'age': 130 is above the hard limit hard_max = 120" in (
        problems
    )
    assert "reference data row 7, field 'resting_bp': 120.5 is not a whole number" in problems
    assert "reference data row 10, field 'sex': 'Unknown' is not one of the categories" in (
        problems
    )
    result = CliRunner().invoke(main, ["bundle", "check", str(folder)])
    assert result.exit_code == 1 and "row 5, field 'age'" in result.output


def test_a_missing_value_where_the_schema_forbids_it_and_a_bad_outcome_are_named(heart_bundle):
    frame = heart_bundle.reference.copy()
    frame["cholesterol"] = frame["cholesterol"].astype(float)
    frame.loc[2, "cholesterol"] = np.nan
    frame["outcome"] = frame["outcome"].astype(object)
    frame.loc[3, "outcome"] = 2
    problems = data_problems(heart_bundle.features, frame, "reference data")
    assert problems == [
        "reference data row 3, field 'cholesterol': the value is missing but the schema does "
        "not allow a missing value",
        "reference data row 4, field 'outcome': 2 is not 0 or 1",
    ]


def _binary_cohort(seed: int = 3, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "diabetes": rng.integers(0, 2, n).astype(float),
            "creatinine": rng.normal(1.2, 0.4, n).round(2),
        }
    )
    logit = -1.5 + 1.2 * frame["diabetes"] + 1.5 * (frame["creatinine"] - 1.2)
    frame["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.loc[[5, 17], "diabetes"] = np.nan  # a gap makes the 0/1 column float
    return frame


def test_a_0_1_variable_read_as_floats_matches_card_groups_named_0_and_1(heart_bundle):
    frame = _binary_cohort()
    schema = FeatureSchema(
        features=(
            FeatureSpec(
                name="diabetes",
                label="Diabetes",
                patient_label="Diabetes",
                kind="integer",
                missing_allowed=True,
                subgroup=True,
            ),
            FeatureSpec(
                name="creatinine", label="Creatinine", patient_label="Kidney test", kind="number"
            ),
        )
    )
    x = frame[schema.names]
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(x, frame["outcome"])
    y = frame["outcome"].to_numpy()
    p = model.predict_proba(x)[:, 1]
    threshold = heart_bundle.card.decision_threshold
    # The card written as a person would: groups "0" and "1" from integer-coded data.
    as_ints = frame.assign(diabetes=frame["diabetes"].astype("Int64").astype(object))
    groups = subgroup_figures(schema, as_ints, y, p, threshold=threshold)
    assert [g.group for g in groups] == ["0", "1", "not recorded"]
    card = heart_bundle.card.model_copy(
        update={
            "random_seed": 0,
            "changeable_inputs": None,  # the heart sample's statements name its inputs
            "training_data": heart_bundle.card.training_data.model_copy(
                update={"n_test": len(frame)}
            ),
            "validation": heart_bundle.card.validation.model_copy(
                update={
                    "overall": performance_figures(y, p, threshold=threshold, bootstrap=True),
                    "subgroups": groups,
                }
            ),
        }
    )
    checked = check_card(card, schema, model, frame)
    assert checked.ok, checked.problems
    assert [s.group for s in checked.measured.subgroups] == ["0", "1", "not recorded"]


def test_an_intersection_subgroup_on_the_card_is_recomputed(heart_bundle):
    reference = heart_bundle.reference
    y = reference["outcome"].to_numpy()
    p = heart_bundle.predict_proba(reference)
    threshold = heart_bundle.card.decision_threshold
    mask = (reference["sex"] == "Male").to_numpy() & (reference["age"] >= 55).to_numpy()
    figures = performance_figures(y[mask], p[mask], threshold=threshold)
    row = SubgroupPerformance(
        variable=f"sex{INTERSECTION_MARK}age",
        group=f"Male{INTERSECTION_MARK}55 and over",
        figures=figures,
    )
    validation = heart_bundle.card.validation
    card = heart_bundle.card.model_copy(
        update={
            "validation": validation.model_copy(update={"subgroups": (*validation.subgroups, row)})
        }
    )
    assert check_card(card, heart_bundle.features, heart_bundle.model, reference).ok
    wrong = row.model_copy(update={"figures": figures.model_copy(update={"events": 0})})
    card = heart_bundle.card.model_copy(
        update={
            "validation": validation.model_copy(
                update={"subgroups": (*validation.subgroups, wrong)}
            )
        }
    )
    [difference] = check_card(
        card, heart_bundle.features, heart_bundle.model, reference
    ).differences
    assert difference.population == "subgroup sex × age = 'Male × 55 and over'"
    assert difference.figure == "events"


def test_check_card_finds_leakage_and_degenerate_splits_in_reference_and_calibration(
    heart_bundle,
):
    reference = heart_bundle.reference.assign(
        exercise_angina=lambda f: f["outcome"].map({1: "Yes", 0: "No"})
    )
    calibration = heart_bundle.calibration_data.query("outcome == 0")
    checked = check_card(
        heart_bundle.card, heart_bundle.features, heart_bundle.model, reference, calibration
    )
    assert not checked.ok
    [leak, one_class] = checked.leakage
    assert leak.startswith("reference data, input 'exercise_angina': predicts the outcome")
    assert one_class.startswith(
        "calibration data, column 'outcome': one outcome class only (all 33 rows have outcome 0)"
    )
    assert set(checked.leakage) <= set(checked.problems)
    assert checked.measured is not None  # still measured: a loaded bundle shows its figures
    sound = check_card(
        heart_bundle.card,
        heart_bundle.features,
        heart_bundle.model,
        heart_bundle.reference,
        heart_bundle.calibration_data,
    )
    assert sound.leakage == () and sound.ok
