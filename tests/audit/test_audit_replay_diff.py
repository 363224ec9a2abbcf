"""Replay diff: field-by-field comparison of a stored and a recomputed report."""

from __future__ import annotations

import math

import pytest

from caselens.audit import COMPARISON_OUTCOMES, FieldDiff, compare_reports, diff_reports
from caselens.audit.replay_diff import MISSING
from caselens.numeric_tolerance import NUMERIC_TOLERANCE

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


# --- three outcomes: identical, within tolerance, differs --------------------------------


def test_identical_reports_compare_identical():
    comparison = compare_reports(REPORT, dict(REPORT))
    assert comparison.outcome == "identical" and comparison.reproduces
    assert comparison.largest_difference == 0.0 and comparison.differences == ()


def test_last_bit_differences_are_within_tolerance_and_the_largest_is_named():
    fresh = {
        **REPORT,
        "probability": {"calibrated": math.nextafter(0.17, 1), "baseline": 0.21 + 4e-16},
    }
    comparison = compare_reports(REPORT, fresh)
    assert comparison.outcome == "within_tolerance" and comparison.reproduces
    assert comparison.largest_difference_path == "/probability/baseline"
    assert 3e-16 < comparison.largest_difference < 5e-16
    assert [d.path for d in comparison.tolerated] == [
        "/probability/baseline",
        "/probability/calibrated",
    ]
    assert f"{NUMERIC_TOLERANCE:g}" in comparison.summary()


def test_a_number_beyond_the_tolerance_differs():
    fresh = {
        **REPORT,
        "probability": {"calibrated": 0.17 + 10 * NUMERIC_TOLERANCE, "baseline": 0.21 + 1e-16},
    }
    comparison = compare_reports(REPORT, fresh)
    assert comparison.outcome == "differs" and not comparison.reproduces
    assert [d.path for d in comparison.differences] == ["/probability/calibrated"]
    assert "/probability/calibrated" in comparison.summary()


def test_the_tolerance_is_relative_for_numbers_above_one():
    assert compare_reports({"x": 2000.0}, {"x": 2000.0 + 1e-7}).outcome == "within_tolerance"
    assert compare_reports({"x": 2000.0}, {"x": 2000.001}).outcome == "differs"
    assert compare_reports({"n": 100}, {"n": 101}).outcome == "differs"


def test_a_word_or_a_flag_always_differs_even_beside_tolerated_numbers():
    fresh = {
        **REPORT,
        "text": "About 18 out of 100.",
        "probability": {"calibrated": 0.17 + 1e-16, "baseline": 0.21},
    }
    comparison = compare_reports(REPORT, fresh)
    assert comparison.outcome == "differs"
    assert [d.path for d in comparison.differences] == ["/text"]


def test_a_changed_digest_is_tolerated_only_with_the_numbers_it_covers():
    stored = {"report_id": "aaa", "p": 0.5}
    assert compare_reports(stored, {"report_id": "bbb", "p": 0.5 + 1e-16}).outcome == (
        "within_tolerance"
    )
    alone = compare_reports(stored, {"report_id": "bbb", "p": 0.5})
    assert alone.outcome == "differs"
    assert [d.path for d in alone.differences] == ["/report_id"]


@pytest.mark.parametrize(
    ("a", "b", "outcome"),
    [
        (float("nan"), float("nan"), "identical"),
        (float("nan"), 0.5, "differs"),
        (float("inf"), float("inf"), "identical"),
        (float("inf"), 1e308, "differs"),
        (True, 1, "differs"),
        (None, 0.0, "differs"),
    ],
)
def test_special_values(a, b, outcome):
    assert compare_reports({"x": a}, {"x": b}).outcome == outcome


def test_every_outcome_is_one_of_the_documented_three():
    assert set(COMPARISON_OUTCOMES) == {"identical", "within_tolerance", "differs"}
    detail = compare_reports(REPORT, dict(REPORT)).record_detail()
    assert detail["outcome"] in COMPARISON_OUTCOMES
    assert detail["tolerance"] == NUMERIC_TOLERANCE
