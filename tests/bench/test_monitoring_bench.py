"""``caselens bench monitoring`` at a small size: it builds the log, times the views and
prints every figure (no timing is asserted: the figures are for a person to read)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.cli.main import main

FIGURES = (
    "predictions",
    "periods",
    "rows_per_period_max",
    "build_s",
    "database_mb",
    "view_cold_ms",
    "view_warm",
    "period_cold",
    "period_warm_open",
    "period_warm_cached",
    "profile",
    "view_after_restart_ms",
    "start_up_warm_up_ms",
    "view_after_restart_warmed_ms",
    "view_without_cache_ms",
    "cached_equals_fresh",
    "views_timed",
    "target_ms_per_view",
    "within_target_warm",
    "within_target_cold",
    "peak_rss_mb_build",
    "peak_rss_mb_before_views",
    "peak_rss_mb_after_views",
    "peak_rss_window",
)


def test_bench_monitoring_prints_every_figure():
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "monitoring",
            "--predictions",
            "3000",
            "--model",
            "readmission-30d",
            "--runs",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("{"))
    figures = json.loads(line)
    for name in FIGURES:
        assert name in figures, name
    assert figures["predictions"] == 3000 and figures["periods"] == 12
    assert figures["rows_per_period_max"] == 250
    for name in ("view_warm", "period_cold", "period_warm_open", "period_warm_cached", "profile"):
        assert set(figures[name]) == {"p50_ms", "max_ms"}, figures[name]
    assert figures["views_timed"] == 2
    # The warm views served 11 months from the cache and recomputed the open one, which had
    # gained a prediction: the figures equal a view computed without the cache.
    assert figures["cached_equals_fresh"] is True
    assert figures["database_mb"] > 0 and figures["peak_rss_mb_after_views"] > 0
