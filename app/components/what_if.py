"""What if? — changing a value of the clinician's report, and the what-if beside its parent.

The form starts at the values of the report being edited (the patient's recorded values, or
the last what-if of a chain): no default nudges. Each submitted edit goes to the door
(``Workflow.show_what_if``: checked, recorded, then returned); a refused field is listed by
name and nothing is drawn. The comparison prints only figures of the two recorded reports
(``WhatIfView.diff``, computed by the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from caselens.errors import CaseLensError, CaseValidationError
from caselens.explain import CaseReport
from caselens.model import FeatureSchema
from caselens.workflow import WhatIfView, format_interval, format_percent
from components.case_input import form_inputs, render_problems
from components.hypothetical import render_hypothetical_label
from components.report_view import render_clinician_report, side_badge
from components.text import literal

#: Pixels of one row of Streamlit's data grid (and of its header row).
ROW_PX = 35
#: What the control is called on the report (the issue's words).
CHANGE_LABEL = "Change a value (what if?)"


def _points(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _signed(points: float | None) -> str:
    if points is None:
        return "—"
    return f"+{points:.1f}" if points >= 0 else f"−{abs(points):.1f}"


def _before_after(before: float | None, after: float | None) -> str:
    """'−2.1 → +5.7' (points), a dash where that explanation failed."""
    return f"{_signed(_points(before))} → {_signed(_points(after))}"


def _range(low: float | None, high: float | None) -> str:
    return "none given" if low is None or high is None else format_interval(low, high)


def render_comparison(view: WhatIfView, *, key: str, before_name: str) -> None:
    """The what-if beside its parent: probability and range before → after, whether the
    side of the threshold changed, contributions (largest change first) and the
    limitations that appeared or went away."""
    diff = view.diff
    before, after = st.columns(2, border=True)
    for column, name, side, report in (
        (before, before_name, diff.before, view.parent),
        (after, "What if", diff.after, view.report),
    ):
        colour, icon, words = side_badge(report)
        with column:
            st.markdown(f"**{literal(name)}**")
            st.metric("Probability", format_percent(side.probability))
            st.caption(f"Range: {_range(side.range_low, side.range_high)}")
            st.badge(literal(words), icon=icon, color=colour)  # type: ignore[arg-type]
    threshold = f"{100 * diff.threshold:g}%"  # as the side statements print it
    if diff.side_changed:
        now = "at or above" if diff.after.at_or_above else "below"
        st.markdown(f"**The side of the {threshold} threshold changed:** now {now} it.")
    else:
        now = "at or above" if diff.after.at_or_above else "below"
        st.markdown(f"**The side of the {threshold} threshold did not change** ({now} it).")
    if diff.ranked_by != "none":
        st.markdown(
            f"**Contributions before → after** (points; largest {diff.ranked_by} change "
            "first; association, not cause)"
        )
    else:
        st.markdown("**Contributions:** neither report has SHAP or LIME for every input.")
    table = pd.DataFrame(
        [
            {
                "Input": row.label,
                "Value": row.after_text
                if row.before_text == row.after_text
                else f"{row.before_text} → {row.after_text}",
                "SHAP (points), before → after": _before_after(row.shap_before, row.shap_after),
                "SHAP change": _points(row.shap_change),
                "LIME (points), before → after": _before_after(row.lime_before, row.lime_after),
                "LIME change": _points(row.lime_change),
            }
            for row in diff.contributions
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        key=f"{key}_contributions",
        # Every input in view: the table is the comparison, not a sample of it.
        height=ROW_PX * (len(table) + 1) + 3,
        alt="Each input's contribution before and after the change",
    )
    appeared, gone = st.columns(2)
    with appeared:
        st.markdown("**Limitations that appeared**")
        lines = [
            f"- {literal(c.clinician_text)} ({literal(c.code)})" for c in diff.limitations_appeared
        ]
        st.markdown("\n".join(lines) if lines else "None.")
    with gone:
        st.markdown("**Limitations that went away**")
        lines = [
            f"- {literal(c.clinician_text)} ({literal(c.code)})" for c in diff.limitations_gone
        ]
        st.markdown("\n".join(lines) if lines else "None.")


def render_what_if(
    report: CaseReport,
    features: FeatureSchema,
    *,
    key_prefix: str,
    show: Callable[[CaseReport, dict[str, Any]], WhatIfView],
) -> None:
    """The "Change a value" control under the clinician's report, the chain of what-ifs made
    from it in this tab, and the latest beside its parent.

    ``show(parent, values)`` is the door's ``show_what_if`` for this tab's session.
    """
    chain_key = f"{key_prefix}_what_if_chain"
    held = st.session_state.get(chain_key)
    if not isinstance(held, dict) or held.get("root") != report.report_id:
        held = {"root": report.report_id, "views": []}
        st.session_state[chain_key] = held
    views: list[WhatIfView] = held["views"]
    current = views[-1].report if views else report
    st.divider()
    st.header("What if?")
    what = "the what-if below" if views else "this report"
    with st.expander(CHANGE_LABEL, expanded=False):
        st.caption(
            f"The form starts at the values of {what}. The changed case is checked like any "
            "case, explained by the same model and recorded in the audit trail as a what-if: "
            "never as this patient's result, never shown to the patient."
        )
        # A new form for each step of the chain, so it starts at that step's values.
        submitted = form_inputs(
            features,
            f"{key_prefix}_what_if_{len(views)}",
            current.case.values(),
            submit="Show what the model would say",
        )
    if submitted is not None:
        try:
            view = show(current, submitted)
        except CaseValidationError as error:
            render_problems(error)
        except CaseLensError as exc:  # nothing changed, a refusal, the trail down: said
            st.error(literal(exc), icon=":material/block:")
        else:
            views.append(view)
            st.rerun()
    if not views:
        return
    latest = views[-1]
    if len(views) > 1:
        st.caption(
            f"{len(views)} edits in a chain, each recorded: "
            + " → ".join(
                f"entry #{v.entry} ({format_percent(v.report.probability)})" for v in views
            )
        )
    if st.button("Back to the recorded values", key=f"{key_prefix}_what_if_reset"):
        held["views"] = []
        st.rerun()
    with st.container(border=True, key=f"{key_prefix}_what_if_view"):
        render_hypothetical_label(latest.report)
        before_name = (
            "Before (the recorded values)" if len(views) == 1 else "Before (the last what-if)"
        )
        render_comparison(latest, key=f"{key_prefix}_what_if", before_name=before_name)
        if st.toggle("Show the what-if report in full", key=f"{key_prefix}_what_if_full"):
            render_clinician_report(latest.report, key_prefix=f"{key_prefix}_what_if_report")


def render_what_if_replay(
    report: CaseReport,
    compare: Callable[[], WhatIfView],
    *,
    open_entry: Callable[[int], None],
    key: str,
) -> None:
    """On the reviewer's replay of a what-if entry: a way to its parent entry, and the
    comparison with the parent's recorded report (``compare`` is the door's
    ``replay_what_if``: both entries verified, their replays recorded)."""
    hypothetical = report.case.hypothetical
    if hypothetical is None or hypothetical.kind != "what_if":
        return
    if hypothetical.parent_entry is not None:
        st.button(
            f"Open the parent entry #{hypothetical.parent_entry}",
            key=f"{key}_parent",
            icon=":material/arrow_back:",
            on_click=open_entry,
            args=(hypothetical.parent_entry,),
        )
    try:
        view = compare()
    except CaseLensError as exc:  # a parent that cannot be replayed: said, the rest stays
        st.warning(literal(exc), icon=":material/link_off:")
        return
    with st.container(border=True, key=f"{key}_what_if_view"):
        render_hypothetical_label(report)
        st.subheader("The what-if beside its parent")
        render_comparison(
            view, key=f"{key}_what_if", before_name=f"Parent (entry #{hypothetical.parent_entry})"
        )
