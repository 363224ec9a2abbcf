"""Sign-in with the EHR (SMART App Launch) in the app: the launch address, the EHR's answer,
and the sign-in page's button.

The EHR opens ``<app>/launch?iss=…&launch=…``; the door starts the launch and this page
offers the EHR's authorize URL (the sign-in page's button is such a URL, for a launch without
an EHR context: the EHR asks which patient). Streamlit opens links in a new tab, so the
clinician continues there. The EHR sends it back to ``<app>/launch?code=…&state=…`` (or
``?error=…&state=…``); the door completes the sign-in, and the clinician lands on the Case
page with the patient in context. Both are handled before anything else on the page runs,
and the address is cleared so that a rerun never repeats them. A refusal is shown on the
sign-in page in the door's words; nothing is half signed in.
"""

from __future__ import annotations

import time

import streamlit as st

from caselens.errors import CaseLensError
from caselens.fhir import MAX_PENDING_S
from components.text import literal

#: The EHR's answer (RFC 6749 §4.1.2) and an EHR launch's parameters (SMART App Launch).
ANSWER_PARAMS = ("state", "code", "error")
LAUNCH_PARAMS = ("iss", "launch")
#: Longest query value read (the door bounds each value again).
MAX_PARAM_CHARS = 4_096
#: Where this tab keeps a refusal for the sign-in page, and the authorize URL being opened.
ERROR_KEY = "smart_error"
AUTHORIZE_KEY = "smart_authorize_url"
STANDALONE_KEY = "smart_standalone_launch"
BUTTON_LABEL = "Sign in with the EHR (SMART)"
#: The sign-in page's launch is reused this long, half the time a launch may take, so a click
#: on its button always finds it alive.
REUSE_LAUNCH_S = MAX_PENDING_S / 2


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
    """The launch's page: one button to the EHR's sign-in (Streamlit opens it in a new tab,
    where CaseLens opens once the EHR has signed the clinician in)."""
    st.title("CaseLens")
    st.markdown(
        "**Sign in at the EHR to open this patient in CaseLens.** The EHR's sign-in opens in "
        "a new tab; CaseLens opens there once the EHR has signed you in."
    )
    st.link_button("Continue to the EHR's sign-in", url, type="primary")
    st.stop()


def _standalone_launch() -> str | None:
    """This tab's launch of the configured EHR (its authorize URL), started once and reused
    while it has time left; None (with the reason shown) when it cannot start."""
    from session import device_cookie, user_session, workflow

    kept = st.session_state.get(STANDALONE_KEY)
    if isinstance(kept, tuple) and time.monotonic() - kept[1] < REUSE_LAUNCH_S:
        return kept[0]
    try:
        url = workflow().start_smart_sign_in(user_session(), device_cookie=device_cookie())
    except CaseLensError as refused:
        st.warning(literal(refused), icon=":material/warning:")
        return None
    st.session_state[STANDALONE_KEY] = (url, time.monotonic())
    return url


def render_smart_sign_in() -> None:
    """The sign-in page's part: the EHR button (to the EHR's authorize URL for a launch of
    this tab) when sign-in with the EHR is set up, or why it is not; and the last refusal in
    the door's words."""
    from session import workflow

    refused = st.session_state.pop(ERROR_KEY, None)
    if refused:
        st.error(literal(refused), icon=":material/block:")
    door = workflow()
    if door.smart_sign_in_available:
        url = _standalone_launch()
        if url is not None:
            st.link_button(
                BUTTON_LABEL,
                url,
                icon=":material/local_hospital:",
                help="Sign in at the hospital's EHR (in a new tab); CaseLens opens there with "
                "the patient you choose at the EHR.",
            )
    elif door.smart_problem:
        st.warning(
            literal(f"Sign-in with the EHR is not available: {door.smart_problem}"),
            icon=":material/warning:",
        )
