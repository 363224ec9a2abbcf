"""Text from a record quoted back in a message: cut short, unprintable characters escaped.

A record is untrusted: a code, a unit or an id may hold control characters, direction
overrides or a megabyte of text, none of which may reach a message as it is.
"""

from __future__ import annotations

#: Characters of record text quoted back in a message; the rest is cut with '…'.
SHOWN_CHARS = 60


def clip(text: object) -> str:
    """Record text as it can be quoted: cut to ``SHOWN_CHARS``, unprintable characters escaped."""
    text = text if isinstance(text, str) else repr(text)
    head = "".join(
        ch
        if ch.isprintable()
        else f"\\u{ord(ch):04x}"
        if ord(ch) <= 0xFFFF
        else f"\\U{ord(ch):08x}"
        for ch in text[:SHOWN_CHARS]
    )
    return head if len(text) <= SHOWN_CHARS else f"{head}… ({len(text):,} characters)"
