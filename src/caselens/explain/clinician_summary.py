"""The clinician's summary of one report: the probability named as it is (calibrated only
when it is) with its interval, the conformal set, the main drivers with this patient's
values, any yes/no input used against common clinical knowledge, and the main caution."""

from __future__ import annotations

from collections.abc import Mapping

from caselens.explain.attribution import Attributions
from caselens.explain.confidence.model import headline_label
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.factor_words import _join, _lower_first, against_knowledge
from caselens.explain.interval_text import format_interval, interval_level_text
from caselens.explain.limitation_record import Limitation
from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema, FeatureSpec


def outcome_phrase(card: ModelCard) -> str:
    """The outcome with its time window, the window only once ('death within one year', not
    'death within one year (within one year)')."""
    name, window = card.outcome.name, card.outcome.time_window
    if window.lower() in name.lower():
        return _lower_first(name)
    return f"{_lower_first(name)} ({window})"


def clinician_summary(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
    *,
    values: Mapping[str, object] | None = None,
) -> str:
    """2–5 sentences: risk (named calibrated only when it is), its interval, the conformal
    set's meaning, the main drivers with this patient's values, any yes/no input the model
    uses against common clinical knowledge, the main caution. ``values``: the case's inputs
    (without them, read back from the values shown)."""
    p = confidence.probability
    if confidence.interval is not None:
        interval = confidence.interval
        # One printing rule for every range on every screen (ends never print equal).
        spread = (
            f"{interval_level_text(interval)} calibration-bootstrap interval "
            f"{format_interval(interval.low, interval.high)}"
        )
    elif confidence.range_low is not None and confidence.range_high is not None:
        spread = f"likely range {format_interval(confidence.range_low, confidence.range_high)}"
    else:
        spread = "no interval for the probability can be given"
    # The headline's plain words ("Chance of …"); the calibration method is named in the
    # model facts, not in the clinician's first sentence.
    named = headline_label(
        confidence.calibrated, confidence.calibration_method, outcome_phrase(card)
    )
    first = (
        f"{named}: {100 * p:.1f}% ({spread}), "
        f"{confidence.side_statement}; base rate {100 * confidence.base_rate:.1f}%."
    )
    sentences = [first]
    if confidence.conformal is not None:
        sentences.append(confidence.conformal.statement)
    elif confidence.conformal_unavailable_reason:
        sentences.append(confidence.conformal_unavailable_reason)
    if attributions.shap.status == "ok":
        shown = {v.name: v.value_text for v in attributions.variables}
        ranked = sorted(attributions.shap.contributions, key=lambda c: -abs(c.value))[:3]
        drivers = [
            f"{schema[c.name].label} = {shown.get(c.name, 'not shown')} "
            f"{'+' if c.value >= 0 else '−'}{100 * abs(c.value):.1f} pts"
            for c in ranked
        ]
        sentences.append("The model's estimate rests most on (SHAP): " + "; ".join(drivers) + ".")
        sentences += _clinician_against_knowledge(
            against_knowledge(attributions, schema, values, card), shown
        )
    else:
        sentences.append("The explanation could not be computed reliably and is not shown.")
    serious = [
        lim for lim in limitations if lim.severity != "info" and lim.code != "DEMONSTRATION_MODEL"
    ]
    if serious:
        sentences.append(f"Main caution: {serious[0].clinician_text}")
    return " ".join(sentences)


def _clinician_against_knowledge(
    found: list[tuple[FeatureSpec, str, float]], shown: Mapping[str, str]
) -> list[str]:
    """One sentence naming the yes/no inputs this model uses against common clinical
    knowledge for this patient, with their values and contributions."""
    if not found:
        return []
    parts = [
        f"a yes for {feature.label} {direction} the estimate (this patient: "
        f"{shown.get(feature.name, 'not shown')}, "
        f"{'+' if shift >= 0 else '−'}{100 * abs(shift):.1f} pts)"
        for feature, direction, shift in found
    ]
    return [
        "Against common clinical knowledge, in this model "
        + _join(parts)
        + "; that is how the model uses it, not evidence of its effect."
    ]
