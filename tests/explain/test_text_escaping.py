"""The one helper that puts data text on a page: shown literally, never as Markdown or HTML."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from components.figures import plot_text
from components.text import WORD_JOINER, code, literal, unliteral

# Characters that start Markdown, HTML, math, directives or shortcodes.
SIGNIFICANT = "<>[]()!*_`$:&#|~\\{}+-=.@/\"'"

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<iframe srcdoc="<script>parent.__pwned=1</script>">',
    "<style>body{display:none}</style>",
    '<meta http-equiv="refresh" content="0;url=about:blank">',
    "<form><input type=password name=pw></form>",
    "[click](javascript:alert(1))",
    "![x](http://127.0.0.1:9/x.png)",
    ":red[coloured] :smile: :material/home: :material_home: :streamlit: $x^2$ $$y$$",
    "**bold** _it_ ~~gone~~ `code` # heading\n- item\n1. first\n> quote\n---\n| a | b |",
    "    indented code\n\n\nnew paragraph",
    "mail me@example.org or www.example.org or https://example.org -> here -- <= >=",
]

# Text made mostly of the characters that matter, so the search finds the hard cases.
texts = st.text(
    alphabet=st.sampled_from(list(SIGNIFICANT + "ab 1:\n\r\t" + WORD_JOINER + "wW"))
    | st.characters(),
    max_size=60,
)


def unescaped(source: str, char: str) -> list[int]:
    """Positions of ``char`` in ``source`` not preceded by an odd number of backslashes."""
    found = []
    for match in re.finditer(re.escape(char), source):
        i = match.start()
        slashes = len(source[:i]) - len(source[:i].rstrip("\\"))
        if slashes % 2 == 0:
            found.append(i)
    return found


@given(texts)
def test_literal_leaves_no_significant_character_unescaped_and_round_trips(text):
    source = literal(text)
    # The only unescaped punctuation of our own: the references for line-start whitespace.
    bare = source.replace("&#32;", "").replace("&#9;", "")
    for char in "<>[]*_`$:!|~#&;{}()+-=.@/":
        assert not unescaped(bare, char), (char, source)
    assert unliteral(source) == text  # and so every backslash of the text was escaped too


@given(texts)
def test_no_line_of_the_source_can_open_a_block(text):
    for line in re.split(r"\r\n|\r|\n", literal(text)):
        assert not line.startswith((" ", "\t")), line  # no indented code block
        assert not re.match(r"([-+*>#=|~`]|\d+[.)])", line), line  # no list, quote, heading…


@given(texts)
def test_streamlits_text_rewrites_find_nothing_in_the_shown_text(text):
    # What the renderer's text node holds: the escapes resolved, the word joiners kept.
    shown = re.sub(r"\\(.)", r"\1", literal(text), flags=re.DOTALL)
    shown = shown.replace("&#32;", " ").replace("&#9;", "\t")
    # Emoji, icon and logo shortcodes (remark-emoji, :material_x:, :streamlit:).
    assert not re.search(r":(?:[\w+-]*[A-Za-z][\w+-]*|\+1|-1|100|1234):", shown, re.ASCII)
    # GFM's links made from bare addresses.
    assert not re.search(r"https?://|www\.", shown, re.IGNORECASE)
    assert not re.search(r"[-.\w+]+@[-\w]+", shown, re.ASCII)
    # Streamlit's typographic arrows and dashes.
    assert not re.search(r"<->|->|<-|--|>=|<=|~=", shown)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_escaped_and_read_back(payload):
    source = literal(payload)
    assert not unescaped(source, "<")
    assert not unescaped(source, "[")
    assert "](" not in source
    assert unliteral(source) == payload


def test_examples():
    assert literal("Dr. <b>Lee</b>") == r"Dr\. \<b\>Lee\<\/b\>"
    assert literal("a\nb") == "a\\\nb"
    assert literal("  x") == "&#32;&#32;x"
    assert literal(":smile:") == "\\:" + WORD_JOINER + "smile\\:"
    assert literal("12:30:45") == r"12\:30\:45"  # a time is not a shortcode
    assert literal("x@y.org") == "x\\@" + WORD_JOINER + r"y\.org"
    assert literal(3.5) == r"3\.5"
    assert unliteral(literal("")) == ""


@given(st.text(max_size=40))
def test_code_span_holds_the_text_verbatim(text):
    span = code(text)
    flat = re.sub(r"\r\n|\r|\n", " ", text)
    if not flat:
        assert span == ""
        return
    fence = re.match(r"`+", span).group(0)
    assert span.endswith(fence)
    inner = span[len(fence) : -len(fence)]
    assert fence not in inner  # no run of backticks in the text can close the span early
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    assert inner == flat


def test_plot_text_escapes_tags_and_entities():
    assert plot_text('<a href="javascript:x">&amp;</a>') == (
        '&lt;a href="javascript:x"&gt;&amp;amp;&lt;/a&gt;'
    )
