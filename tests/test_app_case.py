"""The clinician Case page, headless (streamlit.testing AppTest), on the real sample models."""

from __future__ import annotations

import json

import pytest

from app_helpers import audit_entries, shown, signed_in, unliteral
from caselens.cases import validate_inputs
from caselens.display import NOT_RECORDED_MESSAGE
from caselens.report import CaseExplainer

pytestmark = pytest.mark.usefixtures("app_env")


def open_app():
    return signed_in("dr.lee")


def _pick_model(at, model_id: str):
    box = at.selectbox(key="case_model")
    label = next(o for o in box.options if f"({model_id} " in o)
    return box.select(label).run()


def test_case_page_opens_and_shows_the_calibrated_probability_of_a_demo_case(heart_bundle):
    at = open_app()
    assert not at.exception
    at = _pick_model(at, "heart-disease")
    demo = at.selectbox(key="case_heart-disease_demo")
    at = demo.select(demo.options[2]).run()  # H-03, high risk
    assert not at.exception
    case = validate_inputs(
        heart_bundle.demo_case("H-03").inputs, heart_bundle.features, source="demo", case_id="H-03"
    )
    expected = CaseExplainer(heart_bundle).explain(case)
    assert at.metric[0].value == f"{100 * expected.probability:.1f}%"
    assert at.metric[2].value == "50%"  # the decision threshold beside it
    assert any("base rate" in m.value.lower() for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 4  # probability, SHAP, LIME, reliability


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
    demo = at.selectbox(key="case_heart-disease_demo")
    label = next(o for o in demo.options if o.startswith("H-09"))
    at = demo.select(label).run()
    text = shown(at.warning) + " " + shown(at.info)
    case = validate_inputs(
        heart_bundle.demo_case("H-09").inputs, heart_bundle.features, source="demo", case_id="H-09"
    )
    report = CaseExplainer(heart_bundle).explain(case)
    for lim in report.limitations:
        assert lim.code in text
    assert report.narrative.clinician_summary in text


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
    # On first view: probability, interval, threshold, limitations, SHAP and LIME with
    # their reliability figures, the reliability of a probability like this one.
    labels = [unliteral(m.label) for m in at.metric]
    assert labels[0].startswith("Calibrated probability (sigmoid) of")
    assert labels[1].startswith("Probability interval") and labels[2] == "Decision threshold"
    assert len(at.get("plotly_chart")) == 4  # probability, SHAP, LIME, reliability
    subheaders = [s.value for s in at.subheader]
    assert "When not to trust this result" in subheaders
    assert "How reliable is a probability like this?" in subheaders
    captions = shown(at.caption)
    assert "Additivity error" in captions and "Local fidelity R²" in captions
    # The secondary tables and the provenance are built only when opened.
    labels = [e.label for e in at.expander]
    assert "The numbers behind the charts" in labels
    assert "Provenance: model, seeds, versions, timings" in labels
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
