"""Text from a record quoted back in a message: cut short, unprintable characters escaped.

A record is untrusted: a code, a unit or an id may hold control characters, direction
overrides or a megabyte of text, none of which may reach a message as it is.
"""

from __future__ import annotations

from caselens.explain.cases._quoting import printable_excerpt

#: Characters of record text quoted back in a message; the rest is cut with '…'.
SHOWN_CHARS = 60


def clip(text: object) -> str:
    """Record text as it can be quoted: cut to ``SHOWN_CHARS``, unprintable characters escaped."""
    return printable_excerpt(text if isinstance(text, str) else repr(text), SHOWN_CHARS)
