"""Patient page: the patient's own result, in plain words. Nobody else's, by any route."""

from __future__ import annotations

import streamlit as st

from caselens.cases import validate_inputs
from caselens.errors import CaseLensError
from components.patient_view import render_patient_report
from services import care_team_contact, catalogue, explainer, model_statuses
from session import guard, show_once

viewer = guard("my_result")
# A patient cannot ask for another record through the address bar either.
for name in ("patient", "case", "patient_ref", "case_id"):
    asked = st.query_params.get(name)
    if asked is not None and asked != viewer.patient_ref:
        guard("my_result", "view_patient_summary", patient_ref=asked)
guard("my_result", "view_patient_summary", patient_ref=viewer.patient_ref)

st.title("My result")
bundle = catalogue().bundles.get(viewer.patient_model_id or "")
if bundle is None:
    st.error("Your result is not available right now. Please contact your care team.")
    st.stop()
status = model_statuses().get(bundle.model_id)
if status.suspended:
    st.info(
        "This result is not available right now because the tool is paused for a check. "
        "Your care team can tell you more."
    )
    st.stop()
try:
    demo = bundle.demo_case(viewer.patient_ref or "")
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
except CaseLensError:
    st.error("Your result is not available right now. Please contact your care team.")
    st.stop()

reports = st.session_state.setdefault("my_result_reports", {})
report = reports.get(case.case_id)
if report is None:
    report = explainer(bundle.model_id).explain(case)
    reports[case.case_id] = report
show_once(report, viewer, audience="patient", action="patient_viewed")
render_patient_report(report, care_team=care_team_contact())
