"""LIME's weighted ridge fits and R² in numpy, operation for operation as scikit-learn
does them."""

from __future__ import annotations

import numpy as np


def _solve_positive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.solve(a, b, assume_a="pos")`` bit for bit, without its per-call cost.

    scipy divides when ``a`` is 1 × 1 and otherwise runs LAPACK's Cholesky solve (``posv``,
    upper triangle) through its batched wrapper, which with its checks costs about 14 µs a
    call; the same LAPACK routine called directly costs 1 µs (LIME fits five times a
    report). Raises as scipy does: ``ValueError`` on a non-finite entry, ``LinAlgError``
    when ``a`` is not positive definite.
    """
    from scipy.linalg import lapack

    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("array must not contain infs or NaNs")
    if a.shape == (1, 1):
        if a[0, 0] == 0:
            raise np.linalg.LinAlgError("A singular matrix detected.")
        return b / a
    _, x, info = lapack.dposv(a, b, lower=False)
    if info > 0:
        raise np.linalg.LinAlgError("The matrix is not positive definite.")
    if info < 0:  # pragma: no cover - the arguments are well formed
        raise ValueError(f"LAPACK dposv: illegal value in argument {-info}")
    return x


class _WeightedFits:
    """LIME's weighted ridge fits and R² scores on one neighbourhood, as scikit-learn does
    them, with what depends only on the labels and weights computed once.

    :meth:`fit` is ``Ridge(alpha, fit_intercept=True).fit(x, y, sample_weight=weights)``:
    the same operations in the same order as scikit-learn's dense Cholesky path (weighted
    centring, rescaling by √weights, ``solve(XᵀX + αI, Xᵀy, assume_a="pos")``), so the
    result is scikit-learn's bit for bit, without its per-call validation. :meth:`r2` is
    ``r2_score(y, predicted, sample_weight=weights)``, same operations. The label and
    weight terms (their sums, the label's weighted mean and spread) are the very arrays
    scikit-learn would compute on every call: computing them once changes no bit.
    """

    def __init__(self, y: np.ndarray, weights: np.ndarray) -> None:
        # np.add.reduce is what np.sum calls (same sums, without its Python wrapper).
        total = np.add.reduce
        self.w_col = weights[:, None]
        self.w_col_total = total(self.w_col, axis=0)
        self.root = np.sqrt(weights)[:, None]
        self.y_offset = total(np.multiply(y, weights), axis=0) / total(weights, axis=0)
        self.ys = (y - self.y_offset).reshape(-1, 1) * self.root
        self.truth = y.reshape(-1, 1)
        mean = total(np.multiply(self.truth, self.w_col), axis=0) / self.w_col_total
        self.r2_denominator = total(self.w_col * (self.truth - mean) ** 2, axis=0)

    def fit(self, x: np.ndarray, *, alpha: float) -> tuple[np.ndarray, float]:
        """(coef, intercept); raises ``LinAlgError`` where scikit-learn would switch solver."""
        x_offset = np.add.reduce(np.multiply(x, self.w_col), axis=0) / self.w_col_total
        xs = (x - x_offset) * self.root
        gram = xs.T @ xs
        gram.flat[:: gram.shape[1] + 1] += alpha
        coef = _solve_positive(gram, xs.T @ self.ys).T.ravel()
        return coef, float(self.y_offset - x_offset @ coef)

    def r2(self, predicted: np.ndarray) -> float:
        """Weighted R² of ``predicted`` (scikit-learn's force_finite: a perfect fit scores 1,
        a constant target otherwise 0)."""
        numerator = np.add.reduce(self.w_col * (self.truth - predicted.reshape(-1, 1)) ** 2, axis=0)
        if numerator[0] == 0:
            return 1.0
        if self.r2_denominator[0] == 0:
            return 0.0
        # scikit-learn averages this one output's score: the mean of one number is itself.
        return float(1 - numerator[0] / self.r2_denominator[0])

    def highest_weights(self, scaled: np.ndarray) -> list[int]:
        """LIME's 'highest_weights' order of every variable: |coef × case| of a ridge fit
        with alpha 0.01, largest first (Python's stable sort, as LIME's)."""
        m = scaled.shape[1]
        selection, _ = self.fit(scaled, alpha=0.01)
        weighted = selection * scaled[0]
        return [
            j
            for j, _ in sorted(
                zip(range(m), weighted, strict=True), key=lambda x: np.abs(x[1]), reverse=True
            )
        ]
