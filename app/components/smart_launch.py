"""Sign-in with the EHR (SMART App Launch) in the app: the EHR's answer, a refused launch, the
old launch address, and the sign-in page's button.

The launch itself is a server route (``<app>/_caselens/launch``, app/serve.py): the EHR opens
it with ``?iss=…&launch=…`` (the sign-in page's button, without them: the EHR asks which
patient), and it redirects this tab to the EHR's sign-in, or back to the sign-in page with
``?smart_error=<code>`` when the door refuses. The EHR sends the browser back to
``<app>/launch?code=…&state=…`` (or ``?error=…&state=…``); this page completes the sign-in,
and the clinician lands on the Case page with the patient in context. Everything here is
handled before anything else on the page runs, and the address is cleared so that a rerun
never repeats it. A refusal is shown on the sign-in page in the door's words; nothing is half
signed in.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import streamlit as st

from caselens.errors import CaseLensError
from caselens.fhir import LAUNCH_PATH, LAUNCH_ROUTE
from components.text import literal

#: The EHR's answer (RFC 6749 §4.1.2) and an EHR launch's parameters (SMART App Launch).
ANSWER_PARAMS = ("state", "code", "error")
LAUNCH_PARAMS = ("iss", "launch")
#: The launch route's refusal code (app/serve.py SMART_ERROR_PARAM).
REFUSAL_PARAM = "smart_error"
#: Longest query value read (the door bounds each value again).
MAX_PARAM_CHARS = 4_096
#: Where this tab keeps a refusal for the sign-in page.
ERROR_KEY = "smart_error"
BUTTON_LABEL = "Sign in with the EHR (SMART)"
OLD_ADDRESS_LABEL = "Continue to the EHR's sign-in"


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value[:MAX_PARAM_CHARS] if isinstance(value, str) and value else None


def launch_route_url(**params: str) -> str | None:
    """The launch route at this app's address (``CASELENS_APP_URL``, the host the EHR sends
    the browser back to, so the device cookie set there comes back), or None without one."""
    app_url = _app_url()
    if app_url is None:
        return None
    query = f"?{urlencode(params)}" if params else ""
    return app_url + LAUNCH_ROUTE + query


def _app_url() -> str | None:
    from services import settings

    app_url = settings().app_url
    return app_url.rstrip("/") if app_url else None


def same_tab_link(label: str, url: str, *, primary: bool = False) -> None:
    """A link drawn as a button that opens ``url`` in THIS tab (``st.link_button`` and Markdown
    links open a new one). ``st.html`` keeps an anchor's ``target`` only when it is
    ``_blank``, so a plain anchor stays in the tab; label and address are escaped."""
    kind = "caselens-link-primary" if primary else "caselens-link"
    st.html(
        f'<a class="caselens-same-tab {kind}" href="{html.escape(url, quote=True)}">'
        f"{html.escape(label)}</a>"
    )


def handle_smart_launch() -> None:
    """Complete a launch, keep a refused one's words, or answer the old launch address, when
    the address carries one (else do nothing)."""
    from session import device_cookie, end_session, skip_cookie_resume, user_session, workflow

    answer = {name: _param(name) for name in ANSWER_PARAMS}
    launch = {name: _param(name) for name in LAUNCH_PARAMS}
    refusal = _param(REFUSAL_PARAM)
    if answer["state"] is None and answer["error"] is None and launch["iss"] is None:
        if refusal is not None:
            st.query_params.clear()
            # Only a code travels in the address; the words are the door's (an unknown code,
            # someone's edit of the address, shows nothing).
            words = workflow().smart_start_refusal(refusal)
            if words is not None:
                st.session_state[ERROR_KEY] = words
        return
    if answer["state"] is None and answer["error"] is None:
        _old_launch_address(launch["iss"] or "", launch["launch"])
        return
    st.query_params.clear()  # handled once: a rerun must not spend it again
    if user_session().viewer is not None:
        end_session()  # the launch decides who is signed in on this tab (recorded)
    skip_cookie_resume()  # … not a session cookie left from before
    try:
        workflow().complete_smart_sign_in(
            user_session(),
            device_cookie=device_cookie(),
            state=answer["state"] or "",
            code=answer["code"],
            error=answer["error"],
        )
    except CaseLensError as refused:  # recorded by the door
        st.session_state[ERROR_KEY] = str(refused)


def _old_launch_address(iss: str, launch: str | None) -> None:
    """An EHR still registered with ``<app>/launch`` as its launch address: say what to
    register instead, and carry this launch on to the route in this tab (stops the run)."""
    params = {"iss": iss, **({"launch": launch} if launch is not None else {})}
    route = launch_route_url(**params)
    st.title("CaseLens")
    if route is None:
        st.error(
            "Sign-in with the EHR is not set up on this server: CASELENS_APP_URL is unset.",
            icon=":material/block:",
        )
        st.stop()
    st.warning(
        literal(
            "Your EHR is registered with CaseLens's old launch address. Ask its administrator "
            f"to register {launch_route_url()} as the launch URL (the redirect URI stays "
            f"{_app_url()}{LAUNCH_PATH}); then the EHR's sign-in opens at once."
        ),
        icon=":material/info:",
    )
    same_tab_link(OLD_ADDRESS_LABEL, route, primary=True)
    st.stop()


def render_smart_sign_in() -> None:
    """The sign-in page's part: the EHR button (a same-tab link to the launch route) when
    sign-in with the EHR is set up, or why it is not; and the last refusal in the door's
    words."""
    from session import workflow

    refused = st.session_state.pop(ERROR_KEY, None)
    if refused:
        st.error(literal(refused), icon=":material/block:")
    door = workflow()
    route = launch_route_url()
    if door.smart_sign_in_available and route is not None:
        same_tab_link(BUTTON_LABEL, route)
        st.caption("Signs in at the hospital's EHR; CaseLens opens with the patient you choose.")
    elif door.smart_problem:
        st.warning(
            literal(f"Sign-in with the EHR is not available: {door.smart_problem}"),
            icon=":material/warning:",
        )
