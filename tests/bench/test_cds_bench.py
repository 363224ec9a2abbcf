"""``caselens bench cds`` on a few calls: every figure is measured and the cards were real."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.cli.main import main


def test_bench_cds_prints_latency_and_throughput_from_real_cards():
    result = CliRunner().invoke(
        main, ["bench", "cds", "--runs", "3", "--clients", "2", "--calls", "2"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["bench"] == "cds" and figures["runs"] == 3 and figures["clients"] == 2
    assert 0 < figures["warm_card_p50_ms"] <= figures["warm_card_p95_ms"]
    assert figures["cards_per_second"] > 0
    assert 0 < figures["without_prefetch_p50_ms"] <= figures["without_prefetch_p95_ms"]
    assert figures["p95_within_target"] == (figures["warm_card_p95_ms"] <= 300.0)
