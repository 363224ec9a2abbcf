"""``caselens bench cases``: every worst-case upload gets a figure and ends parsed or refused.

Only outcomes are asserted here; how fast each parse is, is what the command reports.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from caselens.bench.cases import hostile_uploads
from caselens.cli.main import main
from caselens.explain.cases import MAX_UPLOAD_BYTES


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_bench_cases_prints_a_figure_and_an_outcome_for_each_input(sample_bundles, model_id):
    result = CliRunner().invoke(main, ["bench", "cases", "--model", model_id, "--runs", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    expected = hostile_uploads(dict(sample_bundles[model_id].demo_cases[0].inputs))
    assert [row["input"] for row in rows] == list(expected)
    for row in rows:
        assert isinstance(row["parse_ms"], float) and row["parse_ms"] >= 0, row
        assert 0 < row["bytes"] <= MAX_UPLOAD_BYTES, row  # each reaches the parser
        assert row["outcome"] in ("parsed", "refused"), row
        assert (row["outcome"] == "refused") == bool(row["problems"]), row
        assert isinstance(row["within_target"], bool)
    outcomes = {row["input"]: row["outcome"] for row in rows}
    assert (
        outcomes["json_valid_case_padded"] == outcomes["csv_valid_case_padded_cr_only"] == "parsed"
    )
    assert outcomes["json_80000_keys"] == outcomes["json_deep_nesting"] == "refused"


def test_bench_cases_with_an_unknown_model_is_a_message_not_a_traceback():
    result = CliRunner().invoke(main, ["bench", "cases", "--model", "no-such-model"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Error:" in result.output
