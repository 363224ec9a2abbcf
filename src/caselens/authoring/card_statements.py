"""The card file's statements about the model's use — ``changeable_inputs`` and
``next_steps`` — checked by ``caselens bundle create`` before anything is measured.

Each problem is one line naming the field as the card file spells it
(``next_steps.at_or_above_threshold[0].link``), what is wrong and what is expected; a
changeable input is also checked against the drafted schema
(:func:`caselens.model.changeable_inputs.changeable_input_problems`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from caselens.model.changeable_inputs import ChangeableInput, changeable_input_problems
from caselens.model.features import FeatureSchema
from caselens.model.next_steps import NextSteps

#: Longest input value quoted back in a message (a card file is the user's own text).
MAX_QUOTED = 60


def _where(prefix: str, loc: Sequence[Any]) -> str:
    """'next_steps.bands[0].steps[1].link' from a pydantic error location."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _messages(prefix: str, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        given = error.get("input")
        quoted = (
            f" (got {str(given)[:MAX_QUOTED]!r})"
            if isinstance(given, str | int | float | bool) and error["type"] != "missing"
            else ""
        )
        lines.append(f"{_where(prefix, error['loc'])}: {message}{quoted}")
    return lines


def _validated(model: type[BaseModel], prefix: str, raw: Any) -> tuple[Any, list[str]]:
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, _messages(prefix, exc)


def card_statement_problems(card_file: Mapping[str, Any], schema: FeatureSchema) -> list[str]:
    """Every way the card file's ``changeable_inputs`` and ``next_steps`` are wrong, one line
    each; [] when both fit (or the card file states neither)."""
    problems: list[str] = []
    raw_inputs = card_file.get("changeable_inputs")
    if raw_inputs is not None:
        if not isinstance(raw_inputs, Mapping):
            problems.append(
                "changeable_inputs: expected one table per input "
                "([changeable_inputs.NAME] with modifiable and why)"
            )
        else:
            statements: dict[str, ChangeableInput] = {}
            for name, raw in raw_inputs.items():
                statement, wrong = _validated(ChangeableInput, f"changeable_inputs.{name}", raw)
                problems += wrong
                if statement is not None:
                    statements[str(name)] = statement
            problems += changeable_input_problems(statements, schema)
    raw_steps = card_file.get("next_steps")
    if raw_steps is not None:
        problems += _validated(NextSteps, "next_steps", raw_steps)[1]
    return problems
