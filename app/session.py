"""The tab's session and the one way a page calls the engine's workflow.

A page never records, checks a policy or decides an order: it calls :func:`run` with a
:class:`caselens.workflow.Workflow` method. The workflow checks, records, then returns what
may be drawn; any refusal or recording failure arrives here as a ``WorkflowError``, which
is shown and ends the page (nothing else is drawn).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

import services
from caselens.access import Viewer
from caselens.audit import AuditError, AuditTrailMissing
from caselens.display import NOT_RECORDED_MESSAGE
from caselens.errors import CaseLensError
from caselens.workflow import Unavailable, UserSession, Workflow
from components.text import literal

T = TypeVar("T")
_SESSION_KEY = "caselens_session"


def workflow() -> Workflow:
    """The engine's workflow; if the audit trail cannot even be opened, nothing is shown."""
    try:
        return services.workflow()
    except AuditTrailMissing as exc:
        # The operator's message (paths, how to recover) goes to the server log; the screen,
        # which anyone may see, says only what happened and who must act.
        print(f"CaseLens refuses to start: {exc}", file=sys.stderr)
        st.error(literal(f"{NOT_RECORDED_MESSAGE} {exc.for_users}"), icon=":material/block:")
        st.stop()
        raise
    except (AuditError, OSError):
        st.error(literal(NOT_RECORDED_MESSAGE), icon=":material/block:")
        st.stop()
        raise


def user_session() -> UserSession:
    """This tab's session (created on first use)."""
    session = st.session_state.get(_SESSION_KEY)
    if not isinstance(session, UserSession):
        session = UserSession()
        st.session_state[_SESSION_KEY] = session
    return session


def run(method: Callable[..., T], *args: Any, gentle: bool = False, **kwargs: Any) -> T:
    """Call a workflow method for this tab's session; on refusal show why and stop.

    ``gentle`` shows "not available right now" as information rather than an error (the
    patient's page); a refusal by the access policy is always an error.
    """
    try:
        return method(user_session(), *args, **kwargs)
    except CaseLensError as exc:  # WorkflowError and the engine's other refusals
        if gentle and isinstance(exc, Unavailable):
            st.info(literal(exc))
        else:
            st.error(literal(exc), icon=":material/block:")
        st.stop()
        raise  # st.stop() raises; this keeps type checkers honest


def current_viewer() -> Viewer | None:
    """The signed-in viewer, or None; an idle session ends here and starts afresh."""
    session = user_session()
    viewer = workflow().current_viewer(session)
    if viewer is None and session.viewer is not None:
        end_session(expired=True)
    return viewer


def end_session(*, expired: bool = False) -> None:
    """Sign out: record it, then drop everything this tab held (widgets, estimates, ids)."""
    session = user_session()
    fresh = workflow().sign_out(session) if not expired else UserSession()
    st.session_state.clear()
    st.session_state[_SESSION_KEY] = fresh
    if expired:
        st.session_state["expired_notice"] = True


def guard(page: str) -> Viewer:
    """Stop the page unless the viewer may open it; a refusal is shown and recorded."""
    if current_viewer() is None:
        st.error("Please sign in again.")
        st.stop()
    return run(workflow().open_page, page)


def client_address() -> str:
    """The browser's address as the server sees it (for sign-in throttling)."""
    try:
        address = st.context.ip_address
    except Exception:  # outside a browser session: one shared bucket
        return "unknown"
    # Only a short string is an address (AppTest hands over a stand-in object).
    return address if isinstance(address, str) and 0 < len(address) <= 64 else "unknown"
