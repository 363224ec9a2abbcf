"""``caselens bench export`` prints HTML and PDF figures per model and audience (not timed)."""

from __future__ import annotations

from caselens.bench.export import TARGET_HTML_S, TARGET_PDF_S, bench_export
from caselens.settings import SAMPLE_MODELS_DIR


def test_bench_export_reports_its_figures_per_model_and_audience(heart_bundle):
    results = bench_export(SAMPLE_MODELS_DIR, ("heart-disease",), reports=1)
    assert [(r["model"], r["audience"]) for r in results] == [
        ("heart-disease", "clinician"),
        ("heart-disease", "patient"),
    ]
    for result in results:
        assert result["reports"] == 1
        assert 0 < result["html_p50_s"] <= result["html_p95_s"]
        assert 0 < result["pdf_p50_s"] <= result["pdf_p95_s"]
        assert result["pdf_bytes_max"] > result["html_bytes_max"] / 10 > 100
        assert (result["target_html_s"], result["target_pdf_s"]) == (TARGET_HTML_S, TARGET_PDF_S)
        assert result["meets_target"] == (
            result["html_p95_s"] <= TARGET_HTML_S and result["pdf_p95_s"] <= TARGET_PDF_S
        )
