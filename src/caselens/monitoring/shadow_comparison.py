"""A live version and a shadow candidate compared on the same patients (issue 27, item 3).

A candidate set to shadow is scored beside every case the live version explains and shown
to nobody: its row in the prediction log has ``never_shown`` true and names the live
display it was computed beside (``paired_report_id``). So every candidate row has a twin:
the live row of the same report, the same patient, the same case values, the same moment.
This module reads those twins (:func:`read_pairs`, from :mod:`.shadow_pairs`) and computes,
from the pairs alone (:func:`compare`, pure), what a governance meeting needs before it
promotes the candidate:

* **agreement at the threshold**: the share of pairs on the same side of their own version's
  threshold (at or above it, or below it), with its Wilson interval, and the 2×2 table;
* **the distribution of probability differences** (candidate − live): mean, median, the
  5/25/75/95th percentiles and a histogram on fixed bins;
* once outcomes are known (linked as monitoring links them,
  :func:`caselens.monitoring.figures.link_outcomes`): each version's AUROC with its
  Hanley–McNeil interval, the **paired** AUROC difference with a percentile interval from a
  bootstrap over patients (the same resampled patients for both versions; fixed seed,
  recorded), calibration side by side (ECE, slope, intercept, observed rate against mean
  predicted) and sensitivity and specificity at each version's own threshold;
* by subgroup of the live version's schema: agreement per group, and each version's
  subgroup table side by side (:mod:`.shadow_subgroups`, the general
  :func:`~caselens.monitoring.subgroup_table.subgroup_table`: intervals, intersections where
  n allows, the largest gaps); a group of fewer than :data:`MIN_SUBGROUP_PATIENTS` patients
  is named and suppressed with the words "fewer than 10 patients", never dropped silently.

Every figure carries its n; where there is nothing to compute (no outcome linked yet, one
outcome class only) the comparison says so in words instead of leaving a blank.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.features import FeatureSchema
from caselens.model.performance import (
    _sorted_weighted_auroc,
    expected_calibration_error,
    weighted_auroc,
)
from caselens.monitoring.shadow_pairs import (
    CandidateRows,
    Pair,
    data_stamp,
    pair_outcomes,
    read_pairs,
    shadow_versions,
)
from caselens.monitoring.shadow_subgroups import SubgroupsSideBySide, schema_groups, side_by_side
from caselens.monitoring.stats import (
    Estimate,
    auroc_estimate,
    calibration_fit,
    mean_estimate,
    wilson,
)
from caselens.monitoring.subgroup_table import MIN_GROUP_N, SUPPRESSED

# The reader lives in .shadow_pairs; its names are this module's too (one place to import).
__all__ = [
    "CandidateRows",
    "Pair",
    "ShadowComparison",
    "compare",
    "data_stamp",
    "pair_outcomes",
    "read_pairs",
    "shadow_versions",
]

#: A subgroup with fewer patients than this is suppressed: the subgroup table's rule and
#: reason (:data:`caselens.monitoring.subgroup_table.MIN_GROUP_N`), so every screen agrees.
MIN_SUBGROUP_PATIENTS = MIN_GROUP_N
#: What a suppressed subgroup says in place of its figures.
FEWER_THAN_MIN = SUPPRESSED.format(min_n=MIN_SUBGROUP_PATIENTS)
#: Width of the histogram's bins of probability differences; the bins are fixed (centred on
#: 0, from −1 to 1) so two comparisons draw on the same axis and "no difference" is one bin.
DIFFERENCE_BIN_WIDTH = 0.02
#: Resamples of patients for the paired AUROC difference.
BOOTSTRAP_RESAMPLES = 1000
#: The bootstrap's seed unless told: fixed, and recorded with the figures, so a comparison
#: reproduces exactly.
DEFAULT_SEED = 20261207
#: The percentiles of the probability differences that are reported.
DIFFERENCE_PERCENTILES = (5, 25, 75, 95)


def difference_bin_edges() -> np.ndarray:
    """The fixed bin edges of the difference histogram: 101 bins of
    :data:`DIFFERENCE_BIN_WIDTH`, the middle one centred on 0."""
    half = round(1 / DIFFERENCE_BIN_WIDTH)
    return np.round((np.arange(-half, half + 2) - 0.5) * DIFFERENCE_BIN_WIDTH, 10)


# -- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementTable:
    """Pairs by side of each version's own threshold (at or above it counts as above)."""

    both_above: int
    live_only: int
    candidate_only: int
    neither: int

    @property
    def n(self) -> int:
        """Pairs in the table."""
        return self.both_above + self.live_only + self.candidate_only + self.neither

    @property
    def agreeing(self) -> int:
        """Pairs on the same side of their thresholds."""
        return self.both_above + self.neither


@dataclass(frozen=True)
class Differences:
    """The candidate's probability minus the live one's, over the pairs.

    ``percentiles`` maps 5, 25, 75, 95 to their values; ``counts`` are per bin of
    ``bin_edges`` (:func:`difference_bin_edges`, fixed).
    """

    n: int
    mean: float
    median: float
    percentiles: dict[int, float]
    smallest: float
    largest: float
    bin_edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class VersionFigures:
    """One version's figures on the pairs with a known outcome (its own threshold)."""

    n: int
    events: int
    threshold: float | None
    auroc: Estimate
    calibration_slope: Estimate
    calibration_intercept: Estimate
    ece: float | None
    brier: Estimate
    observed_rate: Estimate
    mean_predicted: float | None
    sensitivity: Estimate
    specificity: Estimate


@dataclass(frozen=True)
class AurocDifference:
    """Candidate AUROC minus live AUROC on the same patients, with a percentile interval
    from ``resamples`` bootstrap resamples of patients (seeded; ``used``: resamples with
    both outcomes present)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    patients: int
    resamples: int
    used: int
    seed: int
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (for the audit entry)."""
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "patients": self.patients,
            "resamples": self.resamples,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class SubgroupComparison:
    """Agreement and the mean difference in one subgroup of the live schema (every pair,
    with an outcome or not). A group of fewer than :data:`MIN_SUBGROUP_PATIENTS` patients
    keeps its name and ``patients`` and says ``words`` ("fewer than 10 patients") in place
    of its figures. The outcome figures by subgroup are :attr:`ShadowComparison.subgroup_tables`.
    """

    variable: str
    group: str
    n: int
    patients: int
    suppressed: bool
    words: str
    agreement: Estimate | None
    mean_difference: float | None


@dataclass(frozen=True)
class ShadowComparison:
    """A live version and a candidate on the same patients; every figure with its n.

    Attributes
    ----------
    pairs, patients : int
        Pairs compared and the distinct patients among them.
    first, last : str or None
        The first and last live display of the pairs (UTC ISO times).
    live_bundle_sha256s, live_versions : tuple of str
        The live version(s) that made the displays (more than one after a promotion).
    agreement : Estimate
        Share of pairs on the same side of their version's threshold (Wilson interval).
    differences : Differences or None
        None with no pair.
    with_outcomes, events : int
        Pairs with a linked outcome, and how many of those had the outcome.
    outcome_words : str
        What the outcome figures rest on, or why there are none yet (never blank).
    live, candidate : VersionFigures or None
        None until an outcome is linked.
    auroc_difference : AurocDifference or None
    subgroups : tuple of SubgroupComparison
        Agreement by subgroup (every pair).
    subgroup_tables : SubgroupsSideBySide or None
        Each version's subgroup table on the pairs with an outcome
        (:func:`caselens.monitoring.subgroup_table.subgroup_table`: intervals, groups under
        10 suppressed in words, intersections where n allows, the largest gaps).
    notes : tuple of str
        What a reader must know (thresholds that differ, several live versions…).
    """

    model_id: str
    candidate_bundle_sha256: str
    candidate_version: str
    live_bundle_sha256s: tuple[str, ...]
    live_versions: tuple[str, ...]
    live_thresholds: tuple[float, ...]
    candidate_thresholds: tuple[float, ...]
    pairs: int
    patients: int
    first: str | None
    last: str | None
    agreement: Estimate
    table: AgreementTable
    differences: Differences | None
    with_outcomes: int
    events: int
    outcome_words: str
    live: VersionFigures | None
    candidate: VersionFigures | None
    auroc_difference: AurocDifference | None
    subgroups: tuple[SubgroupComparison, ...]
    subgroup_tables: SubgroupsSideBySide | None
    seed: int
    confidence: float
    notes: tuple[str, ...] = field(default=())


def _positive(p: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    # The same rule as monitoring's sensitivity and specificity: at or above is positive.
    return p >= threshold


def agreement_table(
    live_p: np.ndarray, live_t: np.ndarray, cand_p: np.ndarray, cand_t: np.ndarray
) -> AgreementTable:
    """The 2×2 table of pairs by side of each version's own threshold."""
    live_pos = _positive(live_p, live_t)
    cand_pos = _positive(cand_p, cand_t)
    return AgreementTable(
        both_above=int((live_pos & cand_pos).sum()),
        live_only=int((live_pos & ~cand_pos).sum()),
        candidate_only=int((~live_pos & cand_pos).sum()),
        neither=int((~live_pos & ~cand_pos).sum()),
    )


def differences(live_p: np.ndarray, cand_p: np.ndarray) -> Differences | None:
    """Summary and fixed-bin histogram of ``cand_p − live_p`` (None with no pair)."""
    d = cand_p - live_p
    if d.size == 0:
        return None
    edges = difference_bin_edges()
    counts, _ = np.histogram(np.clip(d, edges[0], edges[-1]), bins=edges)
    return Differences(
        n=int(d.size),
        mean=float(d.mean()),
        median=float(np.median(d)),
        percentiles={q: float(np.percentile(d, q)) for q in DIFFERENCE_PERCENTILES},
        smallest=float(d.min()),
        largest=float(d.max()),
        bin_edges=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
    )


def version_figures(
    y: np.ndarray,
    p: np.ndarray,
    threshold: np.ndarray,
    *,
    confidence: float = 0.95,
    ece_bins: int = 10,
) -> VersionFigures:
    """One version's discrimination, calibration and threshold figures against outcomes
    ``y`` (0 or 1), with the same functions as a monitoring period's figures."""
    n = len(y)
    events = int(y.sum())
    positive = _positive(p, threshold)
    fit = calibration_fit(y, p, confidence)
    distinct = np.unique(threshold)
    return VersionFigures(
        n=n,
        events=events,
        threshold=float(distinct[0]) if distinct.size == 1 else None,
        auroc=auroc_estimate(y, p, confidence),
        calibration_slope=fit.slope,
        # The intercept with the slope fixed at 1 (calibration-in-the-large), as the
        # card's calibration intercept is defined (caselens.model.performance).
        calibration_intercept=fit.in_the_large,
        ece=expected_calibration_error(y, p, n_bins=ece_bins) if n else None,
        brier=mean_estimate((p - y) ** 2, confidence),
        observed_rate=wilson(events, n, confidence),
        mean_predicted=float(p.mean()) if n else None,
        sensitivity=wilson(int((positive & (y == 1)).sum()), events, confidence),
        specificity=wilson(int((~positive & (y == 0)).sum()), n - events, confidence),
    )


def patient_index(patient_refs: Sequence[str | None]) -> np.ndarray:
    """Each pair's patient as an index 0..P−1 (a pair without a patient reference is a
    patient of its own), so a resample of patients keeps all of a patient's pairs."""
    index: dict[str, int] = {}
    out = np.empty(len(patient_refs), dtype=int)
    next_id = 0
    for i, ref in enumerate(patient_refs):
        if ref is None:
            out[i] = next_id
            next_id += 1
            continue
        if ref not in index:
            index[ref] = next_id
            next_id += 1
        out[i] = index[ref]
    return out


def paired_auroc_difference(
    y: np.ndarray,
    live_p: np.ndarray,
    cand_p: np.ndarray,
    patients: np.ndarray,
    *,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = 0.95,
) -> AurocDifference:
    """Candidate minus live AUROC, with a percentile interval from a bootstrap over patients.

    Each resample draws the patients with replacement (``numpy.random.default_rng(seed)``,
    ``integers(0, P, P)`` per resample) and weighs every pair by how often its patient was
    drawn; both versions are scored on that same resample
    (:func:`caselens.model.performance.weighted_auroc`, the exact AUROC of the expanded
    sample), so the interval carries their correlation. A resample with one outcome class
    only is skipped; with fewer than half the resamples usable there is no interval.
    """
    n = len(y)
    count = int(patients.max()) + 1 if n else 0
    events = int(y.sum())
    if n == 0 or events == 0 or events == n:
        return AurocDifference(None, None, None, n, count, resamples, 0, seed, confidence)
    ones = np.ones(n)
    value = weighted_auroc(y, cand_p, ones) - weighted_auroc(y, live_p, ones)
    # Each version's rows sorted once: a resample only reweighs them (the sorted form
    # bootstrap_auroc_ci uses, so each resample's AUROC equals weighted_auroc's).
    sorted_parts = []
    for p in (cand_p, live_p):
        order = np.argsort(p, kind="mergesort")
        _, starts = np.unique(p[order], return_index=True)
        sorted_parts.append((order, y[order], starts))
    rng = np.random.default_rng(seed)
    is_event = y == 1
    values = []
    for _ in range(resamples):
        drawn = np.bincount(rng.integers(0, count, count), minlength=count).astype(float)
        w = drawn[patients]
        positives = float(w[is_event].sum())
        if positives == 0 or positives == float(w.sum()):
            continue
        cand, live = (
            _sorted_weighted_auroc(ys, starts, w[order]) for order, ys, starts in sorted_parts
        )
        values.append(cand - live)
    if len(values) < resamples // 2:
        used = len(values)
        return AurocDifference(value, None, None, n, count, resamples, used, seed, confidence)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return AurocDifference(
        float(value), float(low), float(high), n, count, resamples, len(values), seed, confidence
    )


def _subgroups(
    groups: dict[str, np.ndarray],
    live_p: np.ndarray,
    live_t: np.ndarray,
    cand_p: np.ndarray,
    cand_t: np.ndarray,
    patients: np.ndarray,
    *,
    confidence: float,
) -> list[SubgroupComparison]:
    out: list[SubgroupComparison] = []
    for variable, labels in groups.items():
        for group in sorted(set(labels)):
            mask = labels == group
            n = int(mask.sum())
            people = int(np.unique(patients[mask]).size)
            if people < MIN_SUBGROUP_PATIENTS:
                out.append(
                    SubgroupComparison(variable, group, n, people, True, FEWER_THAN_MIN, None, None)
                )
                continue
            table = agreement_table(live_p[mask], live_t[mask], cand_p[mask], cand_t[mask])
            out.append(
                SubgroupComparison(
                    variable,
                    group,
                    n,
                    people,
                    False,
                    "",
                    wilson(table.agreeing, table.n, confidence),
                    float((cand_p[mask] - live_p[mask]).mean()),
                )
            )
    return out


def _inputs_frame(pairs: Sequence[Pair]) -> pd.DataFrame:
    return pd.DataFrame([json.loads(p.inputs_json or "{}") for p in pairs])


def compare(
    pairs: Sequence[Pair],
    outcomes: Sequence[float] | np.ndarray,
    schema: FeatureSchema,
    seed: int = DEFAULT_SEED,
    *,
    model_id: str | None = None,
    candidate_sha: str | None = None,
    confidence: float = 0.95,
    ece_bins: int = 10,
    resamples: int = BOOTSTRAP_RESAMPLES,
    window_days: int | None = None,
) -> ShadowComparison:
    """Compare the live version and the candidate on ``pairs``.

    Parameters
    ----------
    pairs : sequence of Pair
        From :func:`read_pairs`.
    outcomes : array of float
        One per pair: 1, 0 or NaN while unknown (:func:`pair_outcomes`).
    schema : FeatureSchema
        The live version's inputs: its subgroup variables form the subgroups.
    seed : int
        The bootstrap's seed (recorded in the result).
    model_id, candidate_sha : str, optional
        Named in the result when there is no pair to take them from.
    confidence : float
        Level of every interval (the monitoring plan's).
    ece_bins : int
        Bins of the expected calibration error (the monitoring plan's).
    resamples : int
        Bootstrap resamples of patients for the paired AUROC difference.
    window_days : int, optional
        The outcome window used to link outcomes, named in the words.

    Returns
    -------
    ShadowComparison
    """
    y_all = np.asarray(outcomes, dtype=float)
    if len(y_all) != len(pairs):
        raise ValueError(f"outcomes: expected one per pair ({len(pairs)}), got {len(y_all)}")
    live_p = np.array([p.live_probability for p in pairs], dtype=float)
    live_t = np.array([p.live_threshold for p in pairs], dtype=float)
    cand_p = np.array([p.candidate_probability for p in pairs], dtype=float)
    cand_t = np.array([p.candidate_threshold for p in pairs], dtype=float)
    patients = patient_index([p.patient_ref for p in pairs])
    table = agreement_table(live_p, live_t, cand_p, cand_t)
    known = ~np.isnan(y_all)
    y = y_all[known].astype(int)
    events = int(y.sum())
    live = candidate = None
    gap = None
    notes: list[str] = []
    if known.any():
        live = version_figures(
            y, live_p[known], live_t[known], confidence=confidence, ece_bins=ece_bins
        )
        candidate = version_figures(
            y, cand_p[known], cand_t[known], confidence=confidence, ece_bins=ece_bins
        )
        gap = paired_auroc_difference(
            y,
            live_p[known],
            cand_p[known],
            patient_index([p.patient_ref for p, k in zip(pairs, known, strict=True) if k]),
            seed=seed,
            resamples=resamples,
            confidence=confidence,
        )
    outcome_words = _outcome_words(len(pairs), int(known.sum()), events, window_days)
    live_shas = tuple(sorted({p.live_bundle_sha256 or "not recorded" for p in pairs}))
    live_versions = tuple(sorted({p.live_version for p in pairs}))
    live_ts = tuple(sorted({float(t) for t in live_t}))
    cand_ts = tuple(sorted({float(t) for t in cand_t}))
    if len(live_shas) > 1:
        notes.append(
            f"The displays come from {len(live_shas)} live versions "
            f"({', '.join(live_versions)}): a version went live while the candidate was in "
            "shadow."
        )
    if live_ts and cand_ts and live_ts != cand_ts:
        notes.append(
            "The versions use different thresholds (live "
            f"{', '.join(f'{t:g}' for t in live_ts)}; candidate "
            f"{', '.join(f'{t:g}' for t in cand_ts)}): agreement, sensitivity and specificity "
            "are each at the version's own threshold."
        )
    times = sorted(p.recorded_at for p in pairs)
    subgroups: tuple[SubgroupComparison, ...] = ()
    tables = None
    if pairs:
        groups = schema_groups(schema, _inputs_frame(pairs))
        subgroups = tuple(
            _subgroups(groups, live_p, live_t, cand_p, cand_t, patients, confidence=confidence)
        )
        if known.any():
            tables = side_by_side(
                y, live_p[known], live_t[known], cand_p[known], cand_t[known],
                {name: labels[known] for name, labels in groups.items()},
                seed=seed, confidence=confidence,
            )  # fmt: skip
            notes.extend(tables.notes)
    return ShadowComparison(
        model_id=pairs[0].model_id if pairs else (model_id or ""),
        candidate_bundle_sha256=pairs[0].candidate_bundle_sha256
        if pairs
        else (candidate_sha or ""),
        candidate_version=pairs[0].candidate_version if pairs else "",
        live_bundle_sha256s=live_shas,
        live_versions=live_versions,
        live_thresholds=live_ts,
        candidate_thresholds=cand_ts,
        pairs=len(pairs),
        patients=int(np.unique(patients).size),
        first=times[0] if times else None,
        last=times[-1] if times else None,
        agreement=wilson(table.agreeing, table.n, confidence),
        table=table,
        differences=differences(live_p, cand_p),
        with_outcomes=int(known.sum()),
        events=events,
        outcome_words=outcome_words,
        live=live,
        candidate=candidate,
        auroc_difference=gap,
        subgroups=subgroups,
        subgroup_tables=tables,
        seed=seed,
        confidence=confidence,
        notes=tuple(notes),
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _outcome_words(pairs: int, known: int, events: int, window_days: int | None) -> str:
    window = "" if window_days is None else f" within {_plural(window_days, 'day')}"
    if pairs == 0:
        return "No pair to compare yet, so there is no outcome figure."
    if known == 0:
        return (
            f"No outcome is linked to these {_plural(pairs, 'pair')} yet (an outcome links "
            f"when it is imported for the same patient{window} of the display), so AUROC, "
            "calibration, sensitivity and specificity cannot be compared yet."
        )
    if events == 0 or events == known:
        kind = "with the outcome" if events else "without the outcome"
        return (
            f"{known} of {_plural(pairs, 'pair')} have an outcome, all {kind}: AUROC, "
            "calibration slope and sensitivity or specificity need both outcomes."
        )
    return (
        f"Outcome figures from the {known} of {_plural(pairs, 'pair')} with an outcome "
        f"linked ({_plural(events, 'event')}); the rest have none yet."
    )
