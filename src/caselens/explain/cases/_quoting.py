"""Typed text quoted back in a message: cut short, unprintable characters escaped."""

from __future__ import annotations

import math
from typing import Any

#: Characters of typed text quoted back in a message; the rest is cut with '…'.
SHOWN_CHARS = 40


def printable_excerpt(text: str, limit: int) -> str:
    """Text as it can be quoted back: cut to ``limit`` characters (the length said after
    '…'), unprintable characters escaped.

    Escaping keeps control characters, lone surrogates and direction overrides out of
    messages, where they could not be encoded or would change what the reader sees.
    """
    head = "".join(
        ch
        if ch.isprintable()
        else f"\\u{ord(ch):04x}"
        if ord(ch) <= 0xFFFF
        else f"\\U{ord(ch):08x}"
        for ch in text[:limit]
    )
    return head if len(text) <= limit else f"{head}… ({len(text):,} characters)"


def _clip(text: str) -> str:
    """Typed text as it can be quoted back: :func:`printable_excerpt` of SHOWN_CHARS."""
    return printable_excerpt(text, SHOWN_CHARS)


def _shown(raw: Any) -> str:
    """What was given, for a message: quoted text, a number, or a type and its start."""
    if isinstance(raw, str):
        return f"'{_clip(raw)}'"
    if raw is None or isinstance(raw, bool | float):
        return repr(raw)
    if isinstance(raw, int):
        # str() of an int over 4,300 digits raises; say how long it is instead.
        if raw.bit_length() > 64:
            return f"a number of about {int(raw.bit_length() * math.log10(2)) + 1:,} digits"
        return str(raw)
    try:
        text = repr(raw)
    except Exception:  # any object may come from a caller: name its type
        return f"a {type(raw).__name__}"
    return f"{type(raw).__name__} {_clip(text)}"


def _field_of(name: Any) -> str:
    """A key as a problem's field: clipped, escaped and never blank (a CSV may leave it empty)."""
    text = _clip(name) if isinstance(name, str) else _shown(name)
    return text if text.strip() else "(no name)"
