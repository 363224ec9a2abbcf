"""SHAP for one case on the real sample bundles: permutation Shapley values that add up,
exact log-odds for a logistic regression, and failures reported instead of shown."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from attribution_fixtures import (
    all_cases,
    backgrounds,
    bundles,
    case_frame,
    heart_result,
    readmission_result,
)
from caselens.explain.attribution import (
    ADDITIVITY_TOLERANCE,
    build_shap_explanation,
    check_additivity,
    explain_attributions,
    explain_shap,
    logistic_log_odds,
    permutation_shapley,
    select_background,
)

__all__ = [
    "backgrounds",
    "bundles",
    "heart_result",
    "readmission_result",
]  # fixtures used by name below


# --------------------------------------------------------------------------- SHAP


@pytest.mark.parametrize(("model_id", "index"), all_cases())
def test_shap_contributions_add_up_to_the_probability_on_every_demo_case(
    bundles, backgrounds, model_id, index
):
    bundle = bundles[model_id]
    frame = case_frame(bundle, index)
    result = explain_shap(bundle.model, frame, backgrounds[model_id], bundle.features)
    assert result.status == "ok", result.failure_reason
    total = result.baseline + math.fsum(c.value for c in result.contributions)
    assert abs(total - result.probability) <= ADDITIVITY_TOLERANCE
    assert result.additivity_error <= ADDITIVITY_TOLERANCE
    # The probability shown is exactly the calibrated model's, not a recomputation.
    assert result.probability == float(bundle.model.predict_proba(frame)[0, 1])


def test_shap_is_given_per_clinical_variable_with_no_one_hot_columns(heart_result, bundles):
    names = [c.name for c in heart_result.shap.contributions]
    assert names == bundles["heart-disease"].features.names
    assert [v.name for v in heart_result.variables] == names


def test_shap_records_its_method_background_seed_and_library_versions(readmission_result):
    shap_result = readmission_result.shap
    assert "permutation" in shap_result.method
    assert shap_result.background_size == 100
    assert shap_result.seed == 0
    assert shap_result.n_permutations == 200
    # Rows whose switched variable equals the background's are not re-evaluated.
    assert 100 < shap_result.model_evaluations <= 100 + 200 * 24 + 1
    assert "shap 0.51.0" in shap_result.library_version
    assert "lime 0.2.0.1" in shap_result.library_version


def test_shap_reports_a_sampling_error_small_next_to_the_strongest_factor(readmission_result):
    shap_result = readmission_result.shap
    errors = [e.value for e in shap_result.standard_errors]
    assert [e.name for e in shap_result.standard_errors] == [
        c.name for c in shap_result.contributions
    ]
    assert all(e >= 0.0 for e in errors)
    assert shap_result.max_standard_error == max(errors)
    strongest = max(abs(c.value) for c in shap_result.contributions)
    assert shap_result.max_standard_error < strongest / 3


def test_the_baseline_is_the_mean_calibrated_probability_over_the_background(
    bundles, backgrounds, readmission_result
):
    bundle = bundles["readmission-30d"]
    expected = bundle.model.predict_proba(backgrounds["readmission-30d"])[:, 1].mean()
    assert readmission_result.shap.baseline == pytest.approx(expected, abs=1e-12)


def test_permutation_shapley_is_exact_for_a_model_that_adds_up_per_variable(bundles, backgrounds):
    # For an additive model f = sum_j g_j(x_j) the interventional Shapley value of j is
    # exactly g_j(x_j) - mean g_j(background_j), whatever orders are sampled.
    bundle = bundles["heart-disease"]
    schema = bundle.features
    background = backgrounds["heart-disease"]
    frame = case_frame(bundle, 2)
    numeric = [s.name for s in schema if s.kind != "category"]
    weights = {name: 0.001 * (i + 1) for i, name in enumerate(numeric)}

    def additive(data: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(data))
        for name, w in weights.items():
            total += w * pd.to_numeric(data[name]).fillna(0.0).to_numpy()
        total += 0.05 * (data["sex"].astype(object) == "Male").to_numpy()
        return total

    from caselens.explain.attribution._frames import _columns

    probability = float(additive(frame)[0])
    values = permutation_shapley(
        additive, _columns(frame, schema), _columns(background, schema), probability, schema, seed=3
    ).values
    for j, spec in enumerate(schema):
        if spec.name in weights:
            x = float(pd.to_numeric(frame[spec.name]).fillna(0.0).iloc[0])
            b = pd.to_numeric(background[spec.name]).fillna(0.0).mean()
            expected = weights[spec.name] * (x - b)
        elif spec.name == "sex":
            expected = 0.05 * (
                (frame["sex"].iloc[0] == "Male")
                - (background["sex"].astype(object) == "Male").mean()
            )
        else:
            expected = 0.0
        assert values[j] == pytest.approx(expected, abs=1e-12), spec.name


def test_permutation_shapley_equals_the_plain_chain_by_chain_computation(bundles, backgrounds):
    # The batched estimator skips rows that repeat the previous one; spelled out the slow way
    # (every step of every chain predicted) the numbers must be the same.
    from caselens.explain.attribution._frames import _columns, _frame

    bundle = bundles["readmission-30d"]
    schema = bundle.features
    background = backgrounds["readmission-30d"].iloc[:12].reset_index(drop=True)
    frame = case_frame(bundle, 3)
    m = len(schema)

    def predict(data: pd.DataFrame) -> np.ndarray:
        return bundle.model.predict_proba(data)[:, 1]

    case_cols, bg_cols = _columns(frame, schema), _columns(background, schema)
    probability = float(predict(frame)[0])
    estimate = permutation_shapley(predict, case_cols, bg_cols, probability, schema, seed=5)
    values, baseline, chains = estimate.values, estimate.baseline, estimate.n_permutations

    rng = np.random.default_rng(5)
    orders = np.argsort(rng.random((len(background), m)), axis=1)
    orders = np.concatenate([orders, orders[:, ::-1]])
    rows = []  # every step of every chain, no row skipped: (chain, variable switched, row)
    for c, order in enumerate(orders):
        row = [col[c % len(background)] for col in bg_cols]
        rows.append(list(row))
        for j in order[:-1]:
            row[j] = case_cols[j][0]
            rows.append(list(row))
    columns = [np.array([r[j] for r in rows], dtype=bg_cols[j].dtype) for j in range(m)]
    path = predict(_frame(columns, schema)).reshape(len(orders), m)
    path = np.column_stack([path, np.full(len(orders), probability)])
    total = np.zeros(m)
    for c, order in enumerate(orders):
        for step, j in enumerate(order):
            total[j] += path[c, step + 1] - path[c, step]
    assert chains == len(orders)
    np.testing.assert_allclose(values, total / len(orders), rtol=0, atol=1e-12)
    assert baseline == pytest.approx(predict(background).mean(), abs=1e-12)


def test_logistic_log_odds_contributions_sum_to_the_uncalibrated_logit_difference(
    bundles, backgrounds
):
    bundle = bundles["heart-disease"]
    background = backgrounds["heart-disease"]
    pipeline = bundle.model.calibrated_classifiers_[0].estimator.estimator
    logits_background = pipeline.decision_function(background)
    for index in range(len(bundle.demo_cases)):
        frame = case_frame(bundle, index)
        result = explain_shap(bundle.model, frame, background, bundle.features)
        logit = float(pipeline.decision_function(frame)[0])
        assert result.log_odds_baseline == pytest.approx(logits_background.mean(), abs=1e-9)
        total = math.fsum(c.value for c in result.log_odds_contributions)
        assert total == pytest.approx(logit - result.log_odds_baseline, abs=1e-9)
        assert [c.name for c in result.log_odds_contributions] == bundle.features.names


def test_a_model_that_is_not_a_logistic_regression_gets_no_log_odds(
    bundles, backgrounds, readmission_result
):
    bundle = bundles["readmission-30d"]
    assert readmission_result.shap.log_odds_contributions is None
    assert readmission_result.shap.log_odds_baseline is None
    assert (
        logistic_log_odds(
            bundle.model, case_frame(bundle), backgrounds["readmission-30d"], bundle.features
        )
        is None
    )
    assert all(v.log_odds is None for v in readmission_result.variables)


def test_contributions_that_do_not_add_up_are_reported_as_failed_not_shown(bundles):
    schema = bundles["heart-disease"].features
    error, reason = check_additivity(0.2, [0.1, 0.1], 0.5)
    assert error == pytest.approx(0.1)
    assert "do not add up" in reason
    assert check_additivity(0.2, [0.1, 0.2], 0.5)[1] is None
    bad = [0.01] * len(schema)
    result = build_shap_explanation(
        schema=schema,
        values=bad,
        baseline=0.3,
        probability=0.9,
        background_size=50,
        seed=0,
        n_permutations=100,
        model_evaluations=1000,
    )
    assert result.status == "failed"
    assert "do not add up" in result.failure_reason
    assert result.contributions == ()
    assert result.additivity_error == pytest.approx(abs(0.3 + 0.01 * len(schema) - 0.9))


def test_a_contribution_that_is_not_a_number_fails_instead_of_showing_nan(bundles):
    schema = bundles["heart-disease"].features
    values = [0.0] * len(schema)
    values[0] = float("nan")
    result = build_shap_explanation(
        schema=schema,
        values=values,
        baseline=0.3,
        probability=0.3,
        background_size=50,
        seed=0,
        n_permutations=100,
        model_evaluations=1000,
    )
    assert result.status == "failed"
    assert result.additivity_error is None
    json.loads(result.model_dump_json())


def test_a_model_that_cannot_be_evaluated_gives_a_failed_shap_result_and_no_agreement(
    bundles, backgrounds
):
    bundle = bundles["heart-disease"]

    class BreaksOnBatches:
        """The real model for one row, an error for the coalition batch."""

        def predict_proba(self, frame):
            if len(frame) > 1:
                raise RuntimeError("out of memory")
            return bundle.model.predict_proba(frame)

    result = explain_attributions(
        BreaksOnBatches(),
        case_frame(bundle),
        backgrounds["heart-disease"],
        bundle.features,
        lime_runs=2,
    )
    assert result.shap.status == "failed"
    assert "out of memory" in result.shap.failure_reason
    assert result.shap.contributions == ()
    assert result.lime.status == "failed"
    assert result.agreement is None
    assert all(v.shap_value is None for v in result.variables)


def test_every_case_of_an_explainer_shares_the_same_shap_orders(bundles):
    # The orders depend only on the seed and the sizes: drawn once, shared read-only, and
    # the very orders a fresh draw gives.
    from caselens.explain.attribution import ShapleyPlan
    from caselens.explain.attribution._frames import _columns

    bundle = bundles["heart-disease"]
    schema = bundle.features
    background = select_background(bundle.reference, size=50, seed=4, columns=schema.names)
    plans = [
        ShapleyPlan.build(
            _columns(case_frame(bundle, i), schema), _columns(background, schema), schema, seed=4
        )
        for i in (0, 1)
    ]
    assert plans[0].orders is plans[1].orders
    assert not plans[0].orders.flags.writeable
    rng = np.random.default_rng(4)
    fresh = np.argsort(rng.random((50, len(schema))), axis=1)
    assert np.array_equal(plans[0].orders, np.concatenate([fresh, fresh[:, ::-1]]))
