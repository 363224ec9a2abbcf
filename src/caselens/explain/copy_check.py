"""A copy check for generated sentences: the slips a reader notices at once.

Every sentence CaseLens writes from templates (the clinician and patient summaries, the
limitation texts) is checked here for what a copy editor would mark: a sentence that does not
start with a capital, a text that does not end with a full stop, "1 visits", "a admin",
a sentence that ends on a connective ("That means", "and") or an ellipsis, doubled spaces or
stops, empty brackets, and words such as "None" or "nan" that are a program's, not a
person's. The tests run it over every demo case of every bundle, and so does
``caselens bundle check --deep`` for the bundle it checks (:func:`demo_case_copy_problems`).

It checks form, not truth: what a sentence says is checked by the truthfulness tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the check itself stays light: reports load only for the demo-case run
    from caselens.explain.report import CaseReport
    from caselens.model.bundle import ModelBundle

#: Words a sentence may not end on: the sentence would promise something that never comes.
DANGLING_ENDINGS: tuple[str, ...] = (
    "that means",
    "which means",
    "and",
    "or",
    "but",
    "because",
    "so",
    "with",
    "of",
    "the",
    "a",
    "an",
    "to",
    "for",
    "than",
    "such as",
    "for example",
    "e.g.",
)
#: Words after 'a' that start with a vowel letter but a consonant sound ('a unit', 'a one-off').
CONSONANT_SOUND_STARTS: tuple[str, ...] = ("uni", "use", "usu", "uti", "ure", "one", "once", "eu")
#: Words after 'an' that start with a consonant letter but a vowel sound ('an hour').
VOWEL_SOUND_STARTS: tuple[str, ...] = ("hour", "honest", "honour", "honor", "heir")
#: Program words that must never reach a reader as words.
PROGRAM_WORDS: tuple[str, ...] = ("None", "nan", "NaN", "null", "undefined", "inf")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ONE_PLURAL = re.compile(r"(?<![\d.,/−+-])\b1 ([a-z]{3,}s)\b")
_A_VOWEL = re.compile(r"\b([Aa]) ([aeiou][a-z]*)")
_AN_WORD = re.compile(r"\b([Aa]n) ([a-z]+)")


def indefinite_article(word: str) -> str:
    """'a' or 'an' for ``word`` by its sound as far as the spelling tells ('an admin',
    'a user', 'an hour')."""
    lower = word.lower()
    if lower.startswith(VOWEL_SOUND_STARTS):
        return "an"
    if lower[:1] in "aeiou" and not lower.startswith(CONSONANT_SOUND_STARTS):
        return "an"
    return "a"


@dataclass(frozen=True)
class CopyProblem:
    """One copy slip: what is wrong and the text it was found in."""

    problem: str
    text: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.text!r}"


def sentences(text: str) -> list[str]:
    """Split a text into sentences at a stop followed by a space (stops inside numbers such
    as '88.8%' or in 'e.g.' followed by a lower-case word do not split)."""
    parts = _SENTENCE_END.split(text.strip())
    merged: list[str] = []
    for part in parts:
        # 'e.g. a value' and 'vs. the' are not sentence ends: rejoin them.
        if merged and re.search(r"\b(e\.g|i\.e|vs|approx|etc)\.$", merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [p for p in merged if p]


def _starts_well(sentence: str) -> bool:
    stripped = sentence.lstrip("\"'“‘(")
    if not stripped:
        return False
    first = stripped[0]
    if first.isdigit() or first.isupper() or first in "−+-–%$€£":
        return True
    # A unit or symbol that is written lower-case by convention opens a sentence as is
    # ('mm Hg' would be odd to start with, but 'eGFR' and 'pH' are words in their own right).
    word = re.match(r"[A-Za-z]+", stripped)
    return bool(word and any(c.isupper() for c in word.group(0)[1:]))


def _plural_after_one(word: str) -> bool:
    return not word.endswith(("ss", "us", "is"))


def copy_problems(text: str, *, needs_final_stop: bool = True) -> list[CopyProblem]:
    """Every copy slip in ``text`` (one or more sentences), in order of the checks.

    Parameters
    ----------
    text : str
        A generated text. An empty text has no problems (nothing is shown).
    needs_final_stop : bool
        False for a text that is a label or a list item shown without a stop.
    """
    problems: list[CopyProblem] = []
    stripped = text.strip()
    if not stripped:
        return problems

    def add(problem: str) -> None:
        problems.append(CopyProblem(problem, text))

    if text != stripped:
        add("leading or trailing space")
    if "  " in text:
        add("doubled space")
    if re.search(r"\s[.,;:!?](?!\d)", text):
        add("space before a punctuation mark")
    if re.search(r"(?<!\.)\.\.(?!\.)|[,;:]\s*[.,;:]|\.\s*,", text):
        add("doubled punctuation")
    if "…" in text or "..." in text:
        add("an ellipsis: a sentence left unfinished")
    if re.search(r"\(\s*\)", text):
        add("empty brackets")
    if text.count("(") != text.count(")"):
        add("unbalanced brackets")
    for word in PROGRAM_WORDS:
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text):
            add(f"a program's word '{word}'")
    if needs_final_stop and not re.search(r"[.!?][\"'”’)]?$", stripped):
        add("no full stop at the end")
    for match in _ONE_PLURAL.finditer(text):
        if _plural_after_one(match.group(1)):
            add(f"a plural after 1 ('1 {match.group(1)}')")
    for match in _A_VOWEL.finditer(text):
        if not match.group(2).startswith(CONSONANT_SOUND_STARTS):
            add(f"'{match.group(1)}' before a vowel sound ('{match.group(0)}')")
    for match in _AN_WORD.finditer(text):
        if indefinite_article(match.group(2)) == "a":
            add(f"'{match.group(1)}' before a consonant sound ('{match.group(0)}')")
    for sentence in sentences(stripped):
        if not _starts_well(sentence):
            add(f"a sentence that does not start with a capital ('{sentence[:40]}')")
        ending = re.sub(r"[.!?:;,\"'”’)]+$", "", sentence).strip().lower()
        for word in DANGLING_ENDINGS:
            if ending == word or ending.endswith(" " + word):
                add(f"a sentence ending on '{word}' ('{sentence[-40:]}')")
                break
    return problems


@dataclass(frozen=True)
class CaseCopyProblem:
    """A copy slip in a text written for one demo case: which case, which text, the
    sentence it is in and what is wrong."""

    case_id: str
    text_name: str
    sentence: str
    problem: str

    def __str__(self) -> str:
        return f"{self.case_id}, {self.text_name}: {self.problem} in {self.sentence!r}"


@dataclass(frozen=True)
class DemoCopyCheck:
    """The copy check over every demo case of a bundle: how many texts were read, and
    every slip found."""

    model_id: str
    cases: int
    texts: int
    problems: tuple[CaseCopyProblem, ...]

    @property
    def ok(self) -> bool:
        """True when no generated sentence has a slip."""
        return not self.problems

    def lines(self) -> list[str]:
        """The check as printed by ``caselens bundle check --deep``."""
        head = (
            f"Copy check of {self.model_id}: {self.texts} texts of {self.cases} demo cases "
            "(clinician summary, patient page, limitation texts; capitals, plurals, final "
            "stops, no dangling connectives): "
        )
        if self.ok:
            return [head + "every sentence passes."]
        return [head + f"FAILED, {len(self.problems)} slip(s):"] + [
            f"  {problem}" for problem in self.problems
        ]


def report_texts(report: CaseReport) -> list[tuple[str, str]]:
    """(name, text) of every generated text of a report a person reads: the clinician
    summary, the whole patient page and each limitation's clinician and patient text."""
    texts = [
        ("clinician summary", report.narrative.clinician_summary),
        ("patient page", report.narrative.patient.full_text()),
    ]
    for limitation in report.limitations:
        texts.append((f"limitation {limitation.code} (clinician)", limitation.clinician_text))
        if limitation.patient_text:
            texts.append((f"limitation {limitation.code} (patient)", limitation.patient_text))
    return texts


def _offending_sentence(text: str, problem: str) -> str:
    """The first sentence of ``text`` that has ``problem`` on its own (the whole text when
    the slip is between sentences, such as unbalanced brackets)."""
    for sentence in sentences(text):
        if any(p.problem == problem for p in copy_problems(sentence, needs_final_stop=False)):
            return sentence
        if problem == "no full stop at the end" and sentence == sentences(text)[-1]:
            return sentence
    return text.strip()


def demo_case_copy_problems(bundle: ModelBundle) -> DemoCopyCheck:
    """Run every demo case of ``bundle`` through the full report and copy-check every text
    it writes in English (the checks are English ones: 'a'/'an', '1 visits').

    Parameters
    ----------
    bundle : ModelBundle
        A loaded bundle; one without demo cases reads no text.

    Returns
    -------
    DemoCopyCheck
    """
    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import explainer_for

    explainer = explainer_for(bundle)
    found: list[CaseCopyProblem] = []
    read = 0
    for demo in bundle.demo_cases:
        case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
        report = explainer.explain(case)
        for name, text in report_texts(report):
            read += 1
            for slip in copy_problems(text):
                found.append(
                    CaseCopyProblem(
                        demo.case_id, name, _offending_sentence(text, slip.problem), slip.problem
                    )
                )
    return DemoCopyCheck(bundle.model_id, len(bundle.demo_cases), read, tuple(found))
