"""The Monitoring page in the real app (AppTest): simulated data said to be simulated, a check
that records its alerts, and an admin suspending a model from a live alert."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from click.testing import CliRunner

from app_helpers import audit_entries, shown, signed_in
from caselens.audit import AuditStore, default_key_file, default_location, load_key
from caselens.cli.main import main
from caselens.monitoring.alerts import Alert, alert_id, record_alerts

MODEL = "readmission-30d"
HEART = "heart-disease"


def _monitoring(user: str, model: str = MODEL):
    at = signed_in(user)
    at.switch_page("app_pages/monitoring.py").run()
    assert not at.exception
    assert at.title[0].value == "Monitoring"
    at = (
        at.selectbox(key="monitoring_model")
        .select(next(o for o in at.selectbox(key="monitoring_model").options if model in o))
        .run()
    )
    return at


def test_a_simulated_run_is_labelled_simulated_and_its_check_is_recorded(app_env):
    simulated = CliRunner().invoke(
        main,
        [
            "monitor",
            "simulate",
            "--model",
            MODEL,
            "--months",
            "2",
            "--per-month",
            "400",
            "--shift",
            "missing:num_lab_procedures@2",
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    run_id = simulated.output.split()[2].rstrip(":")
    at = _monitoring("rev.kim")
    assert "Nothing has been shown with this model yet" in shown(at.info)
    source = at.selectbox(key="monitoring_source")
    at = source.select(f"Simulated run {run_id}").run()
    assert not at.exception
    assert "SIMULATED DATA" in shown(at.warning)
    table = next(d.value for d in at.dataframe if "Simulated" in d.value.columns)
    assert list(table["Simulated"]) == ["yes", "yes"] and len(table) == 2
    at = at.button(key="monitoring_check").click().run()
    assert not at.exception
    raised = [e for e in audit_entries() if e.action == "alert_raised"]
    assert raised and all("(simulated)" in e.detail()["message"] for e in raised)
    assert "num_lab_procedures" in shown(at.markdown)
    # A simulated alert is never offered as a reason to suspend the model.
    assert not [b for b in at.button if b.label == "Suspend this model"]
    assert "monitoring_viewed" in [e.action for e in audit_entries()]


def test_an_admin_suspends_a_model_from_a_live_alert(app_env):
    signed_in("admin")  # creates the trail and its key
    live = Alert(
        alert_id(MODEL, "2026-10", "calibration_slope", "overall", False, None),
        MODEL,
        "2026-10",
        "calibration_slope",
        "overall",
        "2026-10: calibration slope 0.61 (95% CI 0.52-0.70) is below 0.8 (n=1,200)",
        0.61,
        0.52,
        0.70,
        "0.8-1.25",
        1200,
        False,
        None,
    )
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        record_alerts(store, [live])
    at = _monitoring("admin")
    assert "calibration slope 0.61" in shown(at.markdown)
    reviewer = _monitoring("rev.kim")
    assert not [b for b in reviewer.button if b.label == "Suspend this model"]  # admins only
    at = at.button(key=f"monitoring_suspend_{live.alert_id}").click().run()
    assert not at.exception
    suspended = [e for e in audit_entries() if e.action == "model_suspended"]
    assert len(suspended) == 1 and live.alert_id in suspended[0].detail()["reason"]
    clinician = signed_in("dr.lee")
    clinician = (
        clinician.selectbox(key="case_model")
        .select(next(o for o in clinician.selectbox(key="case_model").options if MODEL in o))
        .run()
    )
    assert "suspended, so it shows no prediction" in shown(clinician.error)
    assert not clinician.metric


def test_clinician_feedback_and_limitations_shown_appear_for_the_reviewer(app_env):
    clinician = signed_in("dr.lee")
    box = clinician.selectbox(key="case_model")
    clinician = box.select(next(o for o in box.options if "(heart-disease " in o)).run()
    assert not clinician.exception and clinician.metric
    clinician.radio(key="case_feedback_verdict").set_value("I disagree")
    clinician = next(b for b in clinician.button if b.label == "Send feedback").click().run()
    assert not clinician.exception
    assert [e.action for e in audit_entries()].count("feedback") == 1
    at = _monitoring("rev.kim", "heart-disease")
    assert not at.exception
    feedback = next(d.value for d in at.dataframe if "Feedback" in d.value.columns)
    assert list(feedback["Feedback"]) == [1] and list(feedback["Disagree"]) == [1]
    shown_codes = next(d.value for d in at.dataframe if "Displays" in d.value.columns)
    assert list(shown_codes["Displays"]) == [1]


def test_a_reviewer_prepares_then_downloads_the_governance_report(app_env):
    simulated = CliRunner().invoke(
        main, ["monitor", "simulate", "--model", MODEL, "--months", "2", "--per-month", "300"]
    )
    assert simulated.exit_code == 0, simulated.output
    run_id = simulated.output.split()[2].rstrip(":")
    at = _monitoring("rev.kim")
    at = at.selectbox(key="monitoring_source").select(f"Simulated run {run_id}").run()
    assert not at.get("download_button") or all(
        "monitoring-" not in str(b.proto.label) for b in at.get("download_button")
    )
    before = [e.action for e in audit_entries()].count("exported")
    at = at.button(key="monitoring_report").click().run()
    assert not at.exception
    assert [e.action for e in audit_entries()].count("exported") == before + 1
    labels = [str(b.proto.label) for b in at.get("download_button")]
    assert any(label.startswith(f"Download {MODEL}-monitoring-") for label in labels), labels
    assert any(label.endswith("-SIMULATED.html") for label in labels), labels


# -- never reassuring by accident ------------------------------------------------------------


@pytest.fixture()
def nine_shown(app_env, tmp_path, monkeypatch, request):
    """The app serving ``models`` (the heart-disease sample; with ``low_minimum`` a plan that
    judges drift from five predictions), its trail holding the nine demo patients' reports
    as shown to a clinician (recorded through the workflow). Yields the models folder."""
    import streamlit as st

    from caselens.explain.cases import validate_inputs
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR
    from monitoring_fixtures import make_workflow
    from monitoring_fixtures import signed_in as engine_signed_in

    models = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, models / HEART)
    plans = {
        "low_minimum": {"min_predictions": 5},
        "ninety": {"min_predictions": 5, "confidence": 0.9},
    }
    plan = plans.get(getattr(request, "param", "low_minimum"))
    if plan is not None:
        (models / HEART / "monitoring.json").write_text(json.dumps(plan))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    monkeypatch.setenv("CASELENS_MONITOR_CHECK_SECONDS", "off")
    st.cache_resource.clear()  # the catalogue and the workflow are cached per process
    signed_in("admin")  # creates the trail and its key
    bundle = load_bundle(models / HEART)
    (tmp_path / "accounts").mkdir()
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        engine = make_workflow(tmp_path / "accounts", store, {HEART: bundle})
        doctor = engine_signed_in(engine, "dr.lee")
        for demo in bundle.demo_cases:
            case = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
            engine.show_report(doctor, HEART, case, patient_ref=demo.case_id)
    try:
        yield models
    finally:
        st.cache_resource.clear()


def _status(user: str):
    at = signed_in(user)
    at.switch_page("app_pages/model_status.py").run()
    assert not at.exception and at.title[0].value == "Model status"
    return at


def test_a_breach_is_shown_as_would_alert_before_any_check(nine_shown):
    at = _monitoring("rev.kim", HEART)
    text = shown(at.markdown)
    assert "Would alert" in text and "PSI 0.484 > 0.2" in text
    assert "Not yet recorded" in shown(at.caption)
    assert "No limit is crossed" not in shown(at.info)
    assert "No alert has been raised" not in shown(at.info)
    assert not [e for e in audit_entries() if e.action == "alert_raised"]
    table = next(d.value for d in at.dataframe if "Drift judged" in d.value.columns)
    assert list(table["Drift judged"]) == ["yes"]
    assert list(table["Performance judged"]) == ["no outcomes yet"]
    # Model status says nothing is recorded yet, not that all is well.
    status = _status("admin")
    assert "No monitoring alert has been recorded" in shown(status.caption)


def test_the_scheduled_check_records_the_alert_with_no_click_and_model_status_shows_it(
    nine_shown, monkeypatch
):
    import streamlit as st

    monkeypatch.setenv("CASELENS_MONITOR_CHECK_SECONDS", "3600")
    st.cache_resource.clear()  # a fresh workflow, which starts the schedule
    at = _monitoring("rev.kim", HEART)  # a view, no click
    assert not [b for b in at.button if b.label.startswith("Check now") and b.value]
    deadline = time.monotonic() + 120
    while not [e for e in audit_entries() if e.action == "alert_raised"]:
        assert time.monotonic() < deadline, "the scheduled check recorded nothing in 120 s"
        time.sleep(0.5)
    raised = [e for e in audit_entries() if e.action == "alert_raised"]
    assert {e.actor_id for e in raised} == {"system:monitor-scheduler"}
    at = _monitoring("rev.kim", HEART)
    assert "Alert recorded" in shown(at.markdown) and "Would alert" not in shown(at.markdown)
    for user in ("admin", "rev.kim"):
        status = _status(user)
        assert f"Active, with {len(raised)} monitoring alerts" in shown(status.markdown)
        assert "PSI 0.484" in shown(status.warning)


@pytest.mark.parametrize("nine_shown", ["sample_plan"], indirect=True)
def test_under_the_plan_minimum_the_page_says_too_few_to_judge(nine_shown):
    at = _monitoring("rev.kim", HEART)
    assert "Too few to judge" in shown(at.warning)
    assert "Would alert" not in shown(at.markdown)
    assert "No limit is crossed" not in shown(at.info)
    table = next(d.value for d in at.dataframe if "Drift judged" in d.value.columns)
    assert list(table["Drift judged"]) == ["too few to judge"]
    psi_chart = next(c for c in at.get("plotly_chart") if "PSI" in c.proto.spec)
    assert "too few to judge" in psi_chart.proto.spec


@pytest.mark.parametrize("nine_shown", ["ninety"], indirect=True)
def test_intervals_are_labelled_with_the_plans_level(nine_shown):
    at = _monitoring("rev.kim", HEART)
    assert "only when the 90% interval lies wholly beyond the limit" in shown(at.caption)
    table = next(d.value for d in at.dataframe if "Drift judged" in d.value.columns)
    assert "AUROC 90% CI" in table.columns
    assert not [c for d in at.dataframe for c in d.value.columns if "95%" in str(c)]


def test_intervals_are_labelled_95_percent_under_the_default_plan(nine_shown):
    at = _monitoring("rev.kim", HEART)
    table = next(d.value for d in at.dataframe if "Drift judged" in d.value.columns)
    assert "AUROC 95% CI" in table.columns and "only when the 95% interval" in shown(at.caption)
