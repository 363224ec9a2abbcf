"""The patient's view: plain words, an icon array of 100 people, no raw SHAP numbers.

Every sentence here comes from the report (and so, on replay, from the stored record) or
from the operator's settings: it is shown through :func:`literal`, never as HTML. The large
type of the headline and sentences comes from ``assets/theme.css``, which styles the keyed
containers (``st-key-patient_headline``, ``st-key-patient_text_*``).
"""

from __future__ import annotations

import streamlit as st

from caselens.report import CaseReport
from components.figures import icon_array_figure
from components.text import literal


def _paragraph(key: str, text: str) -> None:
    with st.container(key=key):
        st.markdown(literal(text))


def _bullets(lines) -> str:
    return "\n".join(f"- {literal(line)}" for line in lines)


def render_patient_report(report: CaseReport, *, care_team: str) -> None:
    """The whole patient view of one report."""
    p = report.narrative.patient
    _paragraph("patient_headline", p.headline)
    _paragraph("patient_text_range", f"{p.range_sentence} {p.others_sentence}".strip())
    st.plotly_chart(
        icon_array_figure(p.out_of_100, label_yes="it happens", label_no="it does not happen"),
        key="patient_icon_array",
        config={"displayModeBar": False, "staticPlot": True},
    )
    if p.calibrated:
        st.markdown(
            f"**{p.out_of_100} out of 100** people like you: filled figures  \n"
            f"**{100 - p.out_of_100} out of 100**: open figures"
        )
    else:
        # Not calibrated: the figures show the tool's score, not a count of people.
        st.markdown(
            f"The tool's score, **{p.out_of_100} out of 100**, as filled figures. It has not "
            "been checked against how many people this really happens to."
        )
    st.markdown("### What is linked with your result")
    _paragraph("patient_text_factors", p.factors_sentence)
    st.markdown("### What this does not mean")
    st.markdown(_bullets(p.does_not_mean))
    if p.cautions:
        st.markdown("### Please keep in mind")
        st.markdown(_bullets(p.cautions))
    st.markdown("### Questions to ask your care team")
    st.markdown(_bullets(q.removeprefix("Ask your care team: ") for q in p.questions))
    st.markdown("### How to reach your care team")
    _paragraph("patient_text_care", f"{care_team} {p.care_team}")
    st.caption(f"Reading level of this page: grade {p.reading_grade:.1f}.")
