"""Confidence figures on the real sample bundles: conformal sets, neighbourhoods, reliability."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from caselens.explain.confidence import (
    CalibrationBootstrap,
    ConfidenceAssessment,
    ConfidenceModel,
    SplitConformalClassifier,
    headline_label,
    neighbour_count,
    platt_fit,
    reliability_table,
    set_reading,
    set_statement,
    wilson_interval,
)
from caselens.explain.confidence import bootstrap as confidence_bootstrap
from caselens.explain.confidence import conformal as confidence_conformal
from caselens.explain.confidence import reliability as confidence_reliability


@pytest.fixture(scope="module")
def readmission_model(readmission):
    return ConfidenceModel.from_bundle(readmission)


@pytest.fixture(scope="module")
def heart_model(heart):
    return ConfidenceModel.from_bundle(heart)


@pytest.mark.parametrize("module", [confidence_reliability, confidence_conformal])
def test_module_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


def test_conformal_coverage_on_the_readmission_test_split_is_within_two_points_of_target(
    readmission, readmission_model
):
    target = readmission.card.conformal_coverage
    assert readmission_model.empirical_coverage >= target - 0.02
    assessment = readmission_model.assess(0.1)
    assert assessment.conformal is not None
    assert assessment.conformal.coverage == target
    assert assessment.conformal.calibration_n == len(readmission.calibration_data)
    assert assessment.conformal.empirical_coverage_n == len(readmission.reference)


def test_class_quantiles_are_the_ceil_n_plus_one_rank_within_each_class():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.05, 0.95])
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1, 0, 1])
    model = SplitConformalClassifier(coverage=0.8).fit(p, y)
    negatives = np.sort(p[y == 0])  # score of label 0 is 1 − p(0) = p
    positives = np.sort(1 - p[y == 1])
    assert model.class_counts_ == (5, 5)
    assert model.ranks_ == (math.ceil(6 * 0.8), math.ceil(6 * 0.8)) == (5, 5)
    assert model.quantiles_ == (negatives[4], positives[4])
    assert model.n_calibration_ == 10


def test_too_few_calibration_patients_for_the_coverage_gives_both_labels_always():
    model = SplitConformalClassifier(coverage=0.9).fit([0.1, 0.9, 0.2, 0.8, 0.5], [0, 1, 0, 1, 1])
    assert model.quantiles_ == (1.0, 1.0)
    assert model.predict_set([0.0, 0.5, 1.0]) == [(0, 1), (0, 1), (0, 1)]


def test_predict_set_before_fit_fails_naming_fit_as_the_fix():
    with pytest.raises(NotFittedError, match=r"call fit\(p_calibration, y_calibration\) before"):
        SplitConformalClassifier(coverage=0.9).predict_set([0.5])


@pytest.mark.parametrize("coverage", [0.0, 1.0, 1.5])
def test_fit_refuses_a_coverage_outside_zero_and_one(coverage):
    with pytest.raises(ValueError, match="coverage: expected a share between 0 and 1"):
        SplitConformalClassifier(coverage=coverage).fit([0.2, 0.8], [0, 1])


def test_fit_refuses_outcomes_that_are_not_zero_or_one():
    with pytest.raises(ValueError, match="expected outcomes coded 0/1"):
        SplitConformalClassifier().fit([0.2, 0.8], [0, 2])


def test_a_probability_of_fifteen_percent_on_readmission_cannot_rule_out_either_outcome(
    readmission_model,
):
    conformal = readmission_model.assess(0.15).conformal
    assert conformal.labels == (0, 1)
    assert conformal.reading == "both"
    assert conformal.statement == (
        'At 90% confidence the model cannot rule out either outcome ("readmitted within 30 '
        'days" or "not readmitted within 30 days").'
    )


def test_a_probability_of_two_percent_on_readmission_leaves_only_no_readmission(
    readmission_model,
):
    conformal = readmission_model.assess(0.02).conformal
    assert conformal.labels == (0,)
    assert conformal.reading == "negative_only"
    assert conformal.statement.startswith(
        'At 90% confidence only "not readmitted within 30 days" is consistent with similar '
        'patients: 10% or fewer of the calibration patients with "readmitted within 30 days"'
    )


@pytest.mark.parametrize(
    ("labels", "side", "reading"),
    [
        ((0, 1), "above", "both"),
        ((0, 1), "below", "both"),
        ((), "below", "neither"),
        ((1,), "above", "positive_only"),
        ((1,), "below", "conflict"),
        ((1,), "at", "conflict"),
        ((0,), "below", "negative_only"),
        ((0,), "above", "conflict"),
        ((0,), "at", "conflict"),
    ],
)
def test_the_joint_rule_names_one_outcome_only_on_its_own_side_of_the_threshold(
    labels, side, reading
):
    assert set_reading(labels, side) == reading
    text = set_statement(
        labels, coverage=0.9, side=side, threshold=0.3, outcome_labels=("Alive", "Died")
    )
    if reading == "conflict":
        assert "point different ways" in text and f"is {side} the 30% threshold" in text
        assert "consistent with" not in text
    elif reading == "both":
        assert "cannot rule out either outcome" in text
    elif reading == "neither":
        assert "neither outcome fits" in text
    else:
        assert "is consistent with similar patients" in text


def test_a_single_label_set_on_the_other_side_of_the_threshold_is_stated_as_a_conflict(
    readmission_model,
):
    # Readmission: label 0 leaves the set above its class quantile (about 19%), below the
    # 20% threshold, so a probability of 19.5% has the set {1} while below the threshold.
    q0 = readmission_model.conformal.quantiles_[0]
    assert q0 < readmission_model.threshold
    p = (q0 + readmission_model.threshold) / 2
    assessment = readmission_model.assess(p)
    assert assessment.side == "below"
    assert assessment.conformal.labels == (1,)
    assert assessment.conformal.reading == "conflict"
    assert "below the 20% threshold" in assessment.conformal.statement


@pytest.mark.parametrize(("events", "n"), [(0, 5), (3, 10), (30, 100), (300, 1000), (1000, 1000)])
def test_wilson_interval_contains_the_observed_rate(events, n):
    low, high = wilson_interval(events, n)
    assert 0 <= low <= events / n <= high <= 1


def test_wilson_interval_narrows_as_n_grows():
    widths = [np.subtract(*wilson_interval(n // 10, n)[::-1]) for n in (10, 100, 1000, 10000)]
    assert all(a > b for a, b in itertools.pairwise(widths))


def test_wilson_interval_refuses_more_events_than_trials():
    with pytest.raises(ValueError, match="successes: expected between 0 and n=5, got 6"):
        wilson_interval(6, 5)


def test_reliability_table_counts_sum_to_n_on_the_readmission_test_split(
    readmission, readmission_model
):
    y = readmission.reference["outcome"].to_numpy()
    table = reliability_table(y, readmission_model.reference_probabilities, n_bins=10)
    assert len(table) == 10
    assert sum(b.count for b in table) == len(y)
    assert sum(b.events for b in table) == int(y.sum())
    for b in table:
        if b.count:
            assert b.bin_low <= b.mean_predicted <= b.bin_high
            assert b.ci_low <= b.observed_rate <= b.ci_high
        else:
            assert b.mean_predicted is None and b.observed_rate is None


def test_reliability_table_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="y_true: expected 3 outcomes"):
        reliability_table([0, 1], [0.1, 0.2, 0.3])


def test_side_and_distance_from_the_threshold_are_stated(readmission_model):
    above = readmission_model.assess(0.23)
    assert above.side == "above"
    assert above.distance_points == pytest.approx(3.0)
    assert above.side_statement == "above the 20% threshold by 3.0 points"
    assert above.near_threshold
    below = readmission_model.assess(0.02)
    assert below.side == "below"
    assert not below.near_threshold
    assert below.near_threshold_reason is None
    assert readmission_model.assess(0.2).side == "at"


def test_the_probability_itself_is_kept_unrounded(readmission_model):
    p = 0.123456789123
    assert readmission_model.assess(p).probability == p


def test_readmission_neighbourhood_is_five_percent_of_the_test_split_and_centred(
    readmission, readmission_model
):
    hood = readmission_model.assess(0.1).neighbourhood
    assert (
        hood.n
        == neighbour_count(len(readmission.reference))
        == math.ceil(0.05 * len(readmission.reference))
    )
    assert hood.mean_predicted == pytest.approx(0.1, abs=0.005)
    assert hood.prob_low <= 0.1 <= hood.prob_high
    assert not hood.outside_reference
    assert not hood.off_centre
    assert hood.ci_low <= hood.observed_rate <= hood.ci_high


def test_neighbourhood_holds_exactly_the_nearest_predicted_probabilities(readmission_model):
    p = readmission_model.reference_probabilities
    target = 0.3
    hood = readmission_model.neighbourhood(target)
    farthest_inside = max(abs(hood.prob_low - target), abs(hood.prob_high - target))
    strictly_nearer = int(np.sum(np.abs(p - target) < farthest_inside - 1e-6))
    assert strictly_nearer <= hood.n


def test_a_probability_beyond_every_test_patient_is_marked_outside_the_reference(readmission_model):
    hood = readmission_model.assess(0.99).neighbourhood
    assert hood.outside_reference
    assert hood.off_centre
    assert "no patient in the test data had a predicted probability as high" in hood.definition


def test_a_probability_in_the_sparse_upper_tail_has_an_off_centre_neighbourhood(readmission_model):
    hood = readmission_model.assess(0.45).neighbourhood
    assert not hood.outside_reference
    assert hood.off_centre
    assert "few test patients had a risk like this one" in hood.definition


def test_heart_disease_neighbourhood_stays_local_on_its_tiny_test_split(heart, heart_model):
    n = len(heart.reference)
    assessment = heart_model.assess(0.9)
    assert assessment.neighbourhood.n == max(10, math.floor(0.25 * n))
    assert assessment.conformal.labels == (1,)
    assert assessment.conformal.reading == "positive_only"
    assert assessment.range_statement.startswith("between ")


@pytest.mark.parametrize("bad", [float("nan"), -0.1, 1.5])
def test_assess_refuses_a_probability_that_is_not_one(readmission_model, bad):
    with pytest.raises(ValueError, match="probability: expected a number between 0 and 1"):
        readmission_model.assess(bad)


def test_reference_probabilities_cannot_be_changed_by_a_caller(readmission_model):
    with pytest.raises(ValueError, match="read-only"):
        readmission_model.reference_probabilities[0] = 0.5


def test_a_bundle_without_a_calibration_split_has_no_conformal_set(heart, heart_model):
    model = ConfidenceModel(
        heart_model.reference_probabilities,
        heart.reference["outcome"],
        threshold=heart.card.decision_threshold,
    )
    assert model.assess(0.5).conformal is None


@pytest.mark.parametrize("probability", [0.0, 0.02, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("which", ["readmission_model", "heart_model"])
def test_assessment_round_trips_through_json(request, which, probability):
    assessment = request.getfixturevalue(which).assess(probability)
    dumped = assessment.model_dump(mode="json")
    assert ConfidenceAssessment.model_validate(dumped) == assessment
    assert ConfidenceAssessment.model_validate_json(assessment.model_dump_json()) == assessment


def test_platt_fit_reproduces_the_bundles_own_sigmoid_calibrator(heart):
    calibrator = heart.model.calibrated_classifiers_[0].calibrators[0]
    a, b = calibrator.a_, calibrator.b_
    p_cal = heart.predict_proba(heart.calibration_data)
    scores = (np.log(1 / p_cal - 1) - b) / a
    fitted_a, fitted_b = platt_fit(scores, heart.calibration_data["outcome"])
    assert fitted_a[0] == pytest.approx(a, rel=1e-6)
    assert fitted_b[0] == pytest.approx(b, rel=1e-6, abs=1e-8)


def test_the_interval_is_a_stated_bootstrap_of_the_calibrator_and_is_not_widened(
    heart, heart_model
):
    assessment = heart_model.assess(0.6)
    interval = assessment.interval
    assert interval is not None and interval.level == 0.95
    assert interval.resamples == 200 and interval.calibration_n == len(heart.calibration_data)
    assert "percentile bootstrap" in interval.method and "calibrator refitted" in interval.method
    assert (assessment.range_low, assessment.range_high) == (interval.low, interval.high)
    assert interval.low < 0.6 < interval.high
    # The neighbourhood's observed rate is a separate check, never merged into the interval.
    assert assessment.neighbourhood_statement.startswith("The estimate 60%")
    low, high = heart_model.bootstrap.intervals([0.6])
    assert (low[0], high[0]) == pytest.approx((interval.low, interval.high), abs=1e-6)


def test_interval_coverage_in_simulation_on_held_out_rows_is_stated_and_measured(heart):
    """Truth = the bundle's calibrator; 100 runs redraw calibration outcomes from it, refit,
    bootstrap and check the interval at the 61 held-out patients. Small splits make a
    percentile bootstrap fall short: with 61 calibration patients the 95% percentile range
    holds the truth about 87-90% of the time, not 95%. The bound is the measured figure ± 3
    SD of a 100-run mean (SD ≤ 0.22/√100 = 0.022)."""
    bootstrap, reason = CalibrationBootstrap.for_bundle(heart)
    assert reason is None
    coverage = bootstrap.simulate_coverage(heart.predict_proba(heart.reference), runs=100)
    assert 0.80 <= bootstrap.coverage_by_level[0.95] <= 0.97
    assert coverage == bootstrap.coverage_by_level[bootstrap.nominal_level]
    assert f"held the true calibrated probability {100 * coverage:.1f}%" in bootstrap.method()


def test_a_stated_level_is_one_the_intervals_own_simulation_reaches(heart, heart_model):
    """Level honesty: the interval is widened (a wider percentile range, never a fudge) until
    its own simulation holds the truth at least 95% of the time; the narrower ranges that
    fell short are not used, and the label says 95% only then."""
    from caselens.workflow.display import interval_level_text

    bootstrap = heart_model.bootstrap
    levels = sorted(bootstrap.coverage_by_level)
    assert levels[0] == 0.95 and bootstrap.coverage_by_level[0.95] < 0.95
    chosen = bootstrap.nominal_level
    assert bootstrap.level_reached and bootstrap.coverage_by_level[chosen] >= 0.95
    assert all(bootstrap.coverage_by_level[c] < 0.95 for c in levels if c < chosen)
    interval = heart_model.assess(0.3).interval
    assert interval.nominal_level == chosen and interval.level_reached is True
    assert interval.simulated_coverage >= interval.level
    assert interval_level_text(interval) == "95%"
    # The interval is the chosen percentile range of the same refits.
    ordered = bootstrap._ordered_refits([0.3])
    low, high = bootstrap._ends(ordered, chosen)
    assert (interval.low, interval.high) == pytest.approx((low[0], high[0]), abs=1e-6)
    narrow_low, narrow_high = bootstrap._ends(ordered, 0.95)
    assert interval.low <= narrow_low[0] and narrow_high[0] <= interval.high


def test_a_level_the_simulation_never_reaches_is_stated_as_about_what_it_measured(heart):
    """Level honesty, the other branch: with only the 95% range allowed to be tried, the
    interval keeps it and its label is "about N%", N the simulated share (rounded down)."""
    from caselens.workflow.display import interval_covers, interval_level_text

    bootstrap, _ = CalibrationBootstrap.for_bundle(heart)
    original = confidence_bootstrap.CANDIDATE_LEVELS
    confidence_bootstrap.CANDIDATE_LEVELS = (0.95,)
    try:
        coverage = bootstrap.simulate_coverage(heart.predict_proba(heart.reference), runs=30)
    finally:
        confidence_bootstrap.CANDIDATE_LEVELS = original
    assert coverage < 0.95 and bootstrap.level_reached is False
    interval = bootstrap.interval(0.3)
    label = interval_level_text(interval)
    assert label == f"about {math.floor(100 * coverage)}%" and label != "95%"
    assert "short of 95%" in interval.method
    assert f"{100 * coverage:.1f}%" in interval_covers(interval)


def test_an_unsimulated_level_is_only_about_and_says_it_was_not_checked(readmission_model):
    from caselens.workflow.display import interval_covers, interval_level_text

    interval = readmission_model.assess(0.04).interval
    assert interval.simulated_coverage is None and interval.level_reached is None
    assert interval_level_text(interval) == "about 95%"
    assert "not checked by simulation" in interval_covers(interval)
    assert "not checked by simulation" in interval.method


def test_an_older_reports_interval_is_judged_by_its_stored_simulation():
    from caselens.explain.confidence import ProbabilityInterval
    from caselens.workflow.display import interval_level_text

    old = dict(low=0.1, high=0.2, level=0.95, method="m", resamples=200, seed=0)
    short = ProbabilityInterval(calibration_n=61, simulated_coverage=0.92, simulated_runs=60, **old)
    assert interval_level_text(short) == "about 92%"
    held = ProbabilityInterval(calibration_n=61, simulated_coverage=0.951, simulated_runs=60, **old)
    assert interval_level_text(held) == "95%"


def test_an_uncalibrated_bundle_is_labelled_so_and_gets_no_interval(other_family_bundles):
    model = ConfidenceModel.from_bundle(other_family_bundles["uncalibrated"])
    assessment = model.assess(0.23)
    assert not assessment.calibrated and assessment.calibration_method == "none"
    assert assessment.probability_label == "Model probability (not calibrated)"
    assert (
        headline_label(assessment.calibrated, assessment.calibration_method, "death")
        == "Model score for death (not calibrated)"
    )
    assert assessment.interval is None and assessment.range_low is None
    assert "not calibrated" in assessment.interval_unavailable_reason
    assert assessment.range_statement == assessment.interval_unavailable_reason
    assert assessment.conformal is None and "no calibration split" in (
        assessment.conformal_unavailable_reason
    )


def test_a_calibrated_bundle_names_its_method(heart_model):
    assessment = heart_model.assess(0.4)
    assert assessment.calibrated
    # The stored label keeps its wording (it is part of every report id); the headline
    # a screen draws is plain and leaves the method to the details.
    assert assessment.probability_label == "Calibrated probability (sigmoid)"
    headline = headline_label(assessment.calibrated, assessment.calibration_method, "x")
    assert headline == "Chance of x" and "sigmoid" not in headline


@pytest.mark.parametrize(
    ("calibrated", "method", "expected"),
    [
        (True, "isotonic", "Chance of stroke"),
        (False, "none", "Model score for stroke (not calibrated)"),
        (False, None, "Model score for stroke (calibration not stated)"),
    ],
)
def test_the_headline_calls_a_number_a_chance_only_when_the_model_is_calibrated(
    calibrated, method, expected
):
    assert headline_label(calibrated, method, "stroke") == expected


def test_an_estimate_outside_the_neighbourhoods_observed_range_is_said_not_hidden(
    readmission_model,
):
    assessment = readmission_model.assess(0.99)
    hood = assessment.neighbourhood
    assert assessment.estimate_outside_neighbourhood
    assert hood.ci_high < 0.99
    assert "is above the 95% interval of the rate observed" in assessment.neighbourhood_statement
    assert assessment.interval.low <= 0.99 <= assessment.interval.high


@pytest.fixture(scope="module")
def onnx_calibrated(other_family_bundles):
    """A real ONNX file: a scaled logistic regression with one sigmoid calibrator fitted on
    the other-family bundle's own calibration split (rows 900-1199 of its cohort), converted
    by ``caselens bundle convert``'s converter; and the bundle serving it instead."""
    import dataclasses
    import sys
    from pathlib import Path

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from caselens.authoring.onnx_convert import convert_model
    from caselens.model.onnx import OnnxClassifier

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from other_family import cohort

    bundle = other_family_bundles["calibrated"]
    names = list(bundle.features.names)
    rows = cohort().iloc[:1200]
    split = [(np.arange(900), np.arange(900, 1200))]
    calibrated = CalibratedClassifierCV(LogisticRegression(), method="sigmoid", cv=split)
    source = Pipeline([("scale", StandardScaler()), ("calibrated", calibrated)])
    source.fit(rows[names], rows["outcome"])
    onnx_model = OnnxClassifier(convert_model(source, rows[names]).onnx_bytes)
    assert (bundle.calibration_data[names].to_numpy() == rows.iloc[900:][names].to_numpy()).all()
    return source, dataclasses.replace(bundle, model=onnx_model)


def test_an_onnx_model_gets_the_same_bootstrap_interval_as_its_source(onnx_calibrated):
    """The same method, recovered: the ONNX file's calibrator cannot be read, but its
    probabilities' log-odds refit to the identity on the calibration split, so the bootstrap
    is the one the source model's own calibrator gives (to float32 precision)."""
    source, bundle = onnx_calibrated
    model = ConfidenceModel.from_bundle(bundle)
    assert model.bootstrap is not None and model.bootstrap.calibrator == "recovered"
    assessment = model.assess(0.3)
    interval = assessment.interval
    assert interval is not None and interval.calibrator == "recovered"
    assert "recovered from its own probabilities" in interval.method
    assert assessment.interval_unavailable_reason is None
    assert interval.low < 0.3 < interval.high
    # The source's calibrator and base scores, read directly: the bootstrap CaseLens runs
    # for a model it can open.
    calibrated = source.named_steps["calibrated"].calibrated_classifiers_[0]
    calibrator = calibrated.calibrators[0]
    cal = bundle.calibration_data
    scores = calibrated.estimator.decision_function(
        source.named_steps["scale"].transform(cal[list(bundle.features.names)])
    )
    exact = CalibrationBootstrap(scores, cal["outcome"], a=calibrator.a_, b=calibrator.b_)
    exact.simulate_coverage(model.reference_probabilities)
    assert exact.nominal_level == interval.nominal_level
    low, high = exact.intervals([0.3])
    assert (interval.low, interval.high) == pytest.approx((low[0], high[0]), abs=2e-5)


def test_a_model_whose_probabilities_are_not_one_sigmoid_on_the_split_says_why_no_interval(
    other_family_bundles,
):
    """An ensemble of three sigmoid calibrators fitted on cross-validation folds is not one
    sigmoid fitted on the calibration split: no interval, and the reason names the refit."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    bundle = other_family_bundles["calibrated"]
    names = list(bundle.features.names)
    reference = bundle.reference
    ensemble = CalibratedClassifierCV(LogisticRegression(max_iter=500), method="sigmoid", cv=3)
    ensemble.fit(reference[names], reference["outcome"])
    cal = bundle.calibration_data
    bootstrap, reason = CalibrationBootstrap.from_probabilities(
        ensemble.predict_proba(cal[names])[:, 1], cal["outcome"], model_name="OnnxClassifier"
    )
    assert bootstrap is None
    assert reason.startswith("No interval for the probability: this model (OnnxClassifier)")
    assert "not one sigmoid calibration fitted on the bundle's calibration split" in reason


#: Every public name of the one-file ``caselens.explain.confidence`` before it became a package.
CONFIDENCE_NAMES_BEFORE_THE_SPLIT = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CANDIDATE_LEVELS",
    "CONFORMAL_METHOD",
    "DECIMALS",
    "FLOOR_NEIGHBOURS",
    "INTERVAL_CONFIDENCE",
    "MAX_NEIGHBOUR_SHARE",
    "MIN_NEIGHBOURS",
    "NEAR_THRESHOLD_POINTS",
    "NEIGHBOUR_SHARE",
    "NOT_FITTED_MESSAGE",
    "OFF_CENTRE_POINTS",
    "RECOVERED_CALIBRATOR_TOLERANCE",
    "SIMULATE_COVERAGE_UP_TO",
    "CalibrationBootstrap",
    "ClassCoverage",
    "ConfidenceAssessment",
    "ConfidenceModel",
    "ConformalSet",
    "Neighbourhood",
    "ProbabilityInterval",
    "ReliabilityBin",
    "SetReading",
    "Side",
    "SplitConformalClassifier",
    "headline_label",
    "neighbour_count",
    "platt_fit",
    "reliability_table",
    "set_reading",
    "set_statement",
    "wilson_interval",
]


def test_the_confidence_face_still_offers_every_name_of_the_one_file_module():
    import importlib

    from caselens.explain import confidence as face

    assert set(CONFIDENCE_NAMES_BEFORE_THE_SPLIT) <= set(face.__all__)
    for name in face.__all__:
        value = getattr(face, name)
        # The face hands out the defining module's own object, not a copy.
        home = importlib.import_module(f"caselens.explain.confidence.{face._PARTS[name]}")
        assert getattr(home, name) is value, name
    with pytest.raises(AttributeError, match="has no attribute 'assess'"):
        face.assess  # noqa: B018
