"""Clinician page: choose a model and a patient, optionally record your own estimate first,
then see the recorded report and give feedback."""

from __future__ import annotations

import streamlit as st

from components.case_input import render_case_input
from components.patient_view import render_patient_report
from components.report_view import render_clinician_report
from components.text import literal
from services import care_team_contact, catalogue, explainer, model_statuses
from session import guard, record, show_once

viewer = guard("case")
st.title("Case")
books = catalogue()
for name, reason in books.refused.items():
    st.error(f"Model bundle '{literal(name)}' was refused: {literal(reason)}")
if not books.bundles:
    st.error("No model bundle could be loaded; ask the operator to check CASELENS_MODELS_DIR.")
    st.stop()

names = {b.card.name + f" ({b.model_id} {b.version})": b.model_id for b in books.bundles.values()}
chosen = st.selectbox("Model", list(names), key="case_model")
model_id = names[chosen]
bundle = books.bundles[model_id]
status = model_statuses().get(model_id)
if status.suspended:
    st.error(literal(status.message()), icon=":material/block:")
    st.stop()
st.caption(f"{literal(bundle.card.summary)} Intended use: {literal(bundle.card.intended_use)}")

case = render_case_input(bundle, key_prefix=f"case_{model_id}")
if case is None:
    st.stop()
for flag in case.flags:
    st.warning(literal(flag.message), icon=":material/report:")

# Automation-bias guard: the clinician may commit their own estimate before the model's.
estimates = st.session_state.setdefault("case_estimates", {})
case_key = (model_id, case.case_id, repr(sorted(case.values.items())))
if st.toggle(
    "Record my own estimate first",
    key="case_estimate_first",
    help="Your judgement is captured before the model's is revealed, and kept with your feedback.",
):
    if case_key not in estimates:
        with st.form("case_estimate_form"):
            guess = st.slider(
                f"Your estimate: how many out of 100 patients like this "
                f"({literal(bundle.card.outcome.name.lower())}, "
                f"{literal(bundle.card.outcome.time_window)})?",
                0,
                100,
                20,
                key="case_estimate_value",
            )
            if st.form_submit_button("Save my estimate and show the model's"):
                estimates[case_key] = guess
                st.rerun()
        st.stop()
    st.caption(f"Your estimate before seeing the model: {estimates[case_key]} out of 100.")

report_cache = st.session_state.setdefault("case_reports", {})
report = report_cache.get(case_key)
if report is None:
    with st.spinner("Computing the report…"):
        report = explainer(model_id).explain(case)
    report_cache.clear()
    report_cache[case_key] = report

show_once(report, viewer, audience="clinician")  # fail-closed: recorded before drawn
render_clinician_report(report, key_prefix=f"case_{model_id}_report")

patient = report.narrative.patient
if st.toggle(
    f"Preview what the patient would read (reading grade {patient.reading_grade:.1f}; "
    f"limit {patient.reading_grade_limit:.0f})",
    key="case_patient_preview",
):
    # The preview is a display of the patient view: recorded as such before it is drawn.
    show_once(report, viewer, audience="patient", action="previewed")
    with st.container(border=True):
        render_patient_report(report, care_team=care_team_contact())

st.divider()
st.subheader("Your feedback on this report")
with st.form("case_feedback_form", clear_on_submit=True):
    verdict = st.radio(
        "This report is…",
        ["I agree", "I disagree", "Not useful"],
        horizontal=True,
        key="case_feedback_verdict",
    )
    note = st.text_area("Comment (optional)", max_chars=2000, key="case_feedback_note")
    if st.form_submit_button("Send feedback"):
        detail = {
            "verdict": verdict,
            "comment": note.strip(),
            "report_id": report.report_id,
            "own_estimate_out_of_100": estimates.get(case_key),
        }
        if record("feedback", audience="clinician", report=report, detail=detail):
            st.success("Thank you — your feedback was recorded.")
