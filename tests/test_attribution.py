"""SHAP and LIME for one case, on the real sample bundles (no mocks of CaseLens code)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.explain.attribution import (
    ADDITIVITY_TOLERANCE,
    LOW_FIDELITY_R2,
    UNSTABLE_JACCARD,
    Attributions,
    build_shap_explanation,
    check_additivity,
    explain_attributions,
    explain_lime,
    explain_shap,
    logistic_log_odds,
    permutation_shapley,
    select_background,
    warm_up,
)
from caselens.explain.cases import validate_inputs
from caselens.model.bundle import ModelBundle, load_bundle

MODEL_IDS = ("readmission-30d", "heart-disease")
#: H-08: a heart-disease demo case with a value not recorded.
HEART_CASE = 7


@pytest.fixture(scope="module")
def bundles() -> dict[str, ModelBundle]:
    return {model_id: load_bundle(f"sample_models/{model_id}") for model_id in MODEL_IDS}


@pytest.fixture(scope="module")
def backgrounds(bundles) -> dict[str, pd.DataFrame]:
    return {
        model_id: select_background(b.reference, size=100, seed=0, columns=b.features.names)
        for model_id, b in bundles.items()
    }


def _case_frame(bundle: ModelBundle, index: int = 0) -> pd.DataFrame:
    return validate_inputs(bundle.demo_cases[index].inputs, bundle.features).to_frame()


def _all_cases() -> list[tuple[str, int]]:
    # Read the demo files directly so every case is its own test, whatever the count.
    cases = []
    for model_id in MODEL_IDS:
        demo = json.loads(Path(f"sample_models/{model_id}/demo_cases.json").read_text("utf-8"))
        demo = demo["cases"] if isinstance(demo, dict) else demo
        cases += [(model_id, i) for i in range(len(demo))]
    return cases


@pytest.fixture(scope="module")
def readmission_result(bundles, backgrounds) -> Attributions:
    bundle = bundles["readmission-30d"]
    return explain_attributions(
        bundle.model, _case_frame(bundle), backgrounds["readmission-30d"], bundle.features
    )


@pytest.fixture(scope="module")
def heart_result(bundles, backgrounds) -> Attributions:
    bundle = bundles["heart-disease"]
    return explain_attributions(
        bundle.model, _case_frame(bundle, HEART_CASE), backgrounds["heart-disease"], bundle.features
    )


# --------------------------------------------------------------------------- background


def test_the_background_is_the_same_rows_for_the_same_seed_and_drops_the_outcome(bundles):
    reference = bundles["readmission-30d"].reference
    first = select_background(reference, size=80, seed=7)
    again = select_background(reference, size=80, seed=7)
    other = select_background(reference, size=80, seed=8)
    assert len(first) == 80
    assert "outcome" not in first.columns
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_the_background_is_all_rows_when_the_reference_is_smaller_than_asked(bundles):
    reference = bundles["heart-disease"].reference
    background = select_background(reference, size=500, seed=0)
    assert len(background) == len(reference)


# --------------------------------------------------------------------------- SHAP


@pytest.mark.parametrize(("model_id", "index"), _all_cases())
def test_shap_contributions_add_up_to_the_probability_on_every_demo_case(
    bundles, backgrounds, model_id, index
):
    bundle = bundles[model_id]
    frame = _case_frame(bundle, index)
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
    frame = _case_frame(bundle, 2)
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
    frame = _case_frame(bundle, 3)
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
        frame = _case_frame(bundle, index)
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
            bundle.model, _case_frame(bundle), backgrounds["readmission-30d"], bundle.features
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
        _case_frame(bundle),
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


# --------------------------------------------------------------------------- LIME


def test_lime_reports_fidelity_and_stability_within_range(readmission_result, heart_result):
    for result in (readmission_result, heart_result):
        lime_result = result.lime
        assert lime_result.status == "ok"
        assert lime_result.runs == 5 == len(lime_result.seeds) == len(lime_result.fidelity_r2)
        assert lime_result.seeds == (0, 1, 2, 3, 4)
        assert lime_result.num_samples == 1000
        assert all(r2 <= 1.0 for r2 in lime_result.fidelity_r2)
        assert lime_result.fidelity_r2_min <= lime_result.fidelity_r2_mean <= 1.0
        assert 0.0 <= lime_result.top_k_jaccard <= 1.0
        assert all(s.value >= 0.0 for s in lime_result.spread)
        assert lime_result.low_fidelity == (lime_result.fidelity_r2_mean < LOW_FIDELITY_R2)
        assert lime_result.unstable == (lime_result.top_k_jaccard < UNSTABLE_JACCARD)
        assert "R²" in lime_result.note
        assert "lime 0.2.0.1" in lime_result.library_version


def test_lime_weights_are_per_clinical_variable_and_the_mean_over_runs(heart_result, bundles):
    names = bundles["heart-disease"].features.names
    assert [w.name for w in heart_result.lime.weights] == names
    assert [w.name for w in heart_result.lime.spread] == names
    assert any(w.value != 0.0 for w in heart_result.lime.weights)


def test_lime_says_which_missing_values_it_filled_in(bundles, backgrounds):
    bundle = bundles["heart-disease"]
    index = next(
        i for i, c in enumerate(bundle.demo_cases) if any(v is None for v in c.inputs.values())
    )
    missing = [k for k, v in bundle.demo_cases[index].inputs.items() if v is None]
    result = explain_lime(
        bundle.model,
        _case_frame(bundle, index),
        backgrounds["heart-disease"],
        bundle.features,
        runs=2,
    )
    assert list(result.imputed_variables) == missing
    assert bundle.features[missing[0]].label in result.note


def test_lime_gives_the_same_weights_when_run_alone_as_in_one_batched_model_call(
    bundles, backgrounds, heart_result
):
    # Runs are batched into one model call; a one-run LIME per seed must give the same numbers.
    bundle = bundles["heart-disease"]
    frame = _case_frame(bundle, HEART_CASE)
    alone = explain_lime(
        bundle.model, frame, backgrounds["heart-disease"], bundle.features, seed=2, runs=1
    )
    batched = heart_result.lime
    assert alone.fidelity_r2[0] == batched.fidelity_r2[2]


def test_lime_weights_equal_an_unmodified_lime_run_with_the_same_seed(bundles, backgrounds):
    # CaseLens draws LIME's neighbourhoods up front to batch the model calls; the weights must
    # be exactly those of plain LIME called the documented way.
    bundle = bundles["heart-disease"]
    _assert_lime_equals_plain_lime(
        bundle.model,
        _case_frame(bundle, HEART_CASE),
        backgrounds["heart-disease"],
        bundle.features,
        2,
    )


def _plain_lime(encoding, schema, seed):
    from lime.lime_tabular import LimeTabularExplainer

    return LimeTabularExplainer(
        encoding.training,
        mode="classification",
        feature_names=schema.names,
        categorical_features=encoding.categorical,
        categorical_names={j: list(c) for j, c in encoding.categories.items()},
        class_names=["no outcome", "outcome"],
        discretize_continuous=True,
        random_state=seed,
    )


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_lime_neighbourhoods_are_those_lime_samples_for_each_case_bit_for_bit(
    bundles, backgrounds, model_id
):
    # CaseLens draws the case-free part of each seed's neighbourhood once and derives every
    # case's rows from it: they must be exactly what LIME's own sampler returns for the case.
    from caselens.explain.attribution._lime_setup import _LimeSetup

    bundle = bundles[model_id]
    schema, background = bundle.features, backgrounds[model_id]
    setup = _LimeSetup(background, schema, seed=0)
    for index in range(len(bundle.demo_cases)):
        row, _ = setup.encoding.encode_case(_case_frame(bundle, index))
        for seed in (0, 4, 11):
            sampler = _plain_lime(setup.encoding, schema, seed)
            expected = sampler._LimeTabularExplainer__data_inverse(row, 1000)
            with setup._lock:
                ours = setup._neighbourhood(row, seed, 1000)
            assert np.array_equal(ours[0], expected[0]), (index, seed)
            assert np.array_equal(ours[1], expected[1]), (index, seed)


def _assert_lime_equals_plain_lime(model, frame, background, schema, seed, *, tolerance=0.0):
    """CaseLens's LIME weights and R² against plain LIME's: equal bit for bit by default,
    or within ``tolerance`` (float rounding of the same fit)."""
    from caselens.explain.attribution._lime_encoding import _LimeEncoding

    encoding = _LimeEncoding(background, schema)
    row, _ = encoding.encode_case(frame)
    plain = _plain_lime(encoding, schema, seed).explain_instance(
        row,
        lambda x: model.predict_proba(encoding.decode(x)),
        labels=(1,),
        num_features=len(schema),
        num_samples=1000,
    )
    ours = explain_lime(model, frame, background, schema, seed=seed, runs=1)
    expected = dict(plain.as_map()[1])
    weights = [w.value for w in ours.weights]
    wanted = [expected.get(j, 0.0) for j in range(len(schema))]
    if tolerance == 0.0:
        assert weights == wanted
        assert ours.fidelity_r2 == (plain.score,)
    else:
        assert np.allclose(weights, wanted, rtol=0, atol=tolerance), (weights, wanted)
        assert abs(ours.fidelity_r2[0] - plain.score) <= tolerance


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_lime_weights_and_fidelity_are_plain_limes_bit_for_bit_on_every_demo_case(
    bundles, backgrounds, model_id
):
    # The surrogate fits are CaseLens's numpy copy of LIME's scikit-learn calls: the weights
    # and R² must be LIME's to the last bit, not merely close.
    bundle = bundles[model_id]
    for index in range(len(bundle.demo_cases)):
        for seed in (0, 3):
            _assert_lime_equals_plain_lime(
                bundle.model,
                _case_frame(bundle, index),
                backgrounds[model_id],
                bundle.features,
                seed,
            )


def test_lime_equals_plain_lime_on_a_bundle_caselens_did_not_train(other_family_bundles):
    bundle = other_family_bundles["calibrated"]
    names = bundle.features.names
    background = select_background(bundle.reference, size=100, seed=0, columns=names)
    for i in range(5):
        _assert_lime_equals_plain_lime(
            bundle.model, bundle.reference[names].iloc[[i]], background, bundle.features, i
        )


def _first_variables_model(bundle, full, schema):
    """The bundle's model with the variables outside ``schema`` held at this case's values."""

    class FirstVariables:
        def predict_proba(self, frame):
            rest = full.drop(columns=schema.names)
            rows = pd.concat([rest] * len(frame), ignore_index=True)
            whole = pd.concat([frame.reset_index(drop=True), rows], axis=1)
            return bundle.model.predict_proba(whole[bundle.features.names])

    return FirstVariables()


@pytest.mark.parametrize("n_variables", [2, 5, 6])
def test_lime_with_six_variables_or_fewer_is_plain_limes_forward_selection(
    bundles, backgrounds, n_variables
):
    # LIME selects variables by forward selection up to six (an unpenalised ridge fit per
    # candidate and step), which with every variable selected only orders the final fit's
    # columns: CaseLens skips it, and its weights and R² must be LIME's up to rounding
    # (measured: at most 1.1e-16 apart).
    from caselens.model.features import FeatureSchema

    bundle = bundles["heart-disease"]
    schema = FeatureSchema(features=bundle.features.features[:n_variables])
    background = backgrounds["heart-disease"][schema.names]
    for index in range(0, len(bundle.demo_cases), 2):
        full = _case_frame(bundle, index)
        model = _first_variables_model(bundle, full, schema)
        for seed in (1, 6):
            _assert_lime_equals_plain_lime(
                model, full[schema.names], background, schema, seed, tolerance=1e-12
            )


def test_forward_selection_with_a_variable_that_never_varies_is_plain_limes(bundles, backgrounds):
    # A variable with one value in the whole background is constant in every neighbourhood:
    # LIME's unpenalised selection fits are singular (scikit-learn switches solver); the
    # final, penalised fit is not, and CaseLens's weights are still LIME's.
    from caselens.model.features import FeatureSchema

    bundle = bundles["heart-disease"]
    schema = FeatureSchema(features=bundle.features.features[:4])
    background = backgrounds["heart-disease"][schema.names].copy()
    full = _case_frame(bundle, 1)
    background["sex"] = full["sex"].iloc[0]
    model = _first_variables_model(bundle, full, schema)
    for seed in (0, 2):
        _assert_lime_equals_plain_lime(
            model, full[schema.names], background, schema, seed, tolerance=1e-12
        )


# --------------------------------------------------------------------------- together


def test_the_same_inputs_and_seeds_give_identical_attributions(
    bundles, backgrounds, readmission_result
):
    bundle = bundles["readmission-30d"]
    again = explain_attributions(
        bundle.model, _case_frame(bundle), backgrounds["readmission-30d"], bundle.features
    )
    assert again.model_dump_json() == readmission_result.model_dump_json()


def test_a_fresh_process_reproduces_the_attributions_bit_for_bit(readmission_result):
    # Audit replay re-runs the explanation in another process (other hash seed, cold caches).
    script = (
        "import sys\n"
        "from caselens.explain.attribution import explain_attributions, select_background\n"
        "from caselens.model.bundle import load_bundle\n"
        "from caselens.explain.cases import validate_inputs\n"
        "b = load_bundle('sample_models/readmission-30d')\n"
        "bg = select_background(b.reference, size=100, seed=0, columns=b.features.names)\n"
        "frame = validate_inputs(b.demo_cases[0].inputs, b.features).to_frame()\n"
        "sys.stdout.write(explain_attributions(b.model, frame, bg, b.features)"
        ".model_dump_json())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    assert completed.stdout == readmission_result.model_dump_json()


def test_a_different_seed_changes_the_sampled_numbers_but_not_the_probability(
    bundles, backgrounds, heart_result
):
    bundle = bundles["heart-disease"]
    other = explain_attributions(
        bundle.model,
        _case_frame(bundle, HEART_CASE),
        backgrounds["heart-disease"],
        bundle.features,
        seed=1,
    )
    assert other.shap.probability == heart_result.shap.probability
    assert other.lime.seeds == (1, 2, 3, 4, 5)
    assert other.lime.fidelity_r2 != heart_result.lime.fidelity_r2


def test_attributions_are_json_with_no_numpy_types_or_nan(readmission_result, heart_result):
    for result in (readmission_result, heart_result):
        text = result.model_dump_json()
        assert "NaN" not in text and "Infinity" not in text
        assert Attributions.model_validate_json(text) == result

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list | tuple):
                for v in value:
                    walk(v)
            else:
                assert value is None or type(value) in (float, int, str, bool), type(value)

        walk(result.model_dump())


def test_the_variable_table_joins_shap_lime_and_the_shown_value(heart_result, bundles):
    spec = bundles["heart-disease"].features
    shap_by = {c.name: c.value for c in heart_result.shap.contributions}
    for row in heart_result.variables:
        assert row.label == spec[row.name].label
        assert row.shap_value == shap_by[row.name]
        assert row.value_text
    assert any(row.value_text == "not recorded" for row in heart_result.variables)
    assert all(row.log_odds is not None for row in heart_result.variables)


def test_the_agreement_compares_shap_with_the_mean_lime_weights(heart_result):
    agreement = heart_result.agreement
    assert agreement is not None
    assert agreement.k == 3
    assert 0.0 <= agreement.top_k_overlap <= 1.0
    assert 0.0 <= agreement.sign_agreement <= 1.0
    assert agreement.rank_correlation is None or -1.0 <= agreement.rank_correlation <= 1.0
    assert agreement.sentence.startswith("SHAP and LIME")
    assert agreement.agree == (not agreement.disagreeing_variables)


def test_warm_up_runs_with_and_without_a_model(bundles, backgrounds):
    warm_up()
    bundle = bundles["heart-disease"]
    warm_up(bundle.model, backgrounds["heart-disease"], bundle.features)


def test_more_than_one_row_is_refused(bundles, backgrounds):
    bundle = bundles["heart-disease"]
    frame = pd.concat([_case_frame(bundle, 0), _case_frame(bundle, 1)])
    with pytest.raises(ValueError, match="one case at a time"):
        explain_attributions(bundle.model, frame, backgrounds["heart-disease"], bundle.features)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_a_case_row_gives_the_same_typed_columns_the_quick_way_as_through_pandas(bundles, model_id):
    # One-row frames (every case) skip the per-column pandas conversion; the arrays must be
    # identical to the general path's: dtypes, values, missing values, Python types.
    from caselens.explain.attribution._frames import _case_columns, _frame_columns

    bundle = bundles[model_id]
    schema = bundle.features
    frames = [_case_frame(bundle, i) for i in range(len(bundle.demo_cases))]
    frames += [bundle.reference[schema.names].iloc[[i]] for i in range(40)]
    for frame in frames:
        quick, general = _case_columns(frame, schema), _frame_columns(frame, schema)
        assert quick is not None
        for a, b in zip(quick, general, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            if a.dtype == object:
                assert [(type(x), x) for x in a] == [(type(x), x) for x in b]
            else:
                assert np.array_equal(a, b, equal_nan=True)
    odd = _case_frame(bundle, 0).astype(object)
    odd.iat[0, 0] = b"raw bytes"  # neither a number nor a category text
    assert _case_columns(odd, schema) is None  # left to the general path


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_the_batch_frame_built_from_category_codes_is_the_plain_frame(bundles, model_id):
    # The text columns of the one model call (LIME, SHAP, then the case) are taken from the
    # category list by code instead of converting every string; the frame must equal the
    # plain construction (values, missing cells, dtypes), so the model sees the same input.
    from caselens.explain.attribution import Attributor, ShapleyPlan
    from caselens.explain.attribution._frames import _columns, _frame

    bundle = bundles[model_id]
    schema = bundle.features
    background = select_background(bundle.reference, size=100, seed=0, columns=schema.names)
    attributor = Attributor(bundle.model, background, schema)
    assert attributor._category_codes()  # the codes way is taken for the samples
    for index in range(len(bundle.demo_cases)):
        frame = _case_frame(bundle, index)
        case_columns = _columns(frame, schema)
        plan = ShapleyPlan.build(case_columns, _columns(background, schema), schema, seed=0)
        draw = attributor._lime_setup().draw(frame, runs=5, num_samples=1000, top_k=3)
        plain = _frame(_plain_columns(draw, plan, case_columns), schema)
        built = attributor._batch_frame(draw, plan, case_columns)
        pd.testing.assert_frame_equal(built, plain, check_dtype=True, check_exact=True)


def _plain_columns(draw, plan, case_columns):
    """The batch's columns the plain way: LIME's decoded rows, SHAP's rows, then the case."""
    return [
        np.concatenate(parts)
        for parts in zip(draw.columns(), plan.batch_columns, case_columns, strict=True)
    ]


# Gram matrices as LIME's fits make them: XᵀX of a few 0/1-ish columns plus the ridge penalty
# (1 for the fit, 0.01 for the selection), from 1 × 1 up to a wide schema.
_gram_problems = st.integers(1, 16).flatmap(
    lambda m: st.tuples(
        st.lists(st.lists(st.floats(-5, 5), min_size=m, max_size=m), min_size=1, max_size=40),
        st.lists(st.floats(-3, 3), min_size=m, max_size=m),
        st.sampled_from([1.0, 0.01, 1e-8]),
    )
)


@settings(max_examples=400, deadline=None)
@given(_gram_problems)
def test_the_positive_definite_solve_is_scipys_bit_for_bit(problem):
    from scipy import linalg

    from caselens.explain.attribution._weighted_ridge import _solve_positive

    rows, rhs, alpha = problem
    x = np.asarray(rows)
    gram = x.T @ x
    gram.flat[:: gram.shape[1] + 1] += alpha
    b = np.asarray(rhs)[:, None]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when ill-conditioned
            expected = linalg.solve(gram.copy(), b, assume_a="pos")
    except np.linalg.LinAlgError:
        with pytest.raises(np.linalg.LinAlgError):
            _solve_positive(gram.copy(), b)
        return
    assert np.array_equal(_solve_positive(gram.copy(), b), expected)


def test_the_positive_definite_solve_refuses_what_scipy_refuses():
    from caselens.explain.attribution._weighted_ridge import _solve_positive

    with pytest.raises(np.linalg.LinAlgError):
        _solve_positive(np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones((2, 1)))  # indefinite
    with pytest.raises(np.linalg.LinAlgError):
        _solve_positive(np.zeros((1, 1)), np.ones((1, 1)))
    with pytest.raises(ValueError, match="infs or NaNs"):
        _solve_positive(np.array([[np.nan]]), np.ones((1, 1)))


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
            _columns(_case_frame(bundle, i), schema), _columns(background, schema), schema, seed=4
        )
        for i in (0, 1)
    ]
    assert plans[0].orders is plans[1].orders
    assert not plans[0].orders.flags.writeable
    rng = np.random.default_rng(4)
    fresh = np.argsort(rng.random((50, len(schema))), axis=1)
    assert np.array_equal(plans[0].orders, np.concatenate([fresh, fresh[:, ::-1]]))
