"""Data text on a page, shown literally: never as Markdown, HTML or a Streamlit directive.

Every string that comes from data (a bundle's card or features, a report — stored reports
are replayed too —, a user's name or typed text, a case file) reaches Streamlit's Markdown
renderer only through :func:`literal` (or :func:`code` for a code span). Our own formatting
(bold labels, lists, headings) is applied around the escaped parts only.

:func:`literal` does two things:

* Every ASCII punctuation character is backslash-escaped (CommonMark lets any of them be
  escaped), so no Markdown, HTML, link, image, emphasis, table, math (``$``) or directive
  (``:red[...]``) syntax can start inside data. Line endings become hard line breaks
  (``\\`` + line ending) so data cannot open a new block; whitespace at the start of a line
  is written as a character reference so it cannot start an indented code block.
* Streamlit and GFM also rewrite the *text* after parsing (escapes no longer visible there):
  emoji and icon shortcodes (``:smile:``, ``:material_home:``, ``:streamlit:``), links made
  from bare addresses (``http://…``, ``www.…``, ``name@host``) and typographic arrows
  (``->``, ``--``, ``<=`` …). At exactly those places an invisible WORD JOINER (U+2060) is
  inserted, which breaks the pattern without changing what is read.

:func:`unliteral` is the exact inverse (used by the tests).
"""

from __future__ import annotations

import re
import string

__all__ = ["WORD_JOINER", "code", "literal", "unliteral"]

WORD_JOINER = "\u2060"
_PUNCTUATION = frozenset(string.punctuation)  # the ASCII punctuation CommonMark can escape
# Streamlit's typographic replacements (text nodes): <-> -> <- -- >= <= ~=
_ARROW_PAIRS = frozenset({"<-", "->", "--", ">=", "<="})
_TILDE_PAIRS = frozenset({"~="})
# A shortcode after a colon: a name and the closing colon. Names of emoji without a letter
# are listed; "12:30:45" is left alone.
_SHORTCODE = re.compile(r"(?:[A-Za-z0-9_+\-]*[A-Za-z][A-Za-z0-9_+\-]*|\+1|-1|100|1234):")
_HOST_START = re.compile(r"[A-Za-z0-9_\-]")
_LEADING_WHITESPACE = {" ": "&#32;", "\t": "&#9;"}
_DECODE = re.compile(r"\\(.)|&#32;|&#9;", re.DOTALL)


def _break_after(s: str, j: int) -> bool:
    """Whether a word joiner goes after ``s[j]`` (``s`` holds no word joiner)."""
    c = s[j]
    pair = s[j : j + 2]
    if pair in _ARROW_PAIRS or pair in _TILDE_PAIRS:
        return True
    if c == ":":
        return s.startswith("//", j + 1) or _SHORTCODE.match(s, j + 1) is not None
    if c == "@":
        return _HOST_START.match(s, j + 1) is not None
    if c in "wW":
        return j >= 2 and s[j - 2 : j + 1].lower() == "www" and s.startswith(".", j + 1)
    return False


def literal(text: object) -> str:
    """``text`` as Markdown source that Streamlit shows exactly as written."""
    raw = str(text)
    bare = raw.replace(WORD_JOINER, "")
    out: list[str] = []
    j = 0  # index of the current character in ``bare``
    line_start = True
    previous = ""
    for ch in raw:
        if ch == WORD_JOINER:
            out.append(ch)
            line_start = False
            previous = ch
            continue
        if ch in "\r\n":
            # A hard line break: data never opens a new paragraph or block.
            out.append(ch if (ch == "\n" and previous == "\r") else "\\" + ch)
            line_start = True
        elif line_start and ch in _LEADING_WHITESPACE:
            out.append(_LEADING_WHITESPACE[ch])
        else:
            out.append("\\" + ch if ch in _PUNCTUATION else ch)
            line_start = False
        if _break_after(bare, j):
            out.append(WORD_JOINER)
        previous = ch
        j += 1
    return "".join(out)


def unliteral(source: str) -> str:
    """The text that :func:`literal` turned into ``source`` (its exact inverse)."""

    def decode(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        return " " if match.group(0) == "&#32;" else "\t"

    joined = _DECODE.sub(decode, source)
    bare = joined.replace(WORD_JOINER, "")
    out: list[str] = []
    j = 0
    skip = False
    for ch in joined:
        if ch == WORD_JOINER:
            if skip:
                skip = False  # the joiner literal() added after the previous character
                continue
            out.append(ch)
            continue
        out.append(ch)
        skip = _break_after(bare, j)
        j += 1
    return "".join(out)


def code(text: object) -> str:
    """``text`` as an inline code span (shown verbatim; line endings become spaces)."""
    raw = re.sub(r"\r\n|\r|\n", " ", str(text))
    if not raw:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", raw)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space at each end of a span that is not all spaces.
    pad = " " if raw.strip(" ") and (raw[0] in "` " or raw[-1] in "` ") else ""
    return f"{fence}{pad}{raw}{pad}{fence}"
