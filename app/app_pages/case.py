"""Clinician page: choose a model and a patient, confirm the patient reference, optionally
record your own estimate first, then see the recorded report and give feedback."""

from __future__ import annotations

import streamlit as st

from caselens.patient_language import LANGUAGES
from components.case_input import render_case_input
from components.patient_view import render_patient_report
from components.report_view import render_clinician_report
from components.text import literal
from services import care_team_contact, demo_mode
from session import guard, run, workflow

guard("case")
st.title("Case")
books = workflow().catalogue
for name, reason in books.refused.items():
    st.error(f"Model bundle '{literal(name)}' was refused: {literal(reason)}")
if not books.bundles:
    st.error("No model bundle could be loaded; ask the operator to check CASELENS_MODELS_DIR.")
    st.stop()

names = {b.card.name + f" ({b.model_id} {b.version})": b.model_id for b in books.bundles.values()}
chosen = st.selectbox("Model", list(names), key="case_model")
model_id = names[chosen]
bundle = books.bundles[model_id]
status = workflow().model_status(model_id)
if status.suspended:
    st.error(literal(status.message()), icon=":material/block:")
    st.stop()
st.caption(f"{literal(bundle.card.summary)} Intended use: {literal(bundle.card.intended_use)}")

case = render_case_input(bundle, key_prefix=f"case_{model_id}")
if case is None:
    st.stop()
for flag in case.flags:
    st.warning(literal(flag.message), icon=":material/report:")

# The patient reference is what the audit entry is filed under: required, and never taken
# silently from a file (it is shown here for the clinician to confirm or correct).
patient_ref = st.text_input(
    "Patient reference (MRN or encounter number)",
    value=case.case_id or "",
    max_chars=64,
    key=f"case_patient_ref_{model_id}_{case.source}_{case.case_id or ''}",
    help="Required. The display is recorded in the audit trail under this reference.",
)
if case.source in {"csv", "json"} and case.case_id:
    st.caption(f"Taken from the file: {literal(case.case_id)}. Check it is this patient.")
if not patient_ref.strip():
    st.info("Enter the patient reference to see the report.")
    st.stop()

# Automation-bias guard: the clinician may commit their own estimate before the model's.
if st.toggle(
    "Record my own estimate first",
    key="case_estimate_first",
    help="Your judgement is captured before the model's is revealed, and kept with your feedback.",
):
    estimate = run(workflow().own_estimate, model_id, case)
    if estimate is None:
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
                run(workflow().save_own_estimate, model_id, case, guess)
                st.rerun()
        st.stop()
    st.caption(f"Your estimate before seeing the model: {estimate} out of 100.")

with st.spinner("Computing the report…"):
    # Checked, recorded, then returned: nothing below draws an unrecorded report.
    report = run(workflow().show_report, model_id, case, patient_ref=patient_ref)
render_clinician_report(report, key_prefix=f"case_{model_id}_report")

if st.toggle("Preview what the patient would read", key="case_patient_preview"):
    language = st.selectbox(
        "The patient's language",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="case_patient_preview_language",
    )
    preview = run(workflow().preview_patient_view, report, language=language)
    with st.container(border=True):
        render_patient_report(
            preview, care_team=care_team_contact(language), demo=demo_mode(), preview=True
        )

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
        run(
            workflow().give_feedback,
            report,
            verdict=verdict,
            comment=note,
            own_estimate_out_of_100=run(workflow().own_estimate, model_id, case),
        )
        st.success("Thank you — your feedback was recorded.")
