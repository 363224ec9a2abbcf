"""The column labels of a frame of clinical inputs, built once per list of names.

pandas builds a new ``Index`` of the column names for every frame (about 16 µs for a
handful of text labels, as each report builds two frames); an ``Index`` is immutable, so
frames with the same columns can share one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import pandas as pd


def column_index(names: Iterable[str]) -> pd.Index:
    """The shared, immutable ``pd.Index(names)``: equal to a fresh one, dtype included."""
    return _column_index(tuple(names))


@functools.lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))
