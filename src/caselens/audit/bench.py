"""Benchmark of the audit trail: durable appends, verification speed, replay at 100,000 entries."""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from caselens.audit.records import AuditEvent
from caselens.audit.store import AuditStore


def sample_report(i: int = 0) -> dict[str, Any]:
    """A report shaped like a CaseReport, about 6 KB of canonical JSON."""
    rng = random.Random(i)
    features = [
        f"feature_{k:02d}_{name}"
        for k, name in enumerate(
            [
                "age",
                "sex",
                "bmi",
                "sbp",
                "dbp",
                "hba1c",
                "ldl",
                "hdl",
                "egfr",
                "smoker",
                "prior_mi",
                "diabetes",
                "heart_rate",
                "chol",
                "trestbps",
                "thalach",
                "oldpeak",
                "ca",
                "thal",
                "cp",
                "fbs",
                "restecg",
                "exang",
                "slope",
                "los",
                "n_meds",
                "n_visits",
                "insulin",
                "a1c_result",
                "admission_type",
            ]
        )
    ]
    contributions = [
        {
            "feature": f,
            "value": round(rng.uniform(0, 200), 3),
            "shap": round(rng.gauss(0, 0.05), 6),
            "lime": round(rng.gauss(0, 0.05), 6),
            "rank": k + 1,
            "direction": "raises" if k % 2 else "lowers",
        }
        for k, f in enumerate(features)
    ]
    return {
        "schema": "caselens.case_report.v1",
        "case_id": f"case-{i}",
        "model": {"id": "heart-gbm", "version": "1.4.0", "sha256": "ab" * 32},
        "probability": {
            "calibrated": round(rng.random(), 6),
            "baseline": 0.21,
            "method": "isotonic",
            "interval": [0.1, 0.3],
            "out_of_100": 17,
        },
        "contributions": contributions,
        "lime": {"r2": 0.81, "stability": 0.93, "seeds": [0, 1, 2, 3, 4], "kernel_width": 0.75},
        "disagreement": {"top_k": 5, "overlap": 0.6, "message": "SHAP and LIME agree on 3 of 5."},
        "calibration": {"intercept": 0.01, "slope": 0.97, "n_band": 412, "brier": 0.12},
        "text": {
            "clinician": "Risk of the outcome within 30 days is about 17 out of 100. " * 10,
            "patient": "Out of 100 people like you, about 17 may have this problem. " * 10,
            "grade": 6.8,
        },
        "versions": {
            "python": "3.11",
            "shap": "0.51.0",
            "lime": "0.2.0.1",
            "scikit-learn": "1.9.1",
            "numpy": "2.4.6",
        },
        "timings": {"shap_ms": 12.5, "lime_ms": 140.2},
        "created_at": "2026-11-25T12:00:00.000Z",
    }


def _event(i: int, report: dict[str, Any] | str) -> AuditEvent:
    return AuditEvent(
        actor_id=f"u{i % 40}",
        actor_name=f"Dr {i % 40}",
        actor_role="clinician",
        audience="clinician",
        action="viewed",
        patient_ref=f"P-{i % 5000:05d}",
        model_id="heart-gbm",
        model_version="1.4.0",
        model_sha256="ab" * 32,
        report=report,
        rendered_digest="cd" * 32,
        session_id=f"s{i % 300}",
    )


def bench_audit(
    tmpdir: str | os.PathLike[str],
    *,
    n_append: int = 500,
    n_total: int = 100_000,
    n_replay: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure the audit trail on SQLite files under ``tmpdir``.

    Parameters
    ----------
    tmpdir : path
        A scratch directory; it holds a few hundred MB at 100,000 entries while the benchmark
        runs, and the files are deleted at the end.
    n_append : int
        Durable appends timed, one entry per transaction (WAL, ``synchronous=FULL``).
    n_total : int
        Size of the trail verified and replayed from. It is built with ``append_many`` (5,000
        entries per transaction), which writes the same valid chain as ``append``.
    n_replay : int
        Random entries fetched by seq and parsed; the median time is reported.
    seed : int
        Seed for the random choices.

    Returns
    -------
    dict
        ``append_per_s``, ``verify_per_s``, ``replay_ms_at_100k`` (median, at ``n_total``),
        and the sizes used; ready for ``json.dumps``.
    """
    tmp = Path(tmpdir)
    key = os.urandom(32)
    report = sample_report(1)
    report_bytes = len(json.dumps(report, separators=(",", ":")).encode())

    with AuditStore.open(tmp / "bench-append.sqlite", key=key) as store:
        store.append(_event(0, report))  # warm-up: schema, page cache
        started = time.perf_counter()
        for i in range(n_append):
            store.append(_event(i, report))
        append_s = time.perf_counter() - started

    path = tmp / "bench-100k.sqlite"
    with AuditStore.open(path, key=key) as store:
        started = time.perf_counter()
        chunk = 5000
        for start in range(0, n_total, chunk):
            store.append_many(_event(i, report) for i in range(start, min(start + chunk, n_total)))
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        result = store.verify()
        verify_s = time.perf_counter() - started
        if not result.ok:
            raise AssertionError(f"benchmark trail does not verify: {result.broken}")

    rng = random.Random(seed)
    with AuditStore.open(path, key=key, create=False) as store:
        store.get(1)  # warm-up: connection
        times = []
        for _ in range(n_replay):
            seq = rng.randint(1, n_total)
            started = time.perf_counter()
            payload = json.loads(store.get(seq).report_json or "null")
            times.append((time.perf_counter() - started) * 1000)
            assert payload["schema"] == "caselens.case_report.v1"

    db_bytes = path.stat().st_size
    for created in tmp.glob("bench-*.sqlite*"):  # a few hundred MB: do not leave them behind
        created.unlink()
    return {
        "append_per_s": round(n_append / append_s, 1),
        "append_durability": "SQLite WAL, synchronous=FULL, one entry per transaction",
        "verify_per_s": round(result.count / verify_s, 1),
        "verify_entries": result.count,
        "replay_ms_at_100k": round(statistics.median(times), 3),
        "replay_ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
        "replay_trail_entries": n_total,
        "build_per_s": round(n_total / build_s, 1),
        "build_method": "append_many, 5,000 entries per transaction, same chain as append",
        "report_bytes": report_bytes,
        "db_bytes": db_bytes,
    }
