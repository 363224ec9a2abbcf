"""How far SHAP and LIME agree on one case, and the one plain sentence that says so.

Everything here is a pure function of two weight vectors over the same clinical variables, so
the sentence shown on screen can be tested by crafting weights, without running any model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
from pydantic import BaseModel, ConfigDict

#: The strongest factors compared, between SHAP and LIME and between LIME's seeded runs.
TOP_K = 3

_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


class ExplainerAgreement(BaseModel):
    """Agreement between SHAP values and LIME (mean) weights for one case.

    Attributes
    ----------
    k : int
        How many of the strongest factors are compared.
    top_k_overlap : float
        Share of SHAP's top-k variables (by absolute value) that are also in LIME's top-k (0-1).
    sign_agreement : float
        Share of SHAP's top-k variables whose LIME weight points the same way (0-1).
    rank_correlation : float or None
        Spearman rank correlation of the absolute weights over all variables; None when it is
        undefined (a vector with every value equal).
    agree : bool
        True when both top-k sets are the same and every sign among them agrees.
    sentence : str
        One plain sentence for the clinician.
    shap_top : tuple of str
        SHAP's top-k variable names, strongest first.
    lime_top : tuple of str
        LIME's top-k variable names, strongest first.
    disagreeing_variables : tuple of str
        Variable names in only one of the two top-k sets, or with opposite signs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int
    top_k_overlap: float
    sign_agreement: float
    rank_correlation: float | None
    agree: bool
    sentence: str
    shap_top: tuple[str, ...]
    lime_top: tuple[str, ...]
    disagreeing_variables: tuple[str, ...]


def top_k_indices(weights: Sequence[float], k: int) -> list[int]:
    """Indices of the k largest absolute weights, strongest first (ties: earlier index first).

    Parameters
    ----------
    weights : sequence of float
    k : int

    Returns
    -------
    list of int
    """
    magnitudes = np.abs(np.asarray(weights, dtype=float))
    # A stable sort on -|w| keeps ties in variable order, so the ranking is deterministic.
    order = np.argsort(-magnitudes, kind="stable")
    return [int(i) for i in order[: min(k, len(order))]]


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (``scipy.stats.rankdata``'s 'average').

    Every rank is a whole or half number, so it is exact whichever way it is computed.
    """
    values = np.asarray(values, dtype=float)
    below = (values[None, :] < values[:, None]).sum(axis=1)
    equal = (values[None, :] == values[:, None]).sum(axis=1)
    return below + (equal + 1) / 2


def spearman_rho(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation of two vectors: ``scipy.stats.spearmanr``'s statistic,
    bit for bit, for the handful of variables a report has.

    scipy ranks each vector, then takes ``np.corrcoef`` of the ranks; the same operations
    are done here. scipy's call also validates and computes a p-value, about 0.1 ms per
    report that this does not spend. NaN if either vector is constant or holds NaN (scipy
    then warns or propagates, and returns NaN).
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(first) != len(second) or len(first) < 2:
        raise ValueError("spearman_rho needs two vectors of the same length, at least 2")
    if not (_varies(first) and _varies(second)):
        return math.nan
    n = len(first)
    ranks = np.empty((2, n))
    ranks[0], ranks[1] = average_ranks(first), average_ranks(second)
    # np.corrcoef(ranks.T, rowvar=False) step by step, without its argument handling:
    # np.cov centres each row on its mean, takes dot(X, X.T.conj()) / (n - 1), then
    # corrcoef divides by the standard deviations and clips to [-1, 1].
    ranks -= (np.add.reduce(ranks, axis=1) / n)[:, None]
    covariance = np.dot(ranks, ranks.T.conj())
    covariance *= np.true_divide(1, n - 1)
    spread = np.sqrt(np.diag(covariance))
    covariance /= spread[:, None]
    covariance /= spread[None, :]
    return float(np.clip(covariance[1, 0], -1, 1))


def jaccard(first: set, second: set) -> float:
    """Jaccard index |A ∩ B| / |A ∪ B| (1.0 for two empty sets)."""
    union = first | second
    return 1.0 if not union else len(first & second) / len(union)


def mean_pairwise_jaccard(top_sets: Sequence[set]) -> float:
    """Mean Jaccard index over every pair of sets (1.0 when there is fewer than two)."""
    pairs = list(combinations(top_sets, 2))
    if not pairs:
        return 1.0
    return float(sum(jaccard(a, b) for a, b in pairs) / len(pairs))


def join_words(words: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _number_word(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _varies(values: np.ndarray) -> bool:
    """Whether not every value is the same (``np.ptp(values) > 0``; NaN: False)."""
    return bool(values.max() - values.min() > 0)


def _sign(value: float) -> int:
    return 0 if value == 0 else (1 if value > 0 else -1)


def compare_explanations(
    names: Sequence[str],
    shap_values: Sequence[float],
    lime_weights: Sequence[float],
    *,
    labels: Sequence[str] | None = None,
    k: int = TOP_K,
) -> ExplainerAgreement:
    """Compare SHAP values with LIME weights over the same variables.

    Parameters
    ----------
    names : sequence of str
        Variable names, in the order of both weight vectors.
    shap_values, lime_weights : sequence of float
        One weight per variable (LIME: the mean over its seeded runs).
    labels : sequence of str, optional
        Clinical labels used in the sentence (defaults to the names).
    k : int
        How many of the strongest factors to compare (default 3).

    Returns
    -------
    ExplainerAgreement

    Examples
    --------
    >>> compare_explanations(["a", "b", "c", "d"], [0.3, -0.2, 0.1, 0.0],
    ...                      [0.25, -0.1, 0.05, 0.01], k=3).sentence
    'SHAP and LIME agree on the three strongest factors: a, b and c.'
    """
    names = list(names)
    shap_arr = np.asarray(shap_values, dtype=float)
    lime_arr = np.asarray(lime_weights, dtype=float)
    if not (len(names) == len(shap_arr) == len(lime_arr)):
        raise ValueError("names, SHAP values and LIME weights must have the same length")
    if k < 1:
        raise ValueError("k must be at least 1")
    labels = list(labels) if labels is not None else names
    k = min(k, len(names))
    shap_top = top_k_indices(shap_arr, k)
    lime_top = top_k_indices(lime_arr, k)
    common = set(shap_top) & set(lime_top)
    overlap = len(common) / k if k else 1.0
    same_sign = [i for i in shap_top if _sign(shap_arr[i]) == _sign(lime_arr[i])]
    sign_agreement = len(same_sign) / k if k else 1.0

    rank_correlation: float | None = None
    magnitudes_shap, magnitudes_lime = np.abs(shap_arr), np.abs(lime_arr)
    if len(names) > 1:  # NaN (a constant vector) is reported as None
        rho = spearman_rho(magnitudes_shap, magnitudes_lime)
        rank_correlation = rho if math.isfinite(rho) else None

    # A variable disagrees if only one method ranks it among the strongest, or if both do but
    # they point in opposite directions: either way the clinician should not rely on it.
    disagreeing = [i for i in shap_top if i not in common]
    disagreeing += [i for i in lime_top if i not in common]
    disagreeing += [i for i in shap_top if i in common and i not in same_sign]
    agreeing = [i for i in shap_top if i in common and i in same_sign]
    agree = not disagreeing
    sentence = agreement_sentence(
        [labels[i] for i in agreeing], [labels[i] for i in disagreeing], k
    )
    return ExplainerAgreement(
        k=k,
        top_k_overlap=float(overlap),
        sign_agreement=float(sign_agreement),
        rank_correlation=rank_correlation,
        agree=agree,
        sentence=sentence,
        shap_top=tuple(names[i] for i in shap_top),
        lime_top=tuple(names[i] for i in lime_top),
        disagreeing_variables=tuple(names[i] for i in disagreeing),
    )


def agreement_sentence(agreeing: Sequence[str], disagreeing: Sequence[str], k: int) -> str:
    """The plain sentence for the clinician.

    Parameters
    ----------
    agreeing : sequence of str
        Labels both methods rank among the k strongest, with the same direction.
    disagreeing : sequence of str
        Labels the methods disagree about.
    k : int

    Returns
    -------
    str
    """
    k_word = _number_word(k)
    factors = "factor" if k == 1 else f"{k_word} strongest factors"
    if not disagreeing:
        if k == 1:
            return f"SHAP and LIME agree on the strongest factor: {join_words(agreeing)}."
        return f"SHAP and LIME agree on the {factors}: {join_words(agreeing)}."
    caution = (
        f"SHAP and LIME disagree about {join_words(disagreeing)}: treat this explanation "
        "with caution."
    )
    if agreeing:
        among = "the strongest factor" if k == 1 else f"among the {factors}"
        verb = "is" if len(agreeing) == 1 else "are"
        return (
            f"SHAP and LIME agree that {join_words(agreeing)} {verb} {among}, but "
            + caution[len("SHAP and LIME ") :]
        )
    return caution
