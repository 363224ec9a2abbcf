"""The fast path: one period's distinct predictions read as columns, with their linked
outcomes, without pandas' per-row costs (the same rows and values as
:func:`~caselens.monitoring.figures.log_reading.read_period`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import add, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, select

from caselens.monitoring.figures.calendar_periods import Period, source_filter
from caselens.monitoring.figures.log_reading import (
    corrections_stamp,
    linkable_outcomes,
    period_log_columns,
)
from caselens.monitoring.tables import (
    prediction_log,
)

if TYPE_CHECKING:
    from caselens.monitoring.period_rows import OutcomeColumns, RawRows

#: Rows' inputs parsed per json.loads call on the fast path.
_PARSE_CHUNK = 5_000


@dataclass(frozen=True)
class PeriodColumns:
    """One period's distinct predictions as columns, in prediction-id order: what
    :func:`read_period` returns as a DataFrame, without pandas' per-row costs."""

    ids: np.ndarray
    probability: np.ndarray
    outcome: np.ndarray
    conformal_set: tuple[str | None, ...]
    model_version: tuple[str, ...]
    #: Each input named in the feature schema that any row holds (None where a row lacks it).
    inputs: dict[str, tuple[Any, ...]]
    displays: int
    #: The log rows these come from, and which of them were kept (one per prediction; None:
    #: all): arrays worked out row by row are kept with the rows (see :meth:`derived`).
    source: RawRows | None = field(default=None, compare=False, repr=False)
    kept: np.ndarray | None = field(default=None, compare=False, repr=False)

    def derived(self, key: tuple, name: str, per_row: Callable[[Sequence[Any]], Any]) -> Any:
        """``per_row`` of input ``name``'s column (an array, or None where it does not
        apply): from the source rows, where a reused open period keeps it and works it out
        only for rows added since; else worked out here."""
        if self.source is None:
            return per_row(self.inputs.get(name) or (None,) * len(self.ids))
        whole = self.source.derive(key, name, per_row)
        return whole if whole is None or self.kept is None else whole[self.kept]


def _period_rows(
    model_id: str, period: Period, simulated: bool, run_id: str | None, *columns: Any
) -> Select[Any]:
    c = prediction_log.c
    return select(*columns).where(
        c.model_id == model_id,
        *source_filter(simulated, run_id),
        c.recorded_at >= period.start.isoformat(),
        c.recorded_at < period.end.isoformat(),
    )


def _parse_inputs(texts: Sequence[str], names: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """The named inputs of each row's JSON, as one tuple per input name."""
    parsed: list[Any] = []
    for start in range(0, len(texts), _PARSE_CHUNK):
        chunk = texts[start : start + _PARSE_CHUNK]
        # One json.loads per chunk instead of per row halves the parse time. Every text was
        # written by json.dumps as one object; the count and type check below fall back to
        # parsing row by row if a row is anything else.
        try:
            values = json.loads("[" + ",".join(chunk) + "]")
        except ValueError:
            values = None
        if values is None or len(values) != len(chunk) or not all(type(v) is dict for v in values):
            values = [json.loads(text) for text in chunk]
        parsed += values
    if not parsed:
        return {}
    keys: set[str] = set()
    for row in parsed:
        keys.update(row)
    wanted = [name for name in names if name in keys]
    if not wanted:
        return {}
    try:
        # Every row holds every input (the usual case): one C-level pass per row.
        table = list(map(itemgetter(*wanted), parsed))
    except KeyError:
        table = [tuple(row.get(name) for name in wanted) for row in parsed]
    if len(wanted) == 1:
        return {wanted[0]: tuple(table)}
    return dict(zip(wanted, zip(*table, strict=True), strict=True))


def read_period_columns(
    engine: Engine,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    input_names: Sequence[str],
    simulated: bool = False,
    run_id: str | None = None,
    reuse_rows: bool = False,
) -> PeriodColumns:
    """The period's distinct predictions (first display of each patient and report) with
    their linked outcome, as columns: the same rows and values as :func:`read_period`.

    Two queries: the period's rows, and the outcomes that could link to them (one range
    read, matched by patient in memory). With ``reuse_rows`` the rows already read for this
    period in this process are reused and only newer rows are read
    (:func:`caselens.monitoring.period_rows.read_period_rows`): for the open period, which every
    view must compute again."""
    from caselens.monitoring.period_rows import (
        OutcomeColumns,
        raw_rows,
        read_appended,
        read_period_rows,
    )

    c = prediction_log.c
    rows_stmt = _period_rows(model_id, period, simulated, run_id, *period_log_columns())
    rows_stmt = rows_stmt.order_by(c.id)
    names = tuple(input_names)

    def parse(texts: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        return _parse_inputs(texts, names)

    outcomes_stmt = linkable_outcomes(model_id, period, window_days, simulated)
    outcome_id = outcomes_stmt.selected_columns.id
    outcomes_stmt = outcomes_stmt.order_by(outcome_id)
    if reuse_rows:
        key = (model_id, simulated, run_id, period.label, period.start, period.end, names)
        rows = read_period_rows(engine, key, rows_stmt, c.id, parse)
        outcomes = read_appended(
            engine,
            ("outcomes", model_id, simulated, period.label, period.start, window_days),
            outcomes_stmt,
            outcome_id,
            build=OutcomeColumns.of,
            extend=add,
            # A correction changes an outcome's value without adding a row.
            stamp_stmt=corrections_stamp(model_id, simulated),
        )
    else:
        with engine.connect() as conn:
            rows = raw_rows(conn.execute(rows_stmt).all(), parse)
            outcomes = OutcomeColumns.of(conn.execute(outcomes_stmt).all())
    displays = len(rows)
    if not displays:
        return PeriodColumns(
            np.array([], dtype=np.int64), np.array([]), np.array([]), (), (), {}, 0
        )
    return _first_displays(rows, outcomes, window_days)


def _first_displays(rows: RawRows, outcomes: OutcomeColumns, window_days: int) -> PeriodColumns:
    """The first display of each prediction (patient and report) among a period's rows,
    with its linked outcome, as columns."""
    displays = len(rows)
    ids, refs, days, versions = rows.ids, rows.refs, rows.day_numbers, rows.versions
    probabilities, sets, inputs = rows.probabilities, rows.sets, rows.inputs
    pairs = list(zip(refs, rows.reports, strict=True))
    keep: list[int] | None = None
    if len(set(pairs)) != len(pairs):
        # A clinician's view and the patient's preview of one report are one prediction.
        seen: set[tuple[Any, Any]] = set()
        keep = [i for i, pair in enumerate(pairs) if not (pair in seen or seen.add(pair))]
        pick = _picker(keep)
        ids, refs, versions, probabilities, sets = (
            pick(column) for column in (ids, refs, versions, probabilities, sets)
        )
        days = days[keep]
        inputs = {name: pick(column) for name, column in inputs.items()}
    return PeriodColumns(
        ids=np.array(ids, dtype=np.int64),
        probability=np.array(probabilities, dtype=float),
        outcome=_linked(refs, days, outcomes, window_days),
        conformal_set=tuple(sets),
        model_version=tuple(versions),
        inputs=inputs,
        displays=displays,
        source=rows,
        kept=None if keep is None else np.array(keep, dtype=np.int64),
    )


def _picker(keep: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function taking the rows at ``keep`` from a column, as a tuple (at C speed)."""
    if len(keep) == 1:
        return lambda column: (column[keep[0]],)
    get = itemgetter(*keep)
    return lambda column: tuple(get(column))


def _linked(
    refs: Sequence[str | None],
    days: np.ndarray,
    outcomes: OutcomeColumns,
    window_days: int,
) -> np.ndarray:
    """Per prediction: 1 if an outcome of its patient known within ``[day, day + window]``
    is 1, else 0 if one is known, else NaN (as :func:`link_outcomes`).

    Vectorised: patients are numbered once (pandas' hashing), each outcome finds its
    patient's predictions by binary search in the predictions sorted by patient."""
    linked = np.full(len(refs), np.nan)
    if not len(outcomes) or not len(refs):
        return linked
    n = len(refs)
    codes, _ = pd.factorize(np.concatenate([np.asarray(refs, dtype=object), outcomes.refs]))
    mine, theirs = codes[:n], codes[n:]
    order = np.argsort(mine, kind="stable")
    by_patient = mine[order]
    low = np.searchsorted(by_patient, theirs, "left")
    high = np.searchsorted(by_patient, theirs, "right")
    matches = np.where(theirs >= 0, high - low, 0)  # a missing patient reference links none
    total = int(matches.sum())
    if not total:
        return linked
    outcome_at = np.repeat(np.arange(len(theirs)), matches)
    offset = np.arange(total) - np.repeat(np.cumsum(matches) - matches, matches)
    at = order[np.repeat(low, matches) + offset]
    delta = (outcomes.known[outcome_at] - days[at]).astype(np.int64)
    inside = (delta >= 0) & (delta <= window_days)
    np.fmax.at(linked, at[inside], outcomes.values[outcome_at][inside])
    return linked
