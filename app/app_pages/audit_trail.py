"""Safety reviewer page: find any display by entry number or report id, filter the trail by
chosen action, model and role a page at a time, click a row to open its verified replay,
re-run it, verify the whole chain, export FHIR AuditEvents or CSV, build a signed evidence
pack for an outside auditor, and check whether an exported report file someone hands over
is genuine.

Nothing is replayed (or recorded as replayed) until the reviewer asks: by clicking a row,
by a search, or by the address ``/audit_trail?entry=123``. The open entry lives in that
address, so it can be shared with another reviewer, who passes the same access check.
Verdicts (re-run, verification) stay on screen until the reviewer leaves the page.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib

import pandas as pd
import streamlit as st

from caselens.errors import CaseLensError
from caselens.workflow import AUDIT_PAGE_SIZE, COUNTERFACTUALS_VIEWED, action_name
from components.counterfactual import render_counterfactual_replay
from components.fhir_result import render_fhir_result
from components.patient_view import care_team_sentence, render_patient_report
from components.private_download import private_download
from components.report_download import render_report_download
from components.report_view import render_clinician_report, render_model_banner
from components.text import literal
from components.what_if import render_what_if_replay
from services import care_team_contact, demo_mode
from session import guard, run, user_session, workflow

#: Longest entry number an address may carry (the trail's sequence is a 64-bit integer).
MAX_ENTRY_DIGITS = 18

guard("audit_trail")
st.title("Audit trail")
choices = run(workflow().audit_choices)


def _open(seq: int) -> None:
    """Make ``seq`` the open entry: it is in the address from now on."""
    st.query_params["entry"] = str(seq)


def _entry_in_address() -> int | None:
    """The entry the address asks for (``?entry=123``), or None; a malformed one is said."""
    raw = st.query_params.get("entry")
    if raw is None or raw == "":
        return None
    text = str(raw).strip().lstrip("#")
    if text.isascii() and text.isdigit() and len(text) <= MAX_ENTRY_DIGITS and int(text) > 0:
        return int(text)
    shown = str(raw)[:40]
    st.error(
        f"The address asks for entry '{literal(shown)}': an entry number is a whole number "
        "from 1, e.g. /audit_trail?entry=123."
    )
    return None


# -- find ----------------------------------------------------------------------------------
with st.form("audit_find_form", border=False):
    cols = st.columns([4, 1], vertical_alignment="bottom")
    typed = cols[0].text_input(
        "Find a display: entry number or report id",
        key="audit_find",
        max_chars=80,
        placeholder="e.g. 123 or the report id printed under a report (8+ characters)",
    )
    find = cols[1].form_submit_button("Find", type="primary", use_container_width=True)
if find:
    try:
        match = workflow().find_in_trail(user_session(), typed)
    except CaseLensError as exc:  # said under the box; the rest of the page stays usable
        st.error(literal(exc), icon=":material/search_off:")
        st.session_state.pop("audit_match", None)
    else:
        st.session_state["audit_match"] = match
        _open(match.seqs[0])
match = st.session_state.get("audit_match")
if match is not None and match.kind == "report" and len(match.seqs) > 1:
    picked = st.radio(
        f"{len(match.seqs)} displays of report {literal(match.query)}…, newest first",
        match.seqs,
        format_func=lambda s: f"entry #{s}",
        horizontal=True,
        key=f"audit_match_{match.query}",
    )
    if picked != _entry_in_address():
        _open(picked)

# -- filter ---------------------------------------------------------------------------------
with st.expander("Filter", expanded=True):
    cols = st.columns(3)
    since = cols[0].date_input("From (UTC)", value=None, key="audit_since")
    until = cols[1].date_input("To (UTC, inclusive)", value=None, key="audit_until")
    action = cols[2].selectbox(
        "Action",
        ["", *choices.actions],
        key="audit_action",
        format_func=lambda a: action_name(a) if a else "Any action",
    )
    cols = st.columns(4)
    role = cols[0].selectbox(
        "Role", ["", *choices.roles], key="audit_role", format_func=lambda r: r or "Any role"
    )
    model = cols[1].selectbox(
        "Model", ["", *choices.models], key="audit_model", format_func=lambda m: m or "Any model"
    )
    actor = cols[2].text_input("User id", key="audit_actor", max_chars=200)
    patient = cols[3].text_input("Patient", key="audit_patient", max_chars=64)

filters = {
    "since": dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
    "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
    if until
    else None,
    "actor_id": actor.strip() or None,
    "role": role or None,
    "patient_ref": patient.strip() or None,
    "model_id": model or None,
    "action": action or None,
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
    f"{page.total} {'entry matches' if page.total == 1 else 'entries match'}; "
    f"page {len(cursors)} shows entries "
    f"{shown_from + 1 if page.entries else 0}–{shown_from + len(page.entries)}, newest first. "
    "Click a row to open it."
)
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
            "Replay": "report"
            if e.report_json
            else ("counterfactuals" if e.action == COUNTERFACTUALS_VIEWED else ""),
            "Entry hash": e.entry_hash[:16] + "…",
        }
        for e in page.entries
    ],
    columns=[
        "Seq",
        "Recorded (UTC)",
        "User",
        "Role",
        "Audience",
        "Action",
        "Patient",
        "Model",
        "Replay",
        "Entry hash",
    ],
)
# The table's key changes with the filter and the page, so a row picked on one page is
# not taken for the row at the same place on the next.
table_key = f"audit_table_{zlib.crc32(filter_key.encode()):08x}_{cursors[-1]}"
event = st.dataframe(
    table,
    hide_index=True,
    key=table_key,
    on_select="rerun",
    selection_mode="single-row",
    alt="Audit trail entries, newest first",
)
rows = list(event.selection.rows) if event is not None else []
if rows and rows[0] < len(table):
    picked_seq = int(table.iloc[rows[0]]["Seq"])
    if st.session_state.get("audit_picked") != (table_key, picked_seq):
        st.session_state["audit_picked"] = (table_key, picked_seq)
        st.session_state.pop("audit_match", None)
        _open(picked_seq)
newer, older = st.columns(2)
if newer.button("Newer", key="audit_newer", disabled=len(cursors) == 1):
    cursors.pop()
    st.rerun()
if older.button("Older", key="audit_older", disabled=page.next_before_seq is None):
    cursors.append(page.next_before_seq)
    st.rerun()

# -- verify and export -----------------------------------------------------------------------
left, right = st.columns(2)
with left:
    if st.button("Verify the whole trail", key="audit_verify", type="primary"):
        checked_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        st.session_state["audit_verification"] = (run(workflow().verify_trail), checked_at)
    verification = st.session_state.get("audit_verification")
    if verification is not None:  # stays on screen until the reviewer verifies again
        result, checked_at = verification
        if result.ok:
            counted = "1 entry" if result.count == 1 else f"{result.count} entries"
            st.success(
                f"Intact: {counted} verified, head {result.head_hash} "
                f"(checked {checked_at} UTC; entries recorded since are not covered)."
            )
        elif result.broken is not None:
            st.error(
                f"Broken at entry {result.broken.seq}: {literal(result.broken)} "
                f"(checked {checked_at} UTC)."
            )
        else:
            st.error(
                f"Not confirmed: the chain of {result.count} entries holds, but it could not "
                f"be compared with its witness. {literal(result.witness_problem)} "
                f"(checked {checked_at} UTC)."
            )
        if result.witness:  # the comparison with the witness, in words
            st.caption(literal(result.witness))
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
        private_download(
            f"Download {prepared.file_name} ({prepared.entries} entries; recorded)",
            prepared.data,
            file_name=prepared.file_name,
            mime=prepared.mime,
            key="audit_export_download",
        )

# -- evidence pack ------------------------------------------------------------------------
#: Days the evidence pack's range covers by default (this week, today included).
EVIDENCE_DEFAULT_DAYS = 7
with st.expander("Evidence pack for an outside auditor"):
    st.caption(
        "A zip of every entry recorded on the chosen days (UTC), the checkpoints that cover "
        "them, this server's public keys and the model cards, with a manifest signed by this "
        "server's key. The auditor checks it offline with 'caselens audit verify-pack' or "
        "openssl and sha256sum (docs/evidence-pack.md). The export is recorded first."
    )
    today = dt.datetime.now(dt.UTC).date()
    cols = st.columns(2)
    first_day = cols[0].date_input(
        "First day (UTC)",
        value=today - dt.timedelta(days=EVIDENCE_DEFAULT_DAYS - 1),
        max_value=today,
        key="evidence_from",
    )
    last_day = cols[1].date_input("Last day (UTC)", value=today, key="evidence_to")
    if st.button("Build the evidence pack", key="evidence_build"):
        if first_day is None or last_day is None:
            st.error("Choose a first and a last day for the evidence pack.")
        else:
            st.session_state["evidence_pack"] = run(
                workflow().export_evidence_pack, first_day, last_day
            )
    pack = st.session_state.pop("evidence_pack", None)
    if pack is not None:
        counted = "1 entry" if pack.entries == 1 else f"{pack.entries} entries"
        st.success(
            f"Evidence pack of {counted} ({pack.detail['from']} to "
            f"{pack.detail['to']}) recorded as entry #{pack.seq}; SHA-256 "
            f"{pack.detail['pack_sha256']}; signed by key {pack.detail['signing_key_id']}."
        )
        private_download(
            f"Download {pack.file_name}",
            pack.data,
            file_name=pack.file_name,
            mime=pack.mime,
            key="evidence_download",
        )


# -- is this report file genuine? ----------------------------------------------------------
with st.expander("Verify a report file", icon=":material/verified:"):
    st.caption(
        "An exported case report (HTML or PDF) someone handed you: is it genuine and equal to "
        "a display in this trail, or was it altered, or does it come from elsewhere? The file "
        "is read, never opened or shown; the check is recorded."
    )
    upload = st.file_uploader(
        "Report file (.html or .pdf)", type=["html", "pdf"], key="audit_report_file"
    )
    if upload is not None:
        # Checked (and recorded) once per uploaded file, not again on every click.
        verdicts = st.session_state.setdefault("audit_report_verdicts", {})
        if upload.file_id not in verdicts:
            verdicts[upload.file_id] = run(
                workflow().verify_report_file, upload.getvalue(), file_name=upload.name
            )
        verdict = verdicts[upload.file_id]
        name = literal(upload.name[:80])
        if verdict.genuine:
            st.success(f"{name}: {literal(verdict.sentence)}", icon=":material/verified:")
        else:
            st.error(f"{name}: {literal(verdict.sentence)}", icon=":material/gpp_bad:")
        st.caption(f"File SHA-256 {verdict.file_sha256}; this check is in the trail.")

# -- the open entry ------------------------------------------------------------------------
st.divider()
seq = _entry_in_address()
if seq is None:
    st.info(
        "No entry is open. Click a row above, or find one by its entry number or report "
        "id, to open its verified replay. Nothing is replayed until you ask."
    )
    st.stop()

entry = run(workflow().audit_entry, seq)  # verified (hash, signature, links) first
if entry.action == COUNTERFACTUALS_VIEWED:  # drawn from its recorded detail, as shown
    render_counterfactual_replay(
        run(workflow().replay_counterfactuals, seq),
        lambda: run(workflow().rerun_counterfactuals, seq),
        key=f"audit_{seq}_counterfactual",
        reruns=st.session_state.setdefault("audit_counterfactual_reruns", {}),
        open_entry=_open,
    )
    st.stop()
if not entry.report_json:
    st.header(f"Entry #{seq}: {literal(entry.action)}")
    st.caption(
        f"{literal(entry.recorded_at)} UTC · {literal(entry.actor_name)} "
        f"({literal(entry.actor_role)}) · hash {entry.entry_hash}; verified. "
        "This entry displayed no report, so there is nothing to replay."
    )
    # st.code shows the recorded details as text: never Markdown, never HTML.
    st.code(json.dumps(entry.detail(), indent=1, ensure_ascii=False), language="json")
    st.stop()

# Verified (hash, signature, links) and recorded before anything of it is drawn.
replay = run(workflow().replay, seq)
st.header(literal(replay.heading))
st.caption(f"Entry #{seq}, hash {replay.entry.entry_hash}; verified before it was drawn.")
reruns: dict[int, object] = st.session_state.setdefault("audit_reruns", {})
if st.button("Re-run with the same model version and compare", key="audit_rerun"):
    with st.spinner("Recomputing…"):
        reruns[seq] = run(workflow().rerun, seq)  # the outcome is recorded before it returns
rerun = reruns.get(seq)
if rerun is not None:  # the verdict stays with its entry until the reviewer leaves the page
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
            alt="Fields that differ between the stored and the re-run report",
        )
# A what-if: its parent entry and the comparison with it (both verified and recorded).
render_what_if_replay(
    replay.report,
    lambda: workflow().replay_what_if(user_session(), seq),
    open_entry=_open,
    key=f"audit_{seq}",
)
# The same banner as on the Case page when the card of the model version behind this report
# fails its checks now (a card altered since, or one that always failed).
problems = run(workflow().replayed_model_warnings, replay.report)
if problems is None:
    st.caption(
        "The model version that produced this report is not loaded, so its card cannot be "
        "checked now."
    )
with st.container(border=True):
    render_model_banner(problems or (), key=f"audit_{seq}_model_problems")
    if replay.entry.audience == "patient":
        render_patient_report(
            replay.report,
            care_team=care_team_contact(replay.report.narrative.patient.language),
            demo=demo_mode(),
        )
    else:
        render_clinician_report(replay.report, key_prefix=f"audit_{seq}")
# The replayed display as a file (for an incident review), recorded before it is built.
replayed_language = replay.report.narrative.patient.language
render_report_download(
    lambda fmt, audience, paper: run(
        workflow().export_report,
        seq,
        audience=audience,
        file_format=fmt,
        page_size=paper,
        care_team=care_team_sentence(
            replayed_language, care_team_contact(replayed_language), demo=demo_mode()
        ),
    ),
    key=f"audit_{seq}",
    audiences=("patient",)
    if replay.entry.audience == "patient"
    else ("clinician",)
    if replay.report.case.hypothetical
    else ("clinician", "patient"),
    about=f"The report shown in entry #{seq}",
)
if replay.entry.action == "viewed":  # a result shown to a clinician: it can go to the record
    fhir_server = workflow().fhir_server
    render_fhir_result(
        lambda: run(workflow().risk_assessment, seq),
        None if fhir_server is None else lambda: run(workflow().send_risk_assessment, seq),
        key=f"audit_{seq}",
        server=None if fhir_server is None else fhir_server.base_url,
        about=f"The result shown in entry #{seq}",
    )
