"""Reading a period from the prediction log: the distinct predictions of one model and
period in one query, the outcomes of those patients linked in a second; the outcome rows
that may link and what changes when one is corrected; the simulated runs logged.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, func, select

from caselens.monitoring.figures.calendar_periods import Period, source_filter
from caselens.monitoring.tables import (
    current_outcome,
    outcome_correction_table,
    outcome_table,
    prediction_log,
)

#: Patient references looked up per outcome query.
_CHUNK = 500


def period_log_columns() -> tuple[Any, ...]:
    """The log columns a period's figures are computed from, in the order both paths read
    them (the fast path's :class:`~caselens.monitoring.period_rows.RawRows` follows it)."""
    c = prediction_log.c
    return (
        c.id,
        c.patient_ref,
        c.report_id,
        c.recorded_on,
        c.model_version,
        c.probability,
        c.conformal_set,
        c.inputs_json,
    )


def read_period(
    engine: Engine,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    simulated: bool = False,
    run_id: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The period's predictions (one row per distinct prediction, inputs as columns,
    ``outcome`` linked or NaN) and the number of displays they came from."""
    c = prediction_log.c
    stmt = (
        select(*period_log_columns())
        .where(
            c.model_id == model_id,
            *source_filter(simulated, run_id),
            c.recorded_at >= period.start.isoformat(),
            c.recorded_at < period.end.isoformat(),
        )
        .order_by(c.id)
    )
    with engine.connect() as conn:
        # Plain tuples: pandas probes each SQLAlchemy Row for attributes, which is slow.
        rows = pd.DataFrame(
            [tuple(row) for row in conn.execute(stmt)],
            columns=[k.name for k in stmt.selected_columns],
        )
        displays = len(rows)
        if rows.empty:
            return rows.assign(outcome=pd.Series(dtype=float)), 0
        rows = rows.drop_duplicates(["patient_ref", "report_id"], keep="first")
        linked = link_outcomes(conn, model_id, rows, window_days=window_days, simulated=simulated)
    rows = rows.assign(outcome=linked)
    inputs = pd.DataFrame([json.loads(text) for text in rows["inputs_json"]], index=rows.index)
    return pd.concat([rows.drop(columns=["inputs_json"]), inputs], axis=1), displays


def outcome_rows(model_id: str, *, simulated: bool) -> Select[Any]:
    """The outcome rows that may link to a model's predictions (live or simulated).

    The one place outcomes are read from: the straightforward link, the joined link of the
    fast path and the figures cache's fingerprint all start from this query, so a filter
    (for example, leaving out outcomes superseded by a correction) is added here once.
    """
    t = outcome_table.c
    # An outcome's value is its newest correction, if any (caselens.monitoring.corrections).
    return select(t.id, t.patient_ref, t.known_on, current_outcome().label("outcome")).where(
        t.model_id == model_id, t.simulated.is_(simulated)
    )


def corrections_stamp(model_id: str, simulated: bool) -> Select[Any]:
    """The count and largest id of the corrections of a model's outcomes: what changes when
    an outcome is corrected (no outcome row is added)."""
    fix, t = outcome_correction_table.c, outcome_table.c
    # EXISTS per correction (few) by the outcome's primary key, not a pass over outcomes.
    of_model = (
        select(t.id)
        .where(t.id == fix.outcome_id, t.model_id == model_id, t.simulated.is_(simulated))
        .exists()
    )
    return select(func.count(), func.max(fix.id)).where(of_model)


def link_outcomes(
    conn: Any, model_id: str, rows: pd.DataFrame, *, window_days: int, simulated: bool
) -> np.ndarray:
    """Each prediction's outcome: 1 if any outcome of that patient and model known within
    ``[prediction day, prediction day + window]`` is 1, else 0 if one is known, else NaN."""
    # pandas holds a missing patient reference as NaN, not None.
    refs = sorted({r for r in rows["patient_ref"] if isinstance(r, str)})
    held = outcome_rows(model_id, simulated=simulated).subquery()
    found = []
    for start in range(0, len(refs), _CHUNK):
        found += [
            tuple(row)
            for row in conn.execute(
                select(held.c.patient_ref, held.c.known_on, held.c.outcome).where(
                    held.c.patient_ref.in_(refs[start : start + _CHUNK])
                )
            )
        ]
    if not found:
        return np.full(len(rows), np.nan)
    outcomes = pd.DataFrame(found, columns=["patient_ref", "known_on", "outcome"])
    left = rows[["patient_ref", "recorded_on"]].reset_index(names="row")
    merged = left.merge(outcomes, on="patient_ref")
    day = pd.to_datetime(merged["recorded_on"])
    known = pd.to_datetime(merged["known_on"])
    inside = (known >= day) & (known <= day + pd.Timedelta(days=window_days))
    best = merged[inside].groupby("row")["outcome"].max()
    return left["row"].map(best).to_numpy(dtype=float)


def linkable_outcomes(
    model_id: str, period: Period, window_days: int, simulated: bool
) -> Select[Any]:
    """Every outcome row that could link to a prediction of ``period``: known on or after
    the period's first day and before its end plus the window (a superset: the patient and
    the exact window are matched afterwards). One range read by
    ``ix_monitoring_outcome_known`` instead of a look-up per patient."""
    held = outcome_rows(model_id, simulated=simulated).subquery()
    first, last = _linkable_days(period, window_days)
    return select(held).where(held.c.known_on >= first, held.c.known_on < last)


def _linkable_days(period: Period, window_days: int) -> tuple[str, str]:
    return period.start.isoformat(), (period.end + dt.timedelta(days=window_days)).isoformat()


def linkable_outcome_count(
    model_id: str, period: Period, window_days: int, simulated: bool
) -> Select[Any]:
    """The count and largest id of :func:`linkable_outcomes`' rows, answered from the
    ``(model_id, simulated, known_on)`` index alone (no outcome value is needed)."""
    t = outcome_table.c
    first, last = _linkable_days(period, window_days)
    return select(func.count(), func.max(t.id)).where(
        t.model_id == model_id,
        t.simulated.is_(simulated),
        t.known_on >= first,
        t.known_on < last,
    )


def simulated_runs(engine: Engine, model_id: str) -> list[str]:
    """The ids of the simulated runs logged for a model, most recent first.

    Read from the trail's ``monitoring_simulated`` entries (each run's rows are written in
    the same transaction as its entry, which names the run): a handful of entries, where
    grouping the log's rows by run would read every simulated row."""
    from caselens.audit.store.tables import entries_table
    from caselens.monitoring.prediction_log import SIMULATED_ACTION

    t = entries_table.c
    query = (
        select(t.detail_json)
        .where(t.action == SIMULATED_ACTION, t.model_id == model_id)
        .order_by(t.seq.desc())
    )
    runs: list[str] = []
    with engine.connect() as conn:
        for (detail,) in conn.execute(query):
            run = json.loads(detail).get("run_id")
            if isinstance(run, str) and run not in runs:
                runs.append(run)
    return runs
