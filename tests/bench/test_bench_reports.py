"""`caselens bench reports` on any bundle in CASELENS_MODELS_DIR, with or without demo cases."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.bench.reports import build_cv5_forest_bundle
from caselens.cli.main import main
from caselens.model.bundle import load_bundle


def test_bench_reports_times_a_bundle_without_demo_cases_on_its_reference_rows(
    tmp_path, monkeypatch
):
    models = tmp_path / "models"
    build_cv5_forest_bundle(models / "cv5-forest", n_estimators=10)
    bundle = load_bundle(models / "cv5-forest")
    assert bundle.demo_cases == () or len(bundle.demo_cases) == 0
    assert len(bundle.model.calibrated_classifiers_) == 5
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))

    result = CliRunner().invoke(main, ["bench", "reports", "--runs", "2"])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["model"] for line in lines] == ["cv5-forest"]
    figures = lines[0]
    assert figures["case_source"] == "reference"
    assert figures["cases"] == 10 and figures["reports"] >= 10
    assert figures["model_calls_per_report"] == 1
    assert figures["model_rows_per_report"] > 5000  # 5 LIME runs of 1,000, SHAP, the case
    for key in ("report_p50_ms", "report_p95_ms", "model_call_ms", "first_report_s"):
        assert figures[key] > 0, key
    assert figures["overhead_ratio"] > 0
    # The same cost in milliseconds: report p50 minus the model call's p50.
    # (each figure is rounded to 0.1 ms on its own)
    difference = figures["report_p50_ms"] - figures["model_call_ms"]
    assert abs(figures["overhead_ms"] - difference) <= 0.1 + 1e-9


def test_bench_reports_names_a_missing_bundle_instead_of_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["bench", "reports", "--model", "nowhere"])
    assert result.exit_code != 0
    assert "No bundle folder nowhere" in result.output
    assert "Traceback" not in result.output
