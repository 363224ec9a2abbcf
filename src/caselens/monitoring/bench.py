"""``caselens bench monitoring``: the Monitoring page's work on a large prediction log.

Builds a trail whose prediction log holds ``n`` simulated predictions of one model spread over
12 months (drawn and scored like ``caselens monitor simulate``, written in the same row format
with their outcomes, one ``monitoring_simulated`` entry per month), then times what one page
view computes: the reference profile, every period's figures (each period's rows read on
their own), the plan's judgement and the raised alerts; p50 and max over repetitions, per view
and per period, with the peak RSS before and after the views.
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
from caselens.audit.bench import _peak_rss_mb, _reset_peak_rss
from caselens.audit.records import AuditEntry, AuditEvent
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
    threshold = bundle.card.decision_threshold
    names = bundle.features.names
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
        frame = sim.frame
        p = frame["probability"].to_numpy(dtype=float)
        sets = sets_of(p)
        offsets = frame["_offset_ms"].to_numpy()
        y = frame["outcome"].to_numpy(dtype=int)
        records = frame[names].astype(object).where(frame[names].notna(), None)
        rows: list[dict[str, Any]] = []
        outcomes: list[OutcomeRow] = []
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
            after = int(rng.integers(0, window + 1)) if y[i] else window
            outcomes.append(OutcomeRow(ref, bundle.model_id, int(y[i]), day + dt.timedelta(after)))
        write_outcomes = outcome_values_writer(outcomes, run_id=run)

        def write(conn: Connection, entry: AuditEntry, rows=rows, write_outcomes=write_outcomes):
            for i in range(0, len(rows), _CHUNK):
                chunk = [{**row, "source_seq": entry.seq} for row in rows[i : i + _CHUNK]]
                conn.execute(insert(prediction_log), chunk)
            write_outcomes(conn, entry)

        store.append(
            AuditEvent(
                actor_id="bench",
                actor_name="caselens bench monitoring",
                actor_role="system",
                audience="system",
                action=SIMULATED_ACTION,
                model_id=bundle.model_id,
                model_version=bundle.version,
                detail={
                    "run_id": run,
                    "simulated": True,
                    "predictions": len(rows),
                    "outcomes": len(outcomes),
                    "months": [sim.period.label],
                    "seed": seed + month,
                    "shifts": [],
                    "bench": True,
                },
            ),
            alongside=write,
        )
        if progress:
            progress(f"{sim.period.label}: {len(rows):,} predictions written")
        start = sim.period.end
    return run


def one_view(engine: Any, store: AuditStore, bundle: Any, plan: Any, run_id: str) -> dict:
    """What one Monitoring page view computes (as ``Workflow.monitoring_view``), timed per
    period: the reference profile, each period read and measured, judged, the alerts."""
    from caselens.monitoring.alerts import evaluate, raised_alerts
    from caselens.monitoring.figures import (
        build_profile,
        period_figures,
        periods,
        read_period,
        simulated_runs,
    )

    started = time.perf_counter()
    profile = build_profile(bundle, plan)
    profile_ms = (time.perf_counter() - started) * 1000
    window = plan.window_days(bundle.card.outcome.time_window)
    per_period: dict[str, dict[str, float]] = {}
    figures = []
    for period in periods(engine, bundle.model_id, plan.period, simulated=True, run_id=run_id):
        t0 = time.perf_counter()
        frame, displays = read_period(
            engine, bundle.model_id, period, window_days=window, simulated=True, run_id=run_id
        )
        t1 = time.perf_counter()
        figures.append(
            period_figures(
                frame,
                profile,
                plan,
                period=period,
                displays=displays,
                simulated=True,
                run_id=run_id,
            )
        )
        t2 = time.perf_counter()
        per_period[period.label] = {
            "rows": len(frame),
            "read_ms": (t1 - t0) * 1000,
            "figures_ms": (t2 - t1) * 1000,
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
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}


def bench_monitoring(
    folder: str | os.PathLike[str],
    *,
    n: int = 1_000_000,
    model_id: str = "readmission-30d",
    reps: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the log in ``folder`` and time ``reps`` Monitoring views (after one cold one)."""
    from caselens.bundle import load_bundle
    from caselens.monitoring.plan import plan_for
    from caselens.settings import SAMPLE_MODELS_DIR

    models = Path(os.environ.get("CASELENS_MODELS_DIR") or SAMPLE_MODELS_DIR)
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
        cold = one_view(engine, store, bundle, plan, run_id)
        warm = [one_view(engine, store, bundle, plan, run_id) for _ in range(max(1, reps))]
        peak_after = _peak_rss_mb()
    finally:
        store.close()
    size = sum(p.stat().st_size for p in Path(folder).glob("audit.sqlite*"))
    views = [v["view_ms"] for v in warm]
    period_ms = [d["read_ms"] + d["figures_ms"] for v in warm for d in v["periods"].values()]
    read_ms = [d["read_ms"] for v in warm for d in v["periods"].values()]
    figures_ms = [d["figures_ms"] for v in warm for d in v["periods"].values()]
    return {
        "bench": "monitoring",
        "model_id": model_id,
        "predictions": n,
        "periods": len(cold["periods"]),
        "rows_per_period_max": max((d["rows"] for d in cold["periods"].values()), default=0),
        "build_s": round(build_s, 1),
        "database_mb": round(size / 1e6, 1),
        "view_cold_ms": round(cold["view_ms"], 1),
        "view": _summary(views),
        "period": _summary(period_ms),
        "period_read": _summary(read_ms),
        "period_figures": _summary(figures_ms),
        "profile": _summary([v["profile_ms"] for v in warm]),
        "views_timed": len(warm),
        "target_ms_per_view": 2000,
        "within_target": statistics.median(views) <= 2000,
        "peak_rss_mb_build": peak_build,
        "peak_rss_mb_before_views": peak_before,
        "peak_rss_mb_after_views": peak_after,
        "peak_rss_window": "views only (peak reset after the build)" if reset else "whole process",
    }
