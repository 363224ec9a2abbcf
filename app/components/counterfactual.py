""" "What would move this result across the threshold?": the question on the clinician's
report, its recorded answer, and the reviewer's replay of it.

The answer is drawn only from the door's recorded result (the clinician's page and the
replay call the same :func:`render_counterfactual_result`), and always with the label, the
caveats and which inputs the model's owners allow to change. The button is a question, not
a nudge: nothing is searched until it is pressed, and a model that offers no search says
why instead of showing a button that does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from caselens.errors import CaseLensError
from caselens.workflow import (
    COUNTERFACTUAL_QUESTION,
    HYPOTHETICAL_LABEL,
    alternative_range,
    alternative_sentence,
    none_text,
    search_text,
    target_text,
)
from components.text import literal

#: Pixels of one row of Streamlit's data grid (and of its header row).
TABLE_ROW_PX = 35
#: Rows of the inputs table drawn before it scrolls (the samples have 13 and 14 inputs).
MAX_TABLE_ROWS = 20


def render_counterfactual_question(offer: Any, ask: Callable[[], Any], *, key: str) -> None:
    """The question on a clinician's report, and its answer once asked.

    Parameters
    ----------
    offer : CounterfactualOffer
        The door's ``counterfactual_offer`` for the report's model.
    ask : callable
        Calls the door's ``show_counterfactuals`` for this report (searched, recorded,
        returned; the same report asked again is answered from the session).
    key : str
        Widget key prefix, unique per report, so a new report starts unasked.
    """
    with st.container(border=True, key=f"{key}_box"):
        st.markdown(f"**{COUNTERFACTUAL_QUESTION}**")
        if not offer.offered:
            st.caption(literal(offer.reason))
            return
        asked = f"{key}_asked"
        if not st.session_state.get(asked):
            st.button(
                COUNTERFACTUAL_QUESTION,
                key=f"{key}_ask",
                icon=":material/help:",
                on_click=st.session_state.__setitem__,
                args=(asked, True),
            )
            st.caption(
                "Searches for values the model's owners state can change, within their "
                "limits, that would put the model's estimate on the other side of the "
                "threshold. It describes the model, not a treatment; it is recorded."
            )
            return
        with st.spinner("Searching…"):
            try:
                result = ask()  # checked, searched, recorded, then returned
            except CaseLensError as exc:
                st.error(literal(exc), icon=":material/block:")
                return
        render_counterfactual_result(result, offer.inputs, key=key)


def render_counterfactual_result(result: Any, inputs: Sequence[Any], *, key: str) -> None:
    """One recorded counterfactual answer: the label, what was searched, each alternative
    with the model's own estimate and its range (or why there is none), the caveats, and
    which inputs were allowed to change and why the others were not."""
    st.warning(f"**{literal(HYPOTHETICAL_LABEL)}**", icon=":material/science:")
    st.markdown(literal(target_text(result)))
    reason = none_text(result)
    if reason is not None:
        st.info(literal(reason), icon=":material/search_off:")
    for number, alternative in enumerate(result.alternatives, start=1):
        with st.container(border=True, key=f"{key}_alternative_{number}"):
            st.markdown(
                f"**{number}.** {literal(alternative_sentence(alternative, result.threshold))}"
            )
            st.caption(literal(alternative_range(alternative, result.threshold)))
    st.markdown(
        "**Read this with every answer:**\n" + "".join(f"\n- {literal(c)}" for c in result.caveats)
    )
    _render_inputs(result, inputs, key=key)
    st.caption(literal(search_text(result)))


def _render_inputs(result: Any, inputs: Sequence[Any], *, key: str) -> None:
    """Which inputs the search could change (first), and why the others were left as they
    are, in the model's owners' words; every row shown, up to a bounded height."""
    searched = set(result.searched_inputs)
    ordered = sorted(inputs, key=lambda i: i.name not in searched)  # stable: card order
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Input": i.label,
                    "Could change": "Yes" if i.name in searched else "No",
                    "The model's owners say": i.why,
                }
                for i in ordered
            ],
            columns=["Input", "Could change", "The model's owners say"],
        ),
        hide_index=True,
        key=f"{key}_inputs",
        height=TABLE_ROW_PX * (min(len(ordered), MAX_TABLE_ROWS) + 1) + 3,
        alt="Which inputs the search could change, and why",
    )


def render_counterfactual_replay(
    replay: Any,
    rerun: Callable[[], Any],
    *,
    key: str,
    reruns: dict[int, Any],
    open_entry: Callable[[int], None],
) -> None:
    """A recorded counterfactual display for the reviewer: its heading and parent entry,
    a re-run of the search compared with what was shown, and the answer exactly as drawn."""
    entry = replay.entry
    result = replay.result
    st.header(literal(replay.heading))
    st.caption(
        f"Entry #{entry.seq}, hash {entry.entry_hash}; verified before it was drawn. "
        f"Patient {literal(entry.patient_ref or '—')} · model {literal(result.model_id)}."
    )
    parent = result.parent_entry
    if parent is not None:
        st.button(
            f"Open the report it was asked about (entry #{parent})",
            key=f"{key}_parent",
            icon=":material/arrow_back:",
            on_click=open_entry,
            args=(parent,),
        )
    if st.button(
        "Re-run the search with the recorded settings and seed, and compare",
        key=f"{key}_rerun",
    ):
        with st.spinner("Searching again…"):
            reruns[entry.seq] = rerun()  # the outcome is recorded before it returns
    done = reruns.get(entry.seq)
    if done is not None:
        if done.outcome == "same":
            st.success(literal(done.message), icon=":material/check_circle:")
        elif done.outcome == "unavailable":
            st.warning(literal(done.message))
        else:
            st.error(literal(done.message), icon=":material/error:")
            st.markdown("".join(f"\n- {literal(d)}" for d in done.differences))
    with st.container(border=True):
        st.markdown(f"**{COUNTERFACTUAL_QUESTION}**")
        render_counterfactual_result(result, replay.inputs, key=key)
