"""The subgroup table: small groups suppressed in words, every figure with its interval (or
words saying why not), intersections only where every group has enough patients, and the
largest gap with a reproducible bootstrap interval."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.model.performance import weighted_auroc
from caselens.model.subgroups import INTERSECTION_MARK, group_labels
from caselens.monitoring.stats import z_value
from caselens.monitoring.subgroup_table import (
    NARROW,
    NO_EVENTS,
    NO_NON_EVENTS,
    NO_POSITIVES,
    ONE_PATIENT,
    PERFECT_SEPARATION,
    SubgroupTableError,
    gap_interval,
    subgroup_table,
)

THRESHOLD = 0.5


def _wilson_by_formula(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval written out from its formula (Wilson 1927)."""
    phat = k / n
    denominator = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _cohort(seed: int, sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Outcomes, probabilities that carry signal, and one group per patient."""
    rng = np.random.default_rng(seed)
    groups = [g for g, n in sizes.items() for _ in range(n)]
    n = len(groups)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + 0.25 * (2 * y - 1) + rng.normal(0, 0.2, n), 0.01, 0.99)
    return y, p, groups


def test_a_group_of_9_is_suppressed_in_words_and_a_group_of_10_is_shown():
    y, p, groups = _cohort(1, {"nine": 9, "ten": 10})
    table = subgroup_table(y, p, {"site": groups}, THRESHOLD, seed=0)
    by_group = {r.group: r for r in table.rows}
    nine, ten = by_group["nine"], by_group["ten"]
    assert nine.suppressed == "fewer than 10 patients"
    assert nine.n is None and nine.events is None and nine.figures() == {}
    assert ten.suppressed is None and ten.n == 10
    assert set(ten.figures()) == {
        "AUROC",
        "sensitivity",
        "specificity",
        "PPV",
        "observed rate",
        "mean predicted",
    }
    # The row keeps its name and order: the suppressed group is not dropped.
    assert [r.group for r in table.rows] == ["nine", "ten"]


def test_a_perfect_auroc_says_it_has_no_interval_and_close_ends_get_more_digits():
    y = np.array([0] * 6 + [1] * 6)
    p = np.linspace(0.05, 0.95, 12)
    row = subgroup_table(y, p, {"v": ["g"] * 12}, THRESHOLD).rows[0]
    assert row.auroc.value == 1.0 and row.auroc.low is None
    assert row.auroc.text() == f"1.00 ({PERFECT_SEPARATION})"
    # 2499 of 2500: two decimals would print 1.00 (1.00–1.00), three tell the ends apart.
    y = np.zeros(5000, dtype=int)
    y[:2500] = 1
    p = np.where(y == 1, 0.9, 0.1)
    p[2500] = 0.9  # one patient without the outcome flagged
    row = subgroup_table(y, p, {"v": ["g"] * 5000}, THRESHOLD).rows[0]
    assert row.specificity.text() == "1.000 (0.998–1.000)"


def test_the_stated_minimum_moves_the_line_and_names_itself():
    y, p, groups = _cohort(2, {"a": 14, "b": 15})
    table = subgroup_table(y, p, {"v": groups}, THRESHOLD, min_n=15)
    assert [r.suppressed for r in table.rows] == ["fewer than 15 patients", None]
    assert "fewer than 15 patients" in table.methods
    assert table.min_n == 15


def test_wilson_intervals_match_the_formula_and_contain_the_value():
    y, p, groups = _cohort(3, {"g": 40})
    row = subgroup_table(y, p, {"v": groups}, THRESHOLD).rows[0]
    positive = p >= THRESHOLD
    tp = int((positive & (y == 1)).sum())
    tn = int((~positive & (y == 0)).sum())
    expected = {
        "sensitivity": (tp, int(y.sum())),
        "specificity": (tn, int((y == 0).sum())),
        "PPV": (tp, int(positive.sum())),
        "observed rate": (int(y.sum()), len(y)),
    }
    for name, (k, n) in expected.items():
        figure = row.figures()[name]
        low, high = _wilson_by_formula(k, n)
        assert figure.value == pytest.approx(k / n)
        assert figure.low == pytest.approx(max(0.0, low), abs=1e-12)
        assert figure.high == pytest.approx(min(1.0, high), abs=1e-12)
        assert figure.low <= figure.value <= figure.high


def test_the_auroc_interval_is_hanley_mcneil_around_the_rank_auroc():
    y, p, groups = _cohort(4, {"g": 30})
    auroc = subgroup_table(y, p, {"v": groups}, THRESHOLD).rows[0].auroc
    n1, n0 = int(y.sum()), int((y == 0).sum())
    value = weighted_auroc(y, p, np.ones(len(y)))
    q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
    se = math.sqrt(
        (value * (1 - value) + (n1 - 1) * (q1 - value**2) + (n0 - 1) * (q2 - value**2)) / (n1 * n0)
    )
    assert auroc.value == pytest.approx(value)
    assert auroc.low == pytest.approx(max(0.0, value - z_value(0.95) * se))
    assert auroc.high == pytest.approx(min(1.0, value + z_value(0.95) * se))


def test_figures_that_cannot_exist_say_why_in_words_not_nan():
    # Ten patients, none with the outcome, none at or above the threshold.
    y = np.zeros(10, dtype=int)
    p = np.full(10, 0.1)
    row = subgroup_table(y, p, {"v": ["g"] * 10}, THRESHOLD).rows[0]
    assert row.auroc.value is None and row.auroc.missing == NO_EVENTS
    assert row.sensitivity.value is None and row.sensitivity.missing == NO_EVENTS
    assert row.ppv.value is None and row.ppv.missing == NO_POSITIVES
    assert row.specificity.value == 1.0 and row.specificity.low is not None
    assert row.auroc.text() == NO_EVENTS
    # Everyone with the outcome: the AUROC and specificity say so.
    row = subgroup_table(np.ones(10, dtype=int), p, {"v": ["g"] * 10}, THRESHOLD).rows[0]
    assert row.auroc.missing == NO_NON_EVENTS and row.specificity.missing == NO_NON_EVENTS


def test_an_intersection_is_shown_only_when_every_group_has_enough_patients():
    rng = np.random.default_rng(5)
    n = 80
    sex = ["F"] * 40 + ["M"] * 40
    # Every sex × age cell has 20 patients.
    age = (["young"] * 20 + ["old"] * 20) * 2
    y = rng.integers(0, 2, n)
    p = rng.uniform(0, 1, n)
    table = subgroup_table(y, p, {"sex": sex, "age": age}, THRESHOLD)
    crossed = [r for r in table.rows if r.intersection]
    assert [r.variable for r in crossed] == [f"sex{INTERSECTION_MARK}age"] * 4
    assert sorted(r.group for r in crossed) == [
        "F × old",
        "F × young",
        "M × old",
        "M × young",
    ]
    assert all(r.n == 20 for r in crossed) and table.left_out == ()
    # One cell of 9: the whole intersection is left out, and the table says so.
    age = (["young"] * 31 + ["old"] * 9) + (["young"] * 20 + ["old"] * 20)
    table = subgroup_table(y, p, {"sex": sex, "age": age}, THRESHOLD)
    assert not any(r.intersection for r in table.rows)
    assert table.left_out == ("sex × age: not shown, 1 of its 4 groups has fewer than 10 patients",)
    # The single variables are still shown.
    assert {r.variable for r in table.rows} == {"sex", "age"}


def test_the_largest_gap_names_the_extreme_groups_and_its_interval_reproduces():
    y, p, groups = _cohort(6, {"a": 60, "b": 50, "c": 70})
    # Blur group c's probabilities so its AUROC is lowest.
    c = np.array(groups) == "c"
    p = p.copy()
    p[c] = np.random.default_rng(0).uniform(0, 1, c.sum())
    table = subgroup_table(y, p, {"site": groups}, THRESHOLD, seed=11, n_boot=300)
    gap = table.gap("site", "AUROC")
    aurocs = {r.group: r.auroc.value for r in table.rows}
    assert gap.higher == max(aurocs, key=aurocs.get) and gap.lower == "c"
    assert gap.difference.value == pytest.approx(aurocs[gap.higher] - aurocs["c"])
    assert gap.difference.low <= gap.difference.value <= gap.difference.high
    # Recomputed apart with the recorded seed: the same interval, bit for bit.
    mask_h = np.array(groups) == gap.higher
    again = gap_interval(
        y[mask_h], p[mask_h], y[c], p[c], "AUROC", threshold=THRESHOLD, seed=11, n_boot=300
    )
    assert again == (gap.difference.low, gap.difference.high)
    assert subgroup_table(y, p, {"site": groups}, THRESHOLD, seed=11, n_boot=300) == table
    other = subgroup_table(y, p, {"site": groups}, THRESHOLD, seed=12, n_boot=300)
    assert other.gap("site", "AUROC").difference.low != gap.difference.low
    assert table.seed == 11 and "seed 11" in table.methods


def test_the_gap_interval_matches_a_straightforward_bootstrap():
    """The vectorised resampling equals resampling the rows one resample at a time."""
    y, p, groups = _cohort(7, {"h": 40, "l": 35})
    g = np.array(groups)
    yh, ph, yl, pl = y[g == "h"], p[g == "h"], y[g == "l"], p[g == "l"]
    for measure in ("AUROC", "sensitivity"):
        rng = np.random.default_rng(3)
        # The same draws as gap_interval makes: the higher group's resamples first.
        draws_h = [rng.integers(0, len(yh), len(yh)) for _ in range(200)]
        draws_l = [rng.integers(0, len(yl), len(yl)) for _ in range(200)]

        def value(yy, pp, idx, measure=measure):
            ys, ps = yy[idx], pp[idx]
            if measure == "AUROC":
                if ys.min() == ys.max():
                    return np.nan
                return weighted_auroc(ys, ps, np.ones(len(ys)))
            events = ys == 1
            return np.nan if not events.any() else float((ps[events] >= THRESHOLD).mean())

        diffs = np.array(
            [value(yh, ph, a) - value(yl, pl, b) for a, b in zip(draws_h, draws_l, strict=True)]
        )
        diffs = diffs[np.isfinite(diffs)]
        expected = tuple(np.percentile(diffs, [2.5, 97.5]))
        found = gap_interval(yh, ph, yl, pl, measure, threshold=THRESHOLD, seed=3, n_boot=200)
        assert found == pytest.approx(expected, abs=1e-12)


def test_no_gap_with_fewer_than_two_groups_shown_says_so():
    y, p, groups = _cohort(8, {"big": 30, "small": 5})
    table = subgroup_table(y, p, {"site": groups}, THRESHOLD)
    gap = table.gap("site", "AUROC")
    assert gap.higher is None and gap.difference.value is None
    assert gap.difference.missing == "no gap: fewer than two groups with an AUROC shown"
    assert table.gap("site", "sensitivity").difference.missing == (
        "no gap: fewer than two groups with sensitivity shown"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 2] * 4}, "Outcomes: expected 0 or 1"),
        ({"p": [0.2] * 11}, "expected two lists of equal length"),
        ({"p": [1.5] * 12}, "Probabilities: expected numbers between 0 and 1"),
        ({"threshold": 1.0}, "Threshold: expected a probability between 0 and 1"),
        ({"min_n": 0}, "Minimum n: expected a whole number of at least 1"),
        ({"groups": {"v": ["a"] * 11}}, "Groups of 'v': expected one per patient"),
    ],
)
def test_inconsistent_inputs_are_refused_with_words(kwargs, message):
    args = {
        "y_true": [0, 1] * 6,
        "p": [0.3, 0.6] * 6,
        "groups": {"v": ["a"] * 12},
        "threshold": THRESHOLD,
    }
    args.update(kwargs)
    min_n = args.pop("min_n", 10)
    with pytest.raises(SubgroupTableError, match=message):
        subgroup_table(**args, min_n=min_n)


def test_the_reference_data_of_a_sample_give_a_table_with_every_group(heart_bundle):
    reference = heart_bundle.reference
    y = reference["outcome"].to_numpy(int)
    p = np.asarray(heart_bundle.predict_proba(reference), dtype=float)
    specs = heart_bundle.features.subgroup_features
    groups = {s.name: group_labels(s, reference[s.name].tolist()) for s in specs}
    table = subgroup_table(y, p, groups, heart_bundle.card.decision_threshold)
    measured = {
        (s.variable, s.group): s.figures for s in heart_bundle.measured_validation.subgroups
    }
    single = [r for r in table.rows if not r.intersection]
    assert {(r.variable, r.group) for r in single} == set(measured)
    for row in single:
        figures = measured[(row.variable, row.group)]
        assert row.n == figures.n and row.events == figures.events
        assert round(row.auroc.value, 4) == figures.auroc
        assert round(row.sensitivity.value, 4) == figures.sensitivity


@settings(max_examples=150, deadline=None)
@given(
    assignment=st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=0, max_size=45),
    second=st.lists(st.sampled_from(["x", "y"]), min_size=45, max_size=45),
    outcomes=st.lists(st.integers(0, 1), min_size=45, max_size=45),
    probabilities=st.lists(
        st.floats(0, 1, allow_nan=False, allow_infinity=False), min_size=45, max_size=45
    ),
    min_n=st.integers(1, 15),
)
def test_any_small_group_assignment_gives_figures_with_intervals_or_words(
    assignment, second, outcomes, probabilities, min_n
):
    n = len(assignment)
    y = np.array(outcomes[:n], dtype=int)
    p = np.array(probabilities[:n], dtype=float)
    b = second[:n]
    table = subgroup_table(y, p, {"a": assignment, "b": b}, THRESHOLD, min_n=min_n, n_boot=40)
    counts = {}
    for name, labels in (("a", assignment), ("b", b)):
        for g in set(labels):
            counts[(name, g)] = labels.count(g)
    cross = [f"{u}{INTERSECTION_MARK}{v}" for u, v in zip(assignment, b, strict=True)]
    cross_counts = {g: cross.count(g) for g in set(cross)}
    shown_cross = bool(cross_counts) and min(cross_counts.values()) >= min_n
    for g, k in cross_counts.items():
        counts[(f"a{INTERSECTION_MARK}b", g)] = k
    rows = {(r.variable, r.group): r for r in table.rows}
    expected = {key for key in counts if INTERSECTION_MARK not in key[0] or shown_cross}
    assert set(rows) == expected
    if cross_counts and not shown_cross:
        assert len(table.left_out) == 1
    for key, row in rows.items():
        assert (row.suppressed is not None) == (counts[key] < min_n)
        if row.suppressed is not None:
            assert row.figures() == {} and row.n is None
            continue
        assert row.n == counts[key]
        for name, figure in row.figures().items():
            if figure.value is None:
                assert figure.missing, name
                assert figure.low is None and figure.high is None
            else:
                assert math.isfinite(figure.value)
                if figure.low is None or figure.high is None:
                    # Only a mean of one patient, or an AUROC of 0 or 1 (where Hanley–McNeil
                    # has no width), has a value and no interval, and each says so.
                    assert (name, row.n, figure.missing) == ("mean predicted", 1, ONE_PATIENT) or (
                        name == "AUROC"
                        and figure.value in (0.0, 1.0)
                        and figure.missing == PERFECT_SEPARATION
                    )
                    continue
                # The ends as printed differ, or the text says the interval is too narrow to.
                found = re.search(r"\(([-\d.]+)(?:–| to )([-\d.]+)\)$", figure.text())
                assert figure.text().endswith(f"({NARROW})") or found[1] != found[2]
                assert figure.low - 1e-12 <= figure.value <= figure.high + 1e-12, name
    for gap in table.gaps:
        d = gap.difference
        if d.value is None:
            assert d.missing and gap.higher is None
        else:
            assert d.value >= 0
            assert (d.low is not None and d.high is not None) or d.missing
