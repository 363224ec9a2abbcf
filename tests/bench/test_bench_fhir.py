"""``caselens bench fhir``: a figure per record size and the per-entry ratio that shows linear
time. Only the shape and the record sizes are asserted; the speed is what the command reports."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.bench.fhir import padded_record
from caselens.cli.main import main
from caselens.fhir import read_fhir_bundle


def test_bench_fhir_prints_a_row_per_size_and_the_ratio():
    result = CliRunner().invoke(
        main, ["bench", "fhir", "--entries", "80", "--entries", "40", "--runs", "1"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [row["entries"] for row in rows[:-1]] == [40, 80]
    for row in rows[:-1]:
        assert row["total_ms"] >= row["read_ms"] >= 0
        assert row["filled"] > 0
    assert set(rows[-1]) == {"per_entry_ratio", "linear_ratio_limit", "linear"}


def test_a_padded_record_has_the_entries_asked_for_and_is_valid():
    record = read_fhir_bundle(padded_record(60))
    assert record.entry_count == 60
    assert record.problems == ()
    assert len(record.resources) == 60


def test_bench_fhir_refuses_a_size_over_the_entry_limit():
    result = CliRunner().invoke(main, ["bench", "fhir", "--entries", "999999"])
    assert result.exit_code == 2 and "999999" in result.output
