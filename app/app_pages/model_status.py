"""Model status: which models are active or suspended; an admin suspends or reinstates
with a reason (recorded). A suspended model shows no prediction anywhere."""

from __future__ import annotations

import streamlit as st

from caselens.access import check
from caselens.errors import CaseLensError
from caselens.model_status import check_reason
from components.text import literal
from services import catalogue, model_statuses
from session import guard, record

viewer = guard("model_status")
guard("model_status", "view_model_status")
st.title("Model status")
statuses = model_statuses()
may_change = check(viewer, "suspend_model").allowed
for model_id, bundle in catalogue().bundles.items():
    status = statuses.get(model_id)
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
                reason = st.text_input("Reason (recorded)", key=f"status_reason_{model_id}")
                label = "Reinstate" if status.suspended else "Suspend"
                if st.form_submit_button(label):
                    guard("model_status", "suspend_model")
                    action = "model_reinstated" if status.suspended else "model_suspended"
                    try:
                        # Checked before recording, so a refused change leaves no entry.
                        checked = check_reason(reason)
                        if record(
                            action,
                            audience="admin",
                            detail={"model_id": model_id, "reason": checked},
                        ):
                            statuses.set(
                                model_id,
                                suspended=not status.suspended,
                                reason=reason,
                                by=viewer.user_id,
                            )
                            st.rerun()
                    except CaseLensError as exc:
                        st.error(literal(exc))
