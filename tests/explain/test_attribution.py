"""SHAP and LIME together for one case, on the real sample bundles (no mocks of CaseLens
code): the background, reproducibility, the variable table, the one model call."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

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
    Attributions,
    explain_attributions,
    select_background,
    warm_up,
)

__all__ = [
    "backgrounds",
    "bundles",
    "heart_result",
    "readmission_result",
]  # fixtures used by name below


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


# --------------------------------------------------------------------------- together


def test_the_same_inputs_and_seeds_give_identical_attributions(
    bundles, backgrounds, readmission_result
):
    bundle = bundles["readmission-30d"]
    again = explain_attributions(
        bundle.model, case_frame(bundle), backgrounds["readmission-30d"], bundle.features
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
        case_frame(bundle, HEART_CASE),
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
    frame = pd.concat([case_frame(bundle, 0), case_frame(bundle, 1)])
    with pytest.raises(ValueError, match="one case at a time"):
        explain_attributions(bundle.model, frame, backgrounds["heart-disease"], bundle.features)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_a_case_row_gives_the_same_typed_columns_the_quick_way_as_through_pandas(bundles, model_id):
    # One-row frames (every case) skip the per-column pandas conversion; the arrays must be
    # identical to the general path's: dtypes, values, missing values, Python types.
    from caselens.explain.attribution._frames import _case_columns, _frame_columns

    bundle = bundles[model_id]
    schema = bundle.features
    frames = [case_frame(bundle, i) for i in range(len(bundle.demo_cases))]
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
    odd = case_frame(bundle, 0).astype(object)
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
        frame = case_frame(bundle, index)
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


def test_the_package_face_keeps_every_name_the_one_file_module_was_imported_for():
    # The names src/ and tests/ imported from caselens.explain.attribution when it was one
    # module: each must still come from the face, and be the object its own module defines.
    import importlib

    import caselens.explain.attribution as face

    imported_before = {
        "ADDITIVITY_TOLERANCE",
        "BACKGROUND_SIZE",
        "LIME_RUNS",
        "LIME_SAMPLES",
        "LOW_FIDELITY_R2",
        "TOP_K",
        "UNSTABLE_JACCARD",
        "Attributions",
        "Attributor",
        "ShapleyPlan",
        "build_shap_explanation",
        "check_additivity",
        "explain_attributions",
        "explain_lime",
        "explain_shap",
        "logistic_log_odds",
        "permutation_shapley",
        "select_background",
        "warm_up",
        "_CountingPredict",
        "_LimeEncoding",
        "_LimeSetup",
        "_LogOdds",
        "_case_columns",
        "_columns",
        "_frame",
        "_frame_columns",
        "_in_order",
        "_model_threads",
        "_solve_positive",
        "_unwrap_logistic",
    }
    for name in imported_before | set(face.__all__):
        module = importlib.import_module(f"{face.__name__}.{face._PARTS[name]}")
        assert getattr(face, name) is getattr(module, name), name
    assert set(face.__all__) <= set(dir(face))
    with pytest.raises(AttributeError, match="no attribute 'explain_everything'"):
        _ = face.explain_everything
