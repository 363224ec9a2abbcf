"""Patient page: the patient's own result, in plain words and their account's language.
Nobody else's, by any route."""

from __future__ import annotations

import streamlit as st

from caselens.explain import catalogue
from components.patient_view import care_team_sentence, render_patient_report
from components.report_download import render_report_download
from components.text import literal
from services import care_team_contact, demo_mode, patient_pages_refused
from session import guard, run, workflow

guard("my_result")
refusal = patient_pages_refused()
if refusal is not None:
    # Outside demo mode a patient page without a real way to reach the care team is not
    # shown at all (nothing is computed or recorded).
    st.error(literal(refusal), icon=":material/block:")
    st.stop()
# A patient cannot ask for another record through the address bar either: every reference
# asked for is checked (and a refusal recorded) by the workflow.
asked = tuple(
    str(st.query_params[name])
    for name in ("patient", "case", "patient_ref", "case_id")
    if name in st.query_params
)
report = run(workflow().show_my_result, asked_refs=asked, gentle=True)
language = report.narrative.patient.language
render_patient_report(report, care_team=care_team_contact(language), demo=demo_mode(), title=True)
render_report_download(
    lambda fmt, audience, paper: run(
        workflow().export_report,
        report,
        audience=audience,
        file_format=fmt,
        page_size=paper,
        care_team=care_team_sentence(language, care_team_contact(language), demo=demo_mode()),
    ),
    key="my_result",
    audiences=("patient",),
    say=catalogue(language),
)
