"""Admin page: the local accounts, and adding one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from caselens.access import ROLES
from caselens.accounts import AccountError
from components.text import literal
from services import accounts
from session import guard, record

viewer = guard("users")
guard("users", "manage_users")
st.title("Users")
store = accounts()
st.dataframe(
    pd.DataFrame(
        [
            {
                "User name": a.user_id,
                "Name": a.name,
                "Role": a.role,
                "Patient": a.patient_ref or "",
                "Model": a.patient_model_id or "",
                "Locked until (UTC)": a.locked_until or "",
            }
            for a in store.list()
        ]
    ),
    hide_index=True,
    key="users_table",
)

st.subheader("Add a user")
with st.form("users_add", clear_on_submit=True):
    cols = st.columns(2)
    user_id = cols[0].text_input("User name", key="users_new_id")
    name = cols[1].text_input("Full name", key="users_new_name")
    role = cols[0].selectbox("Role", ROLES, key="users_new_role")
    password = cols[1].text_input("Initial password", type="password", key="users_new_pw")
    patient_ref = cols[0].text_input("Patient record (patients only)", key="users_new_patient")
    model_id = cols[1].text_input("Model of that record (patients only)", key="users_new_model")
    if st.form_submit_button("Add user"):
        try:
            store.add(
                user_id.strip(),
                name=name.strip() or user_id.strip(),
                role=role,
                password=password,
                patient_ref=patient_ref.strip() or None,
                patient_model_id=model_id.strip() or None,
            )
        except AccountError as exc:
            st.error(literal(exc))
        else:
            record("user_added", audience="admin", detail={"user_id": user_id, "role": role})
            st.success(f"Added {literal(user_id)}.")
