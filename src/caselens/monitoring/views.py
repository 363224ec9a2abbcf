"""The monitoring figures of a model, period by period, served from the cache when their data
are unchanged: the view the Monitoring page, the governance report and the CLI read.

It sits above both :mod:`caselens.monitoring.figures` (how figures are computed) and
:mod:`caselens.monitoring.figures_cache` (where computed figures are kept), so neither imports
the other's caller.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine

from caselens.model.bundle import ModelBundle
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import (
    PeriodFigures,
    ReferenceProfile,
    columns_figures,
    parse_period,
    periods,
    read_period_columns,
)
from caselens.monitoring.figures_cache import (
    FiguresCache,
    cached_profile,
    fingerprint,
    profile_digest,
)


def iter_figures(
    engine: Engine,
    bundle: ModelBundle,
    plan: MonitoringPlan,
    *,
    profile: ReferenceProfile | None = None,
    simulated: bool = False,
    run_id: str | None = None,
    only: str | None = None,
    cache: FiguresCache | None = None,
) -> Iterator[PeriodFigures]:
    """Figures for each period of a model's log (or only the period labelled ``only``).

    Each period is read as columns (:func:`read_period_columns`, equal to the
    straightforward :func:`read_period` + :func:`period_figures`). With a ``cache``, a
    period whose data are unchanged since its figures were stored is served from it (see
    :mod:`caselens.monitoring.figures_cache`); any other is computed and stored.
    """
    profile = profile or cached_profile(bundle, plan)
    window = plan.window_days(bundle.card.outcome.time_window)
    chosen = (
        [parse_period(only, plan.period)]
        if only
        else periods(engine, bundle.model_id, plan.period, simulated=simulated, run_id=run_id)
    )
    profile_hash = profile_digest(profile) if cache is not None else ""
    for period in chosen:
        slot = digest = ""
        if cache is not None:
            slot = cache.slot(bundle.model_id, plan.period, period.label, simulated, run_id)
            # Taken before the rows are read: a row that arrives meanwhile makes this
            # fingerprint stale rather than the stored figures.
            with engine.connect() as conn:
                digest = fingerprint(
                    conn,
                    bundle.model_id,
                    period,
                    window_days=window,
                    simulated=simulated,
                    plan=plan,
                    profile_hash=profile_hash,
                    model_sha256=bundle.model_sha256,
                ).digest()
            stored = cache.get(slot, digest)
            if stored is not None:
                yield stored
                continue
        columns = read_period_columns(
            engine,
            bundle.model_id,
            period,
            window_days=window,
            input_names=bundle.features.names,
            simulated=simulated,
            run_id=run_id,
            # The newest period is the one still growing: keep its rows for the next view.
            reuse_rows=cache is not None and period == chosen[-1],
        )
        figures = columns_figures(
            columns, profile, plan, period=period, simulated=simulated, run_id=run_id
        )
        if cache is not None:
            cache.put(slot, digest, figures)
        yield figures
