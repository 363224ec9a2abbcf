"""The owners' next steps on screen (AppTest, real sample models): beside the threshold on the
clinician's report, only the owners' patient wording on the patient's page, every statement on
Model facts, and "no next steps are stated" for a model whose card states none."""

from __future__ import annotations

import json
import shutil

import pytest
import streamlit as st

from app_helpers import (
    HOSTILE_LINK,
    SHORT_PAYLOAD,
    audit_entries,
    build_hostile_bundle,
    shown,
    signed_in,
)
from caselens.explain.cases import validate_inputs
from caselens.model.next_steps import NO_NEXT_STEPS_TEXT
from caselens.settings import SAMPLE_MODELS_DIR
from components.text import unliteral

pytestmark = pytest.mark.usefixtures("app_env")

CG95 = "https://www.nice.org.uk/guidance/cg95"


def _case(at, model_id: str, case_id: str):
    box = at.selectbox(key="case_model")
    at = box.select(next(o for o in box.options if f"({model_id} " in o)).run()
    demo = at.selectbox(key=f"case_{model_id}_demo")
    return demo.select(next(o for o in demo.options if o.startswith(case_id))).run()


def _recorded_steps() -> dict:
    [entry] = [e for e in audit_entries() if e.action == "viewed"][-1:]
    return json.loads(entry.report_json)["next_steps"]


def test_the_clinician_reads_the_owners_steps_for_the_side_with_sources_and_links(heart_bundle):
    stated = heart_bundle.card.next_steps
    at = _case(signed_in("dr.lee"), "heart-disease", "H-03")  # above the threshold
    assert not at.exception
    text = shown(at.markdown)
    assert "Next steps the model's owners recommend for results at or above the threshold" in text
    for step in stated.at_or_above_threshold:
        assert step.text in text
        assert step.source in text
    assert stated.below_threshold[0].text not in text
    # The link is a link (the https address, nothing else), and whose words these are is said.
    assert f"Open the sources: [steps 1, 2]({CG95})" in [c.value for c in at.caption]
    assert "not written or checked by CaseLens" in shown(at.caption)
    # What was drawn is what was recorded with the display.
    assert [s["text"] for s in _recorded_steps()["steps"]] == [
        s.text for s in stated.at_or_above_threshold
    ]
    at = _case(at, "heart-disease", "H-01")  # below
    text = shown(at.markdown)
    assert stated.below_threshold[0].text in text
    assert stated.at_or_above_threshold[0].text not in text


def test_a_readmission_result_in_a_band_shows_the_bands_steps_too(readmission_bundle):
    [band] = readmission_bundle.card.next_steps.bands
    high = next(
        d
        for d in readmission_bundle.demo_cases
        if readmission_bundle.predict_proba(
            validate_inputs(d.inputs, readmission_bundle.features).to_frame()
        )[0]
        >= band.from_probability
    )
    at = _case(signed_in("dr.lee"), "readmission-30d", high.case_id)
    assert not at.exception
    text = shown(at.markdown)
    assert f"And for results in the band '{band.label}'" in text
    assert band.steps[0].text in text
    assert _recorded_steps()["band"]["label"] == band.label


def test_the_patient_sees_only_the_owners_patient_wording(heart_bundle):
    stated = heart_bundle.card.next_steps
    at = signed_in("pat.h03")  # H-03: above the threshold
    assert not at.exception
    text = shown(at.markdown)
    assert "Next steps the makers of this tool suggest" in text
    for step in stated.at_or_above_threshold:
        assert step.patient_text in text
        assert step.text not in text and step.source not in text
    assert "Open the sources" not in shown(at.caption)


def test_a_patient_whose_model_gives_no_patient_wording_sees_no_such_section():
    at = signed_in("pat.r01")
    assert not at.exception
    text = shown(at.markdown)
    assert "out of 100" in text or "score" in text  # the page is drawn
    assert "Next steps the makers of this tool suggest" not in text
    assert "Name a discharge coordinator" not in text


def test_model_facts_shows_both_statements(heart_bundle):
    at = signed_in("dr.lee")
    at.switch_page("app_pages/model_facts.py").run()
    box = at.selectbox(key="facts_model")
    at = box.select(next(o for o in box.options if "heart" in o.lower())).run()
    assert not at.exception
    assert "What can change, and the owners' next steps" in [h.value for h in at.subheader]
    text = shown(at.markdown)
    features = heart_bundle.features
    assert (
        f"| {features['resting_bp'].label} | only down | not below 110 "
        f"{features['resting_bp'].unit} | 1 |" in text
    )
    sugar = features["fasting_glucose_high"].label
    assert f"| {sugar} | to the listed categories | to No |" in text
    assert f"- {features['age'].label}: Age cannot be changed." in text
    stated = heart_bundle.card.next_steps
    assert stated.below_threshold[0].text in text
    assert stated.below_threshold[0].patient_text in text


def test_a_model_without_statements_says_none_are_stated_everywhere(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    card = json.loads((folder / "card.json").read_text())
    del card["next_steps"], card["changeable_inputs"]
    (folder / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(folder.parent))
    st.cache_resource.clear()  # the catalogue is cached per process
    try:
        at = _case(signed_in("dr.lee"), "heart-disease", "H-03")
        assert not at.exception
        assert NO_NEXT_STEPS_TEXT in shown(at.caption)
        [entry] = [e for e in audit_entries() if e.action == "viewed"][-1:]
        assert "next_steps" not in json.loads(entry.report_json)
        at.switch_page("app_pages/model_facts.py").run()
        text = shown(at.markdown)
        assert NO_NEXT_STEPS_TEXT in text
        assert "Not stated. This model's owners have not stated" in text
    finally:
        st.cache_resource.clear()


def test_a_hostile_step_is_shown_as_text_and_its_link_cannot_leave_its_address(
    tmp_path, monkeypatch
):
    models = tmp_path / "models"
    models.mkdir()
    build_hostile_bundle(models)
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    st.cache_resource.clear()
    try:
        at = _case(signed_in("dr.lee"), "heart-disease", "H-03")
        assert not at.exception
        steps = [m.value for m in at.markdown if "Next steps the model" in m.value]
        assert steps and SHORT_PAYLOAD in unliteral(steps[0])
        assert "](" not in steps[0]  # the owners' text holds no link
        [links] = [c.value for c in at.caption if c.value.startswith("Open the sources")]
        address = links.split("](", 1)[1].removesuffix(")")
        # Every character that could end the address or start markup is percent-encoded.
        assert not set(address) & set("()[]<> ") and "%3Cscript%3E" in address
        assert address.startswith("https://example.org/a%29")
        assert len(HOSTILE_LINK) < len(address)
    finally:
        st.cache_resource.clear()


def _render_steps(report_json: str) -> None:
    import streamlit as st  # noqa: F401  (AppTest runs this function as a script)

    from caselens.explain import CaseReport
    from components.next_steps import render_report_next_steps

    render_report_next_steps(CaseReport.from_json(report_json), key="steps")


def test_a_what_if_near_the_threshold_says_whose_values_and_that_the_side_is_uncertain(
    heart_bundle,
):
    from streamlit.testing.v1 import AppTest

    from caselens.explain.cases import ChangedValue, Hypothetical
    from caselens.explain.report import explainer_for

    demo = heart_bundle.demo_case("H-03")
    report = explainer_for(heart_bundle).explain(
        validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id="H-03")
    )
    hypothetical = Hypothetical(
        kind="what_if",
        parent_report_id=report.report_id,
        changes=(
            ChangedValue(
                name="cholesterol",
                label="Serum cholesterol",
                from_value=300,
                from_text="300 mg/dL",
                to_value=200,
                to_text="200 mg/dL",
            ),
        ),
    )
    changed = report.model_copy(
        update={
            "case": report.case.model_copy(update={"hypothetical": hypothetical}),
            "confidence": report.confidence.model_copy(update={"near_threshold": True}),
        }
    )
    at = AppTest.from_function(_render_steps, args=(changed.to_json(),)).run()
    assert not at.exception
    notes = shown(at.caption)
    assert "What if — not this patient's recorded values: the steps for the changed values." in (
        notes
    )
    assert "near the threshold: which side's steps apply is uncertain" in notes
    # The plain report says neither.
    at = AppTest.from_function(_render_steps, args=(report.to_json(),)).run()
    assert "What if" not in shown(at.caption) and "near the threshold" not in shown(at.caption)
