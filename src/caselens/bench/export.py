"""``caselens bench export``: how long a case report file takes to build, and how large it is.

For each sample model, up to ``reports`` demo cases are explained and their displays recorded
in a throwaway audit trail; each report's clinician HTML and PDF (and the patient's) are then
built once, timed. Targets: HTML ≤ 0.3 s and PDF ≤ 2 s per report (p95): a click's wait.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

#: An HTML file is a click: ready within a third of a second.
TARGET_HTML_S = 0.3
#: A PDF lays out several pages of text and charts: ready within two seconds.
TARGET_PDF_S = 2.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def bench_export(
    models_dir: Path, model_ids: tuple[str, ...], *, reports: int = 5
) -> list[dict[str, Any]]:
    """Per model and audience: HTML and PDF seconds (p50/p95 over the reports), sizes."""
    from caselens.access.policy import Viewer
    from caselens.audit import AuditStore
    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import explainer_for
    from caselens.export import html_file, pdf_file, stamp_for
    from caselens.model.bundle import load_bundle
    from caselens.workflow import record_display

    results = []
    with tempfile.TemporaryDirectory() as folder:
        store = AuditStore.open(Path(folder) / "audit.sqlite", key=bytes(32))
        try:
            for model_id in model_ids:
                bundle = load_bundle(models_dir / model_id)
                explainer = explainer_for(bundle)
                demos = bundle.demo_cases[: max(1, reports)]
                shown = []
                for demo in demos:
                    case = validate_inputs(
                        demo.inputs, bundle.features, source="demo", case_id=demo.case_id
                    )
                    report = explainer.explain(case)
                    viewer = Viewer("bench", "Benchmark", "clinician")
                    entry = record_display(store, report, viewer, audience="clinician")
                    stamp = stamp_for(
                        report,
                        entry,
                        exported_by="Benchmark (clinician)",
                        export_seq=entry.seq,
                        generated_at="bench",
                    )
                    shown.append((report, entry, stamp))
                for audience in ("clinician", "patient"):
                    figures: dict[str, list[float]] = {"html": [], "pdf": []}
                    sizes: dict[str, list[int]] = {"html": [], "pdf": []}
                    for report, entry, stamp in shown:
                        for kind, build in (("html", html_file), ("pdf", pdf_file)):
                            start = time.perf_counter()
                            data = build(
                                report,
                                stamp,
                                audience=audience,  # type: ignore[arg-type]
                                page_size="A4",
                                report_json=entry.report_json or "",
                            )
                            figures[kind].append(time.perf_counter() - start)
                            sizes[kind].append(len(data))
                    html_p95, pdf_p95 = _p95(figures["html"]), _p95(figures["pdf"])
                    results.append(
                        {
                            "model": model_id,
                            "audience": audience,
                            "reports": len(shown),
                            "html_p50_s": round(statistics.median(figures["html"]), 3),
                            "html_p95_s": round(html_p95, 3),
                            "pdf_p50_s": round(statistics.median(figures["pdf"]), 3),
                            "pdf_p95_s": round(pdf_p95, 3),
                            "html_bytes_max": max(sizes["html"]),
                            "pdf_bytes_max": max(sizes["pdf"]),
                            "target_html_s": TARGET_HTML_S,
                            "target_pdf_s": TARGET_PDF_S,
                            "meets_target": html_p95 <= TARGET_HTML_S and pdf_p95 <= TARGET_PDF_S,
                        }
                    )
        finally:
            store.close()
    return results
