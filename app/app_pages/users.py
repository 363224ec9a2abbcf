"""Admin page: the local accounts, adding one, and unlocking one that is backing off."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from caselens.access import ROLES
from caselens.explain import LANGUAGES
from components.text import literal
from session import guard, run, workflow

guard("users")
st.title("Users")
people = run(workflow().list_users)
st.dataframe(
    pd.DataFrame(
        [
            {
                "User name": a.user_id,
                "Name": a.name,
                "Role": a.role,
                "Patient": a.patient_ref or "",
                "Model": a.patient_model_id or "",
                "Language": LANGUAGES.get(a.language, a.language),
                "Sign-in paused until (UTC)": a.locked_until or "",
            }
            for a in people
        ]
    ),
    hide_index=True,
    key="users_table",
    alt="User accounts",
)

paused = [a.user_id for a in people if a.locked_until is not None]
if paused:
    st.header("Unlock sign-in")
    with st.form("users_unlock"):
        who = st.selectbox("Account whose sign-in is paused", paused, key="users_unlock_id")
        if st.form_submit_button("Unlock"):
            run(workflow().unlock_user, who)
            st.success(f"Unlocked {literal(who)}; the unlock is recorded.")

st.header("Add a user")
with st.form("users_add", clear_on_submit=True):
    cols = st.columns(2)
    user_id = cols[0].text_input("User name", key="users_new_id", max_chars=64)
    name = cols[1].text_input("Full name", key="users_new_name", max_chars=200)
    role = cols[0].selectbox("Role", ROLES, key="users_new_role")
    password = cols[1].text_input("Initial password", type="password", key="users_new_pw")
    patient_ref = cols[0].text_input("Patient record (patients only)", key="users_new_patient")
    model_id = cols[1].text_input("Model of that record (patients only)", key="users_new_model")
    language = cols[0].selectbox(
        "Language of the patient page",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="users_new_language",
    )
    if st.form_submit_button("Add user"):
        added = run(
            workflow().add_user,
            user_id.strip(),
            name=name.strip() or user_id.strip(),
            role=role,
            password=password,
            patient_ref=patient_ref.strip() or None,
            patient_model_id=model_id.strip() or None,
            language=language,
        )
        st.success(f"Added {literal(added.user_id)}.")
