"""Model status: which models are active or suspended; an admin suspends or reinstates
with a reason (recorded). A suspended model shows no prediction anywhere."""

from __future__ import annotations

import streamlit as st

from components.text import literal
from session import guard, run, workflow

guard("model_status")
st.title("Model status")
statuses = run(workflow().model_statuses)
may_change = run(workflow().may, "suspend_model")
for model_id, status in statuses.items():
    bundle = workflow().bundle(model_id)
    with st.container(border=True):
        state = "SUSPENDED" if status.suspended else "Active"
        st.markdown(
            f"**{literal(bundle.card.name)}** ({literal(model_id)} {literal(bundle.version)}) "
            f"— **{state}**"
        )
        if status.changed_by:
            st.caption(
                f"{literal(status.reason)} — {literal(status.changed_by)}, "
                f"{literal(status.changed_at)} UTC"
            )
        st.caption(
            f"Last reviewed {literal(bundle.card.last_review_date)}; next review due "
            f"{literal(bundle.card.review_due())}."
        )
        if may_change:
            with st.form(f"status_{model_id}"):
                reason = st.text_input(
                    "Reason (recorded)", key=f"status_reason_{model_id}", max_chars=2000
                )
                label = "Reinstate" if status.suspended else "Suspend"
                if st.form_submit_button(label):
                    run(
                        workflow().set_model_status,
                        model_id,
                        suspend=not status.suspended,
                        reason=reason,
                    )
                    st.rerun()
