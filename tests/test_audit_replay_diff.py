"""Replay diff: field-by-field comparison of a stored and a recomputed report."""

from __future__ import annotations

import pytest

from caselens.audit import FieldDiff, diff_reports
from caselens.audit.replay_diff import MISSING

REPORT = {
    "probability": {"calibrated": 0.17, "baseline": 0.21},
    "contributions": [{"feature": "age", "shap": 0.03}, {"feature": "bmi", "shap": -0.01}],
    "timings": {"shap_ms": 12.0},
    "created_at": "2026-01-01T00:00:00.000Z",
    "text": "About 17 out of 100.",
}


def test_identical_reports_have_no_differences():
    assert diff_reports(REPORT, dict(REPORT)) == []


def test_ignored_fields_do_not_count_at_any_depth():
    fresh = {**REPORT, "timings": {"shap_ms": 99.0}, "created_at": "later"}
    assert diff_reports(REPORT, fresh) == []
    nested = {"a": {"timings": 1}}
    assert diff_reports(nested, {"a": {"timings": 2}}) == []


def test_nested_value_change_is_reported_with_its_path():
    fresh = {
        **REPORT,
        "contributions": [{"feature": "age", "shap": 0.04}, REPORT["contributions"][1]],
    }
    assert diff_reports(REPORT, fresh) == [FieldDiff("/contributions/0/shap", 0.03, 0.04)]


def test_added_removed_and_retyped_fields_are_reported():
    stored = {"a": 1, "b": [1, 2], "c": "x", "d": True}
    fresh = {"a": 1.0, "b": [1], "e": None, "d": 1}
    assert diff_reports(stored, fresh, ignore=()) == [
        FieldDiff("/b/1", 2, MISSING),
        FieldDiff("/c", "x", MISSING),
        FieldDiff("/d", True, 1),
        FieldDiff("/e", MISSING, None),
    ]


@pytest.mark.parametrize(("a", "b"), [({"x": {}}, {"x": []}), ({"x": "1"}, {"x": 1})])
def test_different_kinds_of_value_differ(a, b):
    assert len(diff_reports(a, b)) == 1


def test_nan_equals_nan():
    assert diff_reports({"x": float("nan")}, {"x": float("nan")}) == []


def test_keys_with_slashes_are_escaped_in_paths():
    assert diff_reports({"a/b": 1}, {"a/b": 2})[0].path == "/a~1b"
