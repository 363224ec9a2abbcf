"""A count named to the patient never reads "1 stays": the card's unit is one plural word."""

from __future__ import annotations

import pytest

from caselens.explain.patient_summary import _card_factor


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("en", "Hospital stays in the past year (1)", "Hospital stays in the past year (2 stays)"),
        (
            "es",
            "Ingresos en el hospital en el último año (1)",
            "Ingresos en el hospital en el último año (2 ingresos)",
        ),
    ],
)
def test_a_count_of_one_stands_without_the_plural_unit(readmission_bundle, language, one, two):
    spec = readmission_bundle.features["number_inpatient"]
    words = readmission_bundle.card.patient_texts[language].inputs["number_inpatient"]
    assert _card_factor(spec, words, 1.0, language) == one
    assert _card_factor(spec, words, 2.0, language) == two
    assert _card_factor(spec, words, 0.0, language).endswith(f" {words.unit})")
