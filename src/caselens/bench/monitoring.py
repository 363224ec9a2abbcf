"""``caselens bench monitoring``: the Monitoring page's work on a large prediction log.

Builds a trail whose prediction log holds ``n`` simulated predictions of one model spread over
12 months (drawn and scored like ``caselens monitor simulate``, written in the same row format
with their outcomes, one ``monitoring_simulated`` entry per month), then times what one page
view computes: the reference profile, every period's figures, the plan's judgement and the
raised alerts. One cold view (figures cache empty: every period read and measured), then warm
views, each after one new prediction was added to the open (latest) month, so that month is
recomputed and the others come from the cache; the last warm view's figures are checked
equal to a view computed without the cache. Peak RSS before and after the views.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert

from caselens.audit import AuditStore
from caselens.audit.records import AuditEntry, AuditEvent
from caselens.bench.audit import _peak_rss_mb, _reset_peak_rss
from caselens.monitoring.outcomes import OutcomeRow, outcome_values_writer
from caselens.monitoring.prediction_log import SIMULATED_ACTION
from caselens.monitoring.simulate import simulated_prediction_row
from caselens.monitoring.tables import prediction_log, ready_engine

MONTHS = 12
_CHUNK = 5_000


def _stamp(start: dt.date, offset_ms: int) -> str:
    moment = dt.datetime.combine(start, dt.time()) + dt.timedelta(milliseconds=offset_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_log(
    store: AuditStore,
    bundle: Any,
    plan: Any,
    *,
    n: int,
    months: int = MONTHS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Write ``n`` simulated predictions (and their outcomes) over ``months`` months, one
    month per transaction; returns the run id."""
    from caselens.monitoring.simulate import DEFAULT_START, _conformal, simulate_months

    run = uuid.uuid4().hex[:12]
    window = plan.window_days(bundle.card.outcome.time_window)
    sets_of = _conformal(bundle)
    p_ref = np.asarray(bundle.predict_proba(bundle.reference), dtype=float)
    rng = np.random.default_rng(seed + 1)
    ready_engine(store)
    counter = 0
    start = DEFAULT_START
    for month in range(months):
        per_month = n // months + (1 if month < n % months else 0)
        if per_month == 0:
            continue
        (sim,) = simulate_months(
            bundle,
            months=1,
            per_month=per_month,
            seed=seed + month,
            start=start,
            reference_probabilities=p_ref,
        )
        rows, outcomes = _month_rows(
            bundle, sim, run=run, after=counter, window=window, rng=rng, sets_of=sets_of
        )
        counter += len(rows)
        _write_month(store, bundle, sim, rows, outcomes, run=run, seed=seed + month)
        if progress:
            progress(f"{sim.period.label}: {len(rows):,} predictions written")
        start = sim.period.end
    return run


def _month_rows(
    bundle: Any,
    sim: Any,
    *,
    run: str,
    after: int,
    window: int,
    rng: np.random.Generator,
    sets_of: Callable[[np.ndarray], Any],
) -> tuple[list[dict[str, Any]], list[OutcomeRow]]:
    """One simulated month's prediction-log rows and outcomes, numbered on from ``after``."""
    threshold = bundle.card.decision_threshold
    names = bundle.features.names
    frame = sim.frame
    p = frame["probability"].to_numpy(dtype=float)
    sets = sets_of(p)
    offsets = frame["_offset_ms"].to_numpy()
    y = frame["outcome"].to_numpy(dtype=int)
    records = frame[names].astype(object).where(frame[names].notna(), None)
    rows: list[dict[str, Any]] = []
    outcomes: list[OutcomeRow] = []
    counter = after
    for i, values in enumerate(records.to_dict("records")):
        counter += 1
        ref = f"SIM-{run}-{counter:07d}"
        stamp = _stamp(sim.period.start, int(offsets[i]))
        rows.append(
            simulated_prediction_row(
                bundle,
                run=run,
                number=counter,
                patient_ref=ref,
                stamp=stamp,
                probability=float(p[i]),
                threshold=threshold,
                conformal_set=None if sets is None else sets[i],
                values=values,
            )
        )
        day = dt.date.fromisoformat(stamp[:10])
        known_after = int(rng.integers(0, window + 1)) if y[i] else window
        outcomes.append(
            OutcomeRow(ref, bundle.model_id, int(y[i]), day + dt.timedelta(known_after))
        )
    return rows, outcomes


def _write_month(
    store: AuditStore,
    bundle: Any,
    sim: Any,
    rows: list[dict[str, Any]],
    outcomes: list[OutcomeRow],
    *,
    run: str,
    seed: int,
) -> None:
    """Write one month's rows and outcomes with its ``monitoring_simulated`` entry."""
    write_outcomes = outcome_values_writer(outcomes, run_id=run)

    def write(conn: Connection, entry: AuditEntry) -> None:
        for i in range(0, len(rows), _CHUNK):
            chunk = [{**row, "source_seq": entry.seq} for row in rows[i : i + _CHUNK]]
            conn.execute(insert(prediction_log), chunk)
        write_outcomes(conn, entry)

    store.append(
        _bench_event(
            bundle.model_id,
            bundle.version,
            {
                "run_id": run,
                "simulated": True,
                "predictions": len(rows),
                "outcomes": len(outcomes),
                "months": [sim.period.label],
                "seed": seed,
                "shifts": [],
                "bench": True,
            },
        ),
        alongside=write,
    )


def one_view(
    engine: Any, store: AuditStore, bundle: Any, plan: Any, run_id: str, *, cache: bool = True
) -> dict:
    """What one Monitoring page view computes (as ``Workflow.monitoring_view``), timed per
    period: the reference profile, each period (from the figures cache when its data are
    unchanged, else read and measured), judged, the alerts."""
    from caselens.monitoring.alerts import evaluate, raised_alerts
    from caselens.monitoring.figures import simulated_runs
    from caselens.monitoring.figures_cache import FiguresCache, cached_profile
    from caselens.monitoring.views import iter_figures

    started = time.perf_counter()
    profile = cached_profile(bundle, plan)
    profile_ms = (time.perf_counter() - started) * 1000
    per_period: dict[str, dict[str, float]] = {}
    figures = []
    stream = iter_figures(
        engine,
        bundle,
        plan,
        profile=profile,
        simulated=True,
        run_id=run_id,
        cache=FiguresCache.for_store(store) if cache else None,
    )
    while True:
        t0 = time.perf_counter()
        found = next(stream, None)
        if found is None:
            break
        figures.append(found)
        per_period[found.period] = {
            "rows": found.predictions,
            "ms": (time.perf_counter() - t0) * 1000,
        }
    for f in figures:
        evaluate(f, plan)
    raised_alerts(store, bundle.model_id, run_id=run_id)
    simulated_runs(engine, bundle.model_id)
    return {
        "view_ms": (time.perf_counter() - started) * 1000,
        "profile_ms": profile_ms,
        "periods": per_period,
        "predictions": sum(f.predictions for f in figures),
        "figures": figures,
    }


def add_prediction(store: AuditStore, run_id: str, number: int) -> None:
    """One more simulated prediction of the run, a copy of its latest row one millisecond
    later (so in the open, latest month), written with its ``monitoring_simulated`` entry."""
    from sqlalchemy import select

    engine = ready_engine(store)
    c = prediction_log.c
    with engine.connect() as conn:
        latest = conn.execute(
            select(prediction_log).where(c.run_id == run_id).order_by(c.id.desc()).limit(1)
        ).one()
    row = dict(latest._mapping)
    stamp = dt.datetime.strptime(row["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    later = stamp + dt.timedelta(milliseconds=1)
    row.pop("id")
    row.update(
        recorded_at=later.strftime("%Y-%m-%dT%H:%M:%S.") + f"{later.microsecond // 1000:03d}Z",
        patient_ref=f"SIM-{run_id}-extra-{number}",
        report_id=f"simulated-{run_id}-extra-{number}",
    )

    def write(conn: Connection, entry: AuditEntry) -> None:
        conn.execute(insert(prediction_log), [{**row, "source_seq": entry.seq}])

    store.append(
        _bench_event(
            row["model_id"],
            row["model_version"],
            {"run_id": run_id, "simulated": True, "predictions": 1, "bench": True},
        ),
        alongside=write,
    )


def _bench_event(model_id: str, model_version: str, detail: dict[str, Any]) -> AuditEvent:
    """The trail entry of rows the benchmark writes (simulated, by the bench actor)."""
    return AuditEvent(
        actor_id="bench",
        actor_name="caselens bench monitoring",
        actor_role="system",
        audience="system",
        action=SIMULATED_ACTION,
        model_id=model_id,
        model_version=model_version,
        detail=detail,
    )


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "max_ms": 0.0}
    return {"p50_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}


def bench_monitoring(
    folder: str | os.PathLike[str],
    *,
    n: int = 1_000_000,
    model_id: str = "readmission-30d",
    reps: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the log in ``folder``; time one cold view (empty figures cache) and ``reps``
    warm views (cache filled, one new prediction added to the open month before each);
    check the last warm view's figures against a computation without the cache."""
    from caselens.model.bundle import load_bundle
    from caselens.model.monitoring_plan import plan_for
    from caselens.settings import Settings

    models = Settings.from_environment().models_dir
    bundle = load_bundle(models / model_id)
    plan = plan_for(bundle)
    location = Path(folder) / "audit.sqlite"
    store = AuditStore.open(location, key=secrets.token_bytes(32))
    try:
        started = time.perf_counter()
        run_id = build_log(store, bundle, plan, n=n, progress=progress)
        build_s = time.perf_counter() - started
        peak_build = _peak_rss_mb()
        engine = ready_engine(store)
        reset = _reset_peak_rss()
        peak_before = _peak_rss_mb()
        views = _timed_views(engine, store, bundle, plan, run_id, reps=reps, progress=progress)
        peak_after = _peak_rss_mb()
    finally:
        store.close()
    size = sum(p.stat().st_size for p in Path(folder).glob("audit.sqlite*"))
    return {
        "bench": "monitoring",
        "model_id": model_id,
        "predictions": n,
        **_view_figures(views, build_s=build_s, size=size),
        "peak_rss_mb_build": peak_build,
        "peak_rss_mb_before_views": peak_before,
        "peak_rss_mb_after_views": peak_after,
        "peak_rss_window": "views only (peak reset after the build)" if reset else "whole process",
    }


def _timed_views(
    engine: Any,
    store: AuditStore,
    bundle: Any,
    plan: Any,
    run_id: str,
    *,
    reps: int,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The cold view, the warm views, the first views after a restart (without and with the
    start-up warm-up), and a view computed without the cache."""
    cold = one_view(engine, store, bundle, plan, run_id)
    if progress:
        progress(f"cold view: {cold['view_ms']:.0f} ms")
    warm = []
    for rep in range(max(1, reps)):
        add_prediction(store, run_id, rep)
        warm.append(one_view(engine, store, bundle, plan, run_id))
        if progress:
            progress(f"warm view {rep + 1}: {warm[-1]['view_ms']:.0f} ms")
    # A server that restarts keeps the figures cache (in the database) but not the
    # open period's rows (in memory): its first view reads that period whole.
    from caselens.monitoring.period_rows import forget_period_rows

    forget_period_rows(engine)
    add_prediction(store, run_id, max(1, reps))
    restarted = one_view(engine, store, bundle, plan, run_id)
    if progress:
        progress(f"first view after a restart: {restarted['view_ms']:.0f} ms")
    # The same restart with the app's start-up warm-up (Workflow.warm_up_monitoring),
    # then one more prediction before the first view.
    from caselens.monitoring.warm_up import warm_monitoring

    forget_period_rows(engine)
    add_prediction(store, run_id, max(1, reps) + 1)
    started_warm = time.perf_counter()
    warm_monitoring(store, {bundle.model_id: bundle}, run_id=run_id)
    warm_up_ms = (time.perf_counter() - started_warm) * 1000
    add_prediction(store, run_id, max(1, reps) + 2)
    warmed = one_view(engine, store, bundle, plan, run_id)
    if progress:
        progress(f"first view after a restart and its warm-up: {warmed['view_ms']:.0f} ms")
    fresh = one_view(engine, store, bundle, plan, run_id, cache=False)
    return {
        "cold": cold,
        "warm": warm,
        "restarted": restarted,
        "warm_up_ms": warm_up_ms,
        "warmed": warmed,
        "fresh": fresh,
    }


def _view_figures(views: dict[str, Any], *, build_s: float, size: int) -> dict[str, Any]:
    """The benchmark's figures from the timed views, in the order the report lists them."""
    cold, warm = views["cold"], views["warm"]
    timings = [v["view_ms"] for v in warm]
    cold_periods = [d["ms"] for d in cold["periods"].values()]
    open_label = max(cold["periods"], default=None)
    open_ms = [v["periods"][open_label]["ms"] for v in warm if open_label in v["periods"]]
    cached_ms = [d["ms"] for v in warm for label, d in v["periods"].items() if label != open_label]
    return {
        "periods": len(cold["periods"]),
        "rows_per_period_max": max((d["rows"] for d in cold["periods"].values()), default=0),
        "build_s": round(build_s, 1),
        "database_mb": round(size / 1e6, 1),
        "view_cold_ms": round(cold["view_ms"], 1),
        "view_warm": _summary(timings),
        "view_after_restart_ms": round(views["restarted"]["view_ms"], 1),
        "start_up_warm_up_ms": round(views["warm_up_ms"], 1),
        "view_after_restart_warmed_ms": round(views["warmed"]["view_ms"], 1),
        "period_cold": _summary(cold_periods),
        "period_warm_open": _summary(open_ms),
        "period_warm_cached": _summary(cached_ms),
        "profile": _summary([v["profile_ms"] for v in warm]),
        "view_without_cache_ms": round(views["fresh"]["view_ms"], 1),
        "cached_equals_fresh": views["warmed"]["figures"] == views["fresh"]["figures"],
        "views_timed": len(warm),
        "target_ms_per_view": 2000,
        "within_target_warm": statistics.median(timings) <= 2000,
        "within_target_cold": cold["view_ms"] <= 2000,
    }
