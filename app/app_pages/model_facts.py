"""Model facts page: the card of each available model, as a one-page label."""

from __future__ import annotations

import streamlit as st

from components.model_facts import render_model_facts
from services import catalogue, explainer

st.title("Model facts")
books = catalogue()
if not books.bundles:
    st.error("No model bundle could be loaded.")
    st.stop()
names = {b.card.name: b.model_id for b in books.bundles.values()}
chosen = st.selectbox("Model", list(names), key="facts_model")
model_id = names[chosen]
render_model_facts(
    books.bundles[model_id],
    reliability_curve=explainer(model_id).confidence_model.reliability_curve,
    key_prefix=f"facts_{model_id}",
)
