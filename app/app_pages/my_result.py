"""Patient page: the patient's own result, in plain words. Nobody else's, by any route."""

from __future__ import annotations

import streamlit as st

from components.patient_view import render_patient_report
from services import care_team_contact
from session import guard, run, workflow

guard("my_result")
# A patient cannot ask for another record through the address bar either: every reference
# asked for is checked (and a refusal recorded) by the workflow.
asked = tuple(
    str(st.query_params[name])
    for name in ("patient", "case", "patient_ref", "case_id")
    if name in st.query_params
)
report = run(workflow().show_my_result, asked_refs=asked, gentle=True)
st.title("My result")
render_patient_report(report, care_team=care_team_contact())
