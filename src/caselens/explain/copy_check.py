"""A copy check for generated sentences: the slips a reader notices at once.

Every sentence CaseLens writes from templates (the clinician and patient summaries, the
limitation texts) is checked here for what a copy editor would mark: a sentence that does not
start with a capital, a text that does not end with a full stop, "1 visits", "a admin",
a sentence that ends on a connective ("That means", "and") or an ellipsis, doubled spaces or
stops, empty brackets, and words such as "None" or "nan" that are a program's, not a
person's. It is used by the tests over every demo case of every bundle, and can be used by
``caselens bundle check --deep`` over any bundle's reference rows.

It checks form, not truth: what a sentence says is checked by the truthfulness tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
