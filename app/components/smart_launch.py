"""Sign-in with the EHR (SMART App Launch) in the app: the launch address, the EHR's answer,
and the sign-in page's button.

The EHR opens ``<app>/launch?iss=…&launch=…`` (the sign-in page's button opens
``<app>/launch?iss=…``); the door starts the launch and this page sends the browser on to the
EHR's authorize URL. The EHR sends it back to ``<app>/launch?code=…&state=…`` (or
``?error=…&state=…``); the door completes the sign-in, and the clinician lands on the Case
page with the patient in context. Both are handled before anything else on the page runs,
and the address is cleared so that a rerun never repeats them. A refusal is shown on the
sign-in page in the door's words; nothing is half signed in.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import streamlit as st

from caselens.errors import CaseLensError
from caselens.fhir import LAUNCH_PATH
from components.text import literal

#: The EHR's answer (RFC 6749 §4.1.2) and an EHR launch's parameters (SMART App Launch).
ANSWER_PARAMS = ("state", "code", "error")
LAUNCH_PARAMS = ("iss", "launch")
#: Longest query value read (the door bounds each value again).
MAX_PARAM_CHARS = 4_096
#: Where this tab keeps a refusal for the sign-in page, and the authorize URL being opened.
ERROR_KEY = "smart_error"
AUTHORIZE_KEY = "smart_authorize_url"
BUTTON_LABEL = "Sign in with the EHR (SMART)"


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value[:MAX_PARAM_CHARS] if isinstance(value, str) and value else None


def handle_smart_launch() -> None:
    """Start or complete a launch when the address carries one (else do nothing).

    Starting shows a short page that sends the browser to the EHR (and stops the run);
    completing signs the clinician in (the Case page follows) or keeps the refusal for the
    sign-in page.
    """
    from session import device_cookie, end_session, skip_cookie_resume, user_session, workflow

    answer = {name: _param(name) for name in ANSWER_PARAMS}
    launch = {name: _param(name) for name in LAUNCH_PARAMS}
    if answer["state"] is None and answer["error"] is None and launch["iss"] is None:
        if st.session_state.get(AUTHORIZE_KEY):
            _send_to_ehr(st.session_state[AUTHORIZE_KEY])
        return
    st.query_params.clear()  # handled once: a rerun must not spend or start it again
    if user_session().viewer is not None:
        end_session()  # the launch decides who is signed in on this tab (recorded)
    skip_cookie_resume()  # … not a session cookie left from before
    door = workflow()
    try:
        if answer["state"] is not None or answer["error"] is not None:
            st.session_state.pop(AUTHORIZE_KEY, None)
            door.complete_smart_sign_in(
                user_session(),
                device_cookie=device_cookie(),
                state=answer["state"] or "",
                code=answer["code"],
                error=answer["error"],
            )
            return
        url = door.start_smart_sign_in(
            user_session(),
            device_cookie=device_cookie(),
            launch=launch["launch"],
            iss=launch["iss"],
        )
    except CaseLensError as refused:  # recorded by the door where it is a sign-in refused
        st.session_state[ERROR_KEY] = str(refused)
        return
    st.session_state[AUTHORIZE_KEY] = url
    _send_to_ehr(url)


def _send_to_ehr(url: str) -> None:
    """A page that opens the EHR's sign-in at once (a refresh to ``url``), with a button in
    case the browser does not follow it."""
    st.title("CaseLens")
    st.markdown("Opening the EHR's sign-in…")
    # Our own URL (the operator's endpoint and URL-encoded values), escaped as an attribute.
    st.html(f'<meta http-equiv="refresh" content="0; url={html.escape(url, quote=True)}">')
    st.link_button("Continue to the EHR's sign-in", url, type="primary")
    st.stop()


def render_smart_sign_in(app_url: str | None) -> None:
    """The sign-in page's part: the EHR button when sign-in with the EHR is set up (or why it
    is not), and the last refusal in the door's words."""
    from session import workflow

    refused = st.session_state.pop(ERROR_KEY, None)
    if refused:
        st.error(literal(refused), icon=":material/block:")
    door = workflow()
    issuer = door.smart_issuer
    if issuer is not None and app_url:
        st.link_button(
            BUTTON_LABEL,
            f"{app_url.rstrip('/')}{LAUNCH_PATH}?{urlencode({'iss': issuer})}",
            icon=":material/local_hospital:",
            help="Sign in at the hospital's EHR; CaseLens opens with the patient you choose there.",
        )
    elif door.smart_problem:
        st.warning(
            literal(f"Sign-in with the EHR is not available: {door.smart_problem}"),
            icon=":material/warning:",
        )
