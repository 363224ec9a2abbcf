"""Clinician page: choose a model and a patient, see the recorded report."""

from __future__ import annotations

import streamlit as st

from caselens.audit import AuditError
from caselens.display import NOT_RECORDED_MESSAGE, record_display
from components.case_input import render_case_input
from components.report_view import render_clinician_report
from services import audit_store, catalogue, explainer

st.title("Case")
books = catalogue()
for name, reason in books.refused.items():
    st.error(f"Model bundle '{name}' was refused: {reason}")
if not books.bundles:
    st.error("No model bundle could be loaded; ask the operator to check CASELENS_MODELS_DIR.")
    st.stop()

names = {b.card.name + f" ({b.model_id} {b.version})": b.model_id
         for b in books.bundles.values()}
chosen = st.selectbox("Model", list(names), key="case_model")
model_id = names[chosen]
bundle = books.bundles[model_id]
card = bundle.card
st.caption(f"{card.summary} Intended use: {card.intended_use}")

case = render_case_input(bundle, key_prefix=f"case_{model_id}")
if case is None:
    st.stop()

report_key = ("case_report", model_id, repr(sorted(case.values.items())), case.case_id)
report = st.session_state.get("case_last_report", {}).get(report_key)
if report is None:
    with st.spinner("Computing the report…"):
        report = explainer(model_id).explain(case)

# Fail-closed: the display is recorded before anything of the report is drawn.
recorded = st.session_state.setdefault("case_recorded", set())
if report.report_id + model_id not in recorded:
    try:
        record_display(audit_store(), report, st.session_state["viewer"], audience="clinician",
                       session_id=st.session_state["session_id"])
    except (AuditError, OSError):
        st.error(NOT_RECORDED_MESSAGE, icon="⛔")
        st.stop()
    recorded.add(report.report_id + model_id)
st.session_state["case_last_report"] = {report_key: report}

for flag in case.flags:
    st.warning(flag.message, icon="🔶")
render_clinician_report(report, key_prefix=f"case_{model_id}_report")
