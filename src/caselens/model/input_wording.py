"""How a bundle's inputs will be worded to patients: loud warnings, never refusals (a bundle
already in use keeps loading).
"""

from __future__ import annotations

from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema, FeatureSpec


def _readings(feature: FeatureSpec) -> str:
    meaning = feature.coded_meaning
    if meaning == "yes_no":
        return "read as a yes/no condition from its label"
    if meaning == "category":
        return "read as a category from its category_descriptions"
    return "shown to patients as its code ('recorded as 1')"


def input_meaning_warnings(schema: FeatureSchema, card: ModelCard | None = None) -> tuple[str, ...]:
    """Loud warnings about how the inputs will be worded (a bundle is never refused for them).

    - 0/1 whole-number inputs that do not state their ``meaning`` (a yes/no condition, or a
      category such as sex with its ``category_descriptions``), named all at once with how
      each is read meanwhile;
    - ``category_descriptions`` for a value the input cannot take;
    - card ``expected_directions`` for an input that is not a yes/no condition.
    """
    notes: list[str] = []
    unstated = [f for f in schema if f.is_zero_one and f.meaning is None]
    if unstated:
        listed = "; ".join(f"{f.name} ({_readings(f)})" for f in unstated)
        notes.append(
            f"WARNING: {len(unstated)} 0/1 input(s) do not say what 1 means: {listed}. Set "
            'meaning = "yes_no" (1 = the patient has the condition) or meaning = '
            '"category" with category_descriptions for 0 and 1 (e.g. {"0" = "Female", '
            '"1" = "Male"}) in the card file\'s [features.<name>] tables, so that no '
            "patient reads 'sex (yes)'."
        )
    for feature in schema:
        described = set(feature.category_descriptions or {})
        if not described:
            continue
        if feature.kind == "category":
            allowed = set(feature.categories or ())
        elif feature.is_zero_one:
            allowed = {"0", "1"}
        else:
            allowed = set()
        odd = sorted(described - allowed)
        if odd:
            notes.append(
                f"WARNING: {feature.name}'s category_descriptions name value(s) it cannot "
                f"take: {', '.join(odd)} (its values: {', '.join(sorted(allowed)) or 'numbers'})."
            )
    directions = (card.expected_directions if card is not None else None) or {}
    for name in sorted(directions):
        if name not in schema:
            notes.append(
                f"WARNING: the card's expected_directions names '{name}', which is not an input."
            )
            continue
        feature = schema[name]
        yes_no = feature.coded_meaning == "yes_no" or (
            feature.kind == "category"
            and {c.lower() for c in feature.categories or ()} == {"yes", "no"}
        )
        if not yes_no:
            notes.append(
                f"WARNING: the card's expected_directions names '{name}', which is not a yes/no "
                "condition; only yes/no conditions are compared with their expected direction."
            )
    return tuple(notes)
