"""Plain-language text for clinicians and patients, from templates (no generative model).

Patient wording follows the risk-communication evidence (Fagerlin 2011; Trevena 2013;
Zikmund-Fisher 2014): absolute risk as "about X out of 100 people like you", the same
denominator everywhere, the time window every time, uncertainty as a range, no relative
risks, and factors "linked with" the result, never causes. The patient text's
Flesch–Kincaid grade is measured and stored: at most 8 is required, 6 is the aim.
"""

from __future__ import annotations

import textstat
from pydantic import BaseModel, ConfigDict

from caselens.attribution import Attributions
from caselens.confidence import ConfidenceAssessment
from caselens.features import FeatureSchema
from caselens.limitations import Limitation
from caselens.model_card import ModelCard

READING_GRADE_LIMIT = 8.0
READING_GRADE_AIM = 6.0
#: A factor moving the probability by less than this (probability units) is not named.
MIN_FACTOR_SHIFT = 0.005
MAX_PATIENT_FACTORS = 3


class PatientSummary(BaseModel):
    """The patient view's text, section by section, and its measured reading grade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out_of_100: int
    range_low_out_of_100: int
    range_high_out_of_100: int
    headline: str
    range_sentence: str
    others_sentence: str
    factors_higher: tuple[str, ...]
    factors_lower: tuple[str, ...]
    factors_sentence: str
    does_not_mean: tuple[str, ...]
    cautions: tuple[str, ...]
    questions: tuple[str, ...]
    care_team: str
    reading_grade: float
    reading_grade_limit: float = READING_GRADE_LIMIT

    def full_text(self) -> str:
        """All of the patient text, in display order (the text that is measured)."""
        return patient_text(self)


class Narrative(BaseModel):
    """The clinician summary and the patient summary of one report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clinician_summary: str
    patient: PatientSummary


def out_of_100(probability: float) -> int:
    """A probability as a whole number of people out of 100 (at least 1 and at most 99
    unless the probability is exactly 0 or 1, so a small risk never reads as none)."""
    count = round(100 * probability)
    if probability > 0 and count == 0:
        return 1
    if probability < 1 and count == 100:
        return 99
    return count


def reading_grade(text: str) -> float:
    """Flesch–Kincaid grade level of ``text`` (textstat 0.7.8: offline syllable counts)."""
    return round(float(textstat.flesch_kincaid_grade(text)), 2)


def patient_text(summary: PatientSummary) -> str:
    """Join the patient summary's parts into the text shown and measured."""
    parts = [
        summary.headline,
        summary.range_sentence,
        summary.others_sentence,
        summary.factors_sentence,
    ]
    parts += list(summary.does_not_mean) + list(summary.cautions) + list(summary.questions)
    parts.append(summary.care_team)
    return " ".join(p for p in parts if p)


def _top(attributions: Attributions, *, sign: int, limit: int) -> list[str]:
    if attributions.shap.status != "ok":
        return []
    ranked = sorted(attributions.shap.contributions, key=lambda c: -sign * c.value)
    return [c.name for c in ranked[:limit] if sign * c.value >= MIN_FACTOR_SHIFT]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def patient_summary(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
) -> PatientSummary:
    """The patient's summary: what the result means, the main factors, what it does not mean,
    what to ask. Short words and sentences; one denominator (100) throughout."""
    wording = card.outcome.patient_wording
    count = out_of_100(confidence.probability)
    low = out_of_100(confidence.range_low)
    high = max(out_of_100(confidence.range_high), low)
    headline = f"About {count} out of 100 people like you {wording}."
    if low == high:
        range_sentence = f"Our best guess is {low} out of 100."
    else:
        range_sentence = (
            f"We are not sure of the exact number. It is likely between {low} "
            f"and {high} out of 100."
        )
    others = f"That means about {100 - count} out of 100 people like you do not."
    higher = [
        schema[n].patient_label for n in _top(attributions, sign=1, limit=MAX_PATIENT_FACTORS)
    ]
    lower = [
        schema[n].patient_label for n in _top(attributions, sign=-1, limit=MAX_PATIENT_FACTORS)
    ]
    sentences = []
    if higher:
        sentences.append(f"Things linked with a higher chance for you: {_join(higher).lower()}.")
    if lower:
        sentences.append(f"Things linked with a lower chance for you: {_join(lower).lower()}.")
    if not sentences:
        sentences.append("No single thing stood out in your result.")
    factors_sentence = " ".join(sentences)
    does_not_mean = (
        "This number does not say what will happen to you.",
        "It is not a diagnosis.",
        "The things listed are linked with the chance. They do not cause it.",
    )
    cautions = tuple(lim.patient_text for lim in limitations if lim.patient_text)
    questions = (
        "Ask your care team: What does this mean for me?",
        "What can I do to lower my chance?",
        "What signs should make me call you?",
    )
    care_team = "Your care team knows you best. Talk with them before you make any choice."
    draft = PatientSummary(
        out_of_100=count,
        range_low_out_of_100=low,
        range_high_out_of_100=high,
        headline=headline,
        range_sentence=range_sentence,
        others_sentence=others,
        factors_higher=tuple(higher),
        factors_lower=tuple(lower),
        factors_sentence=factors_sentence,
        does_not_mean=does_not_mean,
        cautions=cautions,
        questions=questions,
        care_team=care_team,
        reading_grade=0.0,
    )
    return draft.model_copy(update={"reading_grade": reading_grade(patient_text(draft))})


def clinician_summary(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
) -> str:
    """2–4 sentences: risk, confidence, main drivers, main caution."""
    p = confidence.probability
    outcome = card.outcome
    first = (
        f"Calibrated probability of {outcome.name.lower()} ({outcome.time_window}): "
        f"{100 * p:.1f}% (likely range {100 * confidence.range_low:.0f}–"
        f"{100 * confidence.range_high:.0f}%), {confidence.side_statement}; base rate "
        f"{100 * confidence.base_rate:.1f}%."
    )
    sentences = [first]
    if confidence.conformal is not None:
        sentences.append(
            f"At {100 * confidence.conformal.coverage:.0f}% coverage the conformal "
            f'set reads "{confidence.conformal.statement}".'
        )
    if attributions.shap.status == "ok":
        ranked = sorted(attributions.shap.contributions, key=lambda c: -abs(c.value))[:3]
        drivers = [
            f"{schema[c.name].label} {'+' if c.value >= 0 else '−'}{100 * abs(c.value):.1f} pts"
            for c in ranked
        ]
        sentences.append("Main drivers (SHAP): " + "; ".join(drivers) + ".")
    else:
        sentences.append("The explanation could not be computed reliably and is not shown.")
    serious = [
        lim for lim in limitations if lim.severity != "info" and lim.code != "DEMONSTRATION_MODEL"
    ]
    if serious:
        sentences.append(f"Main caution: {serious[0].clinician_text}")
    return " ".join(sentences)


def build_narrative(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
) -> Narrative:
    """Both summaries for one report."""
    return Narrative(
        clinician_summary=clinician_summary(confidence, attributions, limitations, card, schema),
        patient=patient_summary(confidence, attributions, limitations, card, schema),
    )
