"""Periods: one month ('2026-03') or ISO week ('2026-W05'), and the periods a model's
prediction log spans (live, or one simulated run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from caselens.monitoring.tables import (
    prediction_log,
)


@dataclass(frozen=True)
class Period:
    """One month ('2026-03') or ISO week ('2026-W05'): ``start <= day < end``."""

    label: str
    start: dt.date
    end: dt.date


def period_of(day: dt.date, kind: str) -> Period:
    """The month or ISO week holding ``day``."""
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + dt.timedelta(days=7))
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return Period(f"{start:%Y-%m}", start, end)


def parse_period(label: str, kind: str | None = None) -> Period:
    """A period from its label ('2026-03' or '2026-W05')."""
    if "-W" in label:
        year, week = label.split("-W")
        return period_of(dt.date.fromisocalendar(int(year), int(week), 1), "week")
    if kind == "week":
        raise ValueError(f"'{label}' is not a week label such as 2026-W05")
    return period_of(dt.date.fromisoformat(f"{label}-01"), "month")


def source_filter(simulated: bool, run_id: str | None) -> list[Any]:
    """The log rows of one source: live ones, or simulated ones (of ``run_id`` if given).
    Never a shadow candidate's rows (``never_shown``): the figures are of what was shown."""
    c = prediction_log.c
    conditions: list[Any] = [c.simulated.is_(simulated), c.never_shown.is_(False)]
    if simulated and run_id is not None:
        conditions.append(c.run_id == run_id)
    return conditions


def periods(
    engine: Engine, model_id: str, kind: str, *, simulated: bool = False, run_id: str | None = None
) -> list[Period]:
    """Every period from the model's first logged prediction to its last."""
    c = prediction_log.c
    # Two ordered look-ups on the (model_id, simulated, recorded_at) index, each stopping at
    # its first match: min/max over a filtered column would read every row.
    stamps = select(c.recorded_at).where(c.model_id == model_id, *source_filter(simulated, run_id))
    with engine.connect() as conn:
        first = conn.execute(stamps.order_by(c.recorded_at).limit(1)).scalar()
        last = conn.execute(stamps.order_by(c.recorded_at.desc()).limit(1)).scalar()
    if first is None or last is None:
        return []
    out = [period_of(dt.date.fromisoformat(first[:10]), kind)]
    stop = dt.date.fromisoformat(last[:10])
    while out[-1].end <= stop:
        out.append(period_of(out[-1].end, kind))
    return out
