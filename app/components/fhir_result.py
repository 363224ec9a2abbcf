"""The result back to the record: "Download as FHIR (RiskAssessment)", and sending it.

Two steps, as every export: the click asks the door for the file (checked and recorded
before it is built), and only then is the recorded file offered for download. When a FHIR
server is configured a second button sends it; the answer (where it was filed, or why it
was not) is shown as the door recorded it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from components.private_download import private_download
from components.text import literal

#: What the download button says (the words the task and the docs use).
DOWNLOAD_LABEL = "Download as FHIR (RiskAssessment)"


def render_fhir_result(
    prepare: Callable[[], Any],
    send: Callable[[], Any] | None,
    *,
    key: str,
    server: str | None = None,
    about: str = "This result",
) -> None:
    """The FHIR buttons of one displayed result.

    Parameters
    ----------
    prepare : callable
        Returns the door's ``ExportFile`` (``Workflow.risk_assessment``), recorded first.
    send : callable or None
        Returns the door's ``FhirSent``; None when no FHIR server is configured.
    key : str
        Widget key prefix, unique on the page.
    server : str, optional
        The server's address, named on the send button.
    about : str
        Which result, in words ("This result", "The result shown in entry #12").
    """
    st.caption(
        f"{about} as a FHIR R4 RiskAssessment with its Provenance and the model's card "
        "(HL7 AI Transparency on FHIR), for the patient's record. Preparing or sending it is "
        "recorded in the audit trail."
    )
    left, right = st.columns(2)
    with left:
        if st.button(DOWNLOAD_LABEL, key=f"{key}_fhir_prepare", icon=":material/download:"):
            st.session_state[f"{key}_fhir_file"] = prepare()
        prepared = st.session_state.pop(f"{key}_fhir_file", None)
        if prepared is not None:
            private_download(
                f"Save {prepared.file_name} (recorded as entry #{prepared.seq})",
                prepared.data,
                file_name=prepared.file_name,
                mime=prepared.mime,
                key=f"{key}_fhir_download",
            )
    with right:
        if send is not None and st.button(
            f"Send to the FHIR server ({server})" if server else "Send to the FHIR server",
            key=f"{key}_fhir_send",
            icon=":material/send:",
        ):
            sent = send()
            if sent.ok:
                st.success(literal(sent.message), icon=":material/check_circle:")
            else:
                st.error(literal(sent.message), icon=":material/error:")
