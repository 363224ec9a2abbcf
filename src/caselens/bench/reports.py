"""Speed and memory figures, printed as JSON (``caselens bench``).

Each figure is measured in a fresh Python process so that imports, model loading and any
one-off compilation are counted where they belong (``first_report_s``) and memory is that
of one process (``peak_rss_mb``).

Beside the report times, the warm process times ONE ``predict_proba`` call on as many rows
as a report asks the model for (``model_rows_per_report``, drawn from the reference data,
under the same one-thread limit as a report), once after every report so that both see the
same machine load: ``overhead_ratio`` = report p50 / that call's p50 says how much a report
costs beyond the model evaluations it cannot avoid (1.0 = nothing); ``overhead_ms`` =
report p50 − that call's p50 is the same cost in milliseconds (for a model that takes a few
milliseconds per call, the ratio is mostly this fixed cost).

Any bundle folder works: its demo cases are explained, or, when it has none, the first
reference rows (``case_source`` says which).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Reference rows explained when a bundle has no demo cases.
REFERENCE_CASES = 10

_CASES = """
def _cases(bundle, n_reference):
    from caselens.explain.cases import validate_inputs
    if bundle.demo_cases:
        return "demo", [
            validate_inputs(d.inputs, bundle.features, source="demo", case_id=d.case_id)
            for d in bundle.demo_cases
        ]
    import pandas as pd
    rows = bundle.reference[bundle.features.names].head(n_reference)
    cases = []
    for i, (_, row) in enumerate(rows.iterrows()):
        values = {{k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v))
                  for k, v in row.items()}}
        cases.append(validate_inputs(values, bundle.features, source="reference",
                                     case_id=f"reference row {{i}}"))
    if not cases:
        raise SystemExit("the bundle has neither demo cases nor reference rows")
    return "reference", cases
"""

_FIRST_REPORT = (
    """
import time, json
start = time.perf_counter()
from caselens.model.bundle import load_bundle
from caselens.explain.report import EXPLAINERS
"""
    + _CASES
    + """
bundle = load_bundle({path!r})
explainer = EXPLAINERS.explainer(bundle)  # the cache the app's runtime uses
_, cases = _cases(bundle, 1)
explainer.explain(cases[0])
print(json.dumps({{"in_process_s": time.perf_counter() - start}}))
"""
)

_WARM = (
    """
import json, resource, statistics, time
import numpy as np
from caselens.explain.attribution._runtime import _model_threads
from caselens.model.bundle import load_bundle
from caselens.explain.report import EXPLAINERS
"""
    + _CASES
    + """
bundle = load_bundle({path!r})
explainer = EXPLAINERS.explainer(bundle, warm=True)  # as the app's runtime prepares it
source, cases = _cases(bundle, {n_reference})
# One pass to learn how many rows a report asks the model for (median over the cases).
rows = [explainer.explain(case).provenance.model_rows_per_report for case in cases]
n_rows = int(statistics.median(rows))
reference = bundle.reference[bundle.features.names]
pick = np.random.default_rng(0).choice(len(reference), size=n_rows, replace=True)
frame = reference.iloc[pick].reset_index(drop=True)
with _model_threads(True, every_api=True):
    bundle.model.predict_proba(frame)
# Each report is followed by one predict_proba call on that many reference rows, so both
# are timed under the same machine load.
times, model_times, calls = [], [], []
while len(times) < {runs}:
    for case in cases:
        t = time.perf_counter()
        report = explainer.explain(case)
        times.append(1000 * (time.perf_counter() - t))
        calls.append(report.provenance.model_calls)
        with _model_threads(True, every_api=True):
            t = time.perf_counter()
            bundle.model.predict_proba(frame)
            model_times.append(1000 * (time.perf_counter() - t))
print(json.dumps({{"times_ms": times, "cases": len(cases), "case_source": source,
                  "model_rows": n_rows, "model_calls": max(calls),
                  "model_times_ms": model_times,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
)


def _run(code: str) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def default_models_dir() -> Path:
    """``CASELENS_MODELS_DIR`` (default: the sample models), as the app reads it."""
    from caselens.settings import Settings

    return Settings.from_environment().models_dir


def bench_reports(
    model_id: str,
    *,
    models_dir: Path | None = None,
    runs: int = 20,
    n_reference: int = REFERENCE_CASES,
) -> dict[str, Any]:
    """Report timings for one bundle folder.

    Warm p50/p95 over its demo cases (or its first ``n_reference`` reference rows when it has
    none; at least ``runs`` reports), the first report in a new process, that process's peak
    memory, and the report's model cost: rows and calls per report, one ``predict_proba``
    call on that many rows (p50, one call after each report), ``overhead_ratio`` = report p50 /
    model call p50 and ``overhead_ms`` = report p50 − model call p50.

    Raises
    ------
    RuntimeError
        If a benchmark process fails (the message carries its error output).
    """
    path = str(Path(models_dir or default_models_dir()) / model_id)
    _, first_s = _run(_FIRST_REPORT.format(path=path))
    warm, _ = _run(_WARM.format(path=path, runs=max(1, runs), n_reference=n_reference))
    times = warm["times_ms"]
    report_p50 = _percentile(times, 0.5)
    model_p50 = _percentile(warm["model_times_ms"], 0.5)
    return {
        "model": model_id,
        "case_source": warm["case_source"],
        "cases": warm["cases"],
        "reports": len(times),
        "report_p50_ms": round(report_p50, 1),
        "report_p95_ms": round(_percentile(times, 0.95), 1),
        "report_max_ms": round(max(times), 1),
        "model_rows_per_report": warm["model_rows"],
        "model_calls_per_report": warm["model_calls"],
        "model_call_ms": round(model_p50, 1),
        "overhead_ratio": round(report_p50 / model_p50, 2) if model_p50 > 0 else None,
        "overhead_ms": round(report_p50 - model_p50, 1),
        "first_report_s": round(first_s, 2),
        "peak_rss_mb": round(warm["peak_rss_mb"], 1),
    }


def build_cv5_forest_bundle(
    path: Path,
    *,
    source: Path | None = None,
    n_estimators: int = 100,
    demo_cases: bool = False,
) -> Path:
    """A bundle whose model is a 5-fold ``CalibratedClassifierCV`` around a random forest.

    The heaviest per-call model shape a bundle commonly has (every ``predict_proba`` runs
    five forests): it is built from the heart-disease sample's data, schema and card (the
    sample's preprocessing, refitted, before the forest), without demo cases unless asked,
    so the benchmark explains reference rows. A benchmark fixture, not a validated model:
    its card's figures are the sample's.
    """
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from caselens.bench.refit import fitting_rows, write_refitted_bundle
    from caselens.explain.attribution.log_odds import _unwrap_logistic
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    sample = load_bundle(source or SAMPLE_MODELS_DIR / "heart-disease")
    parts = _unwrap_logistic(sample.model)
    if parts is None:  # pragma: no cover - the heart-disease sample is a logistic pipeline
        raise ValueError("the source bundle's preprocessing could not be found")
    names = sample.features.names
    train = fitting_rows(sample)
    forest = Pipeline(
        [
            ("prep", clone(parts[0])),
            ("forest", RandomForestClassifier(n_estimators=n_estimators, random_state=0)),
        ]
    )
    model = CalibratedClassifierCV(forest, method="sigmoid", cv=5)
    model.fit(train[names], train["outcome"])
    write_refitted_bundle(
        sample,
        model,
        Path(path),
        model_type="Random forest, 5-fold sigmoid calibration (benchmark fixture)",
        demo_cases=demo_cases,
    )
    return Path(path)
