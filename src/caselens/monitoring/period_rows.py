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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, func

#: Periods kept in memory per database: the open period of a few models and sources.
MAX_PERIODS_KEPT = 8


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

    def __len__(self) -> int:
        return len(self.ids)

    def extended(self, more: RawRows) -> RawRows:
        """These rows followed by ``more`` (an input one side lacks is None there)."""
        names = list(self.inputs) + [n for n in more.inputs if n not in self.inputs]
        gap_here, gap_there = (None,) * len(self), (None,) * len(more)
        return RawRows(
            self.ids + more.ids,
            self.refs + more.refs,
            self.reports + more.reports,
            self.days + more.days,
            self.versions + more.versions,
            self.probabilities + more.probabilities,
            self.sets + more.sets,
            {n: self.inputs.get(n, gap_here) + more.inputs.get(n, gap_there) for n in names},
        )


def raw_rows(rows: Sequence[Sequence[Any]], parse: Any) -> RawRows:
    """Rows of (id, patient_ref, report_id, recorded_on, model_version, probability,
    conformal_set, inputs_json) as :class:`RawRows`; ``parse(texts)`` parses the inputs."""
    if not rows:
        return RawRows((), (), (), (), (), (), (), {})
    ids, refs, reports, days, versions, probabilities, sets, texts = zip(*rows, strict=True)
    return RawRows(ids, refs, reports, days, versions, probabilities, sets, parse(texts))


_LOCK = threading.Lock()
_KEPT: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple, RawRows]] = weakref.WeakKeyDictionary()


def read_period_rows(
    engine: Engine, key: tuple, rows_stmt: Select[Any], id_column: Any, parse: Any
) -> RawRows:
    """The period's rows (``rows_stmt``, ordered by id), reusing what is kept for ``key``
    when the database shows that only newer rows were added since."""
    with _LOCK:
        kept = _KEPT.get(engine, OrderedDict()).get(key)
    with engine.connect() as conn:
        if kept is not None and len(kept):
            newer = conn.execute(rows_stmt.where(id_column > kept.ids[-1])).all()
            counted = rows_stmt.with_only_columns(func.count()).order_by(None)
            total = conn.execute(counted).scalar_one()
            rows = (
                kept.extended(raw_rows(newer, parse))
                if total == len(kept) + len(newer)
                else raw_rows(conn.execute(rows_stmt).all(), parse)
            )
        else:
            rows = raw_rows(conn.execute(rows_stmt).all(), parse)
    with _LOCK:
        periods = _KEPT.setdefault(engine, OrderedDict())
        periods[key] = rows
        periods.move_to_end(key)
        while len(periods) > MAX_PERIODS_KEPT:
            periods.popitem(last=False)
    return rows


def forget_period_rows(engine: Engine | None = None) -> None:
    """Drop the rows kept (for one database, or for all)."""
    with _LOCK:
        if engine is None:
            _KEPT.clear()
        else:
            _KEPT.pop(engine, None)
