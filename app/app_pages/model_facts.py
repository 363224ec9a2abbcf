"""Model facts page: the card of each available model, as a one-page label."""

from __future__ import annotations

import streamlit as st

from components.model_facts import render_model_facts
from session import guard, run, workflow

guard("model_facts")
st.title("Model facts")
offered = workflow().catalogue.bundles
if not offered:
    st.error("No model bundle could be loaded.")
    st.stop()
names = {b.card.name: b.model_id for b in offered.values()}
chosen = st.selectbox("Model", list(names), key="facts_model")
facts = run(workflow().model_facts, names[chosen])
subgroups = run(workflow().validation_subgroups, names[chosen])
render_model_facts(facts, key_prefix=f"facts_{facts.bundle.model_id}", subgroups=subgroups)
