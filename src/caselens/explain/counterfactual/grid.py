"""The grid search behind ``caselens-grid-v1``: every set of one, then two, then three
modifiable inputs over their allowed values, asked of the model in few large batches.

All sets of one size go to the model together (a model with a large fixed cost per call —
five calibrated forests — pays it a handful of times per search, not once per set), in
batches of :data:`BATCH_ROWS` rows with the budget checked between them. Each answer must
need every one of its changes, and is then made as small as still crosses.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from caselens.explain.attribution._frames import _frame
from caselens.explain.attribution._runtime import _model_threads
from caselens.explain.attribution.model_usage import _CountingPredict
from caselens.explain.counterfactual.candidates import InputRange
from caselens.explain.counterfactual.results import SearchSettings, ThresholdSide

if TYPE_CHECKING:
    from caselens.explain.cases import Case
    from caselens.explain.report import CaseExplainer

#: Rows asked of the model for one set of inputs at most (a larger grid is sampled, seeded).
MAX_ROWS_PER_SET = 4096
#: Rows per model call: small enough that the budget is checked every few tens of ms.
BATCH_ROWS = 2048
#: Rows asked in one search at most, whatever the budget: the same case and seed always
#: give the same alternatives on a fast machine and on a slow one that finishes.
MAX_SEARCH_ROWS = 60_000
#: Rounds of making a change smaller: the second looks between the last value that did not
#: cross and the first that did (a whole-number input then lands on the exact smallest
#: change for any range of up to REFINE_STEPS² steps).
REFINE_ROUNDS = 2
#: Crossings per set and signature checked to need every change (nearest first).
MINIMAL_CANDIDATES = 32
#: A probability within this of the threshold is not counted as crossing it. A float32
#: model (an ONNX file) answers the same row up to ~1e-7 differently in a report's large
#: batch than in one row, so an alternative shown as crossing crosses in its own report too.
CROSSING_MARGIN = 1e-6


@dataclass(frozen=True)
class Found:
    """A crossing a search found, before it is re-asked of the model."""

    values: tuple[tuple[str, Any], ...]  # (input name, new value), in the card's order
    distance: float
    signature: tuple[str, ...]  # per input: direction or target category

    @property
    def names(self) -> frozenset[str]:
        """The inputs it changes."""
        return frozenset(name for name, _ in self.values)

    @property
    def kind(self) -> tuple[tuple[str, str], ...]:
        """Which inputs change and which way (or to which category): two findings of the
        same kind are the same change at different sizes."""
        return tuple(zip((name for name, _ in self.values), self.signature, strict=True))


def found(ranges: Sequence[InputRange], values: dict[str, Any]) -> Found:
    """A finding from input name → new value (only the changed inputs), in ``ranges``' order."""
    row = [(r, values[r.name]) for r in ranges if r.name in values]
    return Found(
        tuple((r.name, v) for r, v in row),
        sum(r.cost(v) for r, v in row),
        tuple(r.direction_of(v) for r, v in row),
    )


class Clock:
    """A search's budget: started once, asked between batches."""

    def __init__(self, budget_ms: int) -> None:
        self.start = time.perf_counter()
        self.budget_ms = budget_ms
        self.exhausted = False

    def elapsed_ms(self) -> float:
        """Milliseconds since the search started."""
        return 1000 * (time.perf_counter() - self.start)

    def out(self) -> bool:
        """Whether the budget is spent (and, from then on, remembered as spent)."""
        if self.elapsed_ms() >= self.budget_ms:
            self.exhausted = True
        return self.exhausted


def crosses(probability: Any, threshold: float, target: ThresholdSide) -> Any:
    """Whether a probability (or an array of them) is on ``target``'s side of the threshold
    (at or above it is the positive side), by more than :data:`CROSSING_MARGIN`."""
    if target == "below":
        return probability < threshold - CROSSING_MARGIN
    return probability >= threshold + CROSSING_MARGIN


def _column(r: InputRange, values: Sequence[Any]) -> np.ndarray:
    if r.is_category:
        return np.array(list(values), dtype=object)
    return np.asarray(values, dtype=float)


class Asker:
    """The patient's row with some inputs changed, asked of the model in batches through
    the report's guarded call (answers checked to be probabilities; an ONNX call stopped at
    its time limit)."""

    def __init__(
        self,
        explainer: CaseExplainer,
        case: Case,
        ranges: Sequence[InputRange],
        threshold: float,
        target: ThresholdSide,
    ) -> None:
        self.schema = explainer.bundle.features
        self.predict = _CountingPredict(explainer.bundle.model)
        self.single_threaded = explainer.attributor.single_threaded
        self.case = case
        self.ranges = list(ranges)
        self.threshold = threshold
        self.target = target
        self.rows = 0
        #: Whether the search stopped at MAX_SEARCH_ROWS before trying every set.
        self.capped = False

    def ask(self, rows: Sequence[dict[str, Any]], clock: Clock | None = None) -> np.ndarray:
        """For each row (input name → new value; every other input the patient's): whether
        the model's probability is on the target side. With ``clock`` (the search proper),
        the budget is checked between batches and at most MAX_SEARCH_ROWS are asked in all;
        rows not asked count as not crossing."""
        crossed = np.zeros(len(rows), dtype=bool)
        limit = len(rows)
        if clock is not None and self.rows + limit > MAX_SEARCH_ROWS:
            self.capped = True
            limit = max(0, MAX_SEARCH_ROWS - self.rows)
        for start in range(0, limit, BATCH_ROWS):
            if clock is not None and clock.out():
                break
            part = rows[start : min(start + BATCH_ROWS, limit)]
            columns = {
                r.name: _column(r, [row.get(r.name, r.current) for row in part])
                for r in self.ranges
            }
            crossed[start : start + len(part)] = self._crossing(columns, len(part))
        return crossed

    def _crossing(self, changes: dict[str, np.ndarray], n: int) -> np.ndarray:
        columns = []
        for spec in self.schema:
            if spec.name in changes:
                column = changes[spec.name]
            elif spec.kind == "category":
                column = np.full(n, self.case.values.get(spec.name), dtype=object)
            else:
                value = self.case.values.get(spec.name)
                column = np.full(n, math.nan if value is None else float(value))
            columns.append(column)
        with _model_threads(self.single_threaded, every_api=True):
            if self.predict.takes_columns:
                probs = self.predict.columns(dict(zip(self.schema.names, columns, strict=True)))
            else:
                probs = self.predict(_frame(columns, self.schema))
        self.rows += n
        return crosses(probs[:, 1], self.threshold, self.target)


def search_grid(
    asker: Asker, settings: SearchSettings, clock: Clock, *, enough: int
) -> list[Found]:
    """Every set of inputs, fewest first (larger sets only while fewer than ``enough``
    distinct sets were found), with its nearest crossings: one per signature, each needing
    every one of its changes."""
    rng = np.random.default_rng(settings.seed)
    ranges = asker.ranges
    results: list[Found] = []
    for size in range(1, min(settings.max_changes, len(ranges)) + 1):
        if len({f.names for f in results}) >= enough or clock.out() or asker.capped:
            break
        rows: list[dict[str, Any]] = []
        for subset in itertools.combinations(ranges, size):
            rows.extend(_grid_rows(subset, rng))
        crossed = asker.ask(rows, clock)
        nearest = _nearest_per_kind([found(ranges, rows[k]) for k in np.flatnonzero(crossed)])
        if size > 1:
            needed = needing_every_change(asker, nearest)
            nearest = [f for f, ok in zip(nearest, needed, strict=True) if ok]
        best: dict[tuple[tuple[str, str], ...], Found] = {}
        for f in nearest:  # nearest first within each kind
            best.setdefault(f.kind, f)
        results.extend(best.values())
    return results


def _grid_rows(subset: Sequence[InputRange], rng: np.random.Generator) -> list[dict[str, Any]]:
    """The set's grid (every combination of its inputs' values; sampled when larger than
    MAX_ROWS_PER_SET) as rows of input name → value."""
    sizes = [len(r.values) for r in subset]
    total = math.prod(sizes)
    if total > MAX_ROWS_PER_SET:
        picks = np.sort(rng.choice(total, size=MAX_ROWS_PER_SET, replace=False))
    else:
        picks = np.arange(total)
    indices = np.unravel_index(picks, sizes)
    columns = [[r.values[i] for i in idx] for r, idx in zip(subset, indices, strict=True)]
    return [
        {r.name: column[k] for r, column in zip(subset, columns, strict=True)}
        for k in range(len(picks))
    ]


def _nearest_per_kind(findings: list[Found]) -> list[Found]:
    """At most MINIMAL_CANDIDATES findings of each kind, nearest first."""
    findings = sorted(findings, key=lambda f: (f.distance, f.values))
    per_kind: dict[tuple[tuple[str, str], ...], int] = {}
    kept = []
    for f in findings:
        if per_kind.get(f.kind, 0) < MINIMAL_CANDIDATES:
            per_kind[f.kind] = per_kind.get(f.kind, 0) + 1
            kept.append(f)
    return kept


def needing_every_change(asker: Asker, findings: Sequence[Found]) -> list[bool]:
    """For each finding: whether it no longer crosses when any one of its changes is undone
    (an answer with a change it does not need is a smaller answer with a needless extra)."""
    rows: list[dict[str, Any]] = []
    for f in findings:
        values = dict(f.values)
        rows.extend({n: v for n, v in values.items() if n != undone} for undone in values)
    crossed = asker.ask(rows)
    needed, start = [], 0
    for f in findings:
        needed.append(not crossed[start : start + len(f.values)].any())
        start += len(f.values)
    return needed


def refine(asker: Asker, findings: list[Found]) -> list[Found]:
    """The same changes, each number input moved as little as still crosses (input by
    input, REFINE_ROUNDS rounds each, every finding in the same model calls); a finding
    whose smaller version no longer needs every change is kept as found."""
    by_name = {r.name: r for r in asker.ranges}
    current = [dict(f.values) for f in findings]
    for position in range(max((len(f.values) for f in findings), default=0)):
        starts: list[float | None] = [None] * len(findings)
        for _ in range(REFINE_ROUNDS):
            rows: list[dict[str, Any]] = []
            spans: list[tuple[int, str, tuple[float, ...], int]] = []
            for i, values in enumerate(current):
                names = list(values)
                if position >= len(names) or by_name[names[position]].is_category:
                    continue
                name = names[position]
                tries = by_name[name].between(float(values[name]), starts[i])
                if len(tries) <= 1:
                    continue
                spans.append((i, name, tries, len(rows)))
                rows.extend({**values, name: t} for t in tries)
            if not rows:
                break
            crossed = asker.ask(rows)
            for i, name, tries, start in spans:
                hits = np.flatnonzero(crossed[start : start + len(tries)])
                if len(hits):
                    first = int(hits[0])  # nearest the patient's value first
                    current[i][name] = tries[first]
                    if first:
                        starts[i] = tries[first - 1]
    smaller = [found(asker.ranges, values) for values in current]
    several = [i for i, f in enumerate(smaller) if len(f.values) > 1]
    needed = needing_every_change(asker, [smaller[i] for i in several])
    for i, ok in zip(several, needed, strict=True):
        if not ok:
            smaller[i] = findings[i]
    return smaller
