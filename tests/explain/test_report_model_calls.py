"""One report, one model call: counted with a real estimator around a real model; the sample
demo reports' numbers are those computed before the calls were batched (within tolerance)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from caselens.audit import compare_reports
from caselens.explain.attribution import Attributor, select_background
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer, CaseReport, reproducible_digest

EXPECTED = Path(__file__).parents[1] / "data" / "expected_demo_numbers.json"
FIXED_NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
#: Every LIME neighbourhood row, every SHAP coalition and the case, in one call.
MAX_MODEL_CALLS = 1


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """A fitted classifier that delegates to ``inner`` and counts ``predict_proba`` calls.

    ``max_rows``: calls with more rows than this raise, as a model that cannot take a batch.
    """

    def __init__(self, inner=None, max_rows=None):
        self.inner = inner
        self.max_rows = max_rows

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.inner.classes_

    def reset(self):
        self.calls_, self.rows_ = 0, []

    def predict_proba(self, X):
        self.calls_ = getattr(self, "calls_", 0) + 1
        self.rows_ = [*getattr(self, "rows_", []), len(X)]
        if self.max_rows is not None and len(X) > self.max_rows:
            raise MemoryError(f"{len(X)} rows at once")
        return self.inner.predict_proba(X)


def _demo_cases(bundle):
    return [
        validate_inputs(d.inputs, bundle.features, source="demo", case_id=d.case_id)
        for d in bundle.demo_cases
    ]


@pytest.fixture(scope="module")
def explainers(sample_bundles):
    return {m: CaseExplainer(b) for m, b in sample_bundles.items()}


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_a_report_asks_the_model_once_and_records_rows_and_calls(
    sample_bundles, explainers, model_id
):
    bundle = sample_bundles[model_id]
    counting = CountingClassifier(bundle.model)
    explainer = CaseExplainer(dataclasses.replace(bundle, model=counting))
    for case in _demo_cases(bundle)[:3]:
        counting.reset()
        report = explainer.explain(case, now=FIXED_NOW)
        assert counting.calls_ <= MAX_MODEL_CALLS, counting.rows_
        assert report.provenance.model_calls == counting.calls_
        assert report.provenance.model_rows_per_report == sum(counting.rows_)
        # LIME's runs × samples, SHAP's background rows and coalitions, and the case.
        lime = report.attributions.lime
        shap = report.attributions.shap
        assert counting.rows_ == [lime.runs * lime.num_samples + shap.model_evaluations - 1 + 1]
        # Same numbers as the bundle's own model (the wrapper hides the logistic regression,
        # so the log-odds column is absent: compare the numbers shown).
        plain = explainers[model_id].explain(case, now=FIXED_NOW)
        assert report.probability == plain.probability
        assert shap.contributions == plain.attributions.shap.contributions
        assert shap.baseline == plain.attributions.shap.baseline
        assert lime.weights == plain.attributions.lime.weights
        assert lime.fidelity_r2 == plain.attributions.lime.fidelity_r2


def test_a_model_that_refuses_the_batch_is_asked_part_by_part_and_the_parts_report_failure(
    heart_bundle,
):
    counting = CountingClassifier(heart_bundle.model, max_rows=1)
    background = select_background(
        heart_bundle.reference, size=30, seed=0, columns=heart_bundle.features.names
    )
    frame = _demo_cases(heart_bundle)[0].to_frame()
    result = Attributor(counting, background, heart_bundle.features).explain(frame)
    # The batch (refused), then the case, SHAP's rows and LIME's rows alone (both refused).
    assert counting.calls_ == result.usage.calls == 4
    assert counting.rows_[1] == 1
    assert result.probability == float(heart_bundle.model.predict_proba(frame)[0, 1])
    assert result.attributions.shap.status == "failed"
    assert "MemoryError" in result.attributions.shap.failure_reason
    assert result.attributions.lime.status == "failed"
    assert "MemoryError" in result.attributions.lime.failure_reason


def _numbers(report) -> dict:
    """The numbers batching could move: the probability and every SHAP and LIME value."""
    attributions = report.attributions
    return {
        "probability": report.probability,
        "shap": {c.name: c.value for c in attributions.shap.contributions},
        "lime": {w.name: w.value for w in attributions.lime.weights},
    }


def test_sample_demo_reports_are_unchanged_additive_and_deterministic(sample_bundles, explainers):
    # The numbers equal those of the code before batching (checked when they were recorded,
    # see the file's note). They are compared
    # within the numeric tolerance (as a re-run is), not bit for bit: another CPU or BLAS
    # may move the last bits, and report text may change on purpose without moving them.
    expected = json.loads(EXPECTED.read_text("utf-8"))["numbers"]
    seen = set()
    for model_id, bundle in sample_bundles.items():
        for case in _demo_cases(bundle):
            key = f"{model_id}/{case.case_id}"
            report = explainers[model_id].explain(case, now=FIXED_NOW)
            again = explainers[model_id].explain(case, now=FIXED_NOW)
            shap = report.attributions.shap
            total = shap.baseline + sum(c.value for c in shap.contributions)
            assert abs(total - report.probability) <= 1e-6, key
            # The case's row of the one call: the model's own number for the case (a
            # logistic regression's BLAS product may round the last bit differently in a
            # batch than in a one-row call; a tree model's is the same bit for bit).
            alone = float(bundle.model.predict_proba(case.to_frame()[bundle.features.names])[0, 1])
            assert abs(report.probability - alone) <= 1e-15, key
            if model_id == "readmission-30d":
                assert report.probability == alone, key
            assert report.report_id == again.report_id, key
            assert report.report_id == reproducible_digest(json.loads(report.to_json()))
            comparison = compare_reports(expected[key], _numbers(report))
            assert comparison.reproduces, f"{key}: {comparison.summary()}"
            seen.add(key)
    assert seen == set(expected)


def test_a_report_recorded_before_the_call_counts_existed_still_reads_and_keeps_its_id(
    heart_bundle, explainers
):
    case = _demo_cases(heart_bundle)[0]
    data = json.loads(explainers["heart-disease"].explain(case, now=FIXED_NOW).to_json())
    for name in ("model_rows_per_report", "model_calls"):
        data["provenance"].pop(name)
    old = CaseReport.from_json(json.dumps(data))
    assert old.provenance.model_calls is None and old.provenance.model_rows_per_report is None
    assert reproducible_digest(json.loads(old.to_json())) == old.report_id


def _regenerate() -> None:  # pragma: no cover - run by hand, see the module docstring
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    numbers = {}
    for model_id in ("heart-disease", "readmission-30d"):
        bundle = load_bundle(SAMPLE_MODELS_DIR / model_id)
        explainer = CaseExplainer(bundle)
        for case in _demo_cases(bundle):
            report = explainer.explain(case, now=FIXED_NOW)
            numbers[f"{model_id}/{case.case_id}"] = _numbers(report)
    data = {
        "note": "Probability, SHAP and LIME values of every sample demo case. Recorded when "
        "the model calls were batched, after checking they equal the unbatched code's bit for "
        "bit (commit bfcb245); compared within the numeric tolerance.",
        "numbers": numbers,
    }
    EXPECTED.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":  # pragma: no cover
    _regenerate()
    sys.exit(0)
