"""UCUM units through ucumvert/pint: conversions, refusals naming both units, and fuzzing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.errors import CaseLensError, UnitError
from caselens.model.ucum_units import MAX_UNIT_LENGTH, convert_quantity, is_ucum

CHOLESTEROL_G_PER_MOL = 386.65
GLUCOSE_G_PER_MOL = 180.16


def test_unit_error_is_a_caselens_error() -> None:
    assert issubclass(UnitError, CaseLensError)


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        (120.0, "mm[Hg]", "mm[Hg]", 120.0),
        (16.0, "kPa", "mm[Hg]", 120.0099),
        (1.0, "g/L", "mg/dL", 100.0),
        (37.0, "Cel", "[degF]", 98.6),
        (2.0, "a", "d", 730.5),
        (1.0, "10*3/uL", "10*9/L", 1.0),
        (150.0, "/min", "{beats}/min", 150.0),
        (7.5, "%{HbA1c}", "%", 7.5),
    ],
)
def test_converts_within_one_kind(value: float, from_unit: str, to_unit: str, expected: float):
    assert convert_quantity(value, from_unit, to_unit) == pytest.approx(expected, rel=1e-4)


def test_cholesterol_mass_and_substance_need_the_molar_mass() -> None:
    mmol = convert_quantity(200.0, "mg/dL", "mmol/L", molar_mass_g_per_mol=CHOLESTEROL_G_PER_MOL)
    assert mmol == pytest.approx(5.1726, rel=1e-4)
    glucose = convert_quantity(7.0, "mmol/L", "mg/dL", molar_mass_g_per_mol=GLUCOSE_G_PER_MOL)
    assert glucose == pytest.approx(126.11, rel=1e-4)
    with pytest.raises(UnitError, match=r"'mg/dL' to 'mmol/L' without the substance's molar"):
        convert_quantity(200.0, "mg/dL", "mmol/L")


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "words"),
    [
        ("mmHg", "mm[Hg]", "'mmHg' is not a UCUM unit"),
        ("mm[Hg]", "mm Hg", "'mm Hg' is not a UCUM unit"),
        ("kg", "m", "'kg' to 'm': they measure different things"),
        ("mmol/mol", "%", "'mmol/mol' to '%': both are ratios but of different things"),
        ("Cel/min", "[degF]/min", "'Cel/min' cannot be converted to or from '[degF]/min'"),
        ("x" * (MAX_UNIT_LENGTH + 1), "g", "longer than 64 characters"),
    ],
)
def test_refusals_name_the_units(from_unit: str, to_unit: str, words: str) -> None:
    with pytest.raises(UnitError) as caught:
        convert_quantity(1.0, from_unit, to_unit)
    assert words in str(caught.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "5"])
def test_value_must_be_a_finite_number(value: object) -> None:
    with pytest.raises(UnitError, match="finite number"):
        convert_quantity(value, "kg", "g")  # type: ignore[arg-type]


def test_overflow_is_refused_not_infinite() -> None:
    with pytest.raises(UnitError, match="too large"):
        convert_quantity(1e308, "kg", "ug")


def test_bad_molar_mass_is_refused() -> None:
    with pytest.raises(UnitError, match="molar mass must be a positive number"):
        convert_quantity(1.0, "mg/dL", "mmol/L", molar_mass_g_per_mol=-1.0)


def test_is_ucum_is_case_sensitive_and_strict() -> None:
    assert is_ucum("mm[Hg]") and is_ucum("mg/dL") and is_ucum("mmol/L") and is_ucum("%")
    assert not is_ucum("mmHg") and not is_ucum("") and not is_ucum("mm Hg")
    assert not is_ucum(12)  # type: ignore[arg-type]
    assert not is_ucum("MG/DL")  # UCUM's 'MG' is not milligram: no such unit


UNIT_ALPHABET = st.text(alphabet="mgdLkPaHg[]{}/.*%0123456789lu_ -^()!'", max_size=20)
KNOWN_UNITS = ["mg/dL", "mmol/L", "g/L", "umol/L", "mm[Hg]", "kPa", "%", "/min", "a", "d", "Cel"]


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()),
    from_unit=st.one_of(UNIT_ALPHABET, st.sampled_from(KNOWN_UNITS)),
    to_unit=st.one_of(UNIT_ALPHABET, st.sampled_from(KNOWN_UNITS)),
    molar=st.one_of(st.none(), st.floats(min_value=1.0, max_value=1e4)),
)
def test_never_raises_anything_but_unit_error(
    value: float, from_unit: str, to_unit: str, molar: float | None
) -> None:
    try:
        result = convert_quantity(value, from_unit, to_unit, molar_mass_g_per_mol=molar)
    except UnitError:
        return
    assert math.isfinite(result)


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    pair=st.sampled_from(
        [("mg/dL", "mmol/L"), ("mm[Hg]", "kPa"), ("Cel", "[degF]"), ("g/L", "mg/dL"), ("a", "d")]
    ),
)
def test_round_trip_returns_the_value(value: float, pair: tuple[str, str]) -> None:
    there = convert_quantity(value, *pair, molar_mass_g_per_mol=CHOLESTEROL_G_PER_MOL)
    back = convert_quantity(there, *reversed(pair), molar_mass_g_per_mol=CHOLESTEROL_G_PER_MOL)
    assert back == pytest.approx(value, rel=1e-9, abs=1e-9)
