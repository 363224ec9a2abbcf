"""Held-out performance figures: checked against hand-computed values and simulated data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from caselens.model.performance import (
    bootstrap_auroc_ci,
    calibration_slope_intercept,
    expected_calibration_error,
    performance_figures,
)

# -- expected calibration error ---------------------------------------------------------------


def test_ece_is_zero_when_every_bin_observes_its_mean_prediction():
    p = [0.25] * 4 + [0.75] * 4 + [0.05] * 20
    y = [1, 0, 0, 0] + [1, 1, 1, 0] + [1] + [0] * 19
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_equals_the_hand_computed_weighted_gap():
    # Bin [0.1, 0.2): mean p 0.15, observed 1/2 -> gap 0.35 on 2 patients.
    # Bin [0.8, 0.9): mean p 0.85, observed 3/4 -> gap 0.10 on 4 patients.
    p = [0.15, 0.15, 0.85, 0.85, 0.85, 0.85]
    y = [1, 0, 1, 1, 1, 0]
    assert expected_calibration_error(y, p) == pytest.approx((2 * 0.35 + 4 * 0.10) / 6)


def test_ece_depends_on_the_number_of_bins():
    p, y = [0.15, 0.25], [0, 1]
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx((0.15 + 0.75) / 2)
    assert expected_calibration_error(y, p, n_bins=1) == pytest.approx(abs(0.5 - 0.2))


def test_a_probability_of_exactly_one_is_counted_in_the_top_bin():
    # If p == 1.0 fell outside the bins the error below would be 0.
    assert expected_calibration_error([0], [1.0]) == pytest.approx(1.0)
    assert expected_calibration_error([0, 1], [1.0, 0.95]) == pytest.approx(abs(0.5 - 0.975))


# -- calibration slope and intercept ----------------------------------------------------------

N_SIM = 20_000
# With p ~ U(0.02, 0.98) and n = 20,000 the standard errors from the Fisher information are
# about 0.015 (slope) and 0.017 (intercept): a tolerance of 0.06 is ~4 standard errors, so the
# check is not fragile, yet a slope of 0.5 or an intercept of 1 is far outside it.
TOLERANCE = 0.06


def _simulated(seed: int = 20260101) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, N_SIM)
    y = (rng.uniform(size=N_SIM) < p).astype(int)
    return y, p, np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_outcomes_drawn_from_the_predictions_give_slope_one_and_intercept_zero():
    y, p, _ = _simulated()
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=TOLERANCE)
    assert intercept == pytest.approx(0.0, abs=TOLERANCE)


def test_over_extreme_predictions_give_a_slope_below_one():
    y, _, logit = _simulated()
    slope, _ = calibration_slope_intercept(y, _sigmoid(2 * logit))  # logits doubled
    assert slope == pytest.approx(0.5, abs=TOLERANCE / 2)


def test_under_extreme_predictions_give_a_slope_above_one():
    y, _, logit = _simulated()
    slope, _ = calibration_slope_intercept(y, _sigmoid(0.5 * logit))
    assert slope == pytest.approx(2.0, abs=2 * TOLERANCE)


def test_predictions_systematically_too_low_give_a_positive_intercept():
    y, _, logit = _simulated()
    slope, intercept = calibration_slope_intercept(y, _sigmoid(logit - 1))
    assert intercept == pytest.approx(1.0, abs=TOLERANCE)
    assert slope == pytest.approx(1.0, abs=TOLERANCE)  # a shift does not change the slope


def test_predictions_systematically_too_high_give_a_negative_intercept():
    y, _, logit = _simulated()
    _, intercept = calibration_slope_intercept(y, _sigmoid(logit + 0.7))
    assert intercept == pytest.approx(-0.7, abs=TOLERANCE)


def test_the_intercept_is_calibration_in_the_large():
    # With the slope fixed at 1 the fitted offset makes the mean recalibrated prediction equal
    # the observed rate (the score equation of the offset model).
    y, _, logit = _simulated()
    _, intercept = calibration_slope_intercept(y, _sigmoid(logit - 0.4))
    assert _sigmoid(intercept + logit - 0.4).mean() == pytest.approx(y.mean(), abs=1e-9)


def test_probabilities_of_zero_and_one_do_not_break_the_fit():
    y, p, _ = _simulated()
    p = p.copy()
    p[:5], p[5:10] = 0.0, 1.0
    slope, intercept = calibration_slope_intercept(y, p)
    assert np.isfinite(slope) and np.isfinite(intercept)


# -- bootstrap AUROC interval -----------------------------------------------------------------


def _cohort(n: int = 300, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return (rng.uniform(size=n) < p).astype(int), p


def test_the_bootstrap_interval_contains_the_point_auroc():
    y, p = _cohort()
    low, high = bootstrap_auroc_ci(y, p)
    assert low < roc_auc_score(y, p) < high
    assert 0 < high - low < 0.2
    assert (low, high) == (round(low, 4), round(high, 4))


def test_the_bootstrap_interval_is_deterministic_for_a_seed():
    y, p = _cohort()
    assert bootstrap_auroc_ci(y, p, seed=3) == bootstrap_auroc_ci(y, p, seed=3)
    assert bootstrap_auroc_ci(y, p, seed=3) != bootstrap_auroc_ci(y, p, seed=4)


@pytest.mark.parametrize("outcome", [0, 1])
def test_there_is_no_interval_when_there_is_one_class_only(outcome):
    _, p = _cohort()
    assert bootstrap_auroc_ci(np.full(len(p), outcome), p) is None


# -- performance_figures ----------------------------------------------------------------------

# Hand-worked example. Positives have p 0.9, 0.5, 0.2, 0.6; negatives 0.5, 0.1, 0.3, 0.7.
Y = [1, 1, 1, 0, 0, 0, 0, 1]
P = [0.9, 0.5, 0.2, 0.5, 0.1, 0.3, 0.7, 0.6]


def test_threshold_figures_at_the_threshold_count_p_equal_to_it_as_positive():
    # p >= 0.5: TP = {0.9, 0.5, 0.6}, FP = {0.5, 0.7}, TN = {0.1, 0.3}, FN = {0.2}.
    f = performance_figures(Y, P, threshold=0.5)
    assert (f.n, f.events) == (8, 4)
    assert f.sensitivity == 0.75
    assert f.specificity == 0.5
    assert f.ppv == 0.6


def test_threshold_figures_just_above_the_tied_probabilities():
    # p >= 0.5000001: TP = {0.9, 0.6}, FP = {0.7}, TN = {0.5, 0.1, 0.3}; PPV 2/3 is rounded.
    f = performance_figures(Y, P, threshold=0.5000001)
    assert f.sensitivity == 0.5
    assert f.specificity == 0.75
    assert f.ppv == 0.6667


def test_the_other_figures_of_the_hand_worked_example():
    f = performance_figures(Y, P, threshold=0.5)
    # 10.5 of the 16 positive–negative pairs are ranked right (a tie counts a half).
    assert f.auroc == round(10.5 / 16, 4)
    squared = [0.1**2, 0.5**2, 0.8**2, 0.5**2, 0.1**2, 0.3**2, 0.7**2, 0.4**2]
    assert f.brier == pytest.approx(round(sum(squared) / 8, 4))
    assert f.observed_rate == 0.5
    assert f.mean_predicted == pytest.approx(0.475)
    assert f.ece == round(expected_calibration_error(Y, P), 4)
    # Fewer than 20 patients: the calibration slope and intercept are not estimated.
    assert f.calibration_slope is None and f.calibration_intercept is None
    assert f.auroc_ci95 is None  # not asked for


def test_no_predicted_positives_leaves_ppv_unknown():
    f = performance_figures(Y, P, threshold=0.95)
    assert f.ppv is None
    assert f.sensitivity == 0.0 and f.specificity == 1.0


@pytest.mark.parametrize("outcome", [0, 1])
def test_a_single_class_group_has_none_for_what_it_cannot_estimate(outcome):
    y, p = _cohort(n=60)
    y = np.full(len(p), outcome)
    f = performance_figures(y, p, threshold=0.5, bootstrap=True)
    assert f.auroc is None and f.auroc_ci95 is None
    assert f.calibration_slope is None and f.calibration_intercept is None
    if outcome == 0:
        assert f.sensitivity is None and f.specificity is not None
        assert f.ppv == 0.0
    else:
        assert f.specificity is None and f.sensitivity is not None
        assert f.ppv == 1.0
    assert f.brier is not None and f.ece is not None


def test_an_empty_group_has_no_figures():
    f = performance_figures([], [], threshold=0.5, bootstrap=True)
    figures = f.model_dump()
    assert (figures.pop("n"), figures.pop("events")) == (0, 0)
    assert figures and all(v is None for v in figures.values()), figures


def test_every_figure_is_rounded_to_four_decimals_and_matches_the_unrounded_value():
    y, p = _cohort(n=500, seed=11)
    f = performance_figures(y, p, threshold=0.4, bootstrap=True, seed=5)
    slope, intercept = calibration_slope_intercept(y, p)
    expected = {
        "auroc": roc_auc_score(y, p),
        "sensitivity": np.mean(p[y == 1] >= 0.4),
        "specificity": np.mean(p[y == 0] < 0.4),
        "ppv": np.mean(y[p >= 0.4]),
        "brier": np.mean((p - y) ** 2),
        "ece": expected_calibration_error(y, p),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "observed_rate": y.mean(),
        "mean_predicted": p.mean(),
    }
    for name, value in expected.items():
        shown = getattr(f, name)
        assert shown == round(float(value), 4), name
    assert f.auroc_ci95 == bootstrap_auroc_ci(y, p, seed=5)
    assert f.auroc_ci95[0] < f.auroc < f.auroc_ci95[1]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 1), st.sampled_from([0.1, 0.2, 0.35, 0.5, 0.9]), st.integers(0, 3)
        ),
        min_size=4,
        max_size=60,
    )
)
def test_weighted_auroc_equals_sklearn_on_the_expanded_sample(rows):
    from sklearn.metrics import roc_auc_score

    from caselens.model.performance import weighted_auroc

    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    expanded_y, expanded_p = np.repeat(y, w), np.repeat(p, w)
    if len(set(expanded_y.tolist())) < 2:
        return
    assert weighted_auroc(y, p, w) == pytest.approx(
        roc_auc_score(expanded_y, expanded_p), abs=1e-12
    )
