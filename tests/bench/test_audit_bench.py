"""The audit benchmark runs and reports its figures (small sizes here; full size via the CLI)."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile

from click.testing import CliRunner

from caselens.audit.store import AuditStore
from caselens.bench.audit import _mixed_event, bench_audit, bench_audit_page, sample_report
from caselens.cli.main import main


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


PAGE_CLICKS = {
    "a_first_page",
    "b_next_page",
    "c_patient_ref",
    "d_action",
    "e_actor_id",
    "f_date_range",
    "g_matches_nothing",
    "h_entry_problem",
    "i_role",
    "j_date_range_3_months",
}


def test_bench_audit_page_reports_every_click_and_memory(tmp_path):
    result = bench_audit_page(tmp_path, n_entries=2_000, reps=2)
    json.dumps(result)
    assert result["entries"] == 2_000
    assert result["build_s"] >= 0 and result["build_per_s"] > 0 and result["db_bytes"] > 0
    assert set(result["clicks"]) == PAGE_CLICKS
    for name, figures in result["clicks"].items():
        assert 0 <= figures["p50_ms"] <= figures["max_ms"], name
        if name != "h_entry_problem":  # a page click: one page() and one count()
            assert figures["rows"] <= 50 and figures["total"] >= figures["rows"], name
    clicks = result["clicks"]
    assert clicks["a_first_page"]["rows"] == 50 and clicks["a_first_page"]["total"] == 2_000
    assert clicks["b_next_page"]["rows"] == 50 and clicks["b_next_page"]["filters"] == {
        "before_seq": 1_951
    }
    assert clicks["c_patient_ref"]["total"] >= 1 and clicks["d_action"]["total"] >= 1
    assert clicks["e_actor_id"]["total"] >= 1
    assert set(clicks["f_date_range"]["filters"]) == {"since", "until"}
    assert clicks["i_role"]["total"] >= 1
    assert clicks["g_matches_nothing"]["rows"] == clicks["g_matches_nothing"]["total"] == 0
    assert result["slowest_click_ms"] == max(c["max_ms"] for c in clicks.values())
    assert isinstance(result["within_target"], bool)
    for figure in ("peak_rss_mb_build", "peak_rss_mb_before_clicks", "peak_rss_mb_after_clicks"):
        assert result[figure] > 0
    assert list(tmp_path.iterdir()) == []


def test_bench_audit_cli_prints_both_figure_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        result = CliRunner().invoke(
            main, ["bench", "audit", "--entries", "500", "--replay-entries", "200"]
        )
    finally:
        tempfile.tempdir = None
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["verify_entries"] == 200
    assert lines[1]["benchmark"] == "audit_trail_page" and lines[1]["entries"] == 500
    assert set(lines[1]["clicks"]) == PAGE_CLICKS
    assert list(tmp_path.iterdir()) == []


def test_a_trail_made_without_the_role_index_gets_it_when_opened(tmp_path):
    # The role filter's count() scanned the whole table at 1,000,000 entries (bench i_role).
    path = tmp_path / "old.sqlite"
    key = b"k" * 32
    with AuditStore.open(path, key=key) as store:
        store.append_many([_mixed_event(random.Random(i)) for i in range(50)])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_audit_entry_actor_role")
    with AuditStore.open(path, key=key, create=False) as store:
        assert store.count(role="patient") == sum(
            e.actor_role == "patient" for e in store.entries()
        )
        assert store.verify().ok
    with sqlite3.connect(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM audit_entry WHERE actor_role = 'patient'"
        ).fetchall()
    assert "ix_audit_entry_actor_role" in str(plan)
