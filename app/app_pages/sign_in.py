"""Sign-in page: local accounts (argon2) with throttled attempts; demo accounts in demo mode;
sign-in with the EHR (SMART App Launch) when it is set up."""

from __future__ import annotations

import streamlit as st

from caselens.access import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    MAX_PASSWORD_LENGTH,
    MAX_USER_ID_LENGTH,
)
from caselens.errors import CaseLensError
from components.smart_launch import render_smart_sign_in
from components.text import literal
from services import catalogue, demo_mode, explainer
from session import clear_cookie_pixel, sign_in_client, user_session, workflow

st.title("CaseLens")
st.caption("Calibrated risk, its uncertainty, why, and when not to trust it.")
if st.session_state.pop("expired_notice", False):
    st.info("Your session ended after a period without activity. Please sign in again.")
clear_cookie_pixel()
render_smart_sign_in()

with st.form("sign_in_form"):
    user_id = st.text_input("User name", key="sign_in_user", max_chars=MAX_USER_ID_LENGTH)
    password = st.text_input(
        "Password", type="password", key="sign_in_password", max_chars=MAX_PASSWORD_LENGTH
    )
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    # max_chars bounds what the browser sends; the engine refuses implausible input anyway.
    try:
        workflow().sign_in(user_session(), user_id, password, client=sign_in_client())
    except CaseLensError as refused:  # recorded by the workflow; the rest of the page stays
        st.error(literal(refused), icon=":material/block:")
    else:
        st.rerun()

if demo_mode():
    with st.expander("Demo accounts (demo mode only)", expanded=True):
        st.markdown(f"Password for all: `{DEMO_PASSWORD}`")
        st.table(
            [
                {
                    "User name": a["user_id"],
                    "Name": a["name"],
                    "Role": a["role"],
                    "Patient": a.get("patient_ref") or "",
                }
                for a in DEMO_ACCOUNTS
            ]
        )

# Pay the explainers' one-off costs now, while the sign-in form is already on screen, so the
# first case a clinician opens is fast (cached once per server process).
for _model_id in catalogue().bundles:
    explainer(_model_id)
