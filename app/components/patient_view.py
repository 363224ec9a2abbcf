"""The patient's view: plain words in the patient's language, an icon array of 100 people with
its text alternative, no raw SHAP numbers.

Every sentence here comes from the report (and so, on replay, from the stored record), from
the curated catalogue of the report's patient language, or from the operator's settings: it
is shown through :func:`literal`, never as HTML. The large type of the headline and sentences
comes from ``assets/theme.css``, which styles the keyed containers (``st-key-patient_headline``,
``st-key-patient_text_*``). The reading measure is for staff: it is drawn only in the
clinician's preview, never on the patient's own page.
"""

from __future__ import annotations

import streamlit as st

from caselens.explain import CaseReport, catalogue
from components.figures import icon_array_figure
from components.text import literal


def _paragraph(key: str, text: str) -> None:
    with st.container(key=key):
        st.markdown(literal(text))


def _list(key: str, lines) -> None:
    """A bulleted list in a keyed container (the theme gives it the patient's large type)."""
    with st.container(key=key):
        st.markdown("\n".join(f"- {literal(line)}" for line in lines))


def care_team_sentence(language: str, contact: str | None, *, demo: bool) -> str:
    """How to reach the care team, in the patient's language. In demo mode it says plainly
    that the contact is a demonstration one (or that there is no real care team)."""
    say = catalogue(language)
    if contact is None:
        # Only reachable in demo mode: outside it the page refuses to open without a contact.
        return say("This is a demonstration. There is no real care team to contact.")
    if demo:
        return f"{contact} {say('This is a demonstration contact, not a real care team.')}"
    return contact


def render_patient_report(
    report: CaseReport,
    *,
    care_team: str | None,
    demo: bool = False,
    preview: bool = False,
    title: bool = False,
) -> None:
    """The whole patient view of one report, in the report's patient language.

    ``care_team``: the operator's contact (None only in demo mode); ``preview``: drawn for a
    clinician, so the reading measure is shown; ``title``: draw the page title too."""
    p = report.narrative.patient
    say = catalogue(p.language)
    if title:
        st.title(say("My result"))
    if not p.available:
        # No patient texts in this language: say so in it, and nothing in another language.
        _paragraph("patient_headline", p.headline)
        _paragraph(
            "patient_text_care",
            f"{p.care_team} {care_team_sentence(p.language, care_team, demo=demo)}",
        )
        if preview:
            _reading_caption(report)
        return
    _paragraph("patient_headline", p.headline)
    _paragraph("patient_text_range", f"{p.range_sentence} {p.others_sentence}".strip())
    st.plotly_chart(
        icon_array_figure(
            p.out_of_100,
            label_yes=say("it happens") if p.calibrated else say("tool's score"),
            label_no=say("it does not happen") if p.calibrated else say("rest of 100"),
        ),
        key="patient_icon_array",
        config={"displayModeBar": False, "staticPlot": True},
    )
    # The picture's text alternative, in words (reports recorded before it: the counts).
    picture = p.picture_text or say(
        "Picture of 100 figures. Filled in: {count}. Open: {rest}.",
        count=p.out_of_100,
        rest=100 - p.out_of_100,
    )
    _paragraph("patient_text_picture", picture)
    st.markdown("## " + literal(say("What is linked with your result")))
    _paragraph("patient_text_factors", p.factors_sentence)
    st.markdown("## " + literal(say("What this does not mean")))
    _list("patient_text_does_not_mean", p.does_not_mean)
    if p.cautions:
        st.markdown("## " + literal(say("Please keep in mind")))
        _list("patient_text_cautions", p.cautions)
    if p.next_steps is not None:
        # Only the owners' patient wording (never the clinician's steps); none: no section.
        st.markdown("## " + literal(p.next_steps.heading))
        _list("patient_text_next_steps", p.next_steps.steps)
        _paragraph("patient_text_next_steps_note", p.next_steps.note)
    st.markdown("## " + literal(say("Questions to ask your care team")))
    _list("patient_text_questions", [q.removeprefix("Ask your care team: ") for q in p.questions])
    st.markdown("## " + literal(say("How to reach your care team")))
    _paragraph(
        "patient_text_care",
        f"{p.care_team} {care_team_sentence(p.language, care_team, demo=demo)}",
    )
    if preview:
        _reading_caption(report)


def _reading_caption(report: CaseReport) -> None:
    """For the clinician only: how hard the patient text is to read, by the language's own
    measure (English reports recorded before per-language measures: their grade)."""
    p = report.narrative.patient
    if p.reading is not None:
        st.caption(literal(f"Reading level of this page ({p.language}): {p.reading.describe()}."))
    elif p.reading_grade is not None:
        st.caption(f"Reading level of this page: grade {p.reading_grade:.1f}.")
