"""The patient's language: curated message catalogues, the card's patient words, reading measures.

Everything a patient reads comes from one of three places, all written by people ahead of
time (no machine translation at run time):

- the message catalogues in ``caselens/explain/locales/<lang>/LC_MESSAGES/patient.po`` (gettext PO
  files read with Babel): the fixed sentences of the patient page, with ``{named}`` blanks;
  the English sentences are the message ids themselves;
- the model card's ``patient_texts[<lang>]``: the outcome, each input's label, each
  category's words, each unit, and the questions, in that language;
- the patient's own numbers, written the language's way (``4,2`` in Spanish and French).

A model whose card has no patient texts in a language is not shown in that language with
English words mixed in: the summary says, in that language, that it is not available.

Each language has its own reading measure (textstat 0.7.8, offline): Flesch–Kincaid grade
for English, Fernández-Huerta reading ease for Spanish, Kandel–Moles reading ease for French.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po
from pydantic import BaseModel, ConfigDict
from textstat.backend import metrics

from caselens.errors import CaseLensError
from caselens.model.card import ModelCard, PatientTexts
from caselens.model.features import FeatureSchema, FeatureSpec, format_group_number

#: Languages a patient page can be shown in: code → the language's own name.
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español", "fr": "Français"}
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"
CATALOGUE_DOMAIN = "patient"
_BLANK = re.compile(r"\{([a-z_]+)\}")


class LanguageError(CaseLensError):
    """A language CaseLens has no catalogue for, or a catalogue that is incomplete."""


@dataclass(frozen=True)
class ReadingRule:
    """How patient text is measured in one language, and the bound it must stay within."""

    measure: str
    limit: float
    #: True for an ease score (higher is easier), False for a school grade (lower is easier).
    easier_above: bool


#: English: grade 8 at most (the aim is 6). Spanish: Fernández-Huerta 60 or more, the
#: lower edge of its "normal" band, read by grades 7–8 (Fernández Huerta 1959). French:
#: Kandel–Moles 60 or more, the lower edge of Flesch's "standard" band (grades 8–9), which
#: Kandel & Moles (1958) rescaled for French.
READING_RULES: dict[str, ReadingRule] = {
    "en": ReadingRule("Flesch–Kincaid grade", 8.0, easier_above=False),
    "es": ReadingRule("Fernández-Huerta reading ease", 60.0, easier_above=True),
    "fr": ReadingRule("Kandel–Moles reading ease", 60.0, easier_above=True),
}


class ReadingScore(BaseModel):
    """The measured readability of one patient text in its own language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str
    measure: str
    score: float
    limit: float
    easier_above: bool

    @property
    def within_limit(self) -> bool:
        """Whether the text is as easy as the language's bound asks."""
        return self.score >= self.limit if self.easier_above else self.score <= self.limit

    def describe(self) -> str:
        """For staff, in English: 'Flesch–Kincaid grade 5.2 (limit: 8 or below)'."""
        bound = "or above" if self.easier_above else "or below"
        return f"{self.measure} {self.score:.1f} (limit: {self.limit:g} {bound})"


def check_language(language: str) -> str:
    """A language code CaseLens has a catalogue for; LanguageError naming the choices."""
    if language not in LANGUAGES:
        raise LanguageError(
            f"language: expected one of {', '.join(LANGUAGES)}, got {str(language)[:20]!r}"
        )
    return language


def measure_reading(text: str, language: str) -> ReadingScore:
    """The language's reading measure of ``text`` (textstat 0.7.8, offline syllable counts)."""
    rule = READING_RULES[check_language(language)]
    if language == "en":
        score = metrics.flesch_kincaid_grade(text, "en_US")
    elif language == "es":
        score = metrics.fernandez_huerta(text, "es")
    else:  # textstat's French Flesch constants are Kandel & Moles's (207, 1.015, 73.6)
        score = metrics.flesch_reading_ease(text, "fr")
    return ReadingScore(
        language=language,
        measure=rule.measure,
        score=round(float(score), 2),
        limit=rule.limit,
        easier_above=rule.easier_above,
    )


@functools.cache
def _messages(language: str) -> dict[str, str]:
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{CATALOGUE_DOMAIN}.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    # A fuzzy or empty entry is not a curated translation: it is left out (and so refused).
    return {
        str(m.id): str(m.string)
        for m in catalogue
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


class Catalogue:
    """The fixed patient sentences in one language: ``catalogue("About {count}…", count=3)``."""

    def __init__(self, language: str) -> None:
        self.language = check_language(language)
        self._messages = {} if language == DEFAULT_LANGUAGE else _messages(language)

    def __call__(self, message: str, **blanks: object) -> str:
        if self.language == DEFAULT_LANGUAGE:
            text = message
        else:
            try:
                text = self._messages[message]
            except KeyError:
                raise LanguageError(
                    f"The {LANGUAGES[self.language]} catalogue has no curated text for {message!r}."
                ) from None
        return text.format(**blanks)

    def messages(self) -> dict[str, str]:
        """Every curated message id → text (empty for English, whose ids are the text)."""
        return dict(self._messages)


@functools.cache
def catalogue(language: str) -> Catalogue:
    """The (cached) catalogue of a language."""
    return Catalogue(language)


def blanks(text: str) -> set[str]:
    """The ``{named}`` blanks of a catalogue text."""
    return set(_BLANK.findall(text))


def format_number(number: float, language: str, *, decimals: int | None = None) -> str:
    """A number the language's way: '4.2' in English, '4,2' in Spanish and French."""
    text = f"{number:.{decimals}f}" if decimals is not None else f"{number:g}"
    return text if language == "en" else text.replace(".", ",")


def _needs_words(value: str) -> bool:
    """A category value made only of digits and signs ('40-49') reads the same in every
    language; one with letters needs the card's words."""
    return any(ch.isalpha() for ch in value)


def patient_texts(card: ModelCard, language: str) -> PatientTexts | None:
    """The card's patient texts in ``language``; None when it has none in that language."""
    return card.patient_texts.get(language)


def value_key(feature: FeatureSpec, value: object) -> str:
    """How a value is looked up in the card's words: a category as written, a 0/1 integer
    as '0' / '1'."""
    if feature.kind == "category":
        return str(value)
    return format_group_number(float(value))  # type: ignore[arg-type]


def missing_patient_texts(card: ModelCard, schema: FeatureSchema) -> list[str]:
    """What the card still lacks for patients, per language it has texts for: each input's
    label, each category word (values with letters), each unit, the outcome, the questions;
    and a note when the card has no patient texts, or no model kind, at all."""
    problems: list[str] = []
    if not card.patient_texts:
        problems.append(
            "patient_texts: none (patients see the feature schema's English labels and the "
            "card's outcome wording; no other language can be shown)"
        )
    if card.model_kind is None:
        problems.append(
            "model_kind: not set ('diagnostic' or 'prognostic'; patients get only the "
            "questions that fit either)"
        )
    for language, texts in card.patient_texts.items():
        where = f"patient_texts.{language}"
        if language not in LANGUAGES:
            problems.append(f"{where}: CaseLens has no catalogue for language {language!r}")
        if not texts.questions:
            problems.append(f"{where}.questions: none (generic questions are used)")
        for feature in schema:
            words = texts.inputs.get(feature.name)
            if words is None:
                problems.append(f"{where}.inputs.{feature.name}: missing")
                continue
            if feature.kind == "category":
                for category in feature.categories or ():
                    if _needs_words(category) and category not in words.values:
                        problems.append(f"{where}.inputs.{feature.name}.values[{category!r}]")
            elif feature.unit and words.unit is None and not _is_yes_no_integer(feature):
                problems.append(f"{where}.inputs.{feature.name}.unit")
        unknown = sorted(set(texts.inputs) - set(schema.names))
        if unknown:
            problems.append(f"{where}.inputs: not in the feature schema: {', '.join(unknown)}")
    return problems


def _is_yes_no_integer(feature: FeatureSpec) -> bool:
    return feature.kind == "integer" and (feature.hard_min, feature.hard_max) == (0, 1)
