"""`caselens bench counterfactual`: one JSON line per bundle and method, with validity
measured by each alternative's own report."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.bench.counterfactual import bench_counterfactual_bundle
from caselens.cli.main import main
from caselens.settings import SAMPLE_MODELS_DIR


def test_the_heart_sample_figures_hold_what_they_claim():
    (line,) = bench_counterfactual_bundle(
        SAMPLE_MODELS_DIR / "heart-disease", methods=["caselens-grid-v1"], cases=9
    )
    assert line["model"] == "heart-disease" and line["method"] == "caselens-grid-v1"
    assert line["cases"] == 9
    # H-07 (just above 50%) has three alternatives; the rest are far from the threshold.
    assert line["alternatives"] >= 3
    assert line["validity"] == 1.0
    assert 1 <= line["sparsity"] <= 3 and line["distance"] > 0
    assert 0 < line["p50_ms"] <= line["p95_ms"] <= line["max_ms"]
    assert 0 <= line["cases_none_found"] < 9


def test_the_command_prints_one_line_per_bundle_and_method(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(SAMPLE_MODELS_DIR))
    result = CliRunner().invoke(
        main,
        [
            *("bench", "counterfactual", "--cases", "2", "--model", "heart-disease"),
            *("--no-byo", "--method", "caselens-grid-v1"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [(x["model"], x["method"]) for x in lines] == [("heart-disease", "caselens-grid-v1")]
    assert {"validity", "sparsity", "distance", "p50_ms", "p95_ms", "cases_none_found"} <= set(
        lines[0]
    )
