"""The fixed-seed sample of the reference data that SHAP and LIME explain against."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Background rows: SHAP's baseline and sampling error come from them, and every one of them
#: adds coalition rows to the report's one model call.
BACKGROUND_SIZE = 100


def select_background(
    reference: pd.DataFrame,
    *,
    size: int = BACKGROUND_SIZE,
    seed: int = 0,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A fixed-seed sample of the reference data to explain against.

    Parameters
    ----------
    reference : DataFrame
        The bundle's held-out rows (an ``outcome`` column, if present, is dropped).
    size : int
        Rows wanted; all rows are used when the reference has fewer.
    seed : int
        Seed of the sample; the same seed gives the same rows.
    columns : sequence of str, optional
        Feature columns to keep (default: every column but ``outcome``).

    Returns
    -------
    DataFrame
        ``min(size, len(reference))`` rows, index reset, in the order drawn.
    """
    if size < 1:
        raise ValueError("the background needs at least one row")
    keep = (
        list(columns) if columns is not None else [c for c in reference.columns if c != "outcome"]
    )
    n = len(reference)
    if n == 0:
        raise ValueError("the reference data is empty: there is no background to explain against")
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(size, n), replace=False)
    return reference.iloc[rows][keep].reset_index(drop=True)
