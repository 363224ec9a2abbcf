"""The audit benchmark runs and reports its figures (small sizes here; full size via the CLI)."""

from __future__ import annotations

import json

from caselens.audit import bench_audit
from caselens.audit.bench import sample_report


def test_sample_report_is_realistically_sized():
    assert 5_000 <= len(json.dumps(sample_report(), separators=(",", ":"))) <= 10_000


def test_bench_reports_append_verify_and_replay_figures(tmp_path):
    result = bench_audit(tmp_path, n_append=20, n_total=2_000, n_replay=20)
    json.dumps(result)
    assert result["append_per_s"] > 0 and result["verify_per_s"] > 0
    assert result["replay_ms_at_100k"] > 0 and result["verify_entries"] == 2_000
    assert "append_many" in result["build_method"]


def test_bench_leaves_no_database_files_behind(tmp_path):
    bench_audit(tmp_path, n_append=5, n_total=100, n_replay=5)
    assert list(tmp_path.iterdir()) == []
