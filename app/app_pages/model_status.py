"""Model status: which models are active or suspended, and the monitoring alerts recorded
on what each has shown; an admin suspends or reinstates with a reason (recorded). A
suspended model shows no prediction anywhere. Each model's live version and its approval
(who, until when), approvals ending within 30 days, and for model owners and admins the
forms that register, shadow, approve and retire versions (issue 27)."""

from __future__ import annotations

import streamlit as st

from components.model_lifecycle import (
    render_expiry_banner,
    render_live_standing,
    render_version_forms,
    render_versions,
)
from components.text import literal
from session import guard, run, workflow

#: Alerts listed per model (the rest are on the Monitoring page).
ALERTS_LISTED = 5

guard("model_status")
st.title("Model status")
statuses = run(workflow().model_statuses)
alerts_by_model = run(workflow().open_alerts)
may_change = run(workflow().may, "suspend_model")
render_expiry_banner(run(workflow().approvals_expiring))
for model_id, status in statuses.items():
    bundle = workflow().bundle(model_id)
    alerts = alerts_by_model.get(model_id, ())
    lifecycle = run(workflow().model_lifecycle, model_id)
    with st.container(border=True):
        if status.suspended:
            state = "SUSPENDED"
        elif not lifecycle.standing.may_predict:
            # Stopped exactly like a suspension, for want of an approval in force.
            state = "NO PREDICTIONS: no approval in force"
        elif alerts:
            # "Active" alone would read as "all is well" while monitoring says otherwise.
            state = f"Active, with {len(alerts)} monitoring alert{'s' if len(alerts) > 1 else ''}"
        else:
            state = "Active"
        st.markdown(
            f"**{literal(bundle.card.name)}** ({literal(model_id)} {literal(bundle.version)}) "
            f"— **{state}**"
        )
        if status.changed_by:
            st.caption(
                f"{literal(status.reason)} — {literal(status.changed_by)}, "
                f"{literal(status.changed_at)} UTC"
            )
        if alerts:
            lines = "\n".join(f"- {literal(a.message)}" for a in alerts[:ALERTS_LISTED])
            more = (
                f"\n\n{len(alerts) - ALERTS_LISTED} more on the Monitoring page."
                if len(alerts) > ALERTS_LISTED
                else ""
            )
            st.warning(
                f"Monitoring alerts recorded on what this model showed, newest period "
                f"first:\n\n{lines}{more}",
                icon=":material/warning:",
            )
        else:
            st.caption(
                "No monitoring alert has been recorded for what this model showed. The "
                "scheduled check judges the latest figures; the Monitoring page shows them."
            )
        st.caption(
            f"Last reviewed {literal(bundle.card.last_review_date)}; next review due "
            f"{literal(bundle.card.review_due())}."
        )
        render_live_standing(lifecycle)
        with st.expander("Versions and approvals"):
            render_versions(lifecycle)
            render_version_forms(lifecycle, key_prefix=f"lifecycle_{model_id}")
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
