"""No label leakage, no degenerate splits: `bundle create` and `bundle check` refuse a model
that takes the outcome as an input (by name, or by a renamed copy that predicts it perfectly)
and a test or calibration split with one outcome class or too few events; a measured AUROC of
0.99 or more is flagged "check for leakage"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from caselens.cli.main import main
from caselens.errors import BundleError
from caselens.explain.cases import MISSING_TEXT
from caselens.model.bundle import CALIBRATION_FILE, REFERENCE_FILE, create_bundle, load_bundle
from caselens.model.features import FeatureSchema
from caselens.model.leakage import (
    LEAKAGE_AUROC,
    MIN_SPLIT_EVENTS,
    auroc_flags,
    leakage_flag_text,
    leakage_problems,
    perfect_predictors,
    split_problems,
)
from leakage_cohorts import (
    EXPECTED,
    INPUTS,
    cohort,
    near_deterministic_cohort,
    write_files,
)


def refused(folder: Path, args: list[str]) -> str:
    """Run `bundle create`, assert it refused cleanly and wrote nothing; return its output."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (folder / "out" / "bundle").exists()
    return result.output


# -- bundle create ------------------------------------------------------------------------------


def test_create_refuses_a_model_taking_the_outcome_column_as_an_input_by_name(tmp_path):
    output = refused(tmp_path, write_files(tmp_path, cohort(), [*INPUTS, "died"]))
    assert (
        "the model's inputs: the input 'died' is named like the outcome column 'died' "
        f"(label leakage); {EXPECTED}" in output
    )


def test_create_refuses_an_input_named_like_the_bundles_outcome_column(tmp_path):
    # Written into a bundle, an input called 'outcome' would be overwritten by the outcome.
    frame = cohort().assign(outcome=lambda f: f["diabetes"])
    output = refused(tmp_path, write_files(tmp_path, frame, ["age", "outcome"]))
    assert "the input 'outcome' is named like the outcome column 'outcome'" in output


def test_create_refuses_a_renamed_copy_of_the_outcome_that_predicts_it_perfectly(tmp_path):
    frame = cohort().assign(discharge_code=lambda f: f["died"] * 3 + 1)
    test = frame.iloc[600:]
    events = int(test["died"].sum())
    output = refused(tmp_path, write_files(tmp_path, frame, [*INPUTS, "discharge_code"]))
    assert (
        f"the test data, input 'discharge_code': predicts the outcome perfectly: all {events} "
        f"events have discharge_code ≥ 4 and all {len(test) - events} non-events "
        "discharge_code ≤ 1. A copy of the outcome, or a value recorded after it, does that "
        f"(label leakage); {EXPECTED}" in output
    )


def test_create_refuses_a_test_split_with_one_outcome_class(tmp_path):
    frame = cohort()
    survivors = frame.iloc[600:].query("died == 0")
    output = refused(tmp_path, write_files(tmp_path, frame, INPUTS, test=survivors))
    assert (
        f"the test data, column 'died': one outcome class only (all {len(survivors)} rows have "
        f"outcome 0); expected both outcomes, with at least {MIN_SPLIT_EVENTS} events and "
        f"{MIN_SPLIT_EVENTS} non-events" in output
    )


def test_create_refuses_a_calibration_split_with_too_few_events(tmp_path):
    frame = cohort()
    held = frame.iloc[600:]
    few = pd.concat([held.query("died == 0"), held.query("died == 1").head(MIN_SPLIT_EVENTS - 1)])
    output = refused(
        tmp_path,
        write_files(tmp_path, frame, INPUTS, test=held.iloc[:200], calibration=few),
    )
    assert (
        f"the calibration data, column 'died': {MIN_SPLIT_EVENTS - 1} events (outcome 1) and "
        f"{int((held['died'] == 0).sum())} non-events (outcome 0), too few for its figures to "
        "be more than noise; expected both outcomes" in output
    )


def test_a_split_with_exactly_the_minimum_is_accepted():
    y = np.array([1] * MIN_SPLIT_EVENTS + [0] * MIN_SPLIT_EVENTS)
    assert split_problems(y, "reference data") == []
    assert split_problems(y[1:], "reference data")  # one event fewer
    assert split_problems(y[:-1], "reference data")  # one non-event fewer


# -- bundle check on an existing bundle -----------------------------------------------------------


def check(folder: Path) -> str:
    result = CliRunner().invoke(main, ["bundle", "check", str(folder)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_check_refuses_reference_data_where_an_input_copies_the_outcome(bundle_copy):
    folder = bundle_copy()
    reference = pd.read_parquet(folder / REFERENCE_FILE)
    reference["exercise_angina"] = np.where(reference["outcome"] == 1, "Yes", "No")
    reference.to_parquet(folder / REFERENCE_FILE, index=False)
    events = int(reference["outcome"].sum())
    output = check(folder)
    assert "reference data, input 'exercise_angina': predicts the outcome perfectly: each of" in (
        output
    )
    assert f"'Yes': {events} events" in output
    assert f"'No': {len(reference) - events} non-events" in output
    # Loading keeps the bundle visible, with the problem as a loud warning.
    loaded = load_bundle(folder)
    assert any(
        "input 'exercise_angina': predicts the outcome perfectly" in w for w in loaded.warnings
    )


def test_check_refuses_reference_data_with_one_outcome_class(bundle_copy):
    folder = bundle_copy()
    reference = pd.read_parquet(folder / REFERENCE_FILE)
    reference.query("outcome == 1").to_parquet(folder / REFERENCE_FILE, index=False)
    output = check(folder)
    assert (
        "reference data, column 'outcome': one outcome class only (all 28 rows have outcome 1)"
        in (output)
    )


def test_check_refuses_calibration_data_with_too_few_events(bundle_copy):
    folder = bundle_copy()
    calibration = pd.read_parquet(folder / CALIBRATION_FILE)
    few = pd.concat([calibration.query("outcome == 0"), calibration.query("outcome == 1").head(4)])
    few.to_parquet(folder / CALIBRATION_FILE, index=False)
    output = check(folder)
    assert (
        "calibration data, column 'outcome': 4 events (outcome 1) and 33 non-events (outcome 0), "
        f"too few for its figures to be more than noise; expected both outcomes, with at least "
        f"{MIN_SPLIT_EVENTS} events and {MIN_SPLIT_EVENTS} non-events" in output
    )


def test_create_bundle_refuses_an_input_called_outcome(heart_bundle, tmp_path):
    reference = heart_bundle.reference
    model = LogisticRegression().fit(reference[["age", "outcome"]], reference["outcome"])
    schema = FeatureSchema.model_validate(
        {
            "features": [
                heart_bundle.features["age"].model_dump(),
                heart_bundle.features["age"].model_dump()
                | {
                    "name": "outcome",
                    "label": "Outcome",
                    "subgroup": False,
                    "hard_min": 0.0,
                    "hard_max": 1.0,
                    "training_min": 0.0,
                    "training_max": 1.0,
                },
            ]
        }
    )
    with pytest.raises(BundleError) as error:
        create_bundle(
            model,
            card=heart_bundle.card.model_dump(mode="json"),
            features=schema,
            reference=reference,
            path=tmp_path / "out" / "leak",
        )
    assert "the feature schema: the input 'outcome' is named like the outcome column 'outcome'" in (
        str(error.value)
    )
    assert not (tmp_path / "out" / "leak").exists()


def test_the_sample_bundles_pass_every_leakage_check(sample_bundles):
    for bundle in sample_bundles.values():
        for what, frame in (
            ("reference", bundle.reference),
            ("calibration", bundle.calibration_data),
        ):
            y = frame["outcome"].to_numpy()
            assert min(y.sum(), len(y) - y.sum()) >= MIN_SPLIT_EVENTS
            assert leakage_problems(frame, bundle.features.names, y, what) == []
        assert auroc_flags(bundle.measured_validation) == ()


# -- the AUROC flag -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def too_good_bundle(tmp_path_factory) -> Path:
    """A bundle that passes every check but whose measured AUROC is at least 0.99."""
    folder = tmp_path_factory.mktemp("too-good")
    args = write_files(folder, near_deterministic_cohort(), INPUTS)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (
        "Check for leakage: measured on the reference data, the AUROC is at or above 0.99 in "
        "overall: AUROC 0.99" in result.output
    )
    return folder / "out" / "bundle"


def test_an_auroc_of_0_99_or_more_is_flagged_not_refused(too_good_bundle):
    bundle = load_bundle(too_good_bundle)
    assert bundle.card_problems == ()
    flags = auroc_flags(bundle.measured_validation)
    overall = bundle.measured_validation.overall
    assert overall.auroc >= LEAKAGE_AUROC
    assert flags[0].population == "overall" and flags[0].auroc == overall.auroc
    text = leakage_flag_text(flags)
    assert text.startswith(
        "Check for leakage: measured on the reference data, the AUROC is at or above 0.99 in "
        f"overall: AUROC {overall.auroc:.4f} ({overall.n} patients, {overall.events} events)"
    )
    # Every flagged subgroup is named in the same statement, with its own figures.
    for flag in flags[1:]:
        assert f"{flag.population}: AUROC {flag.auroc:.4f} ({flag.n} patients" in text
    assert leakage_flag_text(()) is None


def test_a_small_subgroups_perfect_auroc_is_not_flagged(heart_bundle):
    validation = heart_bundle.measured_validation
    tiny = validation.subgroups[0].model_copy(
        update={
            "figures": validation.subgroups[0].figures.model_copy(
                update={"auroc": 1.0, "n": 12, "events": MIN_SPLIT_EVENTS - 1}
            )
        }
    )
    big = tiny.model_copy(
        update={"figures": tiny.figures.model_copy(update={"n": 40, "events": 15})}
    )
    assert auroc_flags(validation.model_copy(update={"subgroups": (tiny,)})) == ()
    [flag] = auroc_flags(validation.model_copy(update={"subgroups": (big,)}))
    assert flag.population == f"{big.variable}: {big.group}"
    assert auroc_flags(None) == ()


# -- perfect predictors, for open-ended data ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    # Up to 10 rows go missing: at least the minimum of each outcome stays recorded.
    events=st.integers(MIN_SPLIT_EVENTS + 10, 50),
    non_events=st.integers(MIN_SPLIT_EVENTS + 10, 50),
    gap=st.floats(0.001, 100),
    missing=st.integers(0, 10),
    flip=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_a_number_that_separates_the_outcome_is_always_found(
    events, non_events, gap, missing, flip, seed
):
    rng = np.random.default_rng(seed)
    y = np.array([1] * events + [0] * non_events)
    low = rng.uniform(-50, 0, len(y))
    x = np.where(y == 1, low.max() + gap + rng.uniform(0, 5, len(y)), low)
    x = -x if flip else x
    x[rng.choice(len(y), missing, replace=False)] = np.nan  # missing rows do not count
    frame = pd.DataFrame({"lab": x})
    [problem] = perfect_predictors(frame, ["lab"], y, "reference data")
    assert problem.startswith("reference data, input 'lab': predicts the outcome perfectly")
    # One event moved into the non-events' range: no longer perfect.
    overlap = x.copy()
    recorded_event = np.flatnonzero((y == 1) & ~np.isnan(x))[0]
    recorded_other = np.flatnonzero((y == 0) & ~np.isnan(x))[0]
    overlap[recorded_event] = overlap[recorded_other]
    assert perfect_predictors(pd.DataFrame({"lab": overlap}), ["lab"], y, "reference data") == []


@settings(max_examples=200, deadline=None)
@given(
    y=st.lists(st.integers(0, 1), min_size=2 * MIN_SPLIT_EVENTS, max_size=80).filter(
        lambda v: min(sum(v), len(v) - sum(v)) >= MIN_SPLIT_EVENTS
    ),
    labels=st.tuples(
        st.text(min_size=1, max_size=8).filter(lambda t: t.strip().casefold() not in MISSING_TEXT),
        st.text(min_size=1, max_size=8),
    ),
)
def test_a_text_input_whose_values_each_go_with_one_outcome_is_found(y, labels):
    event_label, other_label = labels
    y = np.array(y)
    status = [event_label if v == 1 else other_label + "#" for v in y]
    frame = pd.DataFrame({"status": pd.Series(status, dtype=object)})
    problems = perfect_predictors(frame, ["status"], y, "calibration data")
    if event_label.strip().casefold() == (other_label + "#").strip().casefold():
        assert problems == []  # one value for both outcomes: nothing is separated
    else:
        [problem] = problems
        assert "calibration data, input 'status': predicts the outcome perfectly" in problem
    # The same values with one row's outcome swapped: a value now goes with both outcomes.
    mixed = y.copy()
    mixed[0] = 1 - mixed[0]
    if min(mixed.sum(), len(mixed) - mixed.sum()) >= MIN_SPLIT_EVENTS:
        assert perfect_predictors(frame, ["status"], mixed, "calibration data") == []
