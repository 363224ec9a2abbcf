"""Every model runs within a compute and memory budget, and every answer is checked.

The hostile graphs are built at test time with ``onnx.helper`` (tests/onnx_graphs.py): the
issue's matrix-product bomb (onnxruntime alone spends about a minute folding it while
*loading*), a 16 GiB ``ConstantOfShape``, a tensor sized by the data, and graphs within the
static budget that only the run-time limits stop. Models that answer NaN, negatives or
non-summing probabilities are refused at create, at load and — for a NaN only in one region
of the inputs — for the case in that region, recorded through the workflow.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import onnx_graphs as graphs
from caselens.audit import AuditStore
from caselens.cli.main import main
from caselens.errors import BundleError
from caselens.explain.cases import validate_inputs
from caselens.model.budget import (
    ESTIMATE_ROWS,
    MAX_BATCH_SECONDS,
    MAX_ONNX_OPERATIONS,
    MAX_ONNX_WORKING_BYTES,
    ONNX_ARENA_BYTES,
    ModelBudgetError,
    check_skops_speed,
    estimate_onnx_cost,
)
from caselens.model.bundle import load_bundle, load_catalogue, read_model_file
from caselens.model.onnx import MAX_METADATA_ENTRIES, OnnxClassifier, check_onnx_bytes
from caselens.model.output_check import SUM_TOLERANCE, ModelOutputError, check_probabilities
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow.errors import Refused, Unavailable
from caselens.workflow.records import UserSession
from monitoring_fixtures import KEY, PASSWORD, make_workflow

CARD = """\
model_id = "{model_id}"
name = "Budget test model ({model_id})"
version = "0.1.0"
demonstration_only = true
decision_threshold = 0.4
release_date = 2026-12-06
last_review_date = 2026-12-06
"""
#: Creatinine values strictly inside this band get NaN from the "NaN region" model; the
#: cohort's values have two decimals, so none of its rows is inside.
NAN_BAND = (3.001, 3.009)


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """Load onnx, onnxruntime and the bundle code once, so timings are the checks' own."""
    check_onnx_bytes(graphs.logistic())
    OnnxClassifier(graphs.logistic())


# --------------------------------------------------------------------------- the estimate


def test_the_matrix_product_bomb_is_refused_by_the_estimate_before_onnxruntime_sees_it(tmp_path):
    data = graphs.matmul_bomb()
    assert len(data) < 12_000  # the 11 kB graph, no Loop, far under the node limit
    assert "Loop" not in {n.op_type for n in onnx.load_from_string(data).graph.node}
    start = time.perf_counter()
    with pytest.raises(ModelBudgetError, match=r"8\.6e\+11 operations .* budget is 1e\+10"):
        check_onnx_bytes(data)
    assert time.perf_counter() - start < 2.0
    path = tmp_path / "bomb.onnx"
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(BundleError, match="operations"):
        read_model_file(path)  # what `bundle create --model bomb.onnx` reads
    assert time.perf_counter() - start < 2.0


def test_the_memory_bomb_is_refused_by_the_estimate_without_allocating(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelBudgetError, match=r"16,384 MiB of tensors .* budget is 2,048 MiB"):
        check_onnx_bytes(graphs.memory_bomb())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200


def test_a_tensor_sized_by_the_data_cannot_be_bounded_and_is_refused():
    with pytest.raises(ModelBudgetError, match=r"ConstantOfShape makes a tensor whose size"):
        check_onnx_bytes(graphs.sized_by_data())


def test_the_estimate_counts_matrix_products_as_multiply_adds():
    cost = estimate_onnx_cost(onnx.load_from_string(graphs.matrix_chain(width=64, products=10)))
    # 10 products of (rows x 64) by (64 x 64), plus the widening and narrowing products.
    products = 10 * 2 * ESTIMATE_ROWS * 64 * 64
    assert products <= cost.operations <= products * 1.2
    smaller = estimate_onnx_cost(onnx.load_from_string(graphs.matrix_chain(64, products=5)))
    assert smaller.operations < cost.operations


def test_the_estimate_keeps_only_live_tensors():
    wide = estimate_onnx_cost(onnx.load_from_string(graphs.wide_rows(width=40_000)))
    one_wide_tensor = ESTIMATE_ROWS * 40_000 * 4
    assert one_wide_tensor <= wide.working_bytes <= one_wide_tensor * 1.05
    assert wide.working_bytes <= MAX_ONNX_WORKING_BYTES


def test_a_tree_ensemble_costs_each_trees_longest_path_per_row():
    """A row walks one path per tree: a fully grown forest of 57,000 nodes costs its ~1,500
    path nodes per row, not all its nodes (which would refuse large forests wrongly)."""
    from sklearn.ensemble import RandomForestClassifier

    from caselens.authoring.onnx_convert import convert_model

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=3_000), "b": rng.normal(size=3_000)})
    outcome = (frame["a"] + rng.normal(size=3_000) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(frame, outcome)
    cost = estimate_onnx_cost(onnx.load_from_string(convert_model(forest, frame).onnx_bytes))
    paths = sum(tree.tree_.max_depth + 1 for tree in forest.estimators_)
    nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
    assert paths * 20 < nodes
    tree_cost = paths * ESTIMATE_ROWS
    assert tree_cost <= cost.operations <= tree_cost * 1.05


def test_converted_models_are_far_within_the_budget():
    """The families CaseLens converts: tree ensembles and a linear model, far below."""
    for data in (graphs.logistic(), graphs.matrix_chain(width=8, products=2)):
        cost = estimate_onnx_cost(onnx.load_from_string(data))
        assert cost.operations < MAX_ONNX_OPERATIONS / 100


def _onnx_bundle(target: Path, data: bytes, name: str) -> Path:
    """A copy of the heart-disease sample at ``target`` whose card vouches for ``data``."""
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", target)
    (target / "model.skops").unlink()
    (target / "model.onnx").write_bytes(data)
    card = json.loads((target / "card.json").read_text(encoding="utf-8"))
    card["model_id"] = name
    card["model_file"] = "model.onnx"
    card["model_sha256"] = hashlib.sha256(data).hexdigest()
    (target / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return target


def test_load_catalogue_refuses_the_bombs_fast_and_keeps_serving_the_others(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    for name, data in (
        ("matmul-bomb", graphs.matmul_bomb()),
        ("memory-bomb", graphs.memory_bomb()),
        ("sized-by-data", graphs.sized_by_data()),
    ):
        _onnx_bundle(models / name, data, name)
    start = time.perf_counter()
    catalogue = load_catalogue(models)
    took = time.perf_counter() - start
    assert list(catalogue.bundles) == ["heart-disease"]
    assert sorted(catalogue.refused) == ["matmul-bomb", "memory-bomb", "sized-by-data"]
    assert "operations" in catalogue.refused["matmul-bomb"]
    assert "MiB of tensors" in catalogue.refused["memory-bomb"]
    assert "depends on the data" in catalogue.refused["sized-by-data"]
    assert took < 30  # the heart-disease bundle's own load; onnxruntime alone took ~60 s


# --------------------------------------------------------------------------- run-time limits


def test_a_call_past_its_time_limit_is_stopped_by_onnxruntime_and_refused():
    """A graph within the estimate (so loaded) that is slow on a large batch: onnxruntime's
    terminate flag, set by the watchdog, really stops it mid-run."""
    data = graphs.matrix_chain(width=64, products=100)
    free = OnnxClassifier(data)
    rows = pd.DataFrame({"x": np.linspace(0.0, 1.0, 2_000)})
    start = time.perf_counter()
    free.predict_proba(rows)
    per_2000 = time.perf_counter() - start
    limited = OnnxClassifier(data, call_seconds=0.05)
    many = pd.DataFrame({"x": np.linspace(0.0, 1.0, 40_000)})  # ~20x the timed call
    start = time.perf_counter()
    with pytest.raises(ModelBudgetError, match=r"did not finish within its time limit of 0\.05"):
        limited.predict_proba(many)
    stopped_after = time.perf_counter() - start
    assert stopped_after < max(0.5, 5 * per_2000)  # far less than the ~20x a full run takes
    # The session is not spoiled: the next call within its limit is answered.
    assert limited.predict_proba(rows.iloc[:10]).shape == (10, 2)


def test_the_default_time_limit_leaves_a_normal_call_alone():
    model = OnnxClassifier(graphs.logistic())
    rows = pd.DataFrame({"age": np.full(5_000, 70.0), "creatinine": np.full(5_000, 1.2)})
    probs = model.predict_proba(rows)
    assert probs.shape == (5_000, 2) and np.allclose(probs.sum(axis=1), 1.0)


def test_memory_past_the_arena_cap_is_refused_at_once_and_other_models_still_run():
    """Within the estimate at its 10,000 rows; on 30,000 rows it asks 4.8 GB, past the
    shared arena's cap: refused before the memory is taken."""
    wide = OnnxClassifier(graphs.wide_rows(width=40_000))
    other = OnnxClassifier(graphs.logistic())
    rows = pd.DataFrame({"x": np.linspace(0.0, 1.0, 30_000)})
    assert ONNX_ARENA_BYTES < 30_000 * 40_000 * 4
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ModelBudgetError, match="more memory than the model memory limit"):
        wide.predict_proba(rows)
    assert time.perf_counter() - start < 5
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1024
    answer = other.predict_proba(pd.DataFrame({"age": [70.0], "creatinine": [1.2]}))
    assert answer.shape == (1, 2)


def test_a_slow_skops_model_is_refused_and_a_fast_one_passes():
    assert check_skops_speed(0.5, ESTIMATE_ROWS) == pytest.approx(0.5)
    with pytest.raises(ModelBudgetError, match=rf"over the budget of {MAX_BATCH_SECONDS:g} s"):
        check_skops_speed(MAX_BATCH_SECONDS + 1, ESTIMATE_ROWS)
    with pytest.raises(ModelBudgetError, match=r"about 20\.0 s"):
        check_skops_speed(0.2, 100)  # 2 ms a row


# --------------------------------------------------------------------------- output check


def _valid_rows(draw_p):
    return np.column_stack([1 - draw_p, draw_p])


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 1)))
def test_true_probabilities_pass_unchanged(p):
    values = _valid_rows(p)
    assert np.array_equal(check_probabilities(values, rows=len(p)), values)


BAD = st.sampled_from([np.nan, np.inf, -np.inf, -0.01, 1.01, -5.0, 7.0])


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 1)),
    st.data(),
)
def test_any_row_that_is_not_a_probability_is_refused_naming_it(p, data):
    values = _valid_rows(p)
    row = data.draw(st.integers(0, len(p) - 1))
    column = data.draw(st.integers(0, 1))
    values[row, column] = data.draw(BAD)
    with pytest.raises(ModelOutputError, match=rf"(the first: row {row})"):
        check_probabilities(values, rows=len(p))


def test_rows_that_do_not_sum_to_one_are_refused_but_rounding_is_not():
    fine = np.array([[0.3, 0.7 + SUM_TOLERANCE / 2]])
    check_probabilities(fine)
    with pytest.raises(ModelOutputError, match=r"do not sum to 1 for 2 rows \(the first: row 1\)"):
        check_probabilities(np.array([[0.3, 0.7], [0.3, 0.3], [0.5, 0.1]]))
    with pytest.raises(ModelOutputError, match=r"shape \(3,\); expected \(3, classes\)"):
        check_probabilities(np.array([0.1, 0.2, 0.3]), rows=3)
    with pytest.raises(ModelOutputError, match=r"shape \(2, 2\); expected \(3, classes\)"):
        check_probabilities(np.array([[0.5, 0.5], [0.5, 0.5]]), rows=3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (lambda: graphs.logistic(scale=0.5), "do not sum to 1"),
        (lambda: graphs.logistic(scale=-1.0), "outside 0 to 1"),
        (lambda: graphs.logistic(nan_band=(0.0, 100.0)), "not a number"),
    ],
    ids=["non-summing", "negative", "nan"],
)
def test_an_onnx_model_answering_other_than_probabilities_is_refused_on_every_call(data, reason):
    model = OnnxClassifier(data())
    rows = pd.DataFrame({"age": [60.0, 70.0], "creatinine": [1.0, 2.0]})
    with pytest.raises(ModelOutputError, match=reason):
        model.predict_proba(rows)
    with pytest.raises(ModelOutputError, match=reason):
        model.predict_proba_columns({c: rows[c].to_numpy() for c in rows})


# --------------------------------------------------------------------------- create and run


def _cohort(seed: int = 20261206, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(64, 11, n).clip(30, 95).round(),
            "creatinine": rng.lognormal(0.1, 0.4, n).clip(0.3, 6.0).round(2),
        }
    )
    logit = -1.0 + 0.04 * (frame["age"] - 64) + 1.1 * np.log(frame["creatinine"])
    frame["death"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    assert not frame["creatinine"].between(*NAN_BAND, inclusive="neither").any()
    return frame


def _create(folder: Path, model: bytes, model_id: str):
    folder.mkdir(parents=True, exist_ok=True)
    cohort = _cohort()
    cohort.iloc[:250].to_csv(folder / "train.csv", index=False)
    cohort.iloc[250:].to_csv(folder / "test.csv", index=False)
    (folder / "card.toml").write_text(CARD.format(model_id=model_id), encoding="utf-8")
    (folder / "model.onnx").write_bytes(model)
    words = ["bundle", "create", "--model", str(folder / "model.onnx")]
    words += ["--train", str(folder / "train.csv"), "--test", str(folder / "test.csv")]
    words += ["--outcome", "death", "--card", str(folder / "card.toml")]
    words += ["--demo-cases", "2", "--out", str(folder / "bundles" / model_id)]
    return CliRunner().invoke(main, words)


@pytest.mark.parametrize(
    ("scale", "band", "reason"),
    [
        (1.0, (0.0, 100.0), "not a number"),
        (-1.0, None, "outside 0 to 1"),
        (0.5, None, "do not sum to 1"),
    ],
    ids=["nan", "negative", "non-summing"],
)
def test_bundle_create_refuses_a_model_answering_other_than_probabilities(
    tmp_path, scale, band, reason
):
    result = _create(tmp_path, graphs.logistic(scale=scale, nan_band=band), "not-probabilities")
    assert result.exit_code != 0
    assert reason in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "bundles").exists() or not any((tmp_path / "bundles").iterdir())


@pytest.fixture(scope="module")
def nan_region_bundle(tmp_path_factory):
    """A bundle whose model answers NaN only for creatinine inside NAN_BAND: no row of its
    data is there, so create and load pass."""
    folder = tmp_path_factory.mktemp("nan-region")
    result = _create(folder, graphs.logistic(nan_band=NAN_BAND), "nan-region")
    assert result.exit_code == 0, result.output
    return load_bundle(folder / "bundles" / "nan-region")


def test_a_bundle_whose_model_answers_nan_on_its_reference_rows_is_refused_on_load(
    nan_region_bundle, tmp_path
):
    folder = tmp_path / "bundle"
    shutil.copytree(nan_region_bundle.path, folder)
    data = graphs.logistic(nan_band=(0.0, 100.0))  # NaN everywhere
    (folder / "model.onnx").write_bytes(data)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    card["model_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(BundleError, match=r"On the reference data: .*not a number"):
        load_bundle(folder)


def _nan_workflow(tmp_path: Path, bundle):
    data = tmp_path / "data"
    data.mkdir()
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2)
    return make_workflow(data, audit, {bundle.model_id: bundle}), audit


def test_a_case_in_the_nan_region_gets_a_named_refusal_recorded_through_the_door(
    nan_region_bundle, tmp_path
):
    workflow, audit = _nan_workflow(tmp_path, nan_region_bundle)
    try:
        session = UserSession()
        workflow.sign_in(session, "dr.lee", PASSWORD)
        features = nan_region_bundle.features
        fine = validate_inputs({"age": 70, "creatinine": 1.2}, features, source="form")
        report = workflow.show_report(session, "nan-region", fine, patient_ref="MRN-1")
        assert 0 <= report.confidence.probability <= 1
        inside = validate_inputs({"age": 70, "creatinine": 3.005}, features, source="form")
        refusal_words = (
            r"No report for this case: .*\(it returned a probability that is not a number\)"
        )
        with pytest.raises(Refused, match=refusal_words) as refused:
            workflow.show_report(session, "nan-region", inside, patient_ref="MRN-2")
        assert "Traceback" not in str(refused.value)
        entries = list(audit.entries())
        assert [e.action for e in entries] == ["sign_in", "viewed", "report_refused"]
        refusal = entries[-1]
        assert refusal.patient_ref == "MRN-2" and refusal.report_json is None
        detail = refusal.detail()
        assert detail["model_id"] == "nan-region" and "not a number" in detail["reason"]
        assert detail["kind"] == "ModelOutputError"
        assert not audit.verify().broken
        # The model still serves cases outside the region.
        again = workflow.show_report(session, "nan-region", fine, patient_ref="MRN-3")
        assert again.confidence.probability == report.confidence.probability
    finally:
        audit.close()


def test_a_patient_in_the_nan_region_is_told_gently_and_it_is_recorded(nan_region_bundle, tmp_path):
    workflow, audit = _nan_workflow(tmp_path, nan_region_bundle)
    try:
        session = UserSession()
        workflow.sign_in(session, "dr.lee", PASSWORD)
        features = nan_region_bundle.features
        inside = validate_inputs({"age": 70, "creatinine": 3.005}, features, source="form")
        with pytest.raises(Refused):
            workflow.show_report(session, "nan-region", inside, patient_ref="MRN-2")
        with pytest.raises(Unavailable, match="contact your care team"):
            workflow._refuse_model_answer(
                session,
                "nan-region",
                inside,
                ModelOutputError("The model returned NaN", short="it returned NaN"),
                audience="patient",
            )
        assert [e.audience for e in audit.entries()][-2:] == ["clinician", "patient"]
    finally:
        audit.close()


# --------------------------------------------------------------------------- metadata


def _with_metadata(**entries: str) -> bytes:
    model = onnx.load_from_string(graphs.logistic())
    for key, value in entries.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    return model.SerializeToString()


def test_deeply_nested_onnx_metadata_is_refused_by_name_not_a_recursion_error():
    deep = "[" * 100_000 + "]" * 100_000
    model = onnx.load_from_string(graphs.logistic())
    for prop in model.metadata_props:
        if prop.key == "caselens.classes":
            prop.value = deep
    with pytest.raises(BundleError, match=r"metadata caselens\.classes is nested 100000 levels"):
        OnnxClassifier(model.SerializeToString())


def test_too_much_onnx_metadata_is_refused():
    many = {f"note.{i}": "x" for i in range(MAX_METADATA_ENTRIES)}
    with pytest.raises(BundleError, match=rf"the limit is {MAX_METADATA_ENTRIES}"):
        check_onnx_bytes(_with_metadata(**many))
    with pytest.raises(BundleError, match="longer than a bundle's JSON may be"):
        check_onnx_bytes(_with_metadata(note="x" * (3 * 1024 * 1024)))


# --------------------------------------------------------------------------- the report's call


class _OverBudget:
    """A model whose every call is stopped at its limit (as a stalled ONNX call is)."""

    def __init__(self, model) -> None:
        self.classes_ = model.classes_
        self.calls = 0

    def predict_proba(self, frame):
        self.calls += 1
        raise ModelBudgetError("The ONNX model did not finish within its time limit")


def test_a_report_call_over_budget_is_not_retried_part_by_part(nan_region_bundle):
    """The batch call failing for any other reason is retried for the case, SHAP and LIME
    alone (to name the failing part); a call stopped at its limit is not: three more
    stalls would only make the person wait four times as long."""
    from caselens.explain.attribution import Attributor

    model = _OverBudget(nan_region_bundle.model)
    schema = nan_region_bundle.features
    attributor = Attributor(model, nan_region_bundle.reference.iloc[:50], schema)
    case = validate_inputs({"age": 70, "creatinine": 1.2}, schema, source="form").to_frame()
    with pytest.raises(ModelBudgetError, match="time limit"):
        attributor.explain(case[schema.names])
    assert model.calls == 1
