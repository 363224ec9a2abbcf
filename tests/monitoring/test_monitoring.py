"""Monitoring figures, alerts and simulations: shifts are caught in the month they start,
an unshifted population raises no alert, alerts and suspensions are recorded, and
simulated rows verify against their entry and are labelled simulated everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from caselens.audit import AuditStore
from caselens.cli.main import main
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.performance import calibration_slope_intercept
from caselens.monitoring.alerts import check, evaluate, record_alerts
from caselens.monitoring.figures import build_profile
from caselens.monitoring.prediction_log import verify_prediction_log
from caselens.monitoring.simulate import (
    detected,
    parse_shift,
    simulate_months,
    simulated_figures,
    write_simulation,
)
from caselens.monitoring.stats import auroc, calibration_fit, psi
from caselens.monitoring.tables import ready_engine
from caselens.monitoring.views import iter_figures
from caselens.workflow.errors import Refused, WorkflowError
from monitoring_fixtures import KEY, make_workflow, psi_alert, signed_in

PLAN = MonitoringPlan()
#: Predictions per simulated month: the n the plan's detection figures are stated at.
PER_MONTH = 2000
#: A subgroup's AUROC is judged on that group alone: about 2,700 women a month (~300
#: events) make a fall to AUROC 0.5 stand clear of the 0.10 margin.
PER_MONTH_SUBGROUP = 5000
#: Unshifted runs in the false-alarm test (each three months) and the rate allowed.
FALSE_ALARM_RUNS = 40
MAX_FALSE_ALARM_RATE = 0.05
SHIFTS = (
    "mix:age_band=80-89@2",
    "shift:num_medications@2",
    "missing:num_lab_procedures@2",
    "calibration@2",
    "subgroup:sex=Female@2",
)


@pytest.fixture(scope="module")
def readmission_profile(sample_bundles):
    return build_profile(sample_bundles["readmission-30d"], PLAN)


def test_the_fast_statistics_agree_with_the_reference_implementations():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.6, 3000)
    y = (rng.random(3000) < p**1.3).astype(int)
    fit = calibration_fit(y, p)
    slope, intercept = calibration_slope_intercept(y, p)
    assert fit.slope.value == pytest.approx(slope, abs=1e-3)  # sklearn's lbfgs stops early
    assert fit.in_the_large.value == pytest.approx(intercept, abs=1e-6)
    assert fit.slope.low < fit.slope.value < fit.slope.high
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert psi([10, 20, 30, 0], [10, 20, 30, 0]) == pytest.approx(0.0)
    assert psi([50, 50], [90, 10]) > 0.2


@pytest.mark.parametrize("shift_text", SHIFTS)
def test_each_injected_shift_is_caught_in_the_month_it_starts(
    sample_bundles, readmission_profile, shift_text
):
    bundle = sample_bundles["readmission-30d"]
    shift = parse_shift(shift_text)
    for seed in range(3):
        sim = simulate_months(
            bundle,
            months=2,
            per_month=PER_MONTH_SUBGROUP if shift.kind == "subgroup" else PER_MONTH,
            shifts=[shift],
            seed=100 + seed,
            reference_probabilities=readmission_profile.probabilities,
        )
        figures = simulated_figures(sim, readmission_profile, PLAN)
        assert detected(figures, PLAN, shift), (shift_text, seed)


def test_an_unshifted_population_raises_no_alert_across_many_seeds(
    sample_bundles, readmission_profile
):
    bundle = sample_bundles["readmission-30d"]
    alarms = 0
    for seed in range(FALSE_ALARM_RUNS):
        sim = simulate_months(
            bundle,
            months=3,
            per_month=PER_MONTH,
            seed=seed,
            reference_probabilities=readmission_profile.probabilities,
        )
        alarms += any(
            evaluate(f, PLAN)[0] for f in simulated_figures(sim, readmission_profile, PLAN)
        )
    assert alarms / FALSE_ALARM_RUNS <= MAX_FALSE_ALARM_RATE


def test_a_simulation_is_written_labelled_verified_and_judged_from_the_database(
    tmp_path, sample_bundles, readmission_profile
):
    bundle = sample_bundles["readmission-30d"]
    shift = parse_shift("missing:num_lab_procedures@2")
    sim = simulate_months(
        bundle,
        months=2,
        per_month=600,
        shifts=[shift],
        seed=7,
        reference_probabilities=readmission_profile.probabilities,
    )
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        run = write_simulation(store, bundle, sim, plan=PLAN, shifts=[shift], seed=7)
        assert run.predictions == run.outcomes == 1200
        # Never a display: the trail holds one monitoring_simulated entry and nothing else.
        assert [e.action for e in store.entries()] == ["monitoring_simulated"]
        log = verify_prediction_log(store)
        assert log.ok and log.displays == 0 and log.simulated_rows == 1200, log.problems
        engine = ready_engine(store)
        live = list(iter_figures(engine, bundle, PLAN, profile=readmission_profile))
        assert live == []  # simulated rows never count as what was shown
        figures = list(
            iter_figures(
                engine, bundle, PLAN, profile=readmission_profile, simulated=True, run_id=run.run_id
            )
        )
        assert [f.period for f in figures] == list(run.months)
        assert all(f.simulated and f.run_id == run.run_id for f in figures)
        assert [f.predictions for f in figures] == [600, 600]
        assert figures[0].with_outcomes == 600  # every simulated outcome linked in its window
        memory = simulated_figures(sim, readmission_profile, PLAN)
        assert figures[1].prediction_psi == pytest.approx(memory[1].prediction_psi)
        assert figures[0].performance.auroc.value == pytest.approx(
            memory[0].performance.auroc.value
        )
        result = check(store, figures, PLAN)
        kinds = {(a.kind, a.subject, a.period) for a in result.alerts}
        assert ("input_psi", "num_lab_procedures", run.months[1]) in kinds
        assert all("(simulated)" in a.message for a in result.alerts)
        again = check(store, figures, PLAN)
        assert again.newly_raised == () and len(again.alerts) == len(result.alerts)
        raised = [e for e in store.entries() if e.action == "alert_raised"]
        assert len(raised) == len(result.alerts)  # each alert recorded once
        assert store.verify().ok


def test_a_live_alert_suspends_the_model_with_its_reason_and_a_simulated_one_never(
    tmp_path, sample_bundles
):
    data = tmp_path / "data"
    data.mkdir()
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        flow = make_workflow(data, store, sample_bundles)

        message = "2026-03: the predicted probabilities drifted (PSI 0.31 > 0.2, n=140)"
        live = psi_alert("heart-disease", "2026-03", message)
        simulated = psi_alert("heart-disease", "2026-03", message, run_id="r1")
        assert record_alerts(store, [live, simulated]) == [live.alert_id, simulated.alert_id]
        reviewer = signed_in(flow, "rev.kim")
        with pytest.raises(Refused):
            flow.suspend_from_alert(reviewer, live.alert_id)
        admin = signed_in(flow, "admin")
        with pytest.raises(WorkflowError, match="simulation never suspends"):
            flow.suspend_from_alert(admin, simulated.alert_id)
        with pytest.raises(WorkflowError, match="no raised alert"):
            flow.suspend_from_alert(admin, "0000000000000000")
        status = flow.suspend_from_alert(admin, live.alert_id)
        assert status.suspended and live.alert_id in status.reason
        suspended = [e for e in store.entries() if e.action == "model_suspended"]
        assert len(suspended) == 1
        assert suspended[0].detail()["reason"].startswith(f"Monitoring alert {live.alert_id}")
        assert [e.action for e in store.entries()].count("alert_raised") == 2


def test_the_commands_simulate_check_and_verify(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    runner = CliRunner()
    args = ["--model", "readmission-30d", "--months", "2", "--per-month", "500"]
    result = runner.invoke(
        main, ["monitor", "simulate", *args, "--shift", "missing:num_lab_procedures@2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SIMULATED run ")
    run_id = result.output.split()[2].rstrip(":")
    result = runner.invoke(
        main, ["monitor", "check", "--model", "readmission-30d", "--simulated", run_id]
    )
    assert result.exit_code == 3, result.output
    assert "ALERT" in result.output and "num_lab_procedures" in result.output
    assert "(simulated)" in result.output
    result = runner.invoke(main, ["monitor", "check", "--model", "readmission-30d"])
    assert result.exit_code == 0 and "No alert is open" in result.output
    result = runner.invoke(main, ["monitor", "verify"])
    assert result.exit_code == 0 and "OK" in result.output, result.output


def test_make_run_seeds_one_simulated_history_only_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    args = [
        "monitor",
        "simulate",
        "--model",
        "heart-disease",
        "--months",
        "1",
        "--per-month",
        "50",
        "--unless-present",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and first.output.startswith("SIMULATED run "), first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "already there" in again.output, again.output


def test_an_alerts_interval_is_named_at_the_plans_level(sample_bundles, readmission_profile):
    bundle = sample_bundles["readmission-30d"]
    sim = simulate_months(
        bundle,
        months=2,
        per_month=PER_MONTH,
        shifts=[parse_shift("calibration@2")],
        seed=3,
        reference_probabilities=readmission_profile.probabilities,
    )
    for level, text in ((0.9, "(90% CI"), (0.95, "(95% CI"), (0.975, "(97.5% CI")):
        plan = MonitoringPlan(confidence=level)
        found = [
            a
            for f in simulated_figures(sim, readmission_profile, plan)
            for group in evaluate(f, plan)
            for a in group
            if a.kind == "calibration_slope"
        ]
        assert found, f"no calibration alert or watch at {level}"
        assert all(text in a.message for a in found), [a.message for a in found]
