"""LIME for one case on the real sample bundles: fidelity and stability, and weights equal
to an unmodified LIME run bit for bit (including CaseLens's own weighted ridge solve)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution_fixtures import (
    HEART_CASE,
    MODEL_IDS,
    backgrounds,
    bundles,
    case_frame,
    heart_result,
    readmission_result,
)
from caselens.explain.attribution import (
    LOW_FIDELITY_R2,
    UNSTABLE_JACCARD,
    explain_lime,
    select_background,
)

__all__ = [
    "backgrounds",
    "bundles",
    "heart_result",
    "readmission_result",
]  # fixtures used by name below


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
        case_frame(bundle, index),
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
    frame = case_frame(bundle, HEART_CASE)
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
        case_frame(bundle, HEART_CASE),
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
        row, _ = setup.encoding.encode_case(case_frame(bundle, index))
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
                case_frame(bundle, index),
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
        full = case_frame(bundle, index)
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
    full = case_frame(bundle, 1)
    background["sex"] = full["sex"].iloc[0]
    model = _first_variables_model(bundle, full, schema)
    for seed in (0, 2):
        _assert_lime_equals_plain_lime(
            model, full[schema.names], background, schema, seed, tolerance=1e-12
        )


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
