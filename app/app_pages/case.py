"""Clinician page: choose a model and a patient, record your own estimate first (or skip it,
recorded) when estimate-first is on, then see the recorded report — its result card first —
and give feedback (no answer preset)."""

from __future__ import annotations

import streamlit as st

from caselens.explain import LANGUAGES
from caselens.workflow import FEEDBACK_VERDICTS
from components.case_input import render_case_input
from components.fhir_result import render_fhir_result
from components.patient_view import care_team_sentence, render_patient_report
from components.report_download import render_report_download
from components.report_view import render_clinician_report, render_model_banner
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
# One compact row — model, case source, patient, patient reference — so that the answer
# starts high on the screen; the model's summary and intended use are one click away.
model_column, source_column, patient_column, ref_column = st.columns([1.2, 1.1, 1.3, 1])
chosen = model_column.selectbox("Model", list(names), key="case_model")
model_id = names[chosen]
bundle = books.bundles[model_id]
status = workflow().model_status(model_id)
if status.suspended:
    st.error(literal(status.message()), icon=":material/block:")
    st.stop()
with model_column.popover("About this model", icon=":material/info:"):
    st.caption(f"{literal(bundle.card.summary)} Intended use: {literal(bundle.card.intended_use)}")
problems = run(workflow().model_warnings, model_id)

case = render_case_input(bundle, key_prefix=f"case_{model_id}", row=(source_column, patient_column))
if case is None:
    render_model_banner(problems, key=f"case_{model_id}_problems_early")
    st.stop()
# The patient reference is what the audit entry is filed under: required, and never taken
# silently from a file (it is shown here for the clinician to confirm or correct).
with ref_column:
    patient_ref = st.text_input(
        "Patient reference (MRN or encounter number)",
        value=case.case_id or "",
        max_chars=64,
        key=f"case_patient_ref_{model_id}_{case.source}_{case.case_id or ''}",
        help="Required. The display is recorded in the audit trail under this reference.",
    )
    if case.source in {"csv", "json"} and case.case_id:
        st.caption(f"Taken from the file: {literal(case.case_id)}. Check it is this patient.")
    if case.source == "fhir" and case.record_sources and case.record_sources.patient_id:
        st.caption(
            f"The record's patient id is {literal(case.record_sources.patient_id)}; the "
            "reference is what you enter here."
        )
if not patient_ref.strip():
    st.info("Enter the patient reference to see the report.")
    st.stop()

# Automation-bias guard: with estimate-first on (the default for clinicians), the model's
# result stays hidden until the clinician saves their own estimate or skips it (recorded).
estimate_first = run(workflow().estimate_first)
wants_estimate = estimate_first or st.toggle(
    "Record my own estimate first",
    key="case_estimate_first",
    help="Your judgement is recorded before the model's is revealed, and kept with your feedback.",
)
if wants_estimate and run(workflow().awaiting_own_estimate, model_id, case):
    with st.form("case_estimate_form", border=True):
        st.markdown("**Your estimate first**, before the model's result is shown.")
        guess = st.number_input(
            f"How many out of 100 patients like this "
            f"({literal(bundle.card.outcome.name.lower())}, "
            f"{literal(bundle.card.outcome.time_window)})?",
            min_value=0,
            max_value=100,
            step=1,
            value=None,  # no preset: a preset number would be an anchor of its own
            placeholder="0 to 100",
            key="case_estimate_value",
        )
        save, skip = st.columns([1, 1])
        saved = save.form_submit_button("Save my estimate and show the result", type="primary")
        skipped = estimate_first and skip.form_submit_button(
            "Skip: show the result without my estimate"
        )
    if saved:
        if guess is None:
            st.error("Your estimate: enter a whole number from 0 to 100, or skip.")
            st.stop()
        with st.spinner("Recording your estimate…"):
            # Its own audit entry, written before the model's number can be drawn.
            run(workflow().save_own_estimate, model_id, case, int(guess), patient_ref=patient_ref)
        st.rerun()
    if skipped:
        run(workflow().skip_own_estimate, model_id, case, patient_ref=patient_ref)
        st.rerun()
    st.caption(
        "Estimate-first is on for you (a site setting): your estimate is recorded in the "
        "audit trail before the model's number is shown, so it is not anchored by it, and "
        "kept with your feedback. Skipping is recorded too."
        if estimate_first
        else "Your estimate is recorded before the model's number is shown, and kept with "
        "your feedback."
    )
    render_model_banner(problems, key=f"case_{model_id}_problems_estimate")
    for flag in case.flags:
        st.warning(literal(flag.message), icon=":material/report:")
    st.stop()

with st.spinner("Computing the report…"):
    # Checked, recorded, then returned: nothing below draws an unrecorded report.
    report = run(workflow().show_report, model_id, case, patient_ref=patient_ref)


def _open_model_facts() -> None:
    """The card's Model facts button: that page, on this model."""
    st.session_state["facts_model"] = bundle.card.name
    st.session_state["case_go_to_facts"] = True


if st.session_state.pop("case_go_to_facts", False):
    st.switch_page("app_pages/model_facts.py")
render_clinician_report(
    report,
    key_prefix=f"case_{model_id}_report",
    on_model_facts=_open_model_facts,
    model_problems=problems,
    case_notes=tuple(flag.message for flag in case.flags),
)
estimate = run(workflow().own_estimate, model_id, case)
if estimate is not None:
    st.caption(f"Your estimate before seeing the model: {estimate} out of 100.")

fhir_server = workflow().fhir_server
render_fhir_result(
    lambda: run(workflow().risk_assessment, report),
    None if fhir_server is None else lambda: run(workflow().send_risk_assessment, report),
    key=f"case_{model_id}",
    server=None if fhir_server is None else fhir_server.base_url,
)
patient_language = report.narrative.patient.language
render_report_download(
    lambda fmt, audience, paper: run(
        workflow().export_report,
        report,
        audience=audience,
        file_format=fmt,
        page_size=paper,
        care_team=care_team_sentence(
            patient_language, care_team_contact(patient_language), demo=demo_mode()
        ),
    ),
    key=f"case_{model_id}",
    audiences=("clinician",) if report.case.hypothetical else ("clinician", "patient"),
)

if st.toggle("Preview what the patient would read", key="case_patient_preview"):
    language = st.selectbox(
        "The patient's language",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="case_patient_preview_language",
    )
    preview = run(workflow().preview_patient_view, report, language=language)
    with st.container(border=True):
        render_model_banner(problems, key=f"case_{model_id}_problems_preview")
        render_patient_report(
            preview, care_team=care_team_contact(language), demo=demo_mode(), preview=True
        )

st.divider()
st.header("Your feedback on this report")
with st.form("case_feedback_form", clear_on_submit=True):
    verdict = st.radio(
        "This report is…",
        list(FEEDBACK_VERDICTS),
        index=None,  # no preset answer: agreeing must be a choice, not a default
        horizontal=True,
        key="case_feedback_verdict",
    )
    note = st.text_area("Comment (optional)", max_chars=2000, key="case_feedback_note")
    sent = st.form_submit_button("Send feedback")
if sent:
    if verdict is None:
        st.error("Feedback: choose one answer (" + ", ".join(FEEDBACK_VERDICTS) + ") first.")
    else:
        run(
            workflow().give_feedback,
            report,
            verdict=verdict,
            comment=note,
            own_estimate_out_of_100=estimate,
        )
        st.success("Thank you — your feedback was recorded.")
