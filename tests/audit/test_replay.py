"""Replay and re-run of an audited display, with real reports in a real SQLite trail.

A re-run has three outcomes: identical (same machine), within numerical tolerance (the last
bits of floats changed, as on another CPU or BLAS build) and differs (each field named).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from caselens.access.policy import Viewer
from caselens.audit import AuditStore
from caselens.audit.replay import replay_entry, rerun_entry
from caselens.errors import CaseLensError
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer, CaseReport, reproducible_digest
from caselens.numeric_tolerance import NUMERIC_TOLERANCE
from caselens.workflow.display import record_display

KEY = bytes.fromhex("33" * 32)
CLINICIAN = Viewer(user_id="dr.lee", name="Dr. Ana Lee", role="clinician")


@pytest.fixture(scope="module")
def heart_report(sample_bundles) -> CaseReport:
    bundle = sample_bundles["heart-disease"]
    demo = bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return CaseExplainer(bundle).explain(case)


@pytest.fixture()
def store(tmp_path):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as opened:
        yield opened


def _recorded(store: AuditStore, report_json: str):
    """Record a display of this report JSON as the clinician saw it; the stored entry."""
    entry = record_display(
        store, CaseReport.from_json(report_json), CLINICIAN, audience="clinician"
    )
    return store.get(entry.seq)


def _map_floats(data: Any, change: Callable[[str, float], float], path: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _map_floats(v, change, f"{path}/{k}") for k, v in data.items()}
    if isinstance(data, list):
        return [_map_floats(v, change, f"{path}/{i}") for i, v in enumerate(data)]
    if isinstance(data, float):
        return change(path, data)
    return data


def _last_bit_noise(path: str, value: float) -> float:
    # What another CPU or BLAS build does to a full-precision float; the 6-decimal rounded
    # figures and the timings are left alone (rounding hides a last-bit change).
    if "timings_ms" in path or value == round(value, 6):
        return value
    return math.nextafter(value, math.inf)


def test_replay_rebuilds_the_stored_report_and_says_to_whom_and_when(store, heart_report):
    entry = _recorded(store, heart_report.to_json())
    replay = replay_entry(entry)
    assert replay.report == heart_report
    assert replay.heading.startswith("As shown to Dr. Ana Lee (clinician) on ")
    assert replay.heading.endswith(" UTC")


def test_an_entry_without_a_report_cannot_be_replayed(store):
    from caselens.workflow.display import record_event

    entry = record_event(store, CLINICIAN, action="sign_in", audience="clinician")
    with pytest.raises(CaseLensError, match="recorded no report"):
        replay_entry(store.get(entry.seq))


def test_rerun_on_the_same_machine_is_identical(store, heart_report, sample_bundles):
    entry = _recorded(store, heart_report.to_json())
    rerun = rerun_entry(entry, sample_bundles.values())
    assert rerun.outcome == "identical"
    assert rerun.comparison.largest_difference == 0.0
    assert rerun.message.startswith("Reproduces, identical")
    assert rerun.record_detail()["outcome"] == "identical"


def test_rerun_of_a_report_whose_floats_differ_in_the_last_bit_is_within_tolerance(
    store, heart_report, sample_bundles
):
    noisy = _map_floats(json.loads(heart_report.to_json()), _last_bit_noise)
    noisy["report_id"] = reproducible_digest(noisy)  # as that other machine computed it
    assert noisy["report_id"] != heart_report.report_id
    entry = _recorded(store, json.dumps(noisy))
    rerun = rerun_entry(entry, sample_bundles.values())
    comparison = rerun.comparison
    assert comparison.outcome == "within_tolerance"
    assert 0 < comparison.largest_difference <= 1e-15
    paths = {d.path for d in comparison.tolerated}
    assert "/confidence/probability" in paths
    assert "/attributions/shap/contributions/0/value" in paths
    assert "/report_id" in paths  # a digest of the numbers changes with them
    assert str(NUMERIC_TOLERANCE) in rerun.message or f"{NUMERIC_TOLERANCE:g}" in rerun.message
    detail = rerun.record_detail()
    assert detail["outcome"] == "within_tolerance"
    assert detail["tolerance"] == NUMERIC_TOLERANCE
    assert detail["largest_difference"] == comparison.largest_difference


def test_rerun_of_a_report_with_a_changed_probability_differs_and_names_the_field(
    store, heart_report, sample_bundles
):
    data = json.loads(heart_report.to_json())
    data["confidence"]["probability"] += 0.01
    data["narrative"]["clinician_summary"] += " (edited)"
    entry = _recorded(store, json.dumps(data))
    rerun = rerun_entry(entry, sample_bundles.values())
    assert rerun.outcome == "differs"
    paths = [d.path for d in rerun.comparison.differences]
    assert "/confidence/probability" in paths
    assert "/narrative/clinician_summary" in paths
    assert "/confidence/probability" in rerun.message
    assert rerun.record_detail()["differences"] == paths


def test_rerun_says_so_when_the_model_version_is_no_longer_available(store, heart_report):
    entry = _recorded(store, heart_report.to_json())
    rerun = rerun_entry(entry, [])
    assert not rerun.available and rerun.outcome == "unavailable"
    assert "no longer available" in rerun.message
    assert rerun.record_detail() == {"available": False, "outcome": "unavailable"}
