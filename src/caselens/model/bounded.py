"""Files and JSON read from a bundle, bounded in size and nesting depth before they are parsed.

:func:`read_bounded` reads a regular file (no links, no FIFOs) up to a limit.

``json.loads`` recurses once per nesting level, so a file of a hundred thousand ``[`` would
raise ``RecursionError`` deep inside the parser (or inside whatever walks the result
recursively). The depth is measured first with a flat scan, so nothing recursive ever sees
a file that is too deep.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

from caselens.errors import BundleError

#: Largest card.json, features.json or demo_cases.json (the samples' are under 25 kB).
MAX_BUNDLE_JSON_BYTES = 2 * 1024 * 1024
#: Deepest ``[``/``{`` nesting of card.json, features.json and demo_cases.json (samples: 5).
MAX_BUNDLE_JSON_DEPTH = 32
#: Longest single text (any string, key or value) in the card, the feature schema and the
#: demo cases (the samples' longest: about 300 characters).
MAX_TEXT_CHARS = 20_000

# A JSON string, closed or running to the end of the text: every attempt matches, so removing
# strings is one linear pass (no retry from each escaped quote). Brackets inside strings are
# not nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\(?:.|\Z)[^"\\]*)*(?:"|\Z)', re.DOTALL)
# Every byte that is not a bracket, deleted so that only the brackets are scanned.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_nesting_depth(data: bytes | str) -> int:
    """The deepest bracket nesting of a JSON text, counted without parsing it.

    Brackets inside string literals are ignored. Malformed text gives a number too (the
    parser refuses it afterwards). Linear in the text whatever its shape: strings are
    removed in one pass, and the running depth is summed in C by ``accumulate``.

    Examples
    --------
    >>> json_nesting_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def loads_bounded(data: bytes, *, what: str, max_depth: int) -> Any:
    """Parse UTF-8 JSON whose nesting depth is at most ``max_depth``.

    Parameters
    ----------
    data : bytes
        The file's content (its size is the caller's to bound).
    what : str
        How to name the file in a refusal, e.g. ``"The model card (card.json)"``.
    max_depth : int
        The deepest nesting of ``[``/``{`` accepted.

    Raises
    ------
    BundleError
        Naming the file, the limit and the depth found, or the parse error.
    """
    depth = json_nesting_depth(data)
    if depth > max_depth:
        raise BundleError(f"{what} is nested {depth} levels deep; the limit is {max_depth} levels.")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{what} is not valid UTF-8 JSON: {exc}.") from exc
    except RecursionError as exc:  # not expected after the scan; never let it escape
        raise BundleError(f"{what} is nested too deeply to read.") from exc


def iter_strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every string in parsed JSON (keys and values), with its path, walked without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path or "(top level)", item
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                yield child_path, str(key)
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


def check_text_lengths(value: Any, *, what: str, max_chars: int) -> None:
    """Refuse parsed JSON holding a string longer than ``max_chars``, naming where it is."""
    for path, text in iter_strings(value):
        if len(text) > max_chars:
            shown = path if len(path) <= 120 else path[:117] + "..."
            raise BundleError(
                f"{what}: the text at '{shown}' is {len(text)} characters long; the limit "
                f"is {max_chars} characters."
            )


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """A regular file's bytes, refusing links, special files and anything over ``limit``.

    Opened without following a symbolic link and without blocking (a FIFO would hang), and
    read at most one byte past the size checked, so a file that grows while read is still
    bounded.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if path.is_symlink():
            raise BundleError(
                f"{what} ({path.name}) is a symbolic link; bundles may not hold links."
            )
        descriptor = os.open(path, flags)
    except FileNotFoundError as exc:
        raise BundleError(f"{what} is missing: expected the file {path}.") from exc
    except OSError as exc:
        raise BundleError(f"{what} ({path.name}) cannot be opened: {exc}.") from exc
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{what} ({path.name}) is not a regular file.")
        if info.st_size > limit:
            raise BundleError(
                f"{what} ({path.name}) is {info.st_size} bytes; the limit is {limit} bytes."
            )
        # Read one byte more than the size seen, to notice a file that grows meanwhile
        # (a buffer of the full limit is never allocated for a small file).
        data = handle.read(info.st_size + 1)
    if len(data) > info.st_size:
        raise BundleError(f"{what} ({path.name}) changed while it was read; it is refused.")
    return data
