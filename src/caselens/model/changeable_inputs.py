"""What the model's owners state about changing each input, for "what would change it?".

A counterfactual ("if only these values were different, the model's estimate would be p%")
is only honest when it changes what a patient's care can change. CaseLens never guesses
which inputs those are: the card states it per input (``changeable_inputs`` in card.json),
and a model whose card states nothing offers no counterfactual, saying why
(:data:`NO_STATEMENT_REASON`).

Each statement says whether the input is modifiable (age, sex, history are not), the
direction a change may take, the clinically plausible bounds (inside the schema's hard
limits; the search also stays inside the training range) and an optional cost weight
(a larger weight makes the search prefer other inputs). ``bundle check`` refuses a
statement that does not fit the schema (:func:`changeable_input_problems`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caselens.model.features import FeatureSchema, FeatureSpec

#: 'up': only to a larger number (or from no to yes); 'down': only smaller (yes to no);
#: 'either': both ways. For a category input only 'either' applies (categories have no
#: order); ``to_categories`` says where it may go.
ChangeDirection = Literal["up", "down", "either"]

#: Why a model offers no counterfactual when its card says nothing about its inputs.
NO_STATEMENT_REASON = (
    "This model's owners have not stated which of its inputs can change in practice, in "
    "which direction or within which limits, so CaseLens does not search for values that "
    "would change its result."
)
#: Why a model offers none when its owners state that no input can change.
NONE_MODIFIABLE_REASON = (
    "This model's owners state that none of its inputs can be changed in practice, so there "
    "is no counterfactual to search for."
)
#: Highest cost weight accepted: beyond it an input is better stated as not modifiable.
MAX_COST_WEIGHT = 100.0


class ChangeableInput(BaseModel):
    """The owners' statement about changing one input.

    ``why`` is shown to the clinician beside any counterfactual that uses (or cannot use)
    the input, e.g. 'Cholesterol can be lowered by diet and medicines' or 'Age cannot be
    changed'.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    modifiable: bool
    why: str = Field(min_length=1, max_length=500)
    direction: ChangeDirection = "either"
    #: Clinically plausible lowest / highest value a counterfactual may use (number and
    #: integer inputs); None: the schema's hard limit and the training range only.
    lower: float | None = None
    upper: float | None = None
    #: Category inputs: the categories a counterfactual may change it to; None: any.
    to_categories: tuple[str, ...] | None = None
    #: How costly a change of one spread (one standard deviation, or one category step) is
    #: compared with other inputs; 1 is the default.
    cost_weight: float = Field(default=1.0, gt=0, le=MAX_COST_WEIGHT)

    @model_validator(mode="after")
    def _consistent(self) -> ChangeableInput:
        if not self.modifiable and (
            self.direction != "either"
            or self.lower is not None
            or self.upper is not None
            or self.to_categories is not None
            or self.cost_weight != 1.0
        ):
            raise ValueError(
                "an input stated as not modifiable takes no direction, bounds, categories or "
                "cost weight"
            )
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower ({self.lower:g}) is above upper ({self.upper:g})")
        if self.to_categories is not None and not self.to_categories:
            raise ValueError("to_categories is empty; leave it out to allow every category")
        return self


def changeable_input_problems(
    statements: dict[str, ChangeableInput] | None, schema: FeatureSchema
) -> list[str]:
    """Every way the card's ``changeable_inputs`` does not fit the schema, one line each
    naming the input, the field, what is wrong and what is expected; [] when it fits or the
    card states nothing."""
    if statements is None:
        return []
    problems: list[str] = []
    by_name = {f.name: f for f in schema.features}
    for name, statement in statements.items():
        feature = by_name.get(name)
        if feature is None:
            problems.append(
                f"changeable_inputs.{name}: '{name}' is not an input of this model; expected "
                f"one of: {', '.join(by_name)}"
            )
            continue
        problems.extend(_statement_problems(feature, statement))
    return problems


def _statement_problems(feature: FeatureSpec, statement: ChangeableInput) -> list[str]:
    where = f"changeable_inputs.{feature.name}"
    problems: list[str] = []
    if not statement.modifiable:
        return problems
    if feature.kind == "category":
        if statement.lower is not None or statement.upper is not None:
            problems.append(
                f"{where}: lower/upper apply to number inputs; '{feature.name}' is a category "
                "input: state to_categories instead"
            )
        if statement.direction != "either":
            problems.append(
                f"{where}.direction: '{statement.direction}' has no meaning for a category "
                "input; expected 'either' with to_categories"
            )
        unknown = [c for c in statement.to_categories or () if c not in (feature.categories or ())]
        if unknown:
            problems.append(
                f"{where}.to_categories: {', '.join(repr(c) for c in unknown)} not among the "
                f"input's categories ({', '.join(feature.categories or ())})"
            )
        return problems
    if statement.to_categories is not None:
        problems.append(
            f"{where}.to_categories: '{feature.name}' is a number input; state lower/upper instead"
        )
    for name in ("lower", "upper"):
        value = getattr(statement, name)
        if value is None:
            continue
        if feature.hard_min is not None and value < feature.hard_min:
            problems.append(
                f"{where}.{name}: {value:g} is below the input's hard minimum "
                f"{feature.hard_min:g}; expected a bound inside the hard limits"
            )
        if feature.hard_max is not None and value > feature.hard_max:
            problems.append(
                f"{where}.{name}: {value:g} is above the input's hard maximum "
                f"{feature.hard_max:g}; expected a bound inside the hard limits"
            )
    return problems


def modifiable_inputs(statements: dict[str, ChangeableInput] | None) -> tuple[str, ...]:
    """The inputs the owners state can change, in the card's order."""
    return tuple(name for name, s in (statements or {}).items() if s.modifiable)


def no_counterfactual_reason(statements: dict[str, ChangeableInput] | None) -> str | None:
    """Why this model offers no counterfactual, or None when it offers one."""
    if statements is None:
        return NO_STATEMENT_REASON
    if not modifiable_inputs(statements):
        return NONE_MODIFIABLE_REASON
    return None
