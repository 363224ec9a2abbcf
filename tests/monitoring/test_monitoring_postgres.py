"""Outcomes, simulated history, figures and alerts on a real PostgreSQL: the same code and
the same answers as on SQLite (the prediction log's own PostgreSQL test is in
test_prediction_log.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from caselens.audit import AuditStore
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.alerts import check
from caselens.monitoring.corrections import correct_outcomes
from caselens.monitoring.figures import build_profile
from caselens.monitoring.outcomes import OutcomeImportError, import_outcomes
from caselens.monitoring.prediction_log import verify_prediction_log
from caselens.monitoring.simulate import parse_shift, simulate_months, write_simulation
from caselens.monitoring.tables import (
    alert_table,
    outcome_correction_table,
    outcome_table,
    ready_engine,
)
from caselens.monitoring.views import iter_figures
from monitoring_fixtures import KEY, make_workflow, psi_alert, signed_in

PLAN = MonitoringPlan()
MODELS = ("readmission-30d", "heart-disease")
TODAY = dt.date(2026, 6, 30)
GOOD = (
    b"patient_ref,model_id,outcome,known_on\n"
    b"MRN-1,readmission-30d,1,2026-05-02\n"
    b"MRN-2,readmission-30d,0,2026-05-31\n"
)


def _count(store: AuditStore, table) -> int:
    with ready_engine(store).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_outcomes_import_once_all_or_nothing_on_postgresql(new_pg_database):
    with AuditStore.open(new_pg_database("outcomes"), key=KEY) as store:
        first = import_outcomes(store, GOOD, known_models=MODELS, today=TODAY)
        again = import_outcomes(store, GOOD, known_models=MODELS, today=TODAY)
        assert (first.new, again.new, again.unchanged) == (2, 0, 2)
        bad = GOOD + b"MRN-3,readmission-30d,7,2026-05-02\n"
        with pytest.raises(OutcomeImportError, match="row 4, outcome: '7' is not 0 or 1"):
            import_outcomes(store, bad, known_models=MODELS, today=TODAY)
        contradicting = GOOD.replace(b"MRN-2,readmission-30d,0", b"MRN-2,readmission-30d,1")
        with pytest.raises(OutcomeImportError, match="contradicts the outcome 0"):
            import_outcomes(store, contradicting, known_models=MODELS, today=TODAY)
        assert _count(store, outcome_table) == 2
        fix = contradicting.replace(b"MRN-1,readmission-30d,1,2026-05-02\n", b"")
        corrected = correct_outcomes(
            store, fix, reason="found on chart review", known_models=MODELS, today=TODAY
        )
        assert corrected.corrected == 1
        with pytest.raises(OutcomeImportError, match="contradicts the outcome 1 already held"):
            import_outcomes(store, GOOD, known_models=MODELS, today=TODAY)
        assert _count(store, outcome_correction_table) == 1
        actions = [e.action for e in store.entries()]
        assert actions == ["outcomes_imported", "outcomes_imported", "outcomes_corrected"]
        assert store.verify().ok


def test_a_simulated_history_is_judged_alike_on_postgresql_and_sqlite(
    tmp_path, new_pg_database, sample_bundles
):
    bundle = sample_bundles["readmission-30d"]
    profile = build_profile(bundle, PLAN)
    shift = parse_shift("missing:num_lab_procedures@2")
    sim = simulate_months(
        bundle,
        months=2,
        per_month=600,
        shifts=[shift],
        seed=11,
        reference_probabilities=profile.probabilities,
    )
    judged = {}
    for name, target in (
        ("postgresql", new_pg_database("monitoring")),
        ("sqlite", tmp_path / "audit.sqlite"),
    ):
        with AuditStore.open(target, key=KEY) as store:
            run = write_simulation(store, bundle, sim, plan=PLAN, shifts=[shift], seed=11)
            log = verify_prediction_log(store)
            assert log.ok and log.simulated_rows == 1200, (name, log.problems)
            figures = list(
                iter_figures(
                    ready_engine(store),
                    bundle,
                    PLAN,
                    profile=profile,
                    simulated=True,
                    run_id=run.run_id,
                )
            )
            result = check(store, figures, PLAN)
            assert check(store, figures, PLAN).newly_raised == ()  # recorded once
            assert _count(store, alert_table) == len(result.alerts)
            assert store.verify().ok
            judged[name] = (run.months, figures, result)
    months, pg_figures, pg_result = judged["postgresql"]
    _, lite_figures, lite_result = judged["sqlite"]
    assert [f.predictions for f in pg_figures] == [f.predictions for f in lite_figures]
    assert [f.with_outcomes for f in pg_figures] == [f.with_outcomes for f in lite_figures]
    for pg, lite in zip(pg_figures, lite_figures, strict=True):
        assert pg.prediction_psi == pytest.approx(lite.prediction_psi, abs=1e-12)
        assert pg.performance.auroc.value == pytest.approx(lite.performance.auroc.value, abs=1e-12)
    kinds = {(a.kind, a.subject, a.period) for a in pg_result.alerts}
    assert ("input_psi", "num_lab_procedures", months[1]) in kinds
    # The same alerts (kind, subject, period) on both databases.
    assert sorted((a.kind, a.subject, a.period) for a in lite_result.alerts) == sorted(kinds)


def test_a_live_alert_on_postgresql_suspends_the_model_with_its_reason(
    tmp_path, new_pg_database, sample_bundles
):
    from caselens.monitoring.alerts import record_alerts

    data = tmp_path / "data"
    data.mkdir()
    with AuditStore.open(new_pg_database("alerts"), key=KEY) as store:
        flow = make_workflow(data, store, sample_bundles)
        live = psi_alert(
            "heart-disease", "2026-03", "2026-03: the predicted probabilities drifted (PSI 0.31)"
        )
        assert record_alerts(store, [live]) == [live.alert_id]
        assert record_alerts(store, [live]) == []
        status = flow.suspend_from_alert(signed_in(flow, "admin"), live.alert_id)
        assert status.suspended and live.alert_id in status.reason
        actions = [e.action for e in store.entries()]
        assert actions.count("alert_raised") == 1 and actions[-1] == "model_suspended"
        assert store.verify().ok
