"""The numeric tolerance that tells "reproduces on another machine" from "differs"."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caselens.numeric_tolerance import NUMERIC_TOLERANCE, numeric_difference, within_tolerance


def test_the_tolerance_is_far_above_float_noise_and_far_below_what_is_shown():
    # Shown probabilities have 0.1-point resolution (1e-3); float noise is about 1e-16.
    assert 1e-15 < NUMERIC_TOLERANCE < 1e-6


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_a_last_bit_change_is_always_within_tolerance(x):
    assert within_tolerance(x, math.nextafter(x, math.inf))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0.1, 0.1, 0.0),
        (0.5, 0.25, 0.25),
        (8.0, 10.0, 0.2),
        (-3.0, -3.0, 0.0),
        (float("nan"), float("nan"), 0.0),
        (float("nan"), 1.0, math.inf),
        (float("inf"), float("inf"), 0.0),
        (float("-inf"), float("inf"), math.inf),
    ],
)
def test_difference_is_absolute_up_to_one_and_relative_above(a, b, expected):
    assert numeric_difference(a, b) == expected


def test_a_clinically_visible_change_is_not_within_tolerance():
    assert not within_tolerance(0.067, 0.068)
    assert not within_tolerance(0.5, 0.5 + 2 * NUMERIC_TOLERANCE)
