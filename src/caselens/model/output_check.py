"""Every probability a model returns is checked before CaseLens uses it.

A model file is untrusted: an ONNX graph or a scikit-learn pipeline can return NaN, a
negative number, a number above 1, or two class probabilities that do not sum to 1 —
for every row, or only for rows in some region of the inputs. :func:`check_probabilities`
refuses such an answer with :class:`ModelOutputError`, naming what is wrong, how many rows
and the first of them, so that a report is never computed from it (the workflow records
the refusal; see :meth:`caselens.workflow.door.Workflow.show_report`).

The check is vectorised numpy over the whole batch (a few microseconds for a report's
thousands of rows) and runs at ``bundle create`` (the test split), at load (the reference
and calibration rows, :mod:`caselens.model.bundle`) and on every model call of a report
(:mod:`caselens.explain.attribution`; an ONNX model also on every call of its own,
:mod:`caselens.model.onnx`).
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from caselens.errors import CaseLensError

#: How far a row's class probabilities may sum from 1: float32 arithmetic inside an ONNX
#: graph (about 6e-8 per operation) and a calibrator's rounding stay far below it; a model
#: that does not return a probability distribution does not.
SUM_TOLERANCE = 1e-4
#: How far below 0 or above 1 a probability may stray (the same float rounding), no further.
RANGE_TOLERANCE = 1e-6


class ModelOutputError(CaseLensError):
    """The model returned something that is not a probability for every row asked.

    ``short`` says the problem in a few plain words, for the person whose case it is
    (``"it returned a probability that is not a number"``); the message gives the full
    account (what, how many rows, the first of them).
    """

    def __init__(self, message: str, *, short: str) -> None:
        super().__init__(message)
        self.short = short


def _first(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    count = len(rows)
    return f"{count} row{'s' if count != 1 else ''} (the first: row {int(rows[0])})"


def check_probabilities(probabilities: Any, *, rows: int | None = None) -> np.ndarray:
    """Return ``probabilities`` as a float64 array of shape (rows, classes), checked.

    Parameters
    ----------
    probabilities : array-like
        A model's ``predict_proba`` answer: one row per input row, one column per class.
    rows : int, optional
        How many rows were asked (checked when given).

    Returns
    -------
    ndarray
        The same numbers as float64 (no copy when they already are).

    Raises
    ------
    ModelOutputError
        If the answer is not two-dimensional with the rows asked, or a value is not finite,
        or lies outside [0, 1], or a row does not sum to 1 (within :data:`SUM_TOLERANCE`);
        the message names the problem, how many rows and the first.
    """
    try:
        values = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelOutputError(
            f"The model returned something that is not numbers ({type(exc).__name__}).",
            short="it returned something that is not a number",
        ) from exc
    if values.ndim != 2 or (rows is not None and values.shape[0] != rows):
        expected = f"({rows}, classes)" if rows is not None else "(rows, classes)"
        raise ModelOutputError(
            f"The model returned probabilities of shape {values.shape}; expected {expected}.",
            short="its answer was not one probability per class",
        )
    if values.size == 0:
        return values
    # The whole batch in four flat passes (numpy's ``sum(axis=1)`` over two columns alone
    # would take longer than all of them). NaN propagates through min and max and fails
    # every comparison, so a NaN or an infinity anywhere fails the range test. Only a
    # failing batch is looked at row by row, to name its rows.
    row_sums = values[:, 0] + values[:, 1] if values.shape[1] > 1 else values[:, 0].copy()
    for column in range(2, values.shape[1]):
        row_sums += values[:, column]
    if (
        values.min() >= -RANGE_TOLERANCE
        and values.max() <= 1 + RANGE_TOLERANCE
        and np.abs(row_sums - 1.0).max() <= SUM_TOLERANCE
    ):
        return values
    _refuse(values, row_sums)


def _refuse(values: np.ndarray, row_sums: np.ndarray) -> NoReturn:
    """Raise the ModelOutputError naming what is wrong with ``values``, and in which rows."""
    finite = np.isfinite(values)
    if not finite.all():
        raise ModelOutputError(
            f"The model returned a probability that is not a number (NaN or infinite) for "
            f"{_first(~finite.all(axis=1))}; a probability must be a number from 0 to 1.",
            short="it returned a probability that is not a number",
        )
    outside = (values < -RANGE_TOLERANCE) | (values > 1 + RANGE_TOLERANCE)
    if outside.any():
        bad = outside.any(axis=1)
        worst = float(values[np.unravel_index(np.argmax(np.abs(values - 0.5)), values.shape)])
        raise ModelOutputError(
            f"The model returned a probability outside 0 to 1 (e.g. {worst:.6g}) for "
            f"{_first(bad)}.",
            short="it returned a probability below 0 or above 1",
        )
    off = ~(np.abs(row_sums - 1.0) <= SUM_TOLERANCE)
    first = int(np.flatnonzero(off)[0])
    raise ModelOutputError(
        f"The model's class probabilities do not sum to 1 for {_first(off)}: row {first} "
        f"sums to {float(row_sums[first]):.6g} (tolerance {SUM_TOLERANCE:g}).",
        short="its probabilities do not add up to 1",
    )
