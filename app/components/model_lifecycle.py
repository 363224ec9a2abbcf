"""A model's versions and approvals on Model status: the live version and its approval, the
warning when it ends within 30 days, the versions on record, and — for model owners and
administrators — the forms that register, shadow, approve and retire a version.

Every act goes through one door method (checked, recorded, then done); a refusal shows the
door's words. Nothing here nudges an approval: the scope box starts unticked, the expiry
date starts empty, no version is preselected.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import streamlit as st

from components.text import literal
from session import run, workflow

if TYPE_CHECKING:
    from caselens.workflow.model_approvals import LifecycleView

#: How a version's state reads on the page.
STATE_WORDS = {
    "live": "Live",
    "shadow": "In shadow (scored beside the live version, never shown)",
    "candidate": "Candidate",
    "retired": "Retired",
}


def _named(card_version: str, sha: str) -> str:
    return f"version {card_version} ({sha[:12]})"


def render_expiry_banner(approvals: list[Any]) -> None:
    """One warning listing the approvals that end within 30 days (none: nothing drawn)."""
    if not approvals:
        return
    today = dt.datetime.now(dt.UTC).date()
    lines = []
    for a in approvals:
        last_day = (a.expires_at - dt.timedelta(seconds=1)).date()
        days = (last_day - today).days
        when = "today" if days <= 0 else f"in {days} day{'s' if days != 1 else ''}"
        lines.append(
            f"- {literal(a.model_id)} {literal(a.bundle_sha256[:12])}: approved by "
            f"{literal(a.approved_by)} until {last_day:%Y-%m-%d} ({when})"
        )
    st.warning(
        "Approvals ending within 30 days. When an approval ends without renewal, the model "
        "shows no prediction anywhere. A renewal cites monitoring evidence newer than the "
        "last approval.\n\n" + "\n".join(lines),
        icon=":material/event_busy:",
    )


def render_live_standing(view: LifecycleView) -> None:
    """The live version, its approval (who, until when) or why there is no prediction."""
    standing = view.standing
    if standing.live is not None:
        live = standing.live
        st.markdown(
            f"**Live version:** {literal(_named(live.card_version, live.bundle_sha256))}, "
            f"registered by {literal(live.registered_by)}"
        )
    approval = standing.approval
    if approval is not None:
        last_day = (approval.expires_at - dt.timedelta(seconds=1)).date()
        entry = f", audit entry {approval.audit_seq}" if approval.audit_seq else ""
        st.markdown(
            f"**Approved** by {literal(approval.approved_by)} ({literal(approval.approver_role)}) "
            f"on {approval.approved_at:%Y-%m-%d} **until {last_day:%Y-%m-%d}** "
            f"(approval {literal(approval.approval_id)}{literal(entry)})"
        )
        st.caption(
            f"Scope: {literal(approval.intended_use)} Population: {literal(approval.population)}"
        )
        if standing.expires_soon:
            days = (last_day - dt.datetime.now(dt.UTC).date()).days
            when = "today" if days <= 0 else f"in {days} day{'s' if days != 1 else ''}"
            st.warning(
                f"This approval ends {when} ({last_day:%Y-%m-%d}). Unless it is renewed with "
                "monitoring evidence newer than this approval, the model then shows no "
                "prediction anywhere.",
                icon=":material/event_busy:",
            )
    elif not standing.may_predict:
        st.error(literal(standing.message), icon=":material/block:")
    if standing.shadow is not None:
        shadow = standing.shadow
        st.info(
            f"In shadow: {literal(_named(shadow.card_version, shadow.bundle_sha256))}, "
            "scored beside the live version on every case and never shown.",
            icon=":material/visibility_off:",
        )


def render_versions(view: LifecycleView) -> None:
    """Every registered version (the change log) and the loaded ones not yet registered."""
    rows = [
        {
            "Version": v.card_version,
            "SHA-256": v.bundle_sha256[:12],
            "State": STATE_WORDS.get(v.state, v.state),
            "Registered by": v.registered_by,
            "Registered (UTC)": f"{v.registered_at:%Y-%m-%d %H:%M}",
            "Reason for the change": v.change_reason,
        }
        for v in view.versions
    ]
    unregistered = [lv for lv in view.loaded if lv.registered is None]
    rows += [
        {
            "Version": lv.card_version,
            "SHA-256": lv.bundle_sha256[:12],
            "State": "Loaded, not registered",
            "Registered by": "",
            "Registered (UTC)": "",
            "Reason for the change": "",
        }
        for lv in unregistered
    ]
    if rows:
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            key=f"lifecycle_{view.model_id}_versions",
            alt=f"Versions of {view.model_name}: state, who registered each, and why",
        )


def render_version_forms(view: LifecycleView, *, key_prefix: str) -> None:
    """The forms of the acts this viewer may take (none drawn for a reviewer)."""
    may = {
        action: run(workflow().may, action)
        for action in (
            "register_model_version",
            "set_model_shadow",
            "approve_model_version",
            "retire_model_version",
        )
    }
    labels = [
        ("Register", "register_model_version"),
        ("Shadow", "set_model_shadow"),
        ("Approve", "approve_model_version"),
        ("Retire", "retire_model_version"),
    ]
    shown = [(label, action) for label, action in labels if may[action]]
    if not shown:
        return
    tabs = st.tabs([label for label, _ in shown])
    for tab, (label, _) in zip(tabs, shown, strict=True):
        with tab:
            {
                "Register": _register_form,
                "Shadow": _shadow_form,
                "Approve": _approve_form,
                "Retire": _retire_form,
            }[label](view, f"{key_prefix}_{label.lower()}")


def _choice(
    view: LifecycleView, versions: list[Any], key: str, label: str = "Version"
) -> str | None:
    """A version chosen by a person (none preselected); returns its SHA-256."""
    options = {_named(v.card_version, v.bundle_sha256): v.bundle_sha256 for v in versions}
    picked = st.selectbox(
        label,
        list(options),
        index=None,
        placeholder="Choose a version",
        key=f"{key}_version",
    )
    return None if picked is None else options[picked]


def _register_form(view: LifecycleView, key: str) -> None:
    loaded = [lv for lv in view.loaded if lv.registered is None]
    if not loaded:
        st.caption("Every version loaded on this server is registered.")
        return
    with st.form(key):
        sha = _choice(view, loaded, key, "Loaded version to register")
        reason = st.text_area(
            "Reason for the change (recorded, shown in the change log)",
            key=f"{key}_reason",
            max_chars=2000,
        )
        if st.form_submit_button("Register version"):
            if sha is None:
                st.error("Version: choose the loaded version to register.")
                return
            run(workflow().register_version, view.model_id, sha, reason)
            st.rerun()


def _shadow_form(view: LifecycleView, key: str) -> None:
    shadow = view.standing.shadow
    if shadow is not None:
        st.markdown(f"{literal(_named(shadow.card_version, shadow.bundle_sha256))} runs in shadow.")
        if st.button("Stop the shadow run", key=f"{key}_stop"):
            run(workflow().set_shadow, view.model_id, shadow.bundle_sha256, False)
            st.rerun()
        return
    candidates = [v for v in view.versions if v.state == "candidate"]
    if not candidates:
        st.caption("No registered candidate to run in shadow.")
        return
    with st.form(key):
        sha = _choice(view, candidates, key, "Candidate to run in shadow")
        if st.form_submit_button("Start the shadow run"):
            if sha is None:
                st.error("Version: choose the candidate to run in shadow.")
                return
            run(workflow().set_shadow, view.model_id, sha, True)
            st.rerun()


def _approve_form(view: LifecycleView, key: str) -> None:
    approvable = [v for v in view.versions if v.state != "retired"]
    if not approvable:
        st.caption("No registered version to approve: a model owner registers one first.")
        return
    # Outside the form, so the scope of the version chosen is shown before anything is ticked.
    sha = _choice(view, approvable, key, "Version to approve")
    loaded = {lv.bundle_sha256: lv for lv in view.loaded}
    chosen = loaded.get(sha or "")
    if sha is not None and chosen is None:
        st.error("This version is not loaded on this server, so its card cannot be shown.")
        return
    if chosen is not None:
        st.markdown("**Scope, as the version's card states it**")
        st.markdown(f"Intended use: {literal(chosen.intended_use)}")
        st.markdown(f"Population (validation data): {literal(chosen.population)}")
    with st.form(key):
        expires_on = st.date_input(
            "Approved until (the last day it holds, at most 730 days ahead)",
            value=None,
            key=f"{key}_until",
        )
        entries = st.text_input(
            "Evidence: audit entry numbers, separated by commas (a monitoring view or "
            "governance report; a shadow comparison for a promotion)",
            key=f"{key}_evidence",
        )
        st.caption("The version's validation figures, measured on its reference data, are added.")
        confirmed = st.checkbox(
            "I confirm the approval covers this intended use and population",
            value=False,
            key=f"{key}_scope",
        )
        if st.form_submit_button("Approve version"):
            if sha is None:
                st.error("Version: choose the version to approve.")
                return
            numbers = _entry_numbers(entries)
            if numbers is None:
                return
            run(
                workflow().approve_version,
                view.model_id,
                sha,
                expires_on=expires_on,
                evidence_entries=numbers,
                scope_confirmed=confirmed,
            )
            st.rerun()


def _entry_numbers(text: str) -> list[int] | None:
    """The entry numbers typed, or None (with the words shown) when one is not a number."""
    numbers = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        if not part.lstrip("#").isdigit():
            st.error(
                f"Evidence: expected audit entry numbers separated by commas; got {literal(part)}."
            )
            return None
        numbers.append(int(part.lstrip("#")))
    return numbers


def _retire_form(view: LifecycleView, key: str) -> None:
    retirable = [v for v in view.versions if v.state != "retired"]
    if not retirable:
        st.caption("No registered version to retire.")
        return
    sha = _choice(view, retirable, key, "Version to retire")
    consequence = "" if sha is None else workflow().retirement_consequence(view.model_id, sha)
    if consequence:
        st.warning(literal(consequence), icon=":material/warning:")
    with st.form(key):
        reason = st.text_area("Reason (recorded)", key=f"{key}_reason", max_chars=2000)
        stop = (
            st.checkbox(
                "I understand that this model's predictions stop", value=False, key=f"{key}_stop"
            )
            if consequence
            else False
        )
        if st.form_submit_button("Retire version"):
            if sha is None:
                st.error("Version: choose the version to retire.")
                return
            run(workflow().retire_version, view.model_id, sha, reason, stop_confirmed=stop)
            st.rerun()
