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
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import textstat
from pydantic import BaseModel, ConfigDict

from caselens.explain.attribution import Attributions
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.interval_text import format_interval, interval_level_text, printed_ends
from caselens.explain.limitations import Limitation
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
#: A factor moving the probability by less than this (probability units) is not named.
MIN_FACTOR_SHIFT = 0.005
MAX_PATIENT_FACTORS = 3


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
        summary.picture_text,
        summary.factors_sentence,
    ]
    parts += list(summary.does_not_mean) + list(summary.cautions) + list(summary.questions)
    parts.append(summary.care_team)
    return " ".join(p for p in parts if p)


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
        shown = f"{text} {words.unit}" if words.unit else text
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
    low = high = None
    if confidence.range_low is not None and confidence.range_high is not None:
        # The clinician's rule in whole people: outward, and the two ends always differ.
        ends = printed_ends(confidence.range_low, confidence.range_high, style="whole_people")
        if ends is not None:  # never None in whole people
            low, high = int(ends[0]), int(ends[1])
    if calibrated:
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
    else:
        headline = say(
            "The tool gives you a score of {count} out of 100 for the chance to {outcome}.",
            count=count,
            outcome=wording,
        )
        others = ""
        range_sentence = say(
            "This score has not been checked against how often this really happens. So it "
            "may be too high or too low, and we cannot say by how much."
        )
        picture = say(
            "Picture of 100 figures. Filled in: {count}. They show the tool's score. They are "
            "not a count of people.",
            count=count,
        )
    higher_named = _named_factor_phrases(attributions, schema, values, texts, language, sign=1)
    lower_named = _named_factor_phrases(attributions, schema, values, texts, language, sign=-1)
    higher = [phrase for _, phrase in higher_named]
    lower = [phrase for _, phrase in lower_named]
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
    sentences += _against_knowledge_said(
        against_knowledge(attributions, schema, values, card),
        named={name for name, _ in (*higher_named, *lower_named)},
        calibrated=calibrated,
        texts=texts,
        say=say,
        language=language,
    )
    first_caveat = (
        say("This number does not say for sure whether you have it.")
        if card.model_kind == "diagnostic"
        else say("This number does not say what will happen to you.")
    )
    does_not_mean = (
        first_caveat,
        say("It is not a diagnosis."),
        say("This does not show that these things cause it."),
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
        does_not_mean=does_not_mean,
        cautions=cautions,
        questions=_questions(card, texts, say),
        care_team=say("Your care team knows you best. Talk with them before you make any choice."),
        reading_grade=None,
        calibrated=calibrated,
        language=language,
        picture_text=picture,
    )
    return _measured(draft)


def _lowered(phrases: list[str]) -> list[str]:
    return [_lower_first(p) for p in phrases]


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
    first = (
        f"{confidence.probability_label} of {outcome_phrase(card)}: {100 * p:.1f}% ({spread}), "
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
