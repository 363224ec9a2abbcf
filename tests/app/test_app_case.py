"""The clinician Case page, headless (streamlit.testing AppTest), on the real sample models."""

from __future__ import annotations

import json
import shutil

import pytest
import streamlit as st

from app_helpers import audit_entries, shown, signed_in, unliteral
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow.display import NOT_RECORDED_MESSAGE, format_interval

pytestmark = pytest.mark.usefixtures("app_env")


def open_app():
    return signed_in("dr.lee")


def _pick_model(at, model_id: str):
    box = at.selectbox(key="case_model")
    label = next(o for o in box.options if f"({model_id} " in o)
    return box.select(label).run()


def _pick_demo(at, model_id: str, case_id: str):
    demo = at.selectbox(key=f"case_{model_id}_demo")
    return demo.select(next(o for o in demo.options if o.startswith(case_id))).run()


def _badge(at) -> str:
    [badge] = [m.value for m in at.markdown if "-badge[" in m.value]
    return unliteral(badge)


def test_case_page_opens_and_shows_the_calibrated_probability_of_a_demo_case(heart_bundle):
    at = open_app()
    assert not at.exception
    at = _pick_model(at, "heart-disease")
    at = _pick_demo(at, "heart-disease", "H-03")  # high risk
    assert not at.exception
    case = validate_inputs(
        heart_bundle.demo_case("H-03").inputs, heart_bundle.features, source="demo", case_id="H-03"
    )
    expected = CaseExplainer(heart_bundle).explain(case)
    assert at.metric[0].value == f"{100 * expected.probability:.1f}%"
    interval = expected.confidence.interval
    assert at.metric[1].value == format_interval(interval.low, interval.high)
    assert len(at.get("plotly_chart")) >= 3  # the threshold strip, SHAP, LIME


def test_the_threshold_badge_arrow_and_colour_follow_the_side_of_the_threshold():
    """H-03 is above the heart model's threshold, H-01 below: the badge's arrow and colour
    change with the side (it once showed an up arrow beside "below ... by 43.3 points")."""
    at = _pick_model(open_app(), "heart-disease")
    below = _badge(_pick_demo(at, "heart-disease", "H-01"))
    assert below.startswith(":blue-badge[:material/arrow_downward: Below the 50% threshold by")
    above = _badge(_pick_demo(at, "heart-disease", "H-03"))
    assert above.startswith(":red-badge[:material/arrow_upward: Above the 50% threshold by")


def test_a_narrow_range_prints_ends_that_differ(readmission_bundle):
    """The readmission range once read "4% – 4%": it is printed by the engine's one rule."""
    at = _pick_model(open_app(), "readmission-30d")
    label = next(
        o
        for o in at.selectbox(key="case_readmission-30d_demo").options
        if readmission_bundle.demo_cases[0].case_id in o
    )
    at = at.selectbox(key="case_readmission-30d_demo").select(label).run()
    [entry] = [e for e in audit_entries() if e.action == "viewed"][-1:]
    stored = json.loads(entry.report_json)["confidence"]["interval"]
    value = at.metric[1].value
    assert value == format_interval(stored["low"], stored["high"])
    if not value.startswith("about "):
        low, high = value.removesuffix("%").split("% to ")
        assert low != high
    # Its level was not checked on a split this large: it says "about".
    assert unliteral(at.metric[1].label) == "Range (about 95%)"


def test_every_display_is_recorded_before_it_is_shown(heart_bundle):
    at = open_app()
    at = _pick_model(at, "heart-disease")
    entries = audit_entries()
    assert entries, "the display was not recorded"
    last = entries[-1]
    assert (last.action, last.audience, last.actor_role) == ("viewed", "clinician", "clinician")
    assert last.actor_id == "dr.lee"
    assert last.patient_ref == "H-01" and last.model_id == "heart-disease"
    stored = json.loads(last.report_json)
    assert at.metric[0].value == f"{100 * stored['confidence']['probability']:.1f}%"


def test_when_the_audit_write_fails_no_prediction_is_shown(monkeypatch, app_env):
    at = open_app()
    # The trail becomes unwritable after sign-in (e.g. the disk or database went away).
    blocked = app_env / "blocked"
    blocked.write_text("a file where the audit folder should be")
    monkeypatch.setenv("CASELENS_AUDIT_URL", f"sqlite:///{blocked}/sub/audit.sqlite")
    monkeypatch.setenv("CASELENS_AUDIT_KEY", "ab" * 32)
    at = at.run()
    assert not at.exception
    assert NOT_RECORDED_MESSAGE in shown(at.error)
    assert not at.metric, "a probability was shown although it was not recorded"


def test_form_entry_with_bad_values_lists_every_problem_per_field():
    at = open_app()
    at = _pick_model(at, "heart-disease")
    at = at.radio(key="case_heart-disease_source").set_value("Enter values").run()
    at.number_input(key="case_heart-disease_field_age").set_value(250)
    at.number_input(key="case_heart-disease_field_resting_bp").set_value(120.5)
    at = at.button[0].click().run()
    assert not at.exception
    text = shown(at.markdown)
    assert "Age: 250 years is outside the possible range (18 to 120 years)" in text
    assert "Resting blood pressure: expected a whole number of mm Hg, got 120.5" in text
    assert any("cannot be assessed: 2 problem(s)" in e.value for e in at.error)
    assert not at.metric


def test_every_limitation_and_the_clinician_summary_are_on_the_page(heart_bundle):
    at = open_app()
    at = _pick_model(at, "heart-disease")
    at = _pick_demo(at, "heart-disease", "H-09")
    case = validate_inputs(
        heart_bundle.demo_case("H-09").inputs, heart_bundle.features, source="demo", case_id="H-09"
    )
    report = CaseExplainer(heart_bundle).explain(case)
    text = shown(at.warning) + " " + shown(at.info)
    for lim in report.limitations:
        assert lim.clinician_text in text
    # Codes, triggers and the summary sit behind "Details".
    assert not any(lim.code in text for lim in report.limitations)
    at.session_state["case_heart-disease_report_codes"] = True
    at.session_state["case_heart-disease_report_reliability_open"] = True
    at = at.run()
    details = shown(at.markdown)
    for lim in report.limitations:
        assert lim.code in details
    assert report.narrative.clinician_summary in shown(at.info)


def test_patient_preview_is_recorded_as_a_patient_display_before_it_is_shown():
    at = open_app()
    assert not any(e.action == "previewed" for e in audit_entries())
    at = at.toggle(key="case_patient_preview").set_value(True).run()
    assert not at.exception
    previewed = [e for e in audit_entries() if e.action == "previewed"]
    assert len(previewed) == 1
    assert (previewed[0].audience, previewed[0].actor_id) == ("patient", "dr.lee")
    text = " ".join(m.value for m in at.markdown)
    assert "out of 100 people like you" in text


def test_first_view_has_everything_a_clinician_must_see_and_secondary_tables_wait_for_a_click():
    at = open_app()
    at = _pick_model(at, "heart-disease")
    # On first view: the result card (probability, its range, the side of the threshold,
    # the top factors, the first caution), SHAP and LIME with LIME's fidelity, the
    # limitations; each number once.
    labels = [unliteral(m.label) for m in at.metric]
    # Plain words on the headline; the calibration method is in Details.
    assert labels[0] == "Chance of heart disease"
    assert labels[1].startswith("Range (") and len(labels) == 2
    assert len(at.get("plotly_chart")) == 3  # threshold strip, SHAP, LIME
    factors = next(m.value for m in at.markdown if "What moved this estimate most" in m.value)
    lines = unliteral(factors).splitlines()
    assert len([line for line in lines if line.startswith(("- ▲", "- ▼"))]) == 3
    subheaders = [s.value for s in at.header]
    assert "When not to trust this result" in subheaders
    assert "How reliable is a probability like this?" not in subheaders  # behind Details
    captions = shown(at.caption)
    assert "LIME's local fidelity R²" in captions
    assert "Additivity error" not in captions and "Triggered by" not in shown(at.warning)
    # The secondary tables, method text and the provenance are built only when opened.
    labels = [e.label for e in at.expander]
    assert "The numbers behind the charts" in labels
    assert "Provenance: model, seeds, versions, timings" in labels
    assert any(label.startswith("Details: how sure") for label in labels)
    assert "SHAP (points)" not in " ".join(str(d.value.columns) for d in at.dataframe)
    assert "seeds" not in " ".join(str(j.value) for j in at.json)


def test_opening_a_secondary_section_draws_it_without_a_second_record():
    at = open_app()
    at = _pick_model(at, "heart-disease")
    viewed = [e for e in audit_entries() if e.action == "viewed"]
    at.session_state["case_heart-disease_report_numbers"] = True
    at.session_state["case_heart-disease_report_provenance"] = True
    at = at.run()
    assert not at.exception
    assert any("SHAP (points)" in d.value.columns for d in at.dataframe)
    assert "+ contributions =" in shown(at.caption)
    assert any("seeds" in str(j.value) for j in at.json)
    # Opening a section reruns the page; the display was already recorded in this session.
    assert [e for e in audit_entries() if e.action == "viewed"] == viewed


# -- defaults that do not bias ------------------------------------------------------------


def test_feedback_has_no_preset_answer_and_is_not_sent_without_one():
    at = open_app()
    radio = at.radio(key="case_feedback_verdict")
    assert radio.value is None and radio.index is None
    before = [e.action for e in audit_entries()].count("feedback")
    at = next(b for b in at.button if b.label == "Send feedback").click().run()
    assert "choose one answer" in shown(at.error)
    assert [e.action for e in audit_entries()].count("feedback") == before
    at.radio(key="case_feedback_verdict").set_value("I disagree")
    at = next(b for b in at.button if b.label == "Send feedback").click().run()
    [feedback] = [e for e in audit_entries() if e.action == "feedback"]
    assert feedback.detail()["verdict"] == "I disagree"


def test_estimate_first_hides_the_report_until_the_clinician_skips_and_the_skip_is_recorded(
    monkeypatch,
):
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "on")
    at = open_app()
    assert not at.exception
    assert not at.metric and not at.get("plotly_chart"), "the model's result showed first"
    assert not [e for e in audit_entries() if e.action == "viewed"]
    estimate = at.number_input(key="case_estimate_value")
    assert estimate.value is None  # no preset number to anchor on
    at = next(b for b in at.button if b.label.startswith("Skip")).click().run()
    assert not at.exception and at.metric
    actions = [e.action for e in audit_entries()]
    assert actions.index("own_estimate_skipped") < actions.index("viewed")
    [skipped] = [e for e in audit_entries() if e.action == "own_estimate_skipped"]
    assert (skipped.patient_ref, skipped.actor_id) == ("H-01", "dr.lee")


def test_estimate_first_shows_the_report_after_a_saved_estimate_kept_with_the_feedback(
    monkeypatch,
):
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "on")
    at = open_app()
    save = next(b for b in at.button if b.label.startswith("Save my estimate"))
    at = save.click().run()  # nothing entered: refused, still hidden
    assert "enter a whole number from 0 to 100" in shown(at.error) and not at.metric
    at.number_input(key="case_estimate_value").set_value(30)
    at = next(b for b in at.button if b.label.startswith("Save my estimate")).click().run()
    assert not at.exception and at.metric
    assert "Your estimate before seeing the model: 30 out of 100." in shown(at.caption)
    # The estimate is its own entry, written before the display of the report it precedes.
    actions = [e.action for e in audit_entries()]
    assert actions.index("estimate_recorded") < actions.index("viewed")
    [saved] = [e for e in audit_entries() if e.action == "estimate_recorded"]
    [viewed] = [e for e in audit_entries() if e.action == "viewed"]
    assert saved.detail()["own_estimate_out_of_100"] == 30
    assert saved.detail()["report_id"] == json.loads(viewed.report_json)["report_id"]
    assert (saved.patient_ref, saved.actor_id) == ("H-01", "dr.lee") and not saved.report_json
    at.radio(key="case_feedback_verdict").set_value("I agree")
    at = next(b for b in at.button if b.label == "Send feedback").click().run()
    [feedback] = [e for e in audit_entries() if e.action == "feedback"]
    assert feedback.detail()["own_estimate_out_of_100"] == 30


def test_a_users_own_setting_overrides_the_site_default(monkeypatch):
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "on")
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST_USERS", "dr.lee=off")
    at = open_app()
    assert at.metric, "dr.lee's own setting (off) was not applied"


def test_a_bundle_whose_card_fails_its_checks_shows_a_banner_on_the_case_page_and_preview(
    monkeypatch, tmp_path, heart_bundle
):
    models = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    card_file = models / "heart-disease" / "card.json"
    card = json.loads(card_file.read_text())
    claimed = round(heart_bundle.card.validation.overall.auroc + 0.05, 4)
    card["validation"]["overall"]["auroc"] = claimed
    card_file.write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    # The catalogue is cached per server process (here: per test process).
    st.cache_resource.clear()
    try:
        at = open_app()
        assert not at.exception and at.metric
        banner = "This model's card failed 1 check(s) against its own reference data"
        assert sum(banner in e.value for e in at.error) == 1
        at = at.toggle(key="case_patient_preview").set_value(True).run()
        assert sum(banner in e.value for e in at.error) == 2  # the preview has its own
        at.session_state["case_heart-disease_report_model_problems"] = True
        at = at.run()
        assert f"the card claims {claimed:g}" in shown(at.markdown)
    finally:
        st.cache_resource.clear()


def test_a_wrong_estimate_first_setting_is_named_on_the_page_and_nothing_is_shown(monkeypatch):
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "sometimes")
    at = open_app()
    assert not at.exception
    assert "CASELENS_ESTIMATE_FIRST: expected on or off, got 'sometimes'." in shown(at.error)
    assert not at.metric and not [e for e in audit_entries() if e.action == "viewed"]


def test_the_form_names_the_meaning_of_each_0_1_code(monkeypatch, tmp_path, other_family_bundles):
    # A bring-your-own bundle with 0/1 inputs (the sample bundles have none): sex_male is a
    # category described by the card (0 = Female, 1 = Male), diabetes a stated yes/no, and
    # high_blood_pressure a yes/no read from its "Having …" label.
    bundle = other_family_bundles["calibrated"]
    models = tmp_path / "models"
    shutil.copytree(bundle.path, models / bundle.model_id)
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    st.cache_resource.clear()  # the catalogue is cached per server process
    try:
        at = open_app()
        prefix = f"case_{bundle.model_id}"
        at = at.radio(key=f"{prefix}_source").set_value("Enter values").run()
        assert not at.exception
        sex = at.selectbox(key=f"{prefix}_field_sex_male")
        assert sex.options == ["0 = Female", "1 = Male"]
        assert "0 = Female, 1 = Male." in unliteral(sex.help)
        start = bundle.demo_cases[0].inputs
        assert sex.value == start["sex_male"]  # the form starts from the first demo patient
        diabetes = at.selectbox(key=f"{prefix}_field_diabetes")
        assert diabetes.options == ["0 = No", "1 = Yes"]
        assert at.selectbox(key=f"{prefix}_field_high_blood_pressure").options == [
            "0 = No",
            "1 = Yes",
        ]
        assert not [n for n in at.number_input if n.key.endswith(("_sex_male", "_diabetes"))]
        # The code chosen by its meaning is the value the model gets.
        at.selectbox(key=f"{prefix}_field_sex_male").set_value(1 - start["sex_male"])
        at = at.button[0].click().run()
        assert not at.exception and "Enter the patient reference" in shown(at.info)
        at = at.text_input(key=f"case_patient_ref_{bundle.model_id}_form_").input("MRN-5").run()
        assert not at.exception and at.metric
        [viewed] = [e for e in audit_entries() if (e.action, e.patient_ref) == ("viewed", "MRN-5")]
        inputs = {i["name"]: i for i in json.loads(viewed.report_json)["case"]["inputs"]}
        assert inputs["sex_male"]["value"] == 1 - start["sex_male"]
    finally:
        st.cache_resource.clear()
