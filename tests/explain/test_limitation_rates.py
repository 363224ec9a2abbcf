"""Limitation rates over reference rows: the cheap count, row selection, and the cap."""

from __future__ import annotations

import datetime as dt

from caselens.explain.limitation_rates import (
    DEFAULT_MAX_ROWS,
    EXPLANATION_CODES,
    limitation_rates,
    reference_rows,
)
from caselens.explain.limitations import MAX_CASE_RATE, NEAR_THRESHOLD_MAX_SHARE

TODAY = dt.date(2026, 11, 25)


def test_small_reference_uses_every_row_big_one_a_seeded_sample(heart, readmission):
    assert len(reference_rows(heart).frame) == len(heart.reference)
    sample = reference_rows(readmission)
    assert len(sample.frame) == DEFAULT_MAX_ROWS and sample.sampled
    assert "seeded sample of 500" in sample.describe()
    again = reference_rows(readmission)
    assert list(again.frame.index) == list(sample.frame.index)
    assert len(reference_rows(readmission, 40).frame) == 40


def test_cheap_rates_on_the_other_family_bundles_stay_under_the_cap(other_family_bundles):
    for bundle in other_family_bundles.values():
        table = limitation_rates(bundle, today=TODAY)
        assert not table.over_cap(), table.over_cap()
        assert table.not_counted == EXPLANATION_CODES
        near = table.alarm_rates().get("NEAR_THRESHOLD", 0.0)
        assert 0 < near <= NEAR_THRESHOLD_MAX_SHARE + 0.01
        codes = {rate.code for rate in table.rates}
        assert "SMALL_SUBGROUP" not in codes
        standing = {rate.code for rate in table.rates if rate.standing}
        assert {"DEMONSTRATION_MODEL", "OUT_OF_SCOPE"} <= standing


def test_heart_subgroups_are_stated_once_not_per_case(heart):
    table = limitation_rates(heart, today=TODAY)
    assert "SMALL_SUBGROUP" not in {rate.code for rate in table.rates}
    standing = {lim.code: lim for lim in table.standing}
    assert {"SMALL_SUBGROUPS", "SMALL_TEST_SET", "NEAR_THRESHOLD_BAND"} <= set(standing)
    assert "sex = Female (19 patients, 6 events)" in standing["SMALL_SUBGROUPS"].clinician_text
    assert all(lim.standing for lim in table.standing)
    for code, rate in table.alarm_rates().items():
        assert rate <= MAX_CASE_RATE, (code, rate)


def test_printed_table_has_code_severity_count_and_percent(heart):
    lines = limitation_rates(heart, today=TODAY).lines()
    text = "\n".join(lines)
    assert "all 61 reference rows" in text
    assert "NEAR_THRESHOLD" in text and "/61" in text and "%" in text
    assert "not counted (need SHAP and LIME; run --deep)" in text
    assert "Standing limitations (stated once" in text
