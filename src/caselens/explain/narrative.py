"""Plain-language text for clinicians and patients, from templates (no generative model).

Patient wording follows the risk-communication evidence (Fagerlin 2011; Trevena 2013;
Zikmund-Fisher 2014): absolute risk as "about X out of 100 people like you", the same
denominator everywhere, the time window every time, uncertainty as a range, no relative
risks, and factors "linked with" the result, never causes. The patient text's
Flesch–Kincaid grade is measured and stored: at most 8 is required, 6 is the aim.

Truth rules for factors (:func:`factor_phrase`): every factor named carries this patient's
own value; a yes/no condition is named only as the patient has it ("Not having diabetes",
never "having diabetes" for someone without it); a factor whose value was not recorded is
not named. Association only: "This does not show that these things cause it." A model that
is not calibrated is never described as "X out of 100 people like you".

The parts: :mod:`.clinician_summary`, :mod:`.patient_summary` and the factor wording both use,
:mod:`.factor_words`. This module joins the two summaries into one :class:`Narrative`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from caselens.explain.attribution import Attributions
from caselens.explain.clinician_summary import clinician_summary, outcome_phrase
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.factor_words import (
    MAX_PATIENT_FACTORS,
    MIN_FACTOR_SHIFT,
    against_knowledge,
    against_knowledge_sentences,
    condition_words,
    factor_phrase,
    model_direction,
    yes_no_state,
)
from caselens.explain.limitation_record import Limitation
from caselens.explain.patient_language import DEFAULT_LANGUAGE
from caselens.explain.patient_summary import (
    READING_GRADE_AIM,
    READING_GRADE_LIMIT,
    PatientSummary,
    out_of_100,
    patient_summary,
    patient_text,
    reading_grade,
)
from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema

__all__ = [
    "MAX_PATIENT_FACTORS",
    "MIN_FACTOR_SHIFT",
    "READING_GRADE_AIM",
    "READING_GRADE_LIMIT",
    "Narrative",
    "PatientSummary",
    "against_knowledge",
    "against_knowledge_sentences",
    "build_narrative",
    "clinician_summary",
    "condition_words",
    "factor_phrase",
    "model_direction",
    "out_of_100",
    "outcome_phrase",
    "patient_summary",
    "patient_text",
    "reading_grade",
    "yes_no_state",
]


class Narrative(BaseModel):
    """The clinician summary and the patient summary of one report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clinician_summary: str
    patient: PatientSummary


def build_narrative(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
    *,
    values: Mapping[str, object] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> Narrative:
    """Both summaries for one report (``values``: the case's inputs, for the patient's
    factors; ``language``: the patient summary's language)."""
    return Narrative(
        clinician_summary=clinician_summary(
            confidence, attributions, limitations, card, schema, values=values
        ),
        patient=patient_summary(
            confidence, attributions, limitations, card, schema, values=values, language=language
        ),
    )
