"""The app benchmark's cheap parts (the browser run itself is ``caselens bench app``)."""

from __future__ import annotations

from itertools import pairwise

import pytest

from caselens.bench.app import _percentile, demo_options, expected_probabilities, model_label


def test_expected_probabilities_match_the_demo_options():
    heart = expected_probabilities("heart-disease")
    assert list(heart) == demo_options("heart-disease")
    assert heart["H-01 — Low risk, woman"] == "6.7%"
    # The timed cases (the first five, after the last as warm-up) change the shown value
    # at every step, so each wait sees the new report and not the previous one.
    for model in ("heart-disease", "readmission-30d"):
        values = list(expected_probabilities(model).values())
        timed = [values[-1], *values[:5]]
        assert all(a != b for a, b in pairwise(timed))


def test_model_label_is_the_case_page_option():
    assert model_label("heart-disease") == "Heart disease at angiography (heart-disease 1.0.0)"


def test_percentile():
    assert _percentile([1.0], 95) == 1.0
    assert _percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)
