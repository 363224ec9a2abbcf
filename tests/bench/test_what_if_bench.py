"""``caselens bench what-if``: one JSON line per sample model with the input changed and the
times of "Change a value" through the door. Only the shape is asserted; the speed is what the
command reports."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.bench.what_if import _edited_values
from caselens.cli.main import main


def test_bench_what_if_prints_a_line_per_model_asked():
    result = CliRunner().invoke(
        main, ["bench", "what-if", "--runs", "2", "--model", "heart-disease"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(row["model"], row["input_changed"]) for row in rows] == [("heart-disease", "age")]
    for row in rows:
        assert row["runs"] == 2
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert row["meets_target"] == (row["p95_ms"] <= row["target_p95_ms"])


def test_the_edited_values_are_in_range_and_never_the_current_one(heart_bundle):
    feature = heart_bundle.features["resting_bp"]
    values = _edited_values(feature, 150.0, 20)
    assert len(values) == 20 and 150.0 not in values and len(set(values)) == 20
    assert all(feature.training_min <= v <= feature.training_max for v in values)
    assert all(v == round(v) for v in values)  # an integer input gets whole numbers
