"""Safety reviewer page: filter the trail, replay any display exactly, re-run it, verify the
whole chain, export FHIR AuditEvents or CSV."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from caselens.audit import default_key_file, load_key, to_bundle, to_csv
from caselens.errors import CaseLensError
from caselens.replay import replay_entry, rerun_entry
from components.patient_view import render_patient_report
from components.report_view import render_clinician_report
from services import audit_store, care_team_contact, catalogue
from session import guard, record

viewer = guard("audit_trail")
guard("audit_trail", "view_audit_trail")
st.title("Audit trail")
store = audit_store()

with st.expander("Filter", expanded=True):
    cols = st.columns(3)
    since = cols[0].date_input("From (UTC)", value=None, key="audit_since")
    until = cols[1].date_input("To (UTC, inclusive)", value=None, key="audit_until")
    action = cols[2].text_input("Action (e.g. viewed)", key="audit_action").strip() or None
    cols = st.columns(4)
    actor = cols[0].text_input("User id", key="audit_actor").strip() or None
    role = (
        cols[1].selectbox(
            "Role",
            ["", "clinician", "patient", "reviewer", "admin", "system", "anonymous"],
            key="audit_role",
        )
        or None
    )
    patient = cols[2].text_input("Patient", key="audit_patient").strip() or None
    model = cols[3].text_input("Model id", key="audit_model").strip() or None

filters = {
    "since": dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
    "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
    if until
    else None,
    "actor_id": actor,
    "role": role,
    "patient_ref": patient,
    "model_id": model,
    "action": action,
}
entries = store.entries(**filters)
st.caption(f"{len(entries)} entries match.")
table = pd.DataFrame(
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
        for e in reversed(entries)
    ]
)
st.dataframe(table, hide_index=True, key="audit_table")

left, right = st.columns(2)
with left:
    if st.button("Verify the whole trail", key="audit_verify", type="primary"):
        guard("audit_trail", "verify_trail")
        result = store.verify()
        if result.ok:
            st.success(f"Intact: {result.count} entries verified, head {result.head_hash}.")
        else:
            broken = result.broken
            st.error(f"Broken at entry {broken.seq}: {broken.reason}. {broken}")
        record("verified", audience="reviewer", detail={"ok": result.ok, "count": result.count})
with right:
    pseudonymise = st.checkbox(
        "Pseudonymise patient ids in exports", value=True, key="audit_pseudonymise"
    )
    key = load_key(default_key_file()) if pseudonymise else None

    def _exported(kind: str) -> None:
        record(
            "exported",
            audience="reviewer",
            detail={
                "format": kind,
                "entries": len(entries),
                "pseudonymised": pseudonymise,
                "filters": {k: str(v) for k, v in filters.items() if v},
            },
        )

    st.download_button(
        "Export as FHIR R4 AuditEvent Bundle",
        json.dumps(to_bundle(entries, pseudonymise_key=key), indent=1),
        file_name="caselens-audit.fhir.json",
        mime="application/fhir+json",
        on_click=_exported,
        args=("fhir",),
        key="audit_export_fhir",
    )
    st.download_button(
        "Export as CSV",
        to_csv(entries, pseudonymise_key=key),
        file_name="caselens-audit.csv",
        mime="text/csv",
        on_click=_exported,
        args=("csv",),
        key="audit_export_csv",
    )

st.divider()
displays = [e for e in entries if e.report_json]
if not displays:
    st.info("No displayed report matches the filter.")
    st.stop()
options = {
    f"#{e.seq} · {e.recorded_at} · {e.actor_name} ({e.actor_role}) · {e.action} · "
    f"{e.patient_ref or ''}": e.seq
    for e in reversed(displays)
}
chosen = st.selectbox("Open a displayed report to replay it", list(options), key="audit_open")
guard("audit_trail", "replay_entry")
entry = store.get(options[chosen])
try:
    replay = replay_entry(entry)
except CaseLensError as exc:
    st.error(str(exc))
    st.stop()
replayed = st.session_state.setdefault("audit_replayed", set())
if entry.seq not in replayed:
    if not record(
        "replayed",
        audience="reviewer",
        report=replay.report,
        detail={"seq": entry.seq, "entry_hash": entry.entry_hash},
    ):
        st.stop()
    replayed.add(entry.seq)
st.subheader(replay.heading)
st.caption(f"Entry #{entry.seq}, hash {entry.entry_hash}")
if st.button("Re-run with the same model version and compare", key="audit_rerun"):
    with st.spinner("Recomputing…"):
        rerun = rerun_entry(entry, catalogue().bundles.values())
    # Fail-closed: a re-run result is shown only once its record is in the trail.
    if not record(
        "rerun",
        audience="reviewer",
        report=replay.report,
        detail={"seq": entry.seq, **rerun.record_detail()},
    ):
        st.stop()
    if rerun.comparison is None:
        st.warning(rerun.message)
    elif rerun.comparison.outcome == "identical":
        st.success(rerun.message, icon=":material/check_circle:")
    elif rerun.comparison.outcome == "within_tolerance":
        st.success(rerun.message, icon=":material/check_circle:")
        st.caption(
            "Another processor or maths library can change the last digits of a "
            "computed number. Differences this small do not change anything shown."
        )
    else:
        st.error(rerun.message, icon=":material/error:")
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
    if entry.audience == "patient":
        render_patient_report(replay.report, care_team=care_team_contact())
    else:
        render_clinician_report(replay.report, key_prefix=f"audit_{entry.seq}")
