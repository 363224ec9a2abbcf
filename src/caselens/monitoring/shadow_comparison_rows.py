"""A shadow comparison as rows of plain text: the same tables on the Monitoring page and in
the governance report (:mod:`.shadow_comparison` computes, this only words and formats);
and as the audit entry's detail and the one sentence an approval's evidence quotes.

Cells are text, never markup (the report's template escapes each one). Every table has an n
column or states its n in the caption; a figure that cannot be computed says why in words.
"""

from __future__ import annotations

import math
from typing import Any

from caselens.monitoring.report_rows import NO_VALUE, Table, interval, level_text, number
from caselens.monitoring.shadow_comparison import (
    DIFFERENCE_PERCENTILES,
    MIN_SUBGROUP_PATIENTS,
    ShadowComparison,
    VersionFigures,
)
from caselens.monitoring.stats import Estimate


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _short(sha: str) -> str:
    return sha[:12] if sha else "not recorded"


def comparison_sentence(comparison: ShadowComparison, *, candidate_state: str = "") -> str:
    """What was compared, in one paragraph: the versions, the pairs, the time they span."""
    c = comparison
    state = f", {candidate_state}" if candidate_state else ""
    live = ", ".join(c.live_versions) or "the live version"
    shas = ", ".join(_short(s) for s in c.live_bundle_sha256s)
    if c.pairs == 0:
        return (
            f"Candidate version {c.candidate_version} ({_short(c.candidate_bundle_sha256)}"
            f"{state}) has no prediction paired with a live display in this span."
        )
    span = f"{(c.first or '')[:10]} to {(c.last or '')[:10]}"
    return (
        f"Candidate version {c.candidate_version} ({_short(c.candidate_bundle_sha256)}{state}) "
        f"was scored beside live version {live} ({shas}) on {c.pairs} displays of "
        f"{c.patients} patients, {span}. Nobody was shown the candidate's predictions."
    )


def agreement_table(comparison: ShadowComparison) -> Table:
    """The 2×2 table and the agreement with its interval."""
    c = comparison
    t = c.table
    level = level_text(c.confidence)
    return Table(
        f"Agreement at the threshold (each version at its own threshold; {level} interval)",
        (
            "Both at or above",
            "Live only",
            "Candidate only",
            "Both below",
            "Agreement",
            "n",
        ),
        (
            (
                str(t.both_above),
                str(t.live_only),
                str(t.candidate_only),
                str(t.neither),
                interval(c.agreement),
                str(t.n),
            ),
        ),
    )


def differences_table(comparison: ShadowComparison) -> Table:
    """The distribution of candidate − live probabilities."""
    d = comparison.differences
    headers = ("Mean", "Median", *(f"{q}th percentile" for q in DIFFERENCE_PERCENTILES), "n")
    caption = "Probability difference, candidate minus live (0–1 scale)"
    if d is None:
        return Table(caption, headers, ((*([NO_VALUE] * (len(headers) - 1)), "0"),))
    return Table(
        caption,
        headers,
        (
            (
                _signed(d.mean),
                _signed(d.median),
                *(_signed(d.percentiles[q]) for q in DIFFERENCE_PERCENTILES),
                str(d.n),
            ),
        ),
    )


def _signed(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:+.3f}"


#: The outcome figures side by side, in row order: (label, how to read it from a version).
_OUTCOME_ROWS = (
    ("AUROC", lambda v: interval(v.auroc)),
    ("Calibration slope", lambda v: interval(v.calibration_slope)),
    ("Calibration intercept", lambda v: interval(v.calibration_intercept)),
    ("ECE", lambda v: number(v.ece)),
    ("Brier", lambda v: interval(v.brier)),
    ("Observed rate", lambda v: interval(v.observed_rate)),
    ("Mean predicted", lambda v: number(v.mean_predicted)),
    ("Sensitivity at its threshold", lambda v: interval(v.sensitivity)),
    ("Specificity at its threshold", lambda v: interval(v.specificity)),
)


def outcomes_table(comparison: ShadowComparison) -> Table | None:
    """Each version's figures on the pairs with an outcome, side by side (None before any
    outcome is linked: then :attr:`ShadowComparison.outcome_words` says so)."""
    c = comparison
    live, cand = c.live, c.candidate
    if live is None or cand is None:
        return None
    rows: list[tuple[str, ...]] = [
        ("Threshold", _threshold(live), _threshold(cand), str(live.n)),
    ]
    for label, read in _OUTCOME_ROWS:
        rows.append((label, read(live), read(cand), _n(label, live)))
    return Table(
        f"Side by side on {c.with_outcomes} pairs with an outcome ({c.events} events; "
        f"{level_text(c.confidence)} intervals)",
        ("Figure", "Live", "Candidate", "n"),
        tuple(rows),
    )


def auroc_difference_table(comparison: ShadowComparison) -> Table | None:
    """The paired AUROC difference with its bootstrap interval and how it was drawn (None
    before any outcome is linked)."""
    gap = comparison.auroc_difference
    if gap is None:
        return None
    level = level_text(gap.confidence)
    if gap.value is None:
        cells = (NO_VALUE, "needs both outcomes")
    elif gap.low is None or gap.high is None:
        cells = (f"{gap.value:+.3f}", f"too few usable resamples ({gap.used} of {gap.resamples})")
    else:
        cells = (f"{gap.value:+.3f}", f"{gap.low:+.3f} to {gap.high:+.3f}")
    return Table(
        f"AUROC difference, candidate minus live, on the same patients ({level} interval "
        "from a bootstrap over patients)",
        ("Difference", f"{level} interval", "Pairs", "Patients", "Resamples", "Seed"),
        ((*cells, str(gap.n), str(gap.patients), str(gap.resamples), str(gap.seed)),),
    )


def _threshold(v: VersionFigures) -> str:
    return "several" if v.threshold is None else f"{v.threshold:g}"


def _n(label: str, live: VersionFigures) -> str:
    if label.startswith("Sensitivity"):
        return str(live.sensitivity.n)
    if label.startswith("Specificity"):
        return str(live.specificity.n)
    return str(live.n)


def subgroups_table(comparison: ShadowComparison) -> Table:
    """Agreement and mean difference per subgroup of the live schema (all pairs, with or
    without an outcome); a group of fewer than 10 patients keeps its row and says so."""
    rows = []
    for s in comparison.subgroups:
        if s.suppressed:
            rows.append((s.variable, s.group, str(s.patients), s.words, "suppressed"))
            continue
        rows.append(
            (
                s.variable,
                s.group,
                str(s.patients),
                interval(s.agreement),
                _signed(s.mean_difference),
            )
        )
    return Table(
        "Agreement by subgroup of the live version's schema (a group of fewer than "
        f"{MIN_SUBGROUP_PATIENTS} patients is suppressed)",
        ("Variable", "Group", "Patients", "Agreement", "Mean difference"),
        tuple(rows),
    )


def _figure_text(figure: Any) -> str:
    # The subgroup table's own printing (two places, more when the ends would print alike),
    # as on the Monitoring page's and Model facts' subgroup tables.
    return NO_VALUE if figure is None else figure.text()


def subgroup_outcomes_table(comparison: ShadowComparison) -> Table | None:
    """Each version's subgroup figures on the pairs with an outcome, side by side (the
    subgroup table's rows: groups, then intersections where n allows). None before any
    outcome is linked."""
    side = comparison.subgroup_tables
    if side is None or side.live is None or side.candidate is None:
        return None
    candidate = {(r.variable, r.group): r for r in side.candidate.rows}
    rows = []
    for live in side.live.rows:
        cand = candidate.get((live.variable, live.group))
        if live.suppressed is not None or cand is None or cand.suppressed is not None:
            words = live.suppressed or (cand.suppressed if cand else None) or NO_VALUE
            rows.append((live.variable, live.group, words, *(["suppressed"] * 6)))
            continue
        rows.append(
            (
                live.variable,
                live.group,
                str(live.n),
                _figure_text(live.auroc),
                _figure_text(cand.auroc),
                _figure_text(live.sensitivity),
                _figure_text(cand.sensitivity),
                _figure_text(live.specificity),
                _figure_text(cand.specificity),
            )
        )
    left_out = "; ".join(side.live.left_out)
    caption = (
        f"By subgroup on {side.live.n} pairs with an outcome, side by side (each version at "
        f"its own threshold; {level_text(side.live.confidence)} intervals)"
    )
    if left_out:
        caption += f". Left out: {left_out}"
    return Table(
        caption,
        (
            "Variable",
            "Group",
            "n",
            "AUROC live",
            "AUROC candidate",
            "Sensitivity live",
            "Sensitivity candidate",
            "Specificity live",
            "Specificity candidate",
        ),
        tuple(rows),
    )


def _gap_text(gap: Any) -> str:
    if gap is None:
        return NO_VALUE
    if gap.higher is None or gap.lower is None:
        return gap.difference.text()
    return f"{gap.higher} vs {gap.lower}: {gap.difference.text()}"


def subgroup_gaps_table(comparison: ShadowComparison) -> Table | None:
    """The largest gap between the groups of each variable, for each version (None before
    any outcome is linked)."""
    side = comparison.subgroup_tables
    if side is None or side.live is None or side.candidate is None:
        return None
    rows = [
        (
            gap.variable,
            gap.measure,
            _gap_text(gap),
            _gap_text(side.candidate.gap(gap.variable, gap.measure)),
        )
        for gap in side.live.gaps
    ]
    return Table(
        f"Largest gap between groups, each version, on {side.live.n} pairs with an outcome "
        f"(the groups' n above; {level_text(side.live.confidence)} "
        f"interval by a bootstrap within each group, {side.live.n_boot} resamples, seed "
        f"{side.live.seed})",
        ("Variable", "Measure", "Live", "Candidate"),
        tuple(rows),
    )


def comparison_tables(comparison: ShadowComparison) -> tuple[Table, ...]:
    """Every table of the comparison, in reading order (the outcome table only once an
    outcome is linked; the subgroup table only with subgroups)."""
    tables = [agreement_table(comparison), differences_table(comparison)]
    for table in (outcomes_table(comparison), auroc_difference_table(comparison)):
        if table is not None:
            tables.append(table)
    if comparison.subgroups:
        tables.append(subgroups_table(comparison))
    for table in (subgroup_outcomes_table(comparison), subgroup_gaps_table(comparison)):
        if table is not None:
            tables.append(table)
    return tuple(tables)


# -- in the trail and in one sentence ------------------------------------------------------


def _rounded(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _estimate_record(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None or estimate.value is None:
        return None
    return {
        "value": _rounded(estimate.value),
        "low": _rounded(estimate.low),
        "high": _rounded(estimate.high),
        "n": estimate.n,
    }


def record_detail(comparison: ShadowComparison, *, live_bundle_sha256: str) -> dict[str, Any]:
    """The audit entry's detail of a comparison viewed: what an approval of the candidate
    cites as its shadow evidence (keys: model_id, live_bundle_sha256,
    candidate_bundle_sha256, pairs, agreement, auroc_live, auroc_candidate, period …)."""
    c = comparison
    gap = c.auroc_difference
    return {
        "model_id": c.model_id,
        "live_bundle_sha256": live_bundle_sha256,
        "live_bundle_sha256s_paired": list(c.live_bundle_sha256s),
        "candidate_bundle_sha256": c.candidate_bundle_sha256,
        "candidate_version": c.candidate_version,
        "pairs": c.pairs,
        "patients": c.patients,
        "agreement": _estimate_record(c.agreement),
        "table": {
            "both_above": c.table.both_above,
            "live_only": c.table.live_only,
            "candidate_only": c.table.candidate_only,
            "neither": c.table.neither,
        },
        "mean_difference": _rounded(c.differences.mean) if c.differences else None,
        "with_outcomes": c.with_outcomes,
        "events": c.events,
        "auroc_live": _estimate_record(c.live.auroc if c.live else None),
        "auroc_candidate": _estimate_record(c.candidate.auroc if c.candidate else None),
        "auroc_difference": None
        if gap is None or gap.value is None
        else {
            "value": _rounded(gap.value),
            "low": _rounded(gap.low),
            "high": _rounded(gap.high),
            "n": gap.n,
            "patients": gap.patients,
            "resamples": gap.resamples,
        },
        "period": {"first": c.first, "last": c.last},
        "seed": c.seed,
        "confidence": c.confidence,
    }


def _figure(estimate: Estimate | None) -> str:
    if estimate is None or estimate.value is None:
        return "not measurable"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.3f}"
    return f"{estimate.value:.3f} ({estimate.low:.3f}–{estimate.high:.3f})"


def summary_text(comparison: ShadowComparison) -> str:
    """The comparison in one sentence, as an approval's evidence summary, e.g.
    ``412 pairs (2026-11-02 to 2026-11-30): agreement at the threshold 0.934
    (0.906–0.954); AUROC live 0.812 (…) vs candidate 0.835 (…), difference +0.023
    (−0.004 to 0.049), 300 with outcomes.``"""
    c = comparison
    span = f" ({c.first[:10]} to {c.last[:10]})" if c.first and c.last else ""
    text = f"{_plural(c.pairs, 'pair')}{span}: agreement at the threshold {_figure(c.agreement)}"
    if c.live is None or c.candidate is None:
        return text + "; no outcome linked yet."
    text += f"; AUROC live {_figure(c.live.auroc)} vs candidate {_figure(c.candidate.auroc)}"
    gap = c.auroc_difference
    if gap is not None and gap.value is not None:
        text += f", difference {gap.value:+.3f}"
        if gap.low is not None and gap.high is not None:
            text += f" ({gap.low:+.3f} to {gap.high:+.3f})"
    return text + f", {c.with_outcomes} with outcomes."
