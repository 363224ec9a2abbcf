"""``caselens bench fhir-result``: how long writing a displayed result as FHIR takes.

For each sample model, one demo case is explained and its display recorded in a throwaway
audit trail; the FHIR RiskAssessment Bundle of that entry is then built and validated with
the R4B models ``runs`` times (target p95 ≤ 100 ms: a click's worth). Sending is not timed
here: it depends on the FHIR server.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

#: A download is a click: its Bundle is ready well within a tenth of a second.
TARGET_P95_MS = 100.0


def bench_fhir(
    models_dir: Path, model_ids: tuple[str, ...], *, runs: int = 50
) -> list[dict[str, Any]]:
    """Build-and-validate times per model: p50/p95 in ms, the Bundle's size, the target."""
    from caselens.access.policy import Viewer
    from caselens.audit import AuditStore
    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import explainer_for
    from caselens.fhir import risk_assessment_bundle
    from caselens.model.bundle import load_bundle
    from caselens.workflow import record_display

    results = []
    with tempfile.TemporaryDirectory() as folder:
        store = AuditStore.open(Path(folder) / "audit.sqlite", key=bytes(32))
        try:
            for model_id in model_ids:
                bundle = load_bundle(models_dir / model_id)
                demo = bundle.demo_cases[0]
                case = validate_inputs(
                    demo.inputs, bundle.features, source="demo", case_id=demo.case_id
                )
                report = explainer_for(bundle).explain(case)
                viewer = Viewer("bench", "Benchmark", "clinician")
                entry = record_display(store, report, viewer, audience="clinician")
                risk_assessment_bundle(report, entry)  # imports and model classes, once
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    built = risk_assessment_bundle(report, entry)
                    times.append(1000 * (time.perf_counter() - start))
                times.sort()
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                results.append(
                    {
                        "model": model_id,
                        "runs": runs,
                        "build_validate_p50_ms": round(statistics.median(times), 2),
                        "build_validate_p95_ms": round(p95, 2),
                        "bundle_bytes": len(json.dumps(built, indent=1).encode("utf-8")),
                        "target_p95_ms": TARGET_P95_MS,
                        "meets_target": p95 <= TARGET_P95_MS,
                    }
                )
        finally:
            store.close()
    return results
