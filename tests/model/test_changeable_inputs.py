"""The card's statement of which inputs can change: validated, checked against the schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caselens.model import load_bundle
from caselens.model.card_check import check_card
from caselens.model.changeable_inputs import (
    NO_STATEMENT_REASON,
    NONE_MODIFIABLE_REASON,
    ChangeableInput,
    changeable_input_problems,
    modifiable_inputs,
    no_counterfactual_reason,
)


@pytest.fixture(scope="module")
def heart():
    return load_bundle("sample_models/heart-disease")


def test_samples_state_their_changeable_inputs(heart) -> None:
    statements = heart.card.changeable_inputs
    assert modifiable_inputs(statements) == ("resting_bp", "cholesterol", "fasting_glucose_high")
    assert set(statements) == set(heart.features.names)
    assert changeable_input_problems(statements, heart.features) == []
    readmission = load_bundle("sample_models/readmission-30d")
    assert set(modifiable_inputs(readmission.card.changeable_inputs)) == {
        "time_in_hospital",
        "discharge_to",
    }
    assert not readmission.card_problems


def test_not_modifiable_takes_no_bounds() -> None:
    with pytest.raises(ValidationError, match="not modifiable takes no"):
        ChangeableInput(modifiable=False, why="Age cannot change.", lower=20)
    with pytest.raises(ValidationError, match=r"lower .* is above upper"):
        ChangeableInput(modifiable=True, why="x", lower=200, upper=100)
    with pytest.raises(ValidationError, match="finite"):
        ChangeableInput(modifiable=True, why="x", upper=float("inf"))
    with pytest.raises(ValidationError):
        ChangeableInput(modifiable=True, why="")


def test_statements_that_do_not_fit_the_schema_are_named(heart) -> None:
    problems = changeable_input_problems(
        {
            "cholestrol": ChangeableInput(modifiable=True, why="typo"),
            "resting_bp": ChangeableInput(modifiable=True, why="x", lower=20, upper=400),
            "sex": ChangeableInput(modifiable=True, why="x", direction="down"),
            "chest_pain": ChangeableInput(modifiable=True, why="x", to_categories=("Severe",)),
            "age": ChangeableInput(modifiable=True, why="x", to_categories=("40",)),
        },
        heart.features,
    )
    text = "\n".join(problems)
    assert "changeable_inputs.cholestrol: 'cholestrol' is not an input" in text
    assert "changeable_inputs.resting_bp.lower: 20 is below the input's hard minimum 50" in text
    assert "changeable_inputs.resting_bp.upper: 400 is above the input's hard maximum 300" in text
    assert "changeable_inputs.sex.direction: 'down' has no meaning for a category" in text
    assert "changeable_inputs.chest_pain.to_categories: 'Severe' not among" in text
    assert "changeable_inputs.age.to_categories: 'age' is a number input" in text
    assert len(problems) == 6


def test_a_card_statement_that_does_not_fit_is_a_card_problem(heart) -> None:
    card = heart.card.model_copy(
        update={"changeable_inputs": {"weight": ChangeableInput(modifiable=True, why="x")}}
    )
    checked = check_card(card, heart.features, heart.model, heart.reference)
    assert any("changeable_inputs.weight" in p for p in checked.problems)


def test_no_statement_no_counterfactual() -> None:
    assert no_counterfactual_reason(None) == NO_STATEMENT_REASON
    fixed = {"age": ChangeableInput(modifiable=False, why="Age cannot change.")}
    assert no_counterfactual_reason(fixed) == NONE_MODIFIABLE_REASON
    assert no_counterfactual_reason({"x": ChangeableInput(modifiable=True, why="y")}) is None
