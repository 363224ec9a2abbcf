"""Subgroup figures people can act on: every figure with its interval, small groups suppressed
in words, intersections of two variables where n allows, and the largest gap between the
groups of each variable with a bootstrap interval of the difference.

One pure function, :func:`subgroup_table`, of outcomes, predicted probabilities and each
patient's group per variable. Model facts calls it on the bundle's reference data (the
measured validation), Monitoring on one period's predictions with linked outcomes, so both
screens print the same rows the same way. The groups themselves are formed elsewhere, once:
:func:`caselens.model.subgroups.group_labels` (the card's subgroup of each value, "not
recorded" when missing); intersections are written as :data:`caselens.model.subgroups.
INTERSECTION_MARK` joins them ("Female × 65 to under 80").

Constructions (each stated on the table, :attr:`SubgroupTable.methods`):

* sensitivity, specificity, PPV and the observed rate: Wilson score intervals (sound at
  small n and near 0 or 1: :func:`caselens.monitoring.stats.wilson`);
* AUROC: Hanley–McNeil (1982) interval (:func:`caselens.monitoring.stats.auroc_estimate`,
  the construction Monitoring's own AUROC figures use);
* mean predicted probability: normal-approximation interval of a mean
  (:func:`caselens.monitoring.stats.mean_estimate`), kept within 0–1;
* the largest gap: the two groups shown with the highest and lowest figure, and a percentile
  bootstrap interval of their difference, each group's rows resampled with replacement apart
  (group sizes fixed), ``n_boot`` resamples from ``numpy.random.default_rng(seed)``. The
  interval is for the difference between these two named groups; it is not widened for having
  picked the extreme pair, so an interval that includes 0 says the gap may be chance.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from caselens.errors import CaseLensError
from caselens.model.subgroups import INTERSECTION_MARK
from caselens.monitoring.stats import Estimate, auroc_estimate, mean_estimate, wilson

#: The smallest group whose figures are shown. Under 10 patients a proportion's 95% interval
#: spans most of 0–1 and one patient is over 10% of the group, so a figure says more about
#: chance (and comes closer to identifying someone) than about the model: such a group keeps
#: its row and its name, and says "fewer than 10 patients" instead of figures.
MIN_GROUP_N = 10
#: Bootstrap resamples of the largest gap's difference (percentile interval).
GAP_RESAMPLES = 500
#: The bootstrap's seed when the caller gives none: a fixed seed, so the interval reproduces.
GAP_SEED = 0
#: Resamples are drawn in blocks of this many, so memory stays at a few MB for large groups.
_BLOCK = 50

# Words shown instead of a figure, kept here so screens and tests use the same text.
SUPPRESSED = "fewer than {min_n} patients"
NO_EVENTS = "not defined: no events"
NO_NON_EVENTS = "not defined: all events"
NO_POSITIVES = "not defined: none flagged"
NO_INTERVAL = "no interval could be computed"
NARROW = "interval narrower than 0.0001"
PERFECT_SEPARATION = "no interval: perfect ranking"
SAME_EVERY_RESAMPLE = "no interval: all resamples alike"
ONE_PATIENT = "no interval: one patient"
NOT_ENOUGH_GROUPS = "no gap: fewer than two groups with {measure} shown"
NO_GAP_INTERVAL = (
    "no interval: fewer than half of the {n_boot} resamples had {measure} defined in both groups"
)
INTERSECTION_LEFT_OUT = (
    "{variable}: not shown, {small} of its {cells} groups {verb} fewer than {min_n} patients"
)

#: What the short words in a cell mean, for a screen's legend.
WORDS_LEGEND = (
    "Not defined: no events (no patient in the group had the outcome: no AUROC or "
    "sensitivity), all events (every patient had it: no AUROC or specificity), none flagged "
    "(no patient at or above the threshold: no PPV). No interval: perfect ranking (an AUROC of "
    "0 or 1, where the Hanley–McNeil interval has no width). A gap with no interval, all "
    "resamples alike: every bootstrap resample gave the same difference (for example, all or "
    "none of each group's events flagged), so the resampling cannot show its uncertainty."
)

GapMeasure = Literal["AUROC", "sensitivity"]


class SubgroupTableError(CaseLensError):
    """The inputs of a subgroup table are inconsistent: the message names which and why."""


@dataclass(frozen=True)
class Figure:
    """One figure of a group with its interval, or the words that say why there is none.

    ``value`` and the interval (``low``, ``high``) are None together with ``missing`` set,
    never NaN: a figure that cannot be estimated is said in words.
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    missing: str | None = None

    @classmethod
    def of(cls, estimate: Estimate, missing: str, no_interval: str = NO_INTERVAL) -> Figure:
        """From an :class:`Estimate`; ``missing`` is the reason when it has no value,
        ``no_interval`` when it has a value but no interval."""
        if estimate.value is None:
            return cls(None, missing=missing)
        if estimate.low is None or estimate.high is None:
            return cls(estimate.value, missing=no_interval)
        return cls(estimate.value, estimate.low, estimate.high)

    def text(self, digits: int = 2) -> str:
        """``0.81 (0.72–0.90)``, or the words when there is no figure.

        An interval whose ends would print alike gets more digits (up to 4), so an uncertain
        figure never reads as exact."""
        if self.value is None:
            return self.missing or ""
        if self.low is None or self.high is None:
            value = f"{self.value:.{digits}f}"
            return f"{value} ({self.missing})" if self.missing else value
        shown = digits
        while shown < 4 and f"{self.low:.{shown}f}" == f"{self.high:.{shown}f}":
            shown += 1
        if f"{self.low:.{shown}f}" == f"{self.high:.{shown}f}":
            return f"{self.value:.{shown}f} ({NARROW})"
        # A range with a negative end reads "-0.21 to 0.17": a dash there would read as minus.
        between = " to " if self.low < 0 else "–"
        return f"{self.value:.{shown}f} ({self.low:.{shown}f}{between}{self.high:.{shown}f})"


@dataclass(frozen=True)
class SubgroupRow:
    """One group of one variable (or of an intersection ``"sex × age"``).

    A suppressed row (``suppressed`` holds "fewer than 10 patients") keeps its variable and
    group and carries no figures: ``n``, ``events`` and every figure are None.
    """

    variable: str
    group: str
    suppressed: str | None
    n: int | None = None
    events: int | None = None
    auroc: Figure | None = None
    sensitivity: Figure | None = None
    specificity: Figure | None = None
    ppv: Figure | None = None
    observed_rate: Figure | None = None
    mean_predicted: Figure | None = None

    @property
    def intersection(self) -> bool:
        """True for a group of two variables."""
        return INTERSECTION_MARK in self.variable

    def figures(self) -> dict[str, Figure]:
        """The shown figures by name (empty for a suppressed row)."""
        named = {
            "AUROC": self.auroc,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "PPV": self.ppv,
            "observed rate": self.observed_rate,
            "mean predicted": self.mean_predicted,
        }
        return {k: v for k, v in named.items() if v is not None}


@dataclass(frozen=True)
class LargestGap:
    """The largest difference in one measure between the shown groups of one variable.

    ``higher`` and ``lower`` name the groups with the highest and lowest figure; ``difference``
    is higher minus lower (never negative) with its bootstrap interval, or — with fewer than
    two groups to compare — no value and the words saying so.
    """

    variable: str
    measure: GapMeasure
    higher: str | None
    lower: str | None
    difference: Figure

    @property
    def may_be_chance(self) -> bool | None:
        """True when the difference's interval reaches 0 (None without an interval)."""
        if self.difference.low is None:
            return None
        return self.difference.low <= 0.0


@dataclass(frozen=True)
class SubgroupTable:
    """Every group's figures, the intersections n allows, and each variable's largest gaps.

    Attributes
    ----------
    rows : tuple of SubgroupRow
        Variables in the order given, groups sorted by name; then intersections of two
        variables (each pair in the order given), only those whose every group has at least
        ``min_n`` patients: a grid with one cell blanked would let its count be worked out
        from the shown cells and the single variables' groups, and would compare groups
        unevenly.
    gaps : tuple of LargestGap
        Per variable (and shown intersection): the AUROC gap, then the sensitivity gap.
    left_out : tuple of str
        Each intersection not shown, with why ("sex × age: not shown, 2 of its 8 groups have
        fewer than 10 patients"): nothing is dropped silently.
    min_n, threshold, confidence, seed, n_boot
        What the figures were computed with (the seed and resamples make the gaps reproduce).
    n, events : int
        Patients with an outcome and events in the whole table.
    """

    rows: tuple[SubgroupRow, ...]
    gaps: tuple[LargestGap, ...]
    left_out: tuple[str, ...]
    min_n: int
    threshold: float
    confidence: float
    seed: int
    n_boot: int
    n: int
    events: int
    #: The intersection each :attr:`left_out` sentence is about ("sex × age"), in order.
    left_out_variables: tuple[str, ...] = ()

    @property
    def methods(self) -> str:
        """How every figure and interval was made, in one sentence for the screen."""
        level = f"{100 * self.confidence:g}%"
        return (
            f"{level} intervals: Wilson for sensitivity, specificity, PPV and observed rate; "
            "Hanley–McNeil for the AUROC; normal approximation (within 0–1) for the mean "
            "predicted probability; largest gaps by a percentile bootstrap "
            f"({self.n_boot} resamples within each group, seed {self.seed}). Groups with "
            f"fewer than {self.min_n} patients are named without figures; threshold "
            f"{self.threshold:g}."
        )

    def gap(self, variable: str, measure: GapMeasure) -> LargestGap | None:
        """The largest gap of ``measure`` within ``variable`` (None if not computed)."""
        for g in self.gaps:
            if g.variable == variable and g.measure == measure:
                return g
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (numbers and words)."""
        return asdict(self) | {"methods": self.methods}


def _check_inputs(
    y: np.ndarray, p: np.ndarray, groups: Mapping[str, Sequence[str]], threshold: float, min_n: int
) -> dict[str, np.ndarray]:
    if y.ndim != 1 or p.ndim != 1 or len(y) != len(p):
        raise SubgroupTableError(
            f"Outcomes and probabilities: expected two lists of equal length, got "
            f"{len(y)} outcomes and {len(p)} probabilities."
        )
    if len(y) and not np.isin(y, (0, 1)).all():
        raise SubgroupTableError("Outcomes: expected 0 or 1 for every patient.")
    if len(p) and (not np.isfinite(p).all() or p.min() < 0 or p.max() > 1):
        raise SubgroupTableError("Probabilities: expected numbers between 0 and 1.")
    if not 0 < threshold < 1:
        raise SubgroupTableError(
            f"Threshold: expected a probability between 0 and 1, got {threshold}."
        )
    if int(min_n) != min_n or min_n < 1:
        raise SubgroupTableError(f"Minimum n: expected a whole number of at least 1, got {min_n}.")
    labels: dict[str, np.ndarray] = {}
    for variable, values in groups.items():
        if INTERSECTION_MARK in variable:
            raise SubgroupTableError(
                f"Variable {variable!r}: a name may not contain {INTERSECTION_MARK!r} "
                "(intersections are formed here)."
            )
        arr = np.array([str(v) for v in values], dtype=object)
        if len(arr) != len(y):
            raise SubgroupTableError(
                f"Groups of {variable!r}: expected one per patient ({len(y)}), got {len(arr)}."
            )
        labels[variable] = arr
    return labels


def _mean_probability(p: np.ndarray, confidence: float) -> Estimate:
    """The mean predicted probability with its normal-approximation interval, kept within
    0–1 (a mean of probabilities cannot leave it; near 0 with few patients the normal
    interval would)."""
    found = mean_estimate(p, confidence)
    if found.low is None or found.high is None:
        return found
    return Estimate(found.value, max(0.0, found.low), min(1.0, found.high), found.n)


def _row(
    variable: str,
    group: str,
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    min_n: int,
    confidence: float,
) -> SubgroupRow:
    n = len(y)
    if n < min_n:
        return SubgroupRow(variable, group, SUPPRESSED.format(min_n=min_n))
    events = int(y.sum())
    positive = p >= threshold
    flagged = int(positive.sum())
    tp = int((positive & (y == 1)).sum())
    tn = int((~positive & (y == 0)).sum())
    one_class = NO_EVENTS if events == 0 else NO_NON_EVENTS
    auroc = Figure.of(auroc_estimate(y, p, confidence), one_class)
    if auroc.value in (0.0, 1.0):
        # Hanley–McNeil's variance is 0 there: its "interval" would be a point.
        auroc = Figure(auroc.value, missing=PERFECT_SEPARATION)
    return SubgroupRow(
        variable,
        group,
        None,
        n=n,
        events=events,
        auroc=auroc,
        sensitivity=Figure.of(wilson(tp, events, confidence), NO_EVENTS),
        specificity=Figure.of(wilson(tn, n - events, confidence), NO_NON_EVENTS),
        ppv=Figure.of(wilson(tp, flagged, confidence), NO_POSITIVES),
        observed_rate=Figure.of(wilson(events, n, confidence), "no patients"),
        mean_predicted=Figure.of(_mean_probability(p, confidence), "no patients", ONE_PATIENT),
    )


def _draws(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """``count`` bootstrap resamples of ``n`` rows: row indices, one resample per row.

    Each resample is its own ``rng.integers(0, n, n)`` call over the rows as given, so the
    draws do not depend on how resamples are grouped into blocks."""
    draws = np.empty((count, n), dtype=np.int64)
    for i in range(count):
        draws[i] = rng.integers(0, n, n)
    return draws


def _bootstrap_values(
    y: np.ndarray,
    p: np.ndarray,
    measure: GapMeasure,
    *,
    threshold: float,
    rng: np.random.Generator,
    n_boot: int,
) -> np.ndarray:
    """The measure in each of ``n_boot`` resamples of one group (NaN where undefined).

    Counts are kept as integers (exact) until the one division per resample."""
    n = len(y)
    event = y == 1
    out = np.empty(n_boot)
    done = 0
    if measure == "sensitivity":
        flagged_event = event & (p >= threshold)
        while done < n_boot:
            count = min(_BLOCK, n_boot - done)
            draws = _draws(rng, n, count)
            events = event[draws].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                values = flagged_event[draws].sum(axis=1) / events
            values[events == 0] = np.nan
            out[done : done + count] = values
            done += count
        return out
    # The AUROC of a resample, exactly (a tie counts one half, as
    # caselens.model.performance.weighted_auroc): rows sorted by probability once, each
    # resample's draws counted per sorted row, then per event the non-events drawn below it
    # plus half those tied with it.
    order = np.argsort(p, kind="mergesort")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    ys, ps = y[order], p[order]
    non_event = (ys == 0).astype(np.int64)
    _, first, counts = np.unique(ps, return_index=True, return_counts=True)
    group_start = np.repeat(first, counts)
    group_end = group_start + np.repeat(counts, counts)
    events_at = np.flatnonzero(ys == 1)
    start_of, end_of = group_start[events_at], group_end[events_at]
    while done < n_boot:
        count = min(_BLOCK, n_boot - done)
        flat = position[_draws(rng, n, count)] + (np.arange(count) * n)[:, None]
        w = np.bincount(flat.ravel(), minlength=count * n).reshape(count, n)
        below = np.zeros((count, n + 1), dtype=np.int64)
        np.cumsum(w * non_event, axis=1, out=below[:, 1:])
        lower = below[:, start_of]
        # Twice the pairs ranked right (2·below + tied), so every count stays an integer.
        twice = (w[:, events_at] * (lower + below[:, end_of])).sum(axis=1)
        total = w[:, events_at].sum(axis=1) * below[:, n]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = twice / (2.0 * total)
        values[total == 0] = np.nan
        out[done : done + count] = values
        done += count
    return out


def gap_interval(
    y_higher: ArrayLike,
    p_higher: ArrayLike,
    y_lower: ArrayLike,
    p_lower: ArrayLike,
    measure: GapMeasure,
    *,
    threshold: float,
    seed: int = GAP_SEED,
    n_boot: int = GAP_RESAMPLES,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``measure(higher) − measure(lower)``.

    Each group's rows are resampled apart (its size fixed), the higher group's ``n_boot``
    resamples first, from one ``numpy.random.default_rng(seed)``. Resamples where the measure
    is undefined in either group are left out; with fewer than half left, None.
    """
    rng = np.random.default_rng(seed)
    yh, ph = np.asarray(y_higher, dtype=int), np.asarray(p_higher, dtype=float)
    yl, pl = np.asarray(y_lower, dtype=int), np.asarray(p_lower, dtype=float)
    first = _bootstrap_values(yh, ph, measure, threshold=threshold, rng=rng, n_boot=n_boot)
    second = _bootstrap_values(yl, pl, measure, threshold=threshold, rng=rng, n_boot=n_boot)
    differences = first - second
    differences = differences[np.isfinite(differences)]
    if len(differences) < n_boot / 2:
        return None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


def _largest_gap(
    variable: str,
    measure: GapMeasure,
    shown: list[tuple[SubgroupRow, np.ndarray]],
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    seed: int,
    n_boot: int,
    confidence: float,
) -> LargestGap:
    def figure(row: SubgroupRow) -> float | None:
        f = row.auroc if measure == "AUROC" else row.sensitivity
        return None if f is None else f.value

    valued = [(row, mask) for row, mask in shown if figure(row) is not None]
    if len(valued) < 2:
        words = NOT_ENOUGH_GROUPS.format(measure="an AUROC" if measure == "AUROC" else measure)
        return LargestGap(variable, measure, None, None, Figure(None, missing=words))
    # Ties go to the first group by name (rows are sorted), so the pair is deterministic.
    high_row, high_mask = max(valued, key=lambda rm: figure(rm[0]) or 0.0)
    low_row, low_mask = min(valued, key=lambda rm: figure(rm[0]) or 0.0)
    value = (figure(high_row) or 0.0) - (figure(low_row) or 0.0)
    interval = gap_interval(
        y[high_mask],
        p[high_mask],
        y[low_mask],
        p[low_mask],
        measure,
        threshold=threshold,
        seed=seed,
        n_boot=n_boot,
        confidence=confidence,
    )
    if interval is None:
        difference = Figure(value, missing=NO_GAP_INTERVAL.format(n_boot=n_boot, measure=measure))
    elif interval[0] == interval[1]:
        difference = Figure(value, missing=SAME_EVERY_RESAMPLE)
    else:
        difference = Figure(value, interval[0], interval[1])
    return LargestGap(variable, measure, high_row.group, low_row.group, difference)


def _variable_rows(
    variable: str,
    labels: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    min_n: int,
    confidence: float,
) -> list[tuple[SubgroupRow, np.ndarray]]:
    out = []
    for group in sorted(set(labels.tolist())):
        mask = labels == group
        row = _row(
            variable,
            group,
            y[mask],
            p[mask],
            threshold=threshold,
            min_n=min_n,
            confidence=confidence,
        )
        out.append((row, mask))
    return out


def subgroup_table(
    y_true: ArrayLike,
    p: ArrayLike,
    groups: Mapping[str, Sequence[str]],
    threshold: float,
    *,
    min_n: int = MIN_GROUP_N,
    seed: int = GAP_SEED,
    pairs: Sequence[tuple[str, str]] | None = None,
    confidence: float = 0.95,
    n_boot: int = GAP_RESAMPLES,
) -> SubgroupTable:
    """The subgroup figures of predictions ``p`` against outcomes ``y_true`` (0 or 1).

    Parameters
    ----------
    y_true, p : array-like
        Each patient's outcome and predicted probability.
    groups : mapping of str to sequence of str
        Per variable, each patient's group (formed once, by
        :func:`caselens.model.subgroups.group_labels`).
    threshold : float
        The decision threshold (at or above it a patient is flagged): sensitivity,
        specificity and PPV are measured there.
    min_n : int, default 10
        The smallest group shown with figures. A smaller group keeps its row and says
        "fewer than 10 patients" (see :data:`MIN_GROUP_N` for why 10). An intersection of two
        variables is shown only when every one of its groups has at least ``min_n`` patients;
        otherwise :attr:`SubgroupTable.left_out` says which and why.
    seed : int
        Seed of the bootstrap of the largest gaps (recorded on the table).
    pairs : sequence of (str, str), optional
        The intersections to try; by default every pair of ``groups``' variables, in order.
    confidence : float
        Level of every interval (0.95).
    n_boot : int
        Bootstrap resamples per group for each largest gap.

    Returns
    -------
    SubgroupTable

    Raises
    ------
    SubgroupTableError
        Lengths differ, an outcome is not 0 or 1, a probability is outside 0–1, the threshold
        is not strictly between 0 and 1, or ``min_n`` is not a whole number ≥ 1.

    Examples
    --------
    >>> t = subgroup_table([0, 1] * 10, [0.2, 0.7] * 10, {"sex": ["F"] * 12 + ["M"] * 8}, 0.5)
    >>> [(r.group, r.suppressed) for r in t.rows]
    [('F', None), ('M', 'fewer than 10 patients')]
    """
    y = np.asarray(y_true, dtype=float)
    prob = np.asarray(p, dtype=float)
    labels = _check_inputs(y, prob, groups, threshold, min_n)
    y = y.astype(int)
    rows: list[SubgroupRow] = []
    gaps: list[LargestGap] = []
    left_out: list[str] = []
    left_out_variables: list[str] = []

    def add(variable: str, found: list[tuple[SubgroupRow, np.ndarray]]) -> None:
        rows.extend(r for r, _ in found)
        shown = [(r, m) for r, m in found if r.suppressed is None]
        for measure in ("AUROC", "sensitivity"):
            gaps.append(
                _largest_gap(
                    variable,
                    measure,
                    shown,
                    y,
                    prob,
                    threshold=threshold,
                    seed=seed,
                    n_boot=n_boot,
                    confidence=confidence,
                )
            )

    options = dict(threshold=threshold, min_n=min_n, confidence=confidence)
    for variable, values in labels.items():
        add(variable, _variable_rows(variable, values, y, prob, **options))
    chosen = list(itertools.combinations(labels, 2)) if pairs is None else list(pairs)
    for first, second in chosen:
        for name in (first, second):
            if name not in labels:
                raise SubgroupTableError(
                    f"Intersection {first} × {second}: no groups were given for {name!r}."
                )
        variable = f"{first}{INTERSECTION_MARK}{second}"
        pairs_of = zip(labels[first], labels[second], strict=True)
        crossed = np.array([f"{a}{INTERSECTION_MARK}{b}" for a, b in pairs_of], dtype=object)
        cells = sorted(set(crossed.tolist()))
        small = sum(int((crossed == c).sum()) < min_n for c in cells)
        if small:
            left_out_variables.append(variable)
            left_out.append(
                INTERSECTION_LEFT_OUT.format(
                    variable=variable,
                    small=small,
                    cells=len(cells),
                    verb="has" if small == 1 else "have",
                    min_n=min_n,
                )
            )
            continue
        add(variable, _variable_rows(variable, crossed, y, prob, **options))
    return SubgroupTable(
        rows=tuple(rows),
        gaps=tuple(gaps),
        left_out=tuple(left_out),
        min_n=int(min_n),
        threshold=float(threshold),
        confidence=float(confidence),
        seed=int(seed),
        n_boot=int(n_boot),
        n=len(y),
        events=int(y.sum()),
        left_out_variables=tuple(left_out_variables),
    )
