"""The tab's session and the one way a page calls the engine's workflow.

A page never records, checks a policy or decides an order: it calls :func:`run` with a
:class:`caselens.workflow.door.Workflow` method. The workflow checks, records, then returns what
may be drawn; any refusal or recording failure arrives here as a ``WorkflowError``, which
is shown and ends the page (nothing else is drawn).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

import services
from caselens.access import (
    DEVICE_COOKIE,
    MAX_COOKIE_LENGTH,
    PAGE_TITLES,
    PAGES,
    SESSION_COOKIE,
    SignInKeyError,
    TrustedProxiesError,
    Viewer,
    parse_trusted_proxies,
)
from caselens.audit import AuditError, AuditTrailMissing
from caselens.errors import CaseLensError
from caselens.settings import SettingsError
from caselens.workflow import NOT_RECORDED_MESSAGE, Refused, Unavailable, UserSession, Workflow
from components.text import literal

T = TypeVar("T")
_SESSION_KEY = "caselens_session"
#: Set once this connection has tried its session cookie (the cookies a Streamlit session
#: sees are those of its WebSocket handshake: they cannot change until the page reloads).
_RESUME_TRIED = "caselens_resume_tried"
#: Set after a sign-out, so the sign-in page expires the session cookie in the browser.
_CLEAR_COOKIE = "caselens_clear_cookie"
#: The server routes that set and expire the session cookie (``app/serve.py``).
SESSION_COOKIE_ROUTE = "/_caselens/session"
CLEAR_COOKIE_ROUTE = "/_caselens/session/clear"
#: Before a setting's own message, on a server that cannot start until it is fixed.
SETTING_UNREADABLE = "CaseLens cannot start until the operator corrects a setting:"
#: Where each role lands: its first page.
LANDING_PAGE_FILES = {p: f"app_pages/{p}.py" for p in PAGE_TITLES}


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
    except SettingsError as exc:  # the operator's to fix: name the variable and what is wrong
        st.error(literal(f"{SETTING_UNREADABLE} {exc}"), icon=":material/block:")
        st.stop()
        raise
    except SignInKeyError as exc:  # the operator's to fix: say which file and what is wrong
        st.error(literal(exc), icon=":material/block:")
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
    """The signed-in viewer, or None; an idle session ends here and starts afresh. A page
    loaded (or reloaded) with a genuine session cookie is signed back in, recorded."""
    session = user_session()
    viewer = workflow().current_viewer(session)
    if viewer is None and session.viewer is not None:
        end_session(expired=True)
        return None
    if viewer is None and not st.session_state.get(_RESUME_TRIED):
        st.session_state[_RESUME_TRIED] = True
        cookie = _cookie(SESSION_COOKIE)
        if cookie is not None:
            viewer = run(workflow().resume, cookie)
    return viewer


def end_session(*, expired: bool = False) -> None:
    """Sign out: record it, then drop everything this tab held (widgets, estimates, ids)."""
    session = user_session()
    fresh = workflow().sign_out(session) if not expired else UserSession()
    st.session_state.clear()
    st.session_state[_SESSION_KEY] = fresh
    st.session_state[_RESUME_TRIED] = True  # this connection's cookie is spent
    st.session_state[_CLEAR_COOKIE] = True
    if expired:
        st.session_state["expired_notice"] = True


def guard(page: str) -> Viewer:
    """Stop the page unless the viewer may open it; a refusal is shown and recorded, with a
    link back to the viewer's own first page (a patient has no menu to find it)."""
    viewer = current_viewer()
    if viewer is None:
        st.error("Please sign in again.")
        st.stop()
    try:
        return workflow().open_page(user_session(), page)
    except Refused as refused:
        st.error(literal(refused), icon=":material/block:")
        landing = landing_page(viewer.role)
        st.page_link(
            LANDING_PAGE_FILES[landing],
            label=f"Go to {PAGE_TITLES[landing]}",
            icon=":material/arrow_back:",
        )
        st.stop()
        raise
    except CaseLensError as exc:
        st.error(literal(exc), icon=":material/block:")
        st.stop()
        raise


def landing_page(role: str) -> str:
    """The page a role lands on: its first page."""
    return PAGES[role][0]  # type: ignore[index]


def _cookie(name: str) -> str | None:
    """A cookie of this connection, if present and of a plausible length."""
    try:
        value = st.context.cookies.get(name)
    except Exception:  # outside a browser session (scripts, AppTest)
        return None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_COOKIE_LENGTH else None


def device_cookie() -> str | None:
    """This browser's signed device cookie as sent, if any (a SMART launch is bound to it)."""
    return _cookie(DEVICE_COOKIE)


def skip_cookie_resume() -> None:
    """Do not sign this connection back in from its session cookie: a SMART launch in the
    address decides who is signed in."""
    st.session_state[_RESUME_TRIED] = True


def sign_in_client() -> str | None:
    """The sign-in throttle's name for this browser (see :mod:`caselens.access.client_identity`): an
    address a trusted proxy forwarded, else the signed device cookie, else None."""
    try:
        headers = dict(st.context.headers)
        address = st.context.ip_address
    except Exception:  # outside a browser session: no identity, throttled per account
        return None
    if not headers:
        return None
    # Streamlit reports a loopback peer (the usual place for a reverse proxy) as None.
    peer = address if isinstance(address, str) and 0 < len(address) <= 64 else "127.0.0.1"
    try:
        proxies = parse_trusted_proxies(services.settings().trusted_proxies)
    except TrustedProxiesError as exc:
        st.error(literal(exc), icon=":material/block:")
        st.stop()
        raise
    return workflow().client_identity(peer, headers, _cookie(DEVICE_COOKIE), proxies)


def session_cookie_pixel() -> None:
    """Hand this signed-in session's cookie to the browser when it is new or due a refresh:
    a 1×1 image from the server's cookie route, carrying a one-time handoff token."""
    token = workflow().cookie_handoff(user_session())
    if token is not None:
        st.markdown(f"![]({SESSION_COOKIE_ROUTE}?handoff={token})")


def clear_cookie_pixel() -> None:
    """After a sign-out, expire the session cookie in the browser (the server has ended it)."""
    if st.session_state.pop(_CLEAR_COOKIE, False):
        st.markdown(f"![]({CLEAR_COOKIE_ROUTE})")


def requested_page() -> str | None:
    """The page address this run was asked for by URL (a load, reload or typed address), or
    None when it came from a click inside the app (those name registered pages)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or ctx.pages_manager.intended_page_script_hash:
        return None
    return ctx.pages_manager.intended_page_name or None
