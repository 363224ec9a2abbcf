"""'Download report (HTML)' and '(PDF)': one displayed report as a file to hand over.

Two steps, as every export: the click asks the door for the file (checked and recorded
before it is built), and only then is the recorded file offered, through a private download
that exists only for this session's click.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from components.private_download import private_download

#: The button words, per format (the words the docs use).
DOWNLOAD_LABELS = {"html": "Download report (HTML)", "pdf": "Download report (PDF)"}
#: What a patient reads in this box, as message ids of the patient catalogue (their
#: account's language; caselens.explain.patient_language).
PATIENT_CAPTION = "Your result as a file to print or keep. Making the file is recorded."
PATIENT_DOWNLOAD_LABELS = {
    "html": "Download your result (HTML)",
    "pdf": "Download your result (PDF)",
}
PATIENT_PAPER = "Paper"
PATIENT_LETTER = "Letter"
PATIENT_SAVE = "Save {file_name}"
#: The files' audiences, in a staff member's words.
AUDIENCE_WORDS = {
    "clinician": "Clinician's report (everything on this screen)",
    "patient": "Patient's summary (plain words, large type)",
}


def render_report_download(
    prepare: Callable[[str, str, str], Any],
    *,
    key: str,
    audiences: tuple[str, ...],
    about: str = "This report",
    say: Callable[..., str] | None = None,
) -> None:
    """The download buttons of one displayed report.

    Parameters
    ----------
    prepare : callable
        ``(file_format, audience, page_size) -> ExportFile`` (``Workflow.export_report``),
        recorded before it is built.
    key : str
        Widget key prefix, unique on the page.
    audiences : tuple of str
        The files this viewer may take ("clinician", "patient"); the first is preselected.
    about : str
        Which report, in words.
    say : callable, optional
        The patient catalogue of the viewer's language (``catalogue(language)``): the box is
        then worded for the patient, in their language, never in staff words.
    """
    with st.container(border=True, key=f"{key}_report_export"):
        st.caption(
            say(PATIENT_CAPTION)
            if say is not None
            else f"{about} as a file to print or hand over: self-contained, with the audit "
            "entry, the report id and the model on every page. Preparing it is recorded in "
            "the audit trail."
        )
        choose, paper = st.columns([2, 1])
        audience = audiences[0]
        if len(audiences) > 1:
            audience = choose.radio(
                "File for",
                audiences,
                format_func=AUDIENCE_WORDS.__getitem__,
                horizontal=True,
                key=f"{key}_export_audience",
            )
        # With no choice of audience, the paper choice takes the first column.
        page_size = (paper if len(audiences) > 1 else choose).radio(
            "Paper" if say is None else say(PATIENT_PAPER),
            ("A4", "Letter"),
            format_func=lambda size: size if say is None or size == "A4" else say(PATIENT_LETTER),
            horizontal=True,
            key=f"{key}_export_paper",
        )
        buttons = st.columns(2)
        for column, file_format in zip(buttons, ("html", "pdf"), strict=True):
            with column:
                if st.button(
                    DOWNLOAD_LABELS[file_format]
                    if say is None
                    else say(PATIENT_DOWNLOAD_LABELS[file_format]),
                    key=f"{key}_export_{file_format}",
                    icon=":material/download:",
                ):
                    st.session_state[f"{key}_export_file"] = prepare(
                        file_format, audience, page_size
                    )
        prepared = st.session_state.pop(f"{key}_export_file", None)
        if prepared is not None:
            private_download(
                f"Save {prepared.file_name} (recorded as entry #{prepared.seq})"
                if say is None
                else say(PATIENT_SAVE, file_name=prepared.file_name),
                prepared.data,
                file_name=prepared.file_name,
                mime=prepared.mime,
                key=f"{key}_export_download",
            )
