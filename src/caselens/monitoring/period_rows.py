"""A period's prediction-log rows, read once and then only what was added since.

The open (current) period keeps growing, so its figures cannot be cached: every view
computes them again. What is expensive is not the arithmetic but reading every row of the
month and parsing its inputs JSON. :func:`read_period_rows` keeps, in this process, the rows of
the most recently viewed periods already parsed into columns, and on the next view reads
only the rows whose id is larger than the last one it holds.

That is safe only if no row can appear *below* that id later. Log rows are append-only,
but on PostgreSQL two transactions can commit their ids out of order. So every reuse also
counts the period's rows in the database (one index-answered query): when the count is not
the rows held plus the rows just read, the period is read again whole. The result is the
same rows, in the same order, as a full read — a test checks it.

Only a bounded number of periods is kept per database (LRU), and nothing is ever written:
this is a read cache of derived data, never a record.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine, Select, func

#: Row sets kept in memory per database: the open period (its log rows and its linkable
#: outcomes) of a few models and sources.
MAX_PERIODS_KEPT = 8
T = TypeVar("T")


@dataclass(frozen=True)
class RawRows:
    """A period's log rows in id order, inputs already parsed into one list per input."""

    ids: tuple[int, ...]
    refs: tuple[Any, ...]
    reports: tuple[Any, ...]
    days: tuple[str, ...]
    versions: tuple[str, ...]
    probabilities: tuple[float, ...]
    sets: tuple[str | None, ...]
    inputs: dict[str, tuple[Any, ...]]
    #: ``days`` as numpy dates (for linking outcomes), converted once per row.
    day_numbers: np.ndarray = field(compare=False, repr=False)
    #: Arrays worked out row by row from one input (category codes, numbers, groups), by
    #: key: (input name, the per-row function, the array). Kept with the rows, so a reuse
    #: works them out for the newer rows only. Not part of what the rows are.
    derived: dict[tuple, tuple[str, Callable[[Sequence[Any]], Any], Any]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __len__(self) -> int:
        return len(self.ids)

    def derive(self, key: tuple, name: str, per_row: Callable[[Sequence[Any]], Any]) -> Any:
        """``per_row(column)`` of input ``name`` (an array, or None where it does not
        apply), worked out once per key and extended row by row with the rows."""
        found = self.derived.get(key)
        if found is None:
            column = self.inputs.get(name) or (None,) * len(self)
            found = self.derived[key] = (name, per_row, per_row(column))
        return found[2]

    def extended(self, more: RawRows) -> RawRows:
        """These rows followed by ``more`` (an input one side lacks is None there)."""
        names = list(self.inputs) + [n for n in more.inputs if n not in self.inputs]
        gap_here, gap_there = (None,) * len(self), (None,) * len(more)
        derived = {}
        for key, (name, per_row, array) in self.derived.items():
            added = per_row(more.inputs.get(name) or gap_there)
            # None: the function does not apply to a part (e.g. numbers as categories),
            # so it does not apply to the whole either.
            joined = None if array is None or added is None else np.concatenate([array, added])
            derived[key] = (name, per_row, joined)
        return RawRows(
            self.ids + more.ids,
            self.refs + more.refs,
            self.reports + more.reports,
            self.days + more.days,
            self.versions + more.versions,
            self.probabilities + more.probabilities,
            self.sets + more.sets,
            {n: self.inputs.get(n, gap_here) + more.inputs.get(n, gap_there) for n in names},
            np.concatenate([self.day_numbers, more.day_numbers]),
            derived,
        )


def raw_rows(rows: Sequence[Sequence[Any]], parse: Any) -> RawRows:
    """Rows of (id, patient_ref, report_id, recorded_on, model_version, probability,
    conformal_set, inputs_json) as :class:`RawRows`; ``parse(texts)`` parses the inputs."""
    if not rows:
        return RawRows((), (), (), (), (), (), (), {}, np.array([], dtype="datetime64[D]"))
    ids, refs, reports, days, versions, probabilities, sets, texts = zip(*rows, strict=True)
    day_numbers = np.array(days, dtype="datetime64[D]")
    return RawRows(
        ids, refs, reports, days, versions, probabilities, sets, parse(texts), day_numbers
    )


@dataclass(frozen=True)
class _Kept:
    rows: Any
    count: int
    last_id: int
    stamp: Any


_LOCK = threading.Lock()
_KEPT: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple, _Kept]] = weakref.WeakKeyDictionary()


def read_appended(
    engine: Engine,
    key: tuple,
    rows_stmt: Select[Any],
    id_column: Any,
    *,
    build: Callable[[Sequence[Any]], T],
    extend: Callable[[T, T], T],
    stamp_stmt: Select[Any] | None = None,
) -> T:
    """Rows of ``rows_stmt`` (ordered by ``id_column``, whose first column is that id) as
    ``build(rows)``, reusing what is kept for ``key`` and reading only rows with a larger id.

    The kept rows are reused only when the database shows that nothing else changed: the
    statement's row count equals the rows kept plus those just read, and ``stamp_stmt``
    (e.g. the count and largest id of the outcome corrections) gives what it gave before.
    Otherwise everything is read again."""
    with _LOCK:
        kept = _KEPT.get(engine, OrderedDict()).get(key)
    with engine.connect() as conn:
        stamp = None if stamp_stmt is None else tuple(conn.execute(stamp_stmt).one())
        rows = None
        if kept is not None and kept.stamp == stamp:
            newer = conn.execute(rows_stmt.where(id_column > kept.last_id)).all()
            counted = rows_stmt.with_only_columns(func.count()).order_by(None)
            if conn.execute(counted).scalar_one() == kept.count + len(newer):
                rows = extend(kept.rows, build(newer)) if newer else kept.rows
                count = kept.count + len(newer)
                last_id = newer[-1][0] if newer else kept.last_id
        if rows is None:
            every = conn.execute(rows_stmt).all()
            rows, count = build(every), len(every)
            last_id = every[-1][0] if every else -1
    with _LOCK:
        periods = _KEPT.setdefault(engine, OrderedDict())
        periods[key] = _Kept(rows, count, last_id, stamp)
        periods.move_to_end(key)
        while len(periods) > MAX_PERIODS_KEPT:
            periods.popitem(last=False)
    return rows


@dataclass(frozen=True)
class OutcomeColumns:
    """Outcome rows (id, patient_ref, known_on, outcome) as arrays, in id order."""

    ids: np.ndarray
    refs: np.ndarray
    known: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Sequence[Any]]) -> OutcomeColumns:
        """From rows of (id, patient_ref, known_on, outcome)."""
        if not rows:
            return cls(
                np.array([], dtype=np.int64),
                np.array([], dtype=object),
                np.array([], dtype="datetime64[D]"),
                np.array([], dtype=float),
            )
        ids, refs, known, values = zip(*rows, strict=True)
        return cls(
            np.array(ids, dtype=np.int64),
            np.array(refs, dtype=object),
            np.array(known, dtype="datetime64[D]"),
            np.array(values, dtype=float),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __add__(self, more: OutcomeColumns) -> OutcomeColumns:
        return OutcomeColumns(
            *(
                np.concatenate([a, b])
                for a, b in (
                    (self.ids, more.ids),
                    (self.refs, more.refs),
                    (self.known, more.known),
                    (self.values, more.values),
                )
            )
        )


def read_period_rows(
    engine: Engine, key: tuple, rows_stmt: Select[Any], id_column: Any, parse: Any
) -> RawRows:
    """The period's log rows (``rows_stmt``, ordered by id), reusing what is kept for
    ``key`` when the database shows that only newer rows were added since."""
    return read_appended(
        engine,
        ("rows", *key),
        rows_stmt,
        id_column,
        build=lambda rows: raw_rows(rows, parse),
        extend=RawRows.extended,
    )


def forget_period_rows(engine: Engine | None = None) -> None:
    """Drop the rows kept (for one database, or for all)."""
    with _LOCK:
        if engine is None:
            _KEPT.clear()
        else:
            _KEPT.pop(engine, None)
