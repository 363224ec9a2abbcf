"""The patient's view: plain words, an icon array of 100 people, no raw SHAP numbers."""

from __future__ import annotations

import streamlit as st

from caselens.report import CaseReport

_PERSON = ('<svg viewBox="0 0 20 40" width="18" height="36" role="img" aria-hidden="true">'
           '<circle cx="10" cy="6" r="5" fill="{fill}" stroke="#1b2733" stroke-width="1"/>'
           '<rect x="4" y="13" width="12" height="25" rx="4" fill="{fill}" stroke="#1b2733" '
           'stroke-width="1"/></svg>')


def icon_array_html(count: int, *, label_yes: str, label_no: str) -> str:
    """A 10 × 10 array of person icons: ``count`` filled (dark) and the rest open (white).

    Filled versus open is a difference of shape and contrast, not of colour alone.
    """
    cells = [_PERSON.format(fill="#D55E00" if i < count else "#ffffff") for i in range(100)]
    rows = "".join(f'<div class="cl-icon-row">{"".join(cells[r * 10:(r + 1) * 10])}</div>'
                   for r in range(10))
    return (f'<figure class="cl-icon-array" aria-label="{count} out of 100 people {label_yes}">'
            f"{rows}<figcaption>"
            f'<span class="cl-key cl-yes"></span> {count} out of 100 {label_yes}<br>'
            f'<span class="cl-key cl-no"></span> {100 - count} out of 100 {label_no}'
            "</figcaption></figure>")


def render_patient_report(report: CaseReport, *, care_team: str) -> None:
    """The whole patient view of one report."""
    p = report.narrative.patient
    st.markdown(f'<p class="cl-patient-headline">{p.headline}</p>', unsafe_allow_html=True)
    st.markdown(f'<p class="cl-patient-text">{p.range_sentence} {p.others_sentence}</p>',
                unsafe_allow_html=True)
    st.html(icon_array_html(p.out_of_100, label_yes="people like you: it happens",
                            label_no="people like you: it does not happen"))
    st.markdown("### What is linked with your result")
    st.markdown(f'<p class="cl-patient-text">{p.factors_sentence}</p>',
                unsafe_allow_html=True)
    st.markdown("### What this does not mean")
    st.markdown("\n".join(f"- {line}" for line in p.does_not_mean))
    if p.cautions:
        st.markdown("### Please keep in mind")
        st.markdown("\n".join(f"- {line}" for line in p.cautions))
    st.markdown("### Questions to ask your care team")
    st.markdown("\n".join(f"- {q.removeprefix('Ask your care team: ')}" for q in p.questions))
    st.markdown("### How to reach your care team")
    st.markdown(f'<p class="cl-patient-text">{care_team} {p.care_team}</p>',
                unsafe_allow_html=True)
    st.caption(f"Reading level of this page: grade {p.reading_grade:.1f}.")
