"""``caselens bench fhir-result`` prints build-and-validate figures per model (not timed)."""

from __future__ import annotations

from caselens.bench.fhir_results import TARGET_P95_MS, bench_fhir
from caselens.settings import SAMPLE_MODELS_DIR


def test_bench_fhir_reports_its_figures_per_model(heart_bundle):
    [result] = bench_fhir(SAMPLE_MODELS_DIR, ("heart-disease",), runs=3)
    assert result["model"] == "heart-disease" and result["runs"] == 3
    assert 0 < result["build_validate_p50_ms"] <= result["build_validate_p95_ms"]
    assert result["bundle_bytes"] > 1000
    assert result["target_p95_ms"] == TARGET_P95_MS
    assert result["meets_target"] == (result["build_validate_p95_ms"] <= TARGET_P95_MS)
