"""The live version against a shadow candidate: every figure of the comparison equals a
recomputation done here, independently, from the log rows read with plain SQL (sklearn's
roc_auc_score, numpy), on a real SQLite log of a few hundred pairs with outcomes."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from caselens.audit import AuditStore
from caselens.model.performance import calibration_slope_intercept
from caselens.monitoring.shadow_comparison import (
    FEWER_THAN_MIN,
    Pair,
    compare,
    pair_outcomes,
    read_pairs,
    shadow_versions,
)
from caselens.monitoring.shadow_comparison_rows import record_detail, summary_text
from caselens.monitoring.tables import ready_engine
from shadow_log_rows import random_log

MODEL = "heart-disease"
CANDIDATE = "c" * 64
KEY = bytes.fromhex("66" * 32)
WINDOW = 30  # the heart-disease card states no duration: the plan's default window
SEED = 11
Z = 1.959963984540054


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A real SQLite trail with 300 pairs (240 with outcomes) and noise rows."""
    path = tmp_path_factory.mktemp("shadow") / "audit.sqlite"
    store = AuditStore.open(path, key=KEY)
    truth = random_log(store, MODEL)
    yield store, path, truth
    store.close()


@pytest.fixture(scope="module")
def compared(logged, heart_bundle):
    store, _, _ = logged
    engine = ready_engine(store)
    pairs = read_pairs(engine, MODEL, CANDIDATE)
    outcomes = pair_outcomes(engine, MODEL, pairs, window_days=WINDOW)
    return compare(pairs, outcomes, heart_bundle.features, SEED, resamples=200, window_days=WINDOW)


@pytest.fixture(scope="module")
def frame(logged) -> pd.DataFrame:
    return _independent(logged[1])


def _independent(path) -> pd.DataFrame:
    """The pairs and their outcomes, read from the database file with plain SQL."""
    with sqlite3.connect(path) as con:
        live = pd.read_sql(
            "SELECT id, report_id, patient_ref, recorded_on, probability AS p, threshold AS t,"
            " inputs_json FROM monitoring_prediction WHERE model_id = ? AND never_shown = 0"
            " AND simulated = 0 ORDER BY id",
            con,
            params=[MODEL],
        )
        shadow = pd.read_sql(
            "SELECT paired_report_id, probability AS q, threshold AS tq FROM"
            " monitoring_prediction WHERE model_id = ? AND never_shown = 1 AND simulated = 0"
            " AND bundle_sha256 = ?",
            con,
            params=[MODEL, CANDIDATE],
        )
        outcomes = pd.read_sql(
            "SELECT patient_ref, outcome, known_on FROM monitoring_outcome WHERE model_id = ?",
            con,
            params=[MODEL],
        )
    live = live.drop_duplicates("report_id", keep="first")
    pairs = live.merge(shadow, left_on="report_id", right_on="paired_report_id")
    # An outcome links when known within [display day, display day + window]; 1 wins.
    joined = pairs[["report_id", "patient_ref", "recorded_on"]].merge(outcomes, on="patient_ref")
    day = pd.to_datetime(joined["recorded_on"])
    known_on = pd.to_datetime(joined["known_on"])
    inside = joined[(known_on >= day) & (known_on <= day + pd.Timedelta(days=WINDOW))]
    linked = inside.groupby("report_id")["outcome"].max()
    pairs["y"] = pairs["report_id"].map(linked).astype(float)
    pairs["age"] = [json.loads(text)["age"] for text in pairs["inputs_json"]]
    return pairs


def _wilson(k: int, n: int) -> tuple[float, float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return p, centre - half, centre + half


def _hanley_mcneil(a: float, y: np.ndarray) -> tuple[float, float]:
    n1, n0 = int(y.sum()), int((1 - y).sum())
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return a - Z * se, a + Z * se


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (p >= low) & ((p < high) if b < bins - 1 else (p <= high))
        if inside.any():
            total += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return total / len(y)


def test_the_pairs_are_the_live_displays_the_candidate_was_scored_beside(frame, logged, compared):
    store, _, truth = logged
    expected = frame
    pairs = read_pairs(ready_engine(store), MODEL, CANDIDATE)
    # 300 reports: the ones shown twice count once; the unscored display, the other
    # candidate's rows, the orphan shadow row and the simulated row are all left out.
    assert len(pairs) == len(expected) == 300
    assert [p.report_id for p in pairs] == list(expected["report_id"])
    assert np.allclose([p.live_probability for p in pairs], truth["live"])
    assert np.allclose([p.candidate_probability for p in pairs], truth["candidate"])
    assert {p.candidate_bundle_sha256 for p in pairs} == {CANDIDATE}
    assert all(p.live_entry_seq == truth["seqs"][p.report_id] for p in pairs)
    assert compared.pairs == 300 and compared.patients == 300
    versions = shadow_versions(ready_engine(store), MODEL)
    assert {v.bundle_sha256: v.rows for v in versions} == {CANDIDATE: 301, "d" * 64: 20}


def test_agreement_and_the_two_by_two_table_match_a_recomputation(frame, compared):
    live_above = frame["p"] >= frame["t"]
    cand_above = frame["q"] >= frame["tq"]
    table = compared.table
    assert table.both_above == int((live_above & cand_above).sum())
    assert table.live_only == int((live_above & ~cand_above).sum())
    assert table.candidate_only == int((~live_above & cand_above).sum())
    assert table.neither == int((~live_above & ~cand_above).sum())
    agree = int((live_above == cand_above).sum())
    value, low, high = _wilson(agree, len(frame))
    a = compared.agreement
    assert a.n == 300 and a.value == pytest.approx(value)
    assert (a.low, a.high) == (pytest.approx(low), pytest.approx(high))


def test_the_differences_match_a_recomputation(frame, compared):
    d = (frame["q"] - frame["p"]).to_numpy()
    got = compared.differences
    assert got.n == 300
    assert got.mean == pytest.approx(d.mean()) and got.median == pytest.approx(np.median(d))
    for q in (5, 25, 75, 95):
        assert got.percentiles[q] == pytest.approx(np.percentile(d, q))
    # Fixed bins of 0.02, the middle one centred on 0: [-0.01, 0.01).
    edges = np.arange(-50.5, 51.5) * 0.02
    assert np.allclose(got.bin_edges, edges) and len(got.counts) == 101
    assert list(got.counts) == list(np.histogram(d, bins=edges)[0])
    assert got.counts[50] == int(((d >= -0.01) & (d < 0.01)).sum())


def test_each_versions_auroc_calibration_and_threshold_figures_match(frame, compared):
    known = frame[frame["y"].notna()]
    y = known["y"].to_numpy(dtype=int)
    assert compared.with_outcomes == len(known) == 240 and compared.events == int(y.sum())
    for figures, p, t in (
        (compared.live, known["p"].to_numpy(), 0.5),
        (compared.candidate, known["q"].to_numpy(), 0.45),
    ):
        assert figures.n == 240 and figures.threshold == t
        auroc = roc_auc_score(y, p)
        assert figures.auroc.value == pytest.approx(auroc, abs=1e-12)
        low, high = _hanley_mcneil(auroc, y)
        assert (figures.auroc.low, figures.auroc.high) == (pytest.approx(low), pytest.approx(high))
        # The slope is checked against a tight independent fit below; the intercept (slope
        # fixed at 1) against the card's own function.
        _, intercept = calibration_slope_intercept(y, p)
        assert figures.calibration_intercept.value == pytest.approx(intercept, abs=1e-6)
        assert figures.ece == pytest.approx(_ece(y, p))
        assert figures.observed_rate.value == pytest.approx(y.mean())
        assert figures.mean_predicted == pytest.approx(p.mean())
        above = p >= t
        assert figures.sensitivity.value == pytest.approx((above & (y == 1)).sum() / y.sum())
        assert figures.specificity.value == pytest.approx(
            (~above & (y == 0)).sum() / (y == 0).sum()
        )
        assert figures.sensitivity.n == y.sum() and figures.specificity.n == (y == 0).sum()


def test_the_paired_auroc_difference_is_a_bootstrap_over_patients_reproduced_here(frame, compared):
    known = frame[frame["y"].notna()]
    y = known["y"].to_numpy(dtype=int)
    p, q = known["p"].to_numpy(), known["q"].to_numpy()
    # One pair per patient here, so a resample of patients is a resample of pairs.
    rng = np.random.default_rng(SEED)
    values = []
    for _ in range(200):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(roc_auc_score(y[idx], q[idx]) - roc_auc_score(y[idx], p[idx]))
    gap = compared.auroc_difference
    assert gap.value == pytest.approx(roc_auc_score(y, q) - roc_auc_score(y, p), abs=1e-12)
    assert gap.low == pytest.approx(np.percentile(values, 2.5), abs=1e-12)
    assert gap.high == pytest.approx(np.percentile(values, 97.5), abs=1e-12)
    assert (gap.seed, gap.resamples, gap.used, gap.n) == (SEED, 200, len(values), 240)
    assert gap.low <= gap.value <= gap.high


def test_a_patient_seen_twice_is_resampled_whole():
    """Two pairs of one patient move together in the bootstrap (weights per patient)."""
    from caselens.monitoring.shadow_comparison import paired_auroc_difference, patient_index

    refs = ["A", "A", "B", "C", "C", "D", None, None]
    assert list(patient_index(refs)) == [0, 0, 1, 2, 2, 3, 4, 5]
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    p = np.linspace(0.1, 0.8, 8)
    q = p[::-1].copy()
    gap = paired_auroc_difference(y, p, q, patient_index(refs), seed=3, resamples=100)
    rng = np.random.default_rng(3)
    members = {0: [0, 1], 1: [2], 2: [3, 4], 3: [5], 4: [6], 5: [7]}
    values = []
    for _ in range(100):
        rows = [r for j in rng.integers(0, 6, 6) for r in members[int(j)]]
        if 0 < y[rows].sum() < len(rows):
            values.append(roc_auc_score(y[rows], q[rows]) - roc_auc_score(y[rows], p[rows]))
    assert gap.patients == 6 and gap.used == len(values)
    if gap.low is not None:
        assert gap.low == pytest.approx(np.percentile(values, 2.5), abs=1e-12)


def test_subgroups_are_side_by_side_and_a_small_group_is_suppressed_in_words(frame, compared):
    by = {(s.variable, s.group): s for s in compared.subgroups}
    women = by[("sex", "Female")]
    assert women.suppressed and women.words == FEWER_THAN_MIN == "fewer than 10 patients"
    assert women.n == 7 and women.patients == 7 and women.agreement is None
    assert not by[("sex", "Male")].suppressed and by[("sex", "Male")].n == 293
    side = compared.subgroup_tables
    live = {(r.variable, r.group): r for r in side.live.rows}
    cand = {(r.variable, r.group): r for r in side.candidate.rows}
    assert live[("sex", "Female")].suppressed == "fewer than 10 patients"
    assert cand[("sex", "Female")].auroc is None
    assert side.live.threshold == 0.5 and side.candidate.threshold == 0.45
    assert side.live.seed == side.candidate.seed == SEED
    for name, mask in (("under 55", frame["age"] < 55), ("55 and over", frame["age"] >= 55)):
        agree = int(((frame["p"] >= frame["t"]) == (frame["q"] >= frame["tq"]))[mask].sum())
        assert by[("age", name)].agreement.value == pytest.approx(agree / mask.sum())
        assert by[("age", name)].n == int(mask.sum())
        part = frame[mask & frame["y"].notna()]
        y = part["y"].to_numpy(dtype=int)
        assert live[("age", name)].n == cand[("age", name)].n == len(part)
        assert live[("age", name)].auroc.value == pytest.approx(roc_auc_score(y, part["p"]))
        assert cand[("age", name)].auroc.value == pytest.approx(roc_auc_score(y, part["q"]))
        # Each version at its own threshold.
        flagged = part["q"] >= 0.45
        assert cand[("age", name)].sensitivity.value == pytest.approx(
            (flagged & (y == 1)).sum() / y.sum()
        )
    # The intersection age × sex is left out, in words: its Female cells are too small.
    assert any(w.startswith("age × sex: not shown") for w in side.live.left_out)


def test_a_group_with_enough_patients_but_few_outcomes_says_so(heart_bundle):
    pairs = [_pair(i, sex="Female" if i < 12 else "Male") for i in range(40)]
    y = np.array([float(i % 2) if i >= 5 else math.nan for i in range(40)])
    got = compare(pairs, y, heart_bundle.features, 1, resamples=50)
    women = {(s.variable, s.group): s for s in got.subgroups}[("sex", "Female")]
    assert not women.suppressed and women.agreement is not None and women.patients == 12
    rows = {(r.variable, r.group): r for r in got.subgroup_tables.live.rows}
    assert rows[("sex", "Female")].suppressed == "fewer than 10 patients"  # 7 with outcomes


def _pair(i: int, *, sex: str = "Male", p: float | None = None, q: float | None = None) -> Pair:
    p = 0.1 + 0.8 * ((i * 37) % 100) / 100 if p is None else p
    q = min(0.99, p + 0.05) if q is None else q
    return Pair(
        model_id=MODEL,
        report_id=f"R-{i}",
        patient_ref=f"P-{i}",
        recorded_at=f"2026-11-{1 + i % 28:02d}T10:00:00.000Z",
        recorded_on=f"2026-11-{1 + i % 28:02d}",
        live_entry_seq=i + 1,
        live_bundle_sha256="a" * 64,
        live_version="1.0.0",
        live_probability=p,
        live_threshold=0.5,
        candidate_bundle_sha256=CANDIDATE,
        candidate_version="2.0.0",
        candidate_probability=q,
        candidate_threshold=0.5,
        shadow_batch_seq=1000,
        inputs_json=f'{{"age": {40 + i % 30}, "sex": "{sex}"}}',
    )


def test_with_no_outcome_yet_the_words_say_so_and_the_rest_still_shows(heart_bundle):
    pairs = [_pair(i) for i in range(25)]
    got = compare(pairs, np.full(25, np.nan), heart_bundle.features, 1, window_days=30)
    assert got.live is None and got.candidate is None and got.auroc_difference is None
    assert got.outcome_words.startswith("No outcome is linked to these 25 pairs yet")
    assert "within 30 days" in got.outcome_words
    assert got.agreement.n == 25 and got.differences.n == 25
    assert summary_text(got).endswith("no outcome linked yet.")
    detail = record_detail(got, live_bundle_sha256="a" * 64)
    assert detail["auroc_live"] is None and detail["auroc_candidate"] is None
    assert detail["pairs"] == 25 and detail["agreement"]["n"] == 25


def test_with_no_pair_every_figure_says_so(heart_bundle):
    got = compare([], [], heart_bundle.features, 1, model_id=MODEL, candidate_sha=CANDIDATE)
    assert got.pairs == 0 and got.agreement.value is None and got.differences is None
    assert got.outcome_words.startswith("No pair to compare yet")
    assert got.model_id == MODEL and got.candidate_bundle_sha256 == CANDIDATE
    assert got.subgroups == ()


def test_a_mismatched_outcome_array_is_refused_with_words(heart_bundle):
    with pytest.raises(ValueError, match=r"outcomes: expected one per pair \(2\), got 3"):
        compare([_pair(0), _pair(1)], [1.0, 0.0, 1.0], heart_bundle.features)


def test_the_record_detail_carries_what_an_approval_cites(compared):
    detail = record_detail(compared, live_bundle_sha256="a" * 64)
    for key in (
        "model_id",
        "live_bundle_sha256",
        "candidate_bundle_sha256",
        "pairs",
        "agreement",
        "auroc_live",
        "auroc_candidate",
        "period",
    ):
        assert key in detail, key
    assert detail["candidate_bundle_sha256"] == CANDIDATE and detail["pairs"] == 300
    assert detail["period"] == {"first": compared.first, "last": compared.last}
    assert detail["auroc_live"]["n"] == 240 and detail["seed"] == SEED
    assert detail["auroc_difference"]["resamples"] == 200
    assert "different thresholds" in " ".join(compared.notes)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1),
            st.floats(0, 1),
            st.sampled_from([0.0, 1.0, math.nan]),
            st.sampled_from(["Female", "Male"]),
            st.integers(0, 5),
        ),
        max_size=40,
    )
)
def test_any_pairs_give_figures_or_words_never_a_crash_or_nan(heart_bundle, rows):
    # k > 0: a patient seen more than once (pairs of one patient resampled together).
    pairs = [
        dataclasses.replace(
            _pair(i, sex=sex, p=p, q=q), patient_ref=f"P-{i}" if k == 0 else f"Q-{k}"
        )
        for i, (p, q, _, sex, k) in enumerate(rows)
    ]
    y = [r[2] for r in rows]
    got = compare(pairs, y, heart_bundle.features, 5, resamples=30)
    assert got.pairs == len(rows) and got.outcome_words
    assert got.table.n == len(rows)
    for s in got.subgroups:
        assert s.suppressed == (s.patients < 10)
        assert (s.words == FEWER_THAN_MIN) == s.suppressed
    detail = record_detail(got, live_bundle_sha256="a" * 64)
    json.dumps(detail, allow_nan=False)  # no NaN reaches the trail
    if got.live is not None and got.live.auroc.value is None:
        assert got.events in (0, got.with_outcomes)


def test_slope_by_an_independent_fit_agrees(frame, compared):
    """The slope equals sklearn's unpenalised logistic fit on the logit (independent)."""
    known = frame[frame["y"].notna()]
    p = np.clip(known["p"].to_numpy(), 1e-6, 1 - 1e-6)
    fit = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000).fit(
        np.log(p / (1 - p)).reshape(-1, 1), known["y"].to_numpy(dtype=int)
    )
    assert compared.live.calibration_slope.value == pytest.approx(fit.coef_[0, 0], abs=1e-4)


def test_the_tables_give_every_figure_with_its_n_and_words_for_what_is_missing(
    compared, heart_bundle
):
    from caselens.monitoring.shadow_comparison_rows import comparison_sentence, comparison_tables

    tables = comparison_tables(compared)
    captions = [t.caption for t in tables]
    assert captions[0].startswith("Agreement at the threshold")
    assert captions[2].startswith("Side by side on 240 pairs with an outcome (")
    assert captions[3].startswith("AUROC difference, candidate minus live")
    assert captions[4].startswith("Agreement by subgroup")
    assert captions[5].startswith("By subgroup on 240 pairs with an outcome, side by side")
    assert "Left out: age × sex: not shown" in captions[5]
    assert captions[6].startswith("Largest gap between groups, each version")
    women = [r for r in tables[4].rows if r[:2] == ("sex", "Female")]
    assert women == [("sex", "Female", "7", FEWER_THAN_MIN, "suppressed")]
    women = [r for r in tables[5].rows if r[:2] == ("sex", "Female")]
    assert women == [("sex", "Female", FEWER_THAN_MIN, *(["suppressed"] * 6))]
    age = [r for r in tables[5].rows if r[:2] == ("age", "under 55")]
    assert len(age) == 1 and len(age[0]) == 9
    for table in tables:
        counted = {"n", "Pairs", "Patients"} & set(table.headers)
        assert counted or " pairs with an outcome" in table.caption, table.caption
    assert "on 300 displays of 300 patients" in comparison_sentence(compared)
    # Before any outcome: the outcome tables are absent and the words say why.
    early = compare([_pair(i) for i in range(12)], [math.nan] * 12, heart_bundle.features, 1)
    assert [t.caption.split(" (")[0] for t in comparison_tables(early)] == [
        "Agreement at the threshold",
        "Probability difference, candidate minus live",
        "Agreement by subgroup of the live version's schema",
    ]
    assert early.outcome_words.startswith("No outcome is linked")
