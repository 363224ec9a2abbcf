"""The SHAP/LIME agreement figures and sentence, from crafted weight vectors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata, spearmanr

from caselens.explain.attribution.agreement import (
    agreement_sentence,
    average_ranks,
    compare_explanations,
    join_words,
    mean_pairwise_jaccard,
    spearman_rho,
    top_k_indices,
)

NAMES = ["age", "bp", "chol", "hr", "st"]
LABELS = ["Age", "Blood pressure", "Cholesterol", "Heart rate", "ST depression"]
SHAP = [0.30, -0.20, 0.10, 0.02, 0.01]


def test_the_sentence_says_they_agree_when_the_top_three_and_their_signs_match():
    result = compare_explanations(NAMES, SHAP, [0.25, -0.15, 0.12, 0.0, 0.01], labels=LABELS)
    assert result.agree
    assert result.top_k_overlap == 1.0
    assert result.sign_agreement == 1.0
    assert result.sentence == (
        "SHAP and LIME agree on the three strongest factors: Age, Blood pressure and Cholesterol."
    )
    assert result.disagreeing_variables == ()


def test_the_sentence_flips_to_caution_when_lime_ranks_another_factor_in_the_top_three():
    lime = [0.25, -0.15, 0.0, 0.12, 0.01]
    result = compare_explanations(NAMES, SHAP, lime, labels=LABELS)
    assert not result.agree
    assert result.top_k_overlap == pytest.approx(2 / 3)
    assert set(result.disagreeing_variables) == {"chol", "hr"}
    assert result.sentence == (
        "SHAP and LIME agree that Age and Blood pressure are among the three strongest factors, "
        "but disagree about Cholesterol and Heart rate: treat this explanation with caution."
    )


def test_the_sentence_flips_when_a_top_factor_points_the_other_way():
    lime = [0.25, 0.15, 0.12, 0.0, 0.01]
    result = compare_explanations(NAMES, SHAP, lime, labels=LABELS)
    assert result.top_k_overlap == 1.0
    assert result.sign_agreement == pytest.approx(2 / 3)
    assert not result.agree
    assert result.disagreeing_variables == ("bp",)
    assert "disagree about Blood pressure" in result.sentence
    assert result.sentence.endswith("treat this explanation with caution.")


def test_the_sentence_names_only_the_disagreement_when_nothing_is_shared():
    lime = [0.0, 0.0, 0.01, 0.3, -0.2]
    result = compare_explanations(NAMES, SHAP, lime, labels=LABELS, k=2)
    assert result.top_k_overlap == 0.0
    assert result.sentence == (
        "SHAP and LIME disagree about Age, Blood pressure, Heart rate and "
        "ST depression: treat this explanation with caution."
    )


def test_rank_correlation_is_one_for_the_same_order_and_none_when_undefined():
    same = compare_explanations(NAMES, SHAP, [w * 2 for w in SHAP])
    assert same.rank_correlation == pytest.approx(1.0)
    flat = compare_explanations(NAMES, SHAP, [0.1] * 5)
    assert flat.rank_correlation is None


def test_top_k_ties_are_broken_by_variable_order_so_results_are_deterministic():
    assert top_k_indices([0.1, -0.3, 0.3, 0.0], 2) == [1, 2]
    assert top_k_indices([0.1], 3) == [0]


def test_jaccard_and_word_helpers():
    assert mean_pairwise_jaccard([{1, 2, 3}, {1, 2, 3}]) == 1.0
    assert mean_pairwise_jaccard([{1, 2}, {2, 3}]) == pytest.approx(1 / 3)
    assert mean_pairwise_jaccard([{1}]) == 1.0
    assert join_words(["A"]) == "A"
    assert join_words(["A", "B", "C"]) == "A, B and C"
    assert agreement_sentence(["A"], [], 1) == "SHAP and LIME agree on the strongest factor: A."


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        compare_explanations(NAMES, SHAP, [0.1])


# Magnitudes as reports have them: a few variables, ties (several zeros, repeated weights) common.
_magnitudes = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        *[
            st.lists(
                st.one_of(
                    st.sampled_from([0.0, 0.5, 1e-17, 0.25]),
                    st.floats(0, 10, allow_nan=False, allow_subnormal=True),
                ),
                min_size=n,
                max_size=n,
            )
        ]
        * 2
    )
)


@settings(max_examples=300, deadline=None)
@given(_magnitudes)
def test_spearman_rho_is_scipys_statistic_bit_for_bit(pair):
    first, second = (np.asarray(v) for v in pair)
    assert np.array_equal(average_ranks(first), rankdata(first))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on a constant input
        expected = float(spearmanr(first, second).statistic)
    got = spearman_rho(first, second)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_spearman_rho_refuses_vectors_it_cannot_rank_together():
    with pytest.raises(ValueError, match="same length"):
        spearman_rho(np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="at least 2"):
        spearman_rho(np.array([1.0]), np.array([1.0]))
