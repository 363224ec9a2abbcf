"""The patient's summary of one report, in their language, and its measured reading grade.

Patient wording follows the risk-communication evidence (Fagerlin 2011; Trevena 2013;
Zikmund-Fisher 2014): absolute risk as "about X out of 100 people like you", the same
denominator everywhere, the time window every time, uncertainty as a range, no relative
risks, and factors "linked with" the result, never causes. The patient text's
Flesch–Kincaid grade is measured and stored: at most 8 is required, 6 is the aim. A model
that is not calibrated is never described as "X out of 100 people like you"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import textstat
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from caselens.explain.attribution import Attributions
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.factor_words import (
    MAX_PATIENT_FACTORS,
    _lower_first,
    _missing,
    _named_factors,
    _top,
    _value_of,
    against_knowledge,
    against_knowledge_sentences,
    factor_phrase,
    yes_no_state,
)
from caselens.explain.interval_text import printed_ends
from caselens.explain.limitation_record import Limitation
from caselens.explain.next_steps import PatientNextSteps, patient_next_steps
from caselens.explain.patient_language import (
    DEFAULT_LANGUAGE,
    Catalogue,
    LanguageError,
    ReadingScore,
    catalogue,
    check_language,
    format_number,
    measure_reading,
    patient_texts,
    value_key,
)
from caselens.model.card import ModelCard, PatientInputWords, PatientTexts
from caselens.model.features import FeatureSchema, FeatureSpec

READING_GRADE_LIMIT = 8.0
READING_GRADE_AIM = 6.0


class PatientSummary(BaseModel):
    """The patient view's text, section by section, and its measured reading grade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out_of_100: int
    range_low_out_of_100: int | None
    range_high_out_of_100: int | None
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
    #: Flesch–Kincaid grade of the English text; None for another language, whose own
    #: measure is in ``reading``.
    reading_grade: float | None
    reading_grade_limit: float = READING_GRADE_LIMIT
    #: False when the model is not calibrated: the number is then a score, not "X out of
    #: 100 people like you" (reports recorded before this field were all calibrated).
    calibrated: bool = True
    #: The language of every sentence above (reports recorded before this field: English).
    language: str = DEFAULT_LANGUAGE
    #: False when the card has no patient texts in this language: ``headline`` says so.
    available: bool = True
    #: The text alternative of the picture of 100 people ('' in older reports).
    picture_text: str = ""
    #: The language's own reading measure of the full text (None in older reports).
    reading: ReadingScore | None = None
    #: The next steps the model's owners worded for patients (English only); written only
    #: when there are some, so every other summary is what it was before it existed.
    next_steps: PatientNextSteps | None = None

    @model_serializer(mode="wrap")
    def _without_absent_next_steps(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.next_steps is None:
            data.pop("next_steps", None)
        return data

    def full_text(self) -> str:
        """All of the patient text, in display order (the text that is measured)."""
        return patient_text(self)


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
        summary.picture_text,
        summary.factors_sentence,
    ]
    parts += list(summary.does_not_mean) + list(summary.cautions)
    if summary.next_steps is not None:
        # The heading is a label, like the page's other headings; the steps are sentences.
        parts += [*summary.next_steps.steps, summary.next_steps.note]
    parts += list(summary.questions)
    parts.append(summary.care_team)
    return " ".join(p for p in parts if p)


def patient_summary(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
    *,
    values: Mapping[str, object] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> PatientSummary:
    """The patient's summary in ``language``: what the result means, the range, the main
    factors in the card's patient words with the patient's own values, what it does not
    mean, what to ask. Short words and sentences; one denominator (100) throughout.
    ``values`` are the case's inputs (feature name → value).

    The fixed sentences come from the language's curated catalogue, the model's words from
    the card's ``patient_texts[language]``. A card without patient texts in a language other
    than English (or missing a word this patient's factors need) gives a summary that says
    so in that language, never one with English words mixed in."""
    say = catalogue(check_language(language))
    texts = patient_texts(card, language)
    if texts is None and language != DEFAULT_LANGUAGE:
        return _not_in_language(confidence, language)
    try:
        return _summary(
            confidence, attributions, limitations, card, schema, values, language, texts
        )
    except _NoPatientWords:  # only another language lacks a word (English falls back)
        return _not_in_language(confidence, language, say=say)


class _NoPatientWords(Exception):
    """The card lacks a word this patient's text needs, in this language."""


def _not_in_language(
    confidence: ConfidenceAssessment, language: str, *, say: Catalogue | None = None
) -> PatientSummary:
    say = say or catalogue(language)
    headline = say(
        "Your result cannot be shown in your language yet. The tool has no texts in your language."
    )
    care_team = say("Your care team can go over your result with you.")
    draft = PatientSummary(
        out_of_100=out_of_100(confidence.probability),
        range_low_out_of_100=None,
        range_high_out_of_100=None,
        headline=headline,
        range_sentence="",
        others_sentence="",
        factors_higher=(),
        factors_lower=(),
        factors_sentence="",
        does_not_mean=(),
        cautions=(),
        questions=(),
        care_team=care_team,
        reading_grade=None,
        calibrated=confidence.calibrated,
        language=language,
        available=False,
    )
    return _measured(draft)


def _measured(draft: PatientSummary) -> PatientSummary:
    text = patient_text(draft)
    score = measure_reading(text, draft.language)
    grade = score.score if draft.language == DEFAULT_LANGUAGE else None
    return draft.model_copy(update={"reading_grade": grade, "reading": score})


def _and(words: list[str], say: Catalogue, language: str) -> str:
    if len(words) <= 1:
        return "".join(words)
    first, last = ", ".join(words[:-1]), words[-1]
    if language == "es" and re.match(r"(?i)h?i(?![aeou])", last):
        # Spanish writes "e", not "y", before a word that starts with the sound /i/.
        return f"{first} e {last}"
    return say("{first} and {last}", first=first, last=last)


def _card_factor(
    feature: FeatureSpec, words: PatientInputWords | None, value: object, language: str
) -> str | None:
    """One factor in the card's patient words with this patient's value; None when the value
    was not recorded. Raises _NoPatientWords when the card lacks a word it needs."""
    if _missing(value):
        return None
    if words is None:
        raise _NoPatientWords(feature.name)
    if feature.kind == "category" or yes_no_state(feature, value) is not None:
        key = value_key(feature, value)
        shown = words.values.get(key)
        if shown is None:
            if any(ch.isalpha() for ch in key):
                raise _NoPatientWords(f"{feature.name}={key}")
            shown = key
    else:
        number = float(value)  # type: ignore[arg-type]
        text = format_number(number if feature.kind == "number" else round(number), language)
        # The card's unit is one plural word ("stays", "días"): after exactly 1 it would read
        # "1 stays", so the count stands alone there (the label says what is counted).
        shown = f"{text} {words.unit}" if words.unit and number != 1 else text
    return f"{words.label} ({shown})"


def _named_factor_phrases(
    attributions: Attributions,
    schema: FeatureSchema,
    values: Mapping[str, object] | None,
    texts: PatientTexts | None,
    language: str,
    *,
    sign: int,
) -> list[tuple[str, str]]:
    """(input name, phrase) of the factors named to the patient in one direction."""
    if texts is None:  # an English card without patient texts: the schema's patient labels
        return _named_factors(attributions, schema, values, sign=sign)
    phrases = []
    for name in _top(attributions, sign=sign):
        value = _value_of(name, values, attributions)
        try:
            phrase = _card_factor(schema[name], texts.inputs.get(name), value, language)
        except _NoPatientWords:
            if language != DEFAULT_LANGUAGE:
                raise
            # An English card that skips an input or a value: the schema's English patient
            # label (``bundle check`` lists the gap); another language has no such fallback.
            phrase = factor_phrase(schema[name], value)
        if phrase is not None:
            phrases.append((name, phrase))
        if len(phrases) == MAX_PATIENT_FACTORS:
            break
    return phrases


#: The patient's caveat when the model uses a condition against common clinical knowledge,
#: by (which way the model moves it, calibrated chance or uncalibrated score).
_AGAINST_KNOWLEDGE = {
    ("lowers", True): "In this model, {condition} is linked with a lower chance. This does not "
    "mean that {condition} is good for you.",
    ("lowers", False): "In this model, {condition} is linked with a lower score. This does not "
    "mean that {condition} is good for you.",
    ("raises", True): "In this model, {condition} is linked with a higher chance. This does not "
    "mean that {condition} is bad for you.",
    ("raises", False): "In this model, {condition} is linked with a higher score. This does not "
    "mean that {condition} is bad for you.",
}


def _against_knowledge_said(
    found: list[tuple[FeatureSpec, str, float]],
    *,
    named: set[str],
    calibrated: bool,
    texts: PatientTexts | None,
    say: Catalogue,
    language: str,
) -> list[str]:
    """The caveat for each flagged condition named to the patient, in their language: the
    condition in the schema's English words, or the card's patient label in another language."""
    if language == DEFAULT_LANGUAGE:
        return against_knowledge_sentences(
            found, word="chance" if calibrated else "score", named=named
        )
    sentences = []
    for feature, direction, _ in found:
        if feature.name not in named:
            continue
        words = texts.inputs.get(feature.name) if texts is not None else None
        if words is None:
            raise _NoPatientWords(feature.name)
        template = _AGAINST_KNOWLEDGE[("lowers" if direction == "lowers" else "raises", calibrated)]
        sentences.append(say(template, condition=_lower_first(words.label)))
    return sentences


#: Patient cautions whose wording names one input (the input is the trigger's first word).
_INPUT_CAUTIONS = {
    "OUT_OF_RANGE": "The value for {label} is outside what the tool learned from, so it may "
    "be less right for you.",
    "RARE_CATEGORY": "Few people in the data had the same {label} as you, so the tool may be "
    "less right for you.",
    "IMPUTED_INPUT": "We did not have your {label}, so the tool had to work without it.",
}


def _caution(
    limitation: Limitation,
    schema: FeatureSchema,
    texts: PatientTexts | None,
    say: Catalogue,
    language: str,
) -> str:
    """A limitation's patient text in the patient's language (English: its own text)."""
    text = limitation.patient_text or ""
    if language == DEFAULT_LANGUAGE:
        return text
    template = _INPUT_CAUTIONS.get(limitation.code)
    if template is None:
        try:
            return say(text)
        except LanguageError:  # a caution the catalogue does not have: say so, in words
            return say("There is one more note about this result. Ask your care team about it.")
    name = limitation.trigger.split(" = ", 1)[0]
    words = texts.inputs.get(name) if texts is not None and name in schema else None
    if words is None:
        raise _NoPatientWords(name)
    return say(template, label=_lower_first(words.label))


def _questions(card: ModelCard, texts: PatientTexts | None, say: Catalogue) -> tuple[str, ...]:
    """The card's questions in this language, else questions that fit the model's kind."""
    if texts is not None and texts.questions:
        return texts.questions
    first = say("What does this mean for me?")
    if card.model_kind == "diagnostic":
        return (first, say("Which test would tell us for sure?"), say("What happens next?"))
    if card.model_kind == "prognostic":
        return (
            first,
            say("What can I do to lower my chance?"),
            say("What signs should make me call you?"),
        )
    return (first, say("What happens next?"))


def _summary(
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    limitations: tuple[Limitation, ...],
    card: ModelCard,
    schema: FeatureSchema,
    values: Mapping[str, object] | None,
    language: str,
    texts: PatientTexts | None,
) -> PatientSummary:
    say = catalogue(language)
    wording = texts.outcome if texts is not None else card.outcome.patient_wording
    count = out_of_100(confidence.probability)
    calibrated = confidence.calibrated
    low, high = _whole_people_range(confidence)
    if calibrated:
        headline, others, range_sentence, picture = _calibrated_number(
            count, low, high, wording, say
        )
    else:
        headline, others, range_sentence, picture = _uncalibrated_number(count, wording, say)
    higher_named = _named_factor_phrases(attributions, schema, values, texts, language, sign=1)
    lower_named = _named_factor_phrases(attributions, schema, values, texts, language, sign=-1)
    higher = [phrase for _, phrase in higher_named]
    lower = [phrase for _, phrase in lower_named]
    sentences = _factor_sentences(higher, lower, calibrated, say, language)
    sentences += _against_knowledge_said(
        against_knowledge(attributions, schema, values, card),
        named={name for name, _ in (*higher_named, *lower_named)},
        calibrated=calibrated,
        texts=texts,
        say=say,
        language=language,
    )
    cautions = tuple(
        _caution(lim, schema, texts, say, language) for lim in limitations if lim.patient_text
    )
    draft = PatientSummary(
        out_of_100=count,
        range_low_out_of_100=low,
        range_high_out_of_100=high,
        headline=headline,
        range_sentence=range_sentence,
        others_sentence=others,
        factors_higher=tuple(higher),
        factors_lower=tuple(lower),
        factors_sentence=" ".join(sentences),
        does_not_mean=_does_not_mean(card, say),
        cautions=cautions,
        questions=_questions(card, texts, say),
        care_team=say("Your care team knows you best. Talk with them before you make any choice."),
        reading_grade=None,
        calibrated=calibrated,
        language=language,
        picture_text=picture,
        # The card's patient wording is English: another language gets none, never a mix.
        next_steps=patient_next_steps(card.next_steps, confidence.probability, confidence.threshold)
        if language == DEFAULT_LANGUAGE
        else None,
    )
    return _measured(draft)


def _whole_people_range(confidence: ConfidenceAssessment) -> tuple[int | None, int | None]:
    """The probability's interval in whole people out of 100, or (None, None) without one."""
    if confidence.range_low is None or confidence.range_high is None:
        return None, None
    # The clinician's rule in whole people: outward, and the two ends always differ.
    ends = printed_ends(confidence.range_low, confidence.range_high, style="whole_people")
    if ends is None:  # never None in whole people
        return None, None
    return int(ends[0]), int(ends[1])


def _calibrated_number(
    count: int, low: int | None, high: int | None, wording: str, say: Catalogue
) -> tuple[str, str, str, str]:
    """Headline, the others, the range and the picture's text for a calibrated chance."""
    headline = say(
        "About {count} out of 100 people like you {outcome}.", count=count, outcome=wording
    )
    others = say("The other {rest} out of 100 people like you do not.", rest=100 - count)
    if low is None:
        range_sentence = say("We cannot say how close this number is to the true one.")
    else:
        range_sentence = say(
            "We are not sure of the exact number. It is likely between {low} and {high} "
            "out of 100.",
            low=low,
            high=high,
        )
    picture = say(
        "Picture of 100 people. Filled in: {count}. They stand for the people like you who "
        "{outcome}. Open: {rest}.",
        count=count,
        outcome=wording,
        rest=100 - count,
    )
    return headline, others, range_sentence, picture


def _uncalibrated_number(count: int, wording: str, say: Catalogue) -> tuple[str, str, str, str]:
    """Headline, (no) others, the range and the picture's text for an uncalibrated score: a
    score, never "people like you"."""
    headline = say(
        "The tool gives you a score of {count} out of 100 for the chance to {outcome}.",
        count=count,
        outcome=wording,
    )
    range_sentence = say(
        "This score has not been checked against how often this really happens. So it "
        "may be too high or too low, and we cannot say by how much."
    )
    picture = say(
        "Picture of 100 figures. Filled in: {count}. They show the tool's score. They are "
        "not a count of people.",
        count=count,
    )
    return headline, "", range_sentence, picture


def _factor_sentences(
    higher: list[str], lower: list[str], calibrated: bool, say: Catalogue, language: str
) -> list[str]:
    """The factors linked with a higher and a lower chance (or score), or that none stood out."""
    sentences = []
    if higher:
        items = _and(_lowered(higher), say, language)
        sentences.append(
            say("Things linked with a higher chance for you: {items}.", items=items)
            if calibrated
            else say("Things linked with a higher score for you: {items}.", items=items)
        )
    if lower:
        items = _and(_lowered(lower), say, language)
        sentences.append(
            say("Things linked with a lower chance for you: {items}.", items=items)
            if calibrated
            else say("Things linked with a lower score for you: {items}.", items=items)
        )
    if not sentences:
        sentences.append(say("No single thing stood out in your result."))
    return sentences


def _does_not_mean(card: ModelCard, say: Catalogue) -> tuple[str, ...]:
    """What the number does not mean: not a certainty, not a diagnosis, not a cause."""
    first_caveat = (
        say("This number does not say for sure whether you have it.")
        if card.model_kind == "diagnostic"
        else say("This number does not say what will happen to you.")
    )
    return (
        first_caveat,
        say("It is not a diagnosis."),
        say("This does not show that these things cause it."),
    )


def _lowered(phrases: list[str]) -> list[str]:
    return [_lower_first(p) for p in phrases]
