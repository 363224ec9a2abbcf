"""Safety reviewer page: filter the trail a page at a time, replay any display exactly (after
verifying its entry), re-run it, verify the whole chain, export FHIR AuditEvents or CSV."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from caselens.workflow import AUDIT_PAGE_SIZE
from components.patient_view import render_patient_report
from components.report_view import render_clinician_report
from components.text import literal
from services import care_team_contact, demo_mode
from session import guard, run, workflow

guard("audit_trail")
st.title("Audit trail")

with st.expander("Filter", expanded=True):
    cols = st.columns(3)
    since = cols[0].date_input("From (UTC)", value=None, key="audit_since")
    until = cols[1].date_input("To (UTC, inclusive)", value=None, key="audit_until")
    action = cols[2].text_input("Action (e.g. viewed)", key="audit_action", max_chars=64)
    cols = st.columns(4)
    actor = cols[0].text_input("User id", key="audit_actor", max_chars=200)
    role = cols[1].selectbox(
        "Role",
        ["", "clinician", "patient", "reviewer", "admin", "system", "anonymous"],
        key="audit_role",
    )
    patient = cols[2].text_input("Patient", key="audit_patient", max_chars=64)
    model = cols[3].text_input("Model id", key="audit_model", max_chars=100)

filters = {
    "since": dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
    "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
    if until
    else None,
    "actor_id": actor.strip() or None,
    "role": role or None,
    "patient_ref": patient.strip() or None,
    "model_id": model.strip() or None,
    "action": action.strip() or None,
}
# Keyset paging: a stack of "older than" cursors, reset whenever the filter changes.
filter_key = repr(sorted((k, str(v)) for k, v in filters.items()))
if st.session_state.get("audit_filter_key") != filter_key:
    st.session_state["audit_filter_key"] = filter_key
    st.session_state["audit_cursors"] = [None]
cursors: list[int | None] = st.session_state["audit_cursors"]
page = run(workflow().audit_page, filters=filters, before_seq=cursors[-1])
shown_from = (len(cursors) - 1) * AUDIT_PAGE_SIZE
st.caption(
    f"{page.total} entries match; page {len(cursors)} shows entries "
    f"{shown_from + 1 if page.entries else 0}–{shown_from + len(page.entries)}, newest first."
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Seq": e.seq,
                "Recorded (UTC)": e.recorded_at,
                "User": e.actor_name,
                "Role": e.actor_role,
                "Audience": e.audience,
                "Action": e.action,
                "Patient": e.patient_ref or "",
                "Model": f"{e.model_id or ''} {e.model_version or ''}".strip(),
                "Entry hash": e.entry_hash[:16] + "…",
            }
            for e in page.entries
        ]
    ),
    hide_index=True,
    key="audit_table",
)
newer, older = st.columns(2)
if newer.button("Newer", key="audit_newer", disabled=len(cursors) == 1):
    cursors.pop()
    st.rerun()
if older.button("Older", key="audit_older", disabled=page.next_before_seq is None):
    cursors.append(page.next_before_seq)
    st.rerun()

left, right = st.columns(2)
with left:
    if st.button("Verify the whole trail", key="audit_verify", type="primary"):
        result = run(workflow().verify_trail)
        if result.ok:
            st.success(f"Intact: {result.count} entries verified, head {result.head_hash}.")
        else:
            st.error(f"Broken at entry {result.broken.seq}: {literal(result.broken)}")
with right:
    pseudonymise = st.checkbox(
        "Pseudonymise patient ids in exports", value=True, key="audit_pseudonymise"
    )
    # Two steps: the export is recorded, then built, and only then offered for download.
    fmt = st.radio(
        "Export format",
        ["fhir", "csv"],
        horizontal=True,
        key="audit_export_format",
        format_func={"fhir": "FHIR R4 AuditEvent Bundle", "csv": "CSV"}.get,
    )
    if st.button("Prepare the export", key="audit_export_prepare"):
        st.session_state["audit_export"] = run(
            workflow().export_trail, fmt, filters=filters, pseudonymise=pseudonymise
        )
    prepared = st.session_state.pop("audit_export", None)
    if prepared is not None:
        st.download_button(
            f"Download {prepared.file_name} ({prepared.entries} entries; recorded)",
            prepared.data,
            file_name=prepared.file_name,
            mime=prepared.mime,
            key="audit_export_download",
            on_click="ignore",
        )

st.divider()
displays = [e for e in page.entries if e.report_json]
if not displays:
    st.info("No displayed report on this page of the trail.")
    st.stop()
options = {
    f"#{e.seq} · {e.recorded_at} · {e.actor_name} ({e.actor_role}) · {e.action} · "
    f"{e.patient_ref or ''}": e.seq
    for e in displays
}
chosen = st.selectbox("Open a displayed report to replay it", list(options), key="audit_open")
seq = options[chosen]
# Verified (hash, signature, links) and recorded before anything of it is drawn.
replay = run(workflow().replay, seq)
st.subheader(literal(replay.heading))
st.caption(f"Entry #{seq}, hash {replay.entry.entry_hash}; verified before it was drawn.")
if st.button("Re-run with the same model version and compare", key="audit_rerun"):
    with st.spinner("Recomputing…"):
        rerun = run(workflow().rerun, seq)  # the outcome is recorded before it returns
    if rerun.comparison is None:
        st.warning(literal(rerun.message))
    elif rerun.comparison.outcome == "identical":
        st.success(literal(rerun.message), icon=":material/check_circle:")
    elif rerun.comparison.outcome == "within_tolerance":
        st.success(literal(rerun.message), icon=":material/check_circle:")
        st.caption(
            "Another processor or maths library can change the last digits of a "
            "computed number. Differences this small do not change anything shown."
        )
    else:
        st.error(literal(rerun.message), icon=":material/error:")
        st.dataframe(
            pd.DataFrame(
                [
                    {"Field": d.path, "As shown": str(d.stored), "Now": str(d.fresh)}
                    for d in rerun.comparison.differences
                ]
            ),
            hide_index=True,
            key="audit_diff",
        )
with st.container(border=True):
    if replay.entry.audience == "patient":
        render_patient_report(
            replay.report,
            care_team=care_team_contact(replay.report.narrative.patient.language),
            demo=demo_mode(),
        )
    else:
        render_clinician_report(replay.report, key_prefix=f"audit_{seq}")
