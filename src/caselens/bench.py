"""Speed and memory figures, printed as JSON (``caselens bench``).

Each figure is measured in a fresh Python process so that imports, model loading and any
one-off compilation are counted where they belong (``first_report_s``) and memory is that
of one process (``peak_rss_mb``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from caselens.settings import SAMPLE_MODELS_DIR

_FIRST_REPORT = """
import time, json
start = time.perf_counter()
from caselens.bundle import load_bundle
from caselens.cases import validate_inputs
from caselens.report import CaseExplainer
bundle = load_bundle({path!r})
explainer = CaseExplainer(bundle)
demo = bundle.demo_cases[0]
explainer.explain(validate_inputs(demo.inputs, bundle.features, source="demo"))
print(json.dumps({{"in_process_s": time.perf_counter() - start}}))
"""

_WARM = """
import json, resource, time
import numpy as np
from caselens.bundle import load_bundle
from caselens.cases import validate_inputs
from caselens.report import CaseExplainer
bundle = load_bundle({path!r})
explainer = CaseExplainer(bundle)
explainer.warm_up()
cases = [validate_inputs(d.inputs, bundle.features, source="demo") for d in bundle.demo_cases]
times = []
while len(times) < {runs}:
    for case in cases:
        t = time.perf_counter()
        explainer.explain(case)
        times.append(1000 * (time.perf_counter() - t))
print(json.dumps({{"times_ms": times, "cases": len(cases),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _run(code: str) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), elapsed


def bench_reports(
    model_id: str, *, models_dir: Path = SAMPLE_MODELS_DIR, runs: int = 20
) -> dict[str, Any]:
    """Report timings for one bundle: warm p50/p95 over all demo cases (≥ ``runs``
    reports), the first report in a new process, and that process's peak memory."""
    path = str(models_dir / model_id)
    _, first_s = _run(_FIRST_REPORT.format(path=path))
    warm, _ = _run(_WARM.format(path=path, runs=runs))
    times = sorted(warm["times_ms"])

    def pct(q: float) -> float:
        return round(times[min(len(times) - 1, round(q * (len(times) - 1)))], 1)

    return {
        "model": model_id,
        "cases": warm["cases"],
        "reports": len(times),
        "report_p50_ms": pct(0.5),
        "report_p95_ms": pct(0.95),
        "report_max_ms": round(times[-1], 1),
        "first_report_s": round(first_s, 2),
        "peak_rss_mb": round(warm["peak_rss_mb"], 1),
    }
