"""The patient's view: plain words, an icon array of 100 people, no raw SHAP numbers."""

from __future__ import annotations

import streamlit as st

from caselens.report import CaseReport
from components.figures import icon_array_figure


def render_patient_report(report: CaseReport, *, care_team: str) -> None:
    """The whole patient view of one report."""
    p = report.narrative.patient
    st.markdown(f'<p class="cl-patient-headline">{p.headline}</p>', unsafe_allow_html=True)
    st.markdown(
        f'<p class="cl-patient-text">{p.range_sentence} {p.others_sentence}</p>',
        unsafe_allow_html=True,
    )
    st.plotly_chart(
        icon_array_figure(p.out_of_100, label_yes="it happens", label_no="it does not happen"),
        key="patient_icon_array",
        config={"displayModeBar": False, "staticPlot": True},
    )
    st.markdown(
        f"**{p.out_of_100} out of 100** people like you: filled figures  \n"
        f"**{100 - p.out_of_100} out of 100**: open figures"
    )
    st.markdown("### What is linked with your result")
    st.markdown(f'<p class="cl-patient-text">{p.factors_sentence}</p>', unsafe_allow_html=True)
    st.markdown("### What this does not mean")
    st.markdown("\n".join(f"- {line}" for line in p.does_not_mean))
    if p.cautions:
        st.markdown("### Please keep in mind")
        st.markdown("\n".join(f"- {line}" for line in p.cautions))
    st.markdown("### Questions to ask your care team")
    st.markdown("\n".join(f"- {q.removeprefix('Ask your care team: ')}" for q in p.questions))
    st.markdown("### How to reach your care team")
    st.markdown(f'<p class="cl-patient-text">{care_team} {p.care_team}</p>', unsafe_allow_html=True)
    st.caption(f"Reading level of this page: grade {p.reading_grade:.1f}.")
