"""The start-up warm-up of the monitoring figures: it fills the figures cache and keeps the
open period's rows, records nothing, and a failing model does not stop the others."""

from __future__ import annotations

from sqlalchemy import func, select

from caselens.monitoring.period_rows import _KEPT, forget_period_rows
from caselens.monitoring.tables import figures_cache_table, ready_engine
from caselens.monitoring.warm_up import warm_monitoring
from monitoring_fixtures import heart_case, signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below


def _cached(store) -> int:
    with ready_engine(store).connect() as conn:
        return conn.execute(select(func.count()).select_from(figures_cache_table)).scalar_one()


def test_the_warm_up_fills_the_cache_keeps_the_open_period_and_records_nothing(workflow):
    clinician = signed_in(workflow, "dr.lee")
    for case_id in ("H-01", "H-02"):
        workflow.show_report(
            clinician, "heart-disease", heart_case(workflow, case_id), patient_ref=case_id
        )
    store = workflow.trail
    engine = ready_engine(store)
    forget_period_rows(engine)
    entries = len(store.entries())
    assert _cached(store) == 0
    thread = workflow.warm_up_monitoring()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert _cached(store) == 1  # heart-disease's one month (readmission has no display)
    assert any(key[1] == "heart-disease" for key in _KEPT[engine])  # its open period's rows
    assert len(store.entries()) == entries  # derived data only: nothing recorded
    view = workflow.monitoring_view(signed_in(workflow, "rev.kim"), "heart-disease")
    assert [f.predictions for f in view.figures] == [2]


def test_a_model_that_fails_is_skipped_and_the_others_are_warmed(workflow, caplog):
    clinician = signed_in(workflow, "dr.lee")
    workflow.show_report(clinician, "heart-disease", heart_case(workflow), patient_ref="H-01")

    class Broken:
        model_id = "broken"

        def __getattr__(self, name):
            raise ValueError("a bundle that cannot be read")

    bundles = {"broken": Broken(), "heart-disease": workflow.bundle("heart-disease")}
    warmed = warm_monitoring(workflow.trail, bundles)
    assert warmed == {"heart-disease": 1}
    assert "Monitoring warm-up of broken skipped" in caplog.text
