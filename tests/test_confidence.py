"""Confidence figures on the real sample bundles: conformal sets, neighbourhoods, reliability."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from caselens import confidence
from caselens.confidence import (
    STATEMENT_BOTH,
    STATEMENT_EMPTY,
    STATEMENT_HIGH,
    STATEMENT_LOW,
    ConfidenceAssessment,
    ConfidenceModel,
    SplitConformalClassifier,
    neighbour_count,
    reliability_table,
    set_statement,
    wilson_interval,
)


@pytest.fixture(scope="module")
def readmission_model(readmission):
    return ConfidenceModel.from_bundle(readmission)


@pytest.fixture(scope="module")
def heart_model(heart):
    return ConfidenceModel.from_bundle(heart)


def test_module_docstring_examples_run():
    result = doctest.testmod(confidence)
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


def test_conformal_quantile_is_the_ceil_n_plus_one_rank_of_the_calibration_scores():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.05, 0.95])
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1, 0, 1])
    scores = np.sort(np.where(y == 1, 1 - p, p))
    model = SplitConformalClassifier(coverage=0.8).fit(p, y)
    k = math.ceil((len(p) + 1) * 0.8)
    assert model.k_ == k == 9
    assert model.quantile_ == scores[k - 1]
    assert model.n_calibration_ == 10


def test_too_few_calibration_patients_for_the_coverage_gives_both_labels_always():
    model = SplitConformalClassifier(coverage=0.9).fit([0.1, 0.9, 0.2, 0.8, 0.5], [0, 1, 0, 1, 1])
    assert model.quantile_ == 1.0
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


def test_a_probability_of_one_half_on_readmission_is_uncertain(readmission_model):
    conformal = readmission_model.assess(0.5).conformal
    assert conformal.labels == (0, 1)
    assert conformal.statement == STATEMENT_BOTH


def test_a_probability_of_two_percent_on_readmission_is_confidently_low(readmission_model):
    conformal = readmission_model.assess(0.02).conformal
    assert conformal.labels == (0,)
    assert conformal.statement == STATEMENT_LOW


@pytest.mark.parametrize(
    ("labels", "statement"),
    [
        ((1,), STATEMENT_HIGH),
        ((0,), STATEMENT_LOW),
        ((0, 1), STATEMENT_BOTH),
        ((), STATEMENT_EMPTY),
    ],
)
def test_every_prediction_set_has_a_plain_statement(labels, statement):
    assert set_statement(labels) == statement


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
    assert assessment.conformal.statement == STATEMENT_HIGH
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
