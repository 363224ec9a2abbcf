"""Subgroup tables through the door: the validation's (Model facts) and a monitoring period's,
each checked, recorded once per session with its seed and minimum n, and equal to the table
computed directly from the same rows."""

from __future__ import annotations

import numpy as np
import pytest

from caselens.model.monitoring_plan import plan_for
from caselens.monitoring.figures import parse_period, read_period
from caselens.monitoring.simulate import simulate_months, write_simulation
from caselens.monitoring.subgroup_table import subgroup_table
from caselens.monitoring.subgroup_views import subgroup_groups
from caselens.monitoring.tables import ready_engine
from caselens.workflow.errors import Refused, WorkflowError
from caselens.workflow.subgroup_figures import SUBGROUP_FIGURES_VIEWED
from monitoring_fixtures import signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below

MODEL = "heart-disease"


def _viewed(workflow):
    return [e for e in workflow.trail.entries() if e.action == SUBGROUP_FIGURES_VIEWED]


def test_the_validation_table_is_the_reference_data_table_and_is_recorded_once(workflow):
    session = signed_in(workflow, "rev.kim")
    table = workflow.validation_subgroups(session, MODEL)
    bundle = workflow.bundle(MODEL)
    reference = bundle.reference
    direct = subgroup_table(
        reference["outcome"].to_numpy(int),
        np.asarray(bundle.predict_proba(reference), dtype=float),
        subgroup_groups(bundle.features, reference),
        bundle.card.decision_threshold,
    )
    assert table == direct
    # The heart sample's 61 reference patients: age × sex has a group under 10, so the
    # intersection is named as left out, not dropped silently.
    assert table.left_out == ("age × sex: not shown, 1 of its 4 groups has fewer than 10 patients",)
    workflow.validation_subgroups(session, MODEL)
    [entry] = _viewed(workflow)
    assert entry.actor_id == "rev.kim" and entry.audience == "reviewer"
    assert entry.detail()["source"] == "validation"
    assert entry.detail()["bundle_sha256"] == bundle.bundle_sha256
    assert (entry.detail()["seed"], entry.detail()["min_n"]) == (table.seed, table.min_n)
    assert entry.detail()["resamples"] == table.n_boot


def test_a_monitoring_period_table_matches_its_rows_and_suppresses_small_groups(workflow):
    bundle = workflow.bundle(MODEL)
    plan = plan_for(bundle)
    # 24 simulated patients a month: some age or sex groups fall under 10.
    sim = simulate_months(bundle, months=1, per_month=24, seed=3)
    run = write_simulation(workflow.trail, bundle, sim, plan=plan, seed=3).run_id
    session = signed_in(workflow, "rev.kim")
    [period] = [f.period for f in workflow.monitoring_view(session, MODEL, run_id=run).figures]
    table = workflow.monitoring_subgroups(session, MODEL, period, run_id=run)
    frame, _ = read_period(
        ready_engine(workflow.trail),
        MODEL,
        parse_period(period, plan.period),
        window_days=plan.window_days(bundle.card.outcome.time_window),
        simulated=True,
        run_id=run,
    )
    known = frame[frame["outcome"].notna()]
    groups = subgroup_groups(bundle.features, known)
    assert table == subgroup_table(
        known["outcome"].to_numpy(int),
        known["probability"].to_numpy(float),
        groups,
        bundle.card.decision_threshold,
        confidence=plan.confidence,
    )
    sizes = {
        (name, g): int((labels == g).sum()) for name, labels in groups.items() for g in set(labels)
    }
    assert any(n < 10 for n in sizes.values())
    for row in table.rows:
        if not row.intersection:
            small = sizes[(row.variable, row.group)] < 10
            assert (row.suppressed == "fewer than 10 patients") == small
    [entry] = _viewed(workflow)
    assert entry.detail()["source"] == "monitoring" and entry.detail()["period"] == period
    assert entry.detail()["simulated_run"] == run
    assert entry.detail()["groups_suppressed"] == sum(r.suppressed is not None for r in table.rows)


def test_who_may_see_which_table_and_bad_arguments_are_refused_in_words(workflow):
    assert workflow.validation_subgroups(signed_in(workflow, "dr.lee"), MODEL).rows
    for user in ("pat.h03", "admin"):
        with pytest.raises(Refused):
            workflow.validation_subgroups(signed_in(workflow, user), MODEL)
        assert workflow.trail.entries()[-1].action == "access_refused"
    with pytest.raises(Refused):
        workflow.monitoring_subgroups(signed_in(workflow, "dr.lee"), MODEL, "2026-11")
    session = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match="Version 000000000000 of heart-disease is not loaded"):
        workflow.validation_subgroups(session, MODEL, bundle_sha256="0" * 64)
    with pytest.raises(WorkflowError, match="Period: expected a month such as 2026-11"):
        workflow.monitoring_subgroups(session, MODEL, "last month")
    # Only the clinician's table was shown, so only it is in the trail.
    assert [e.actor_id for e in _viewed(workflow)] == ["dr.lee"]
