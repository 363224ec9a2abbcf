"""How a patient's factors are named, for clinicians and patients alike: the drivers in one
direction, a factor with the patient's own value (:func:`factor_phrase`), and the yes/no
conditions this model uses against common clinical knowledge (:func:`against_knowledge`).

Truth rules: every factor named carries this patient's own value; a yes/no condition is named
only as the patient has it; a factor whose value was not recorded is not named."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from caselens.explain.attribution import Attributions
from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema, FeatureSpec

#: A factor moving the probability by less than this (probability units) is not named.
MIN_FACTOR_SHIFT = 0.005
#: At most this many factors are named to the patient in each direction (short text).
MAX_PATIENT_FACTORS = 3


def _top(attributions: Attributions, *, sign: int) -> list[str]:
    """Variables by SHAP in one direction, largest first, above ``MIN_FACTOR_SHIFT``."""
    if attributions.shap.status != "ok":
        return []
    ranked = sorted(attributions.shap.contributions, key=lambda c: -sign * c.value)
    return [c.name for c in ranked if sign * c.value >= MIN_FACTOR_SHIFT]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _lower_first(text: str) -> str:
    """'Your age' → 'your age'; 'ST depression' and 'A1c' keep their capitals."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def yes_no_state(feature: FeatureSpec, value: object) -> bool | None:
    """True/False when ``feature`` is a yes/no condition (categories Yes/No, or a 0/1 input
    whose meaning is yes/no: see :attr:`FeatureSpec.coded_meaning`) and the value says
    whether the patient has it; None otherwise (a 0/1 category such as sex is never yes/no)."""
    if _missing(value):
        return None
    if feature.kind == "category":
        if {c.lower() for c in feature.categories or ()} == {"yes", "no"}:
            return str(value).lower() == "yes"
        return None
    if feature.coded_meaning == "yes_no":
        return float(value) == 1  # type: ignore[arg-type]
    return None


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def factor_phrase(feature: FeatureSpec, value: object) -> str | None:
    """How one factor is named to a patient, with the patient's own value; None when the
    value was not recorded (then the factor is not named).

    - yes/no condition: the patient's own state. A label that starts with an -ing word is
      negated in words ("Having diabetes" → "Not having diabetes", "Smoking" → "Not
      smoking"); any other label gets its answer, in the card's words when it has them:
      "Chest pain during exercise (no)".
    - a category, or a 0/1 input coded as one: the card's description of the value when it
      has one ("Sex (male)"), else the value: "Type of chest pain (no chest pain)".
    - a 0/1 input whose meaning the bundle does not state: its code, never "yes" or "no"
      ("Sex (recorded as 1)").
    - number: "Your heart's pumping strength (ejection fraction 25%)" — the clinical name is
      added when the plain label shares no word with it.
    """
    if _missing(value):
        return None
    label = feature.patient_label.strip()
    state = yes_no_state(feature, value)
    described = feature.description_of(value)
    if state is not None:
        first = label.split()[0].lower() if label.split() else ""
        if first.endswith("ing"):
            return label if state else "Not " + _lower_first(label)
        shown = _lower_first(described) if described else ("yes" if state else "no")
    elif described is not None:
        shown = _lower_first(described)
    elif feature.kind == "category":
        shown = _lower_first(str(value))
    elif feature.is_zero_one:
        # Meaning unstated, or a category code without words: the code, never yes/no.
        shown = f"recorded as {round(float(value))}"  # type: ignore[arg-type]
    else:
        shown = feature.describe_value(value).replace(" %", "%")
        if not _words(feature.label) & _words(label):
            shown = f"{_lower_first(feature.label)} {shown}"
    if label.endswith(")"):
        return f"{label[:-1]} {shown})"
    return f"{label} ({shown})"


def condition_words(feature: FeatureSpec) -> str:
    """A yes/no condition named as having it, lower-case, without a trailing note in
    brackets: 'Smoking (1 means yes)' → 'smoking'."""
    label = re.sub(r"\s*\([^)]*\)\s*$", "", feature.patient_label.strip()) or feature.name
    return _lower_first(label)


def model_direction(feature: FeatureSpec, value: object, shift: float) -> str | None:
    """Which way this model moves the estimate for having a yes/no condition, read from
    this patient's value and its contribution: 'raises' or 'lowers' (None for an input that
    is not a yes/no condition, or a contribution too small to name)."""
    state = yes_no_state(feature, value)
    if state is None or abs(shift) < MIN_FACTOR_SHIFT:
        return None
    # Not having it and a push up means having it would push down, and the reverse.
    raises = shift > 0 if state else shift < 0
    return "raises" if raises else "lowers"


def against_knowledge(
    attributions: Attributions,
    schema: FeatureSchema,
    values: Mapping[str, object] | None,
    card: ModelCard,
) -> list[tuple[FeatureSpec, str, float]]:
    """Yes/no conditions this model uses against common clinical knowledge for this patient:
    (feature, the model's direction for having it, the contribution), largest first.

    The expected direction is the card's ``expected_directions`` entry; without one a yes/no
    condition is taken to be a risk factor (having it raises the risk), so a model in which
    having it lowers the estimate is said to do so. An entry of 'neither' is never flagged.
    """
    if attributions.shap.status != "ok":
        return []
    expected_of = card.expected_directions or {}
    found = []
    for contribution in sorted(attributions.shap.contributions, key=lambda c: -abs(c.value)):
        if contribution.name not in schema:
            continue
        feature = schema[contribution.name]
        value = _value_of(contribution.name, values, attributions)
        try:
            direction = model_direction(feature, value, contribution.value)
        except (TypeError, ValueError):  # a value read back as shown text, not a code
            direction = None
        expected = expected_of.get(contribution.name, "raises")
        if direction is not None and expected != "neither" and direction != expected:
            found.append((feature, direction, contribution.value))
    return found


def against_knowledge_sentences(
    found: list[tuple[FeatureSpec, str, float]], *, word: str, named: set[str]
) -> list[str]:
    """The patient's plain caveat for each flagged condition among those ``named`` to them:
    'In this model, smoking is linked with a lower chance. This does not mean that smoking
    is good for you.'"""
    sentences = []
    for feature, direction, _ in found:
        if feature.name not in named:
            continue
        condition = condition_words(feature)
        way, judgement = ("lower", "good") if direction == "lowers" else ("higher", "bad")
        sentences.append(
            f"In this model, {condition} is linked with a {way} {word}. This does not mean "
            f"that {condition} is {judgement} for you."
        )
    return sentences


def _value_of(name: str, values: Mapping[str, object] | None, attributions: Attributions):
    if values is not None and name in values:
        return values[name]
    for variable in attributions.variables:  # without the case: the value as shown
        if variable.name == name:
            return None if variable.value_text == "not recorded" else variable.value_text
    return None


def _factors(
    attributions: Attributions,
    schema: FeatureSchema,
    values: Mapping[str, object] | None,
    *,
    sign: int,
) -> list[str]:
    return [phrase for _, phrase in _named_factors(attributions, schema, values, sign=sign)]


def _named_factors(
    attributions: Attributions,
    schema: FeatureSchema,
    values: Mapping[str, object] | None,
    *,
    sign: int,
) -> list[tuple[str, str]]:
    """(feature name, phrase) of the factors named to the patient in one direction."""
    named = []
    for name in _top(attributions, sign=sign):
        phrase = factor_phrase(schema[name], _value_of(name, values, attributions))
        if phrase is not None:
            named.append((name, phrase))
        if len(named) == MAX_PATIENT_FACTORS:
            break
    return named
