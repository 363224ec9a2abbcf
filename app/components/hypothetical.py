"""The label of a hypothetical report (a what-if or counterfactual), drawn first wherever the
report is: the Case page, the reviewer's replay, any export view.

Everything printed comes from the report's own ``case.hypothetical`` (recorded with it), so
a replay reads exactly what the clinician read."""

from __future__ import annotations

import streamlit as st

from caselens.explain import CaseReport
from components.text import code, literal


def changes_text(report: CaseReport) -> str:
    """'Resting blood pressure from 108 mm Hg to 210 mm Hg; …' (Markdown-safe)."""
    hypothetical = report.case.hypothetical
    if hypothetical is None:
        return ""
    return "; ".join(
        f"{literal(c.label)} from {literal(c.from_text)} to {literal(c.to_text)}"
        for c in hypothetical.changes
    )


def render_hypothetical_label(report: CaseReport) -> None:
    """The banner of a hypothetical report: its label, the report and entry it was derived
    from and what changed. Draws nothing for the patient's recorded values."""
    hypothetical = report.case.hypothetical
    if hypothetical is None:
        return
    parent = (
        f"entry #{hypothetical.parent_entry}"
        if hypothetical.parent_entry is not None
        else "its entry is not named"
    )
    st.warning(
        f"**{literal(hypothetical.label)}**  \n"
        f"Derived from report {code(hypothetical.parent_report_id[:12])} ({parent}) by "
        f"changing {changes_text(report)}. The model's answer for these values, not a "
        "result of this patient.",
        icon=":material/science:",
    )
