"""Session helpers shared by the pages: who is signed in, guards, fail-closed recording."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from caselens.access import Viewer, check
from caselens.accounts import session_expired
from caselens.audit import AuditError
from caselens.display import NOT_RECORDED_MESSAGE, record_display, record_event
from caselens.report import Audience, CaseReport
from components.text import literal
from services import audit_store


def current_viewer() -> Viewer | None:
    """The signed-in viewer, or None (also when the session has expired)."""
    viewer = st.session_state.get("viewer")
    last = st.session_state.get("last_activity")
    if viewer is None or last is None:
        return None
    if session_expired(last):
        st.session_state["viewer"] = None
        st.session_state["expired_notice"] = True
        return None
    st.session_state["last_activity"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return viewer


def client_address() -> str:
    """The browser's address as the server sees it (for sign-in throttling)."""
    try:
        return st.context.ip_address or "unknown"
    except Exception:  # outside a browser session (AppTest): one shared bucket
        return "unknown"


def sign_in_as(viewer: Viewer) -> None:
    """Start a signed-in session."""
    st.session_state["viewer"] = viewer
    st.session_state["last_activity"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record(action: str, *, audience: str, viewer: Viewer | None = None, **fields: Any) -> bool:
    """Record a non-display event; show the fail-closed message and return False if the
    trail cannot take it."""
    who = viewer or st.session_state.get("viewer")
    try:
        record_event(
            audit_store(),
            who,
            action=action,
            audience=audience,
            session_id=st.session_state.get("session_id"),
            **fields,
        )
    except (AuditError, OSError):
        st.error(
            f"This action could not be recorded, so it was not carried out. "
            f"({NOT_RECORDED_MESSAGE})",
            icon=":material/block:",
        )
        return False
    return True


def guard(page: str, action: str = "open_page", **kwargs: Any) -> Viewer:
    """Stop the page unless the policy allows it; a refusal is shown and recorded."""
    viewer = current_viewer()
    if viewer is None:
        st.error("Please sign in again.")
        st.stop()
    decision = check(viewer, action, page=page, **kwargs)
    if not decision.allowed:
        record(
            "access_refused",
            audience=viewer.role
            if viewer.role in {"clinician", "patient", "reviewer", "admin"}
            else "system",
            detail={
                "page": page,
                "action": action,
                "reason": decision.reason,
                **{k: v for k, v in kwargs.items() if v is not None},
            },
        )
        st.error(f"Not allowed: {literal(decision.reason)}", icon=":material/block:")
        st.stop()
    return viewer


def show_once(
    report: CaseReport, viewer: Viewer, *, audience: Audience, action: str = "viewed"
) -> None:
    """Record one display of ``report`` to this viewer before it is drawn (fail-closed:
    stop the page with the message if the trail cannot take it)."""
    seen = st.session_state.setdefault("recorded_displays", set())
    key = (report.report_id, audience, action)
    if key in seen:
        return
    try:
        record_display(
            audit_store(),
            report,
            viewer,
            audience=audience,
            action=action,
            session_id=st.session_state.get("session_id"),
        )
    except (AuditError, OSError):
        st.error(NOT_RECORDED_MESSAGE, icon=":material/block:")
        st.stop()
    seen.add(key)
