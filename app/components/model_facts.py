"""The model card as a one-page Model Facts label (Sendak et al. 2020), HTI-1 attributes and
the CHAI Applied Model Card export one click away."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from caselens.bundle import ModelBundle
from caselens.model_card import to_chai_applied_model_card
from components.figures import reliability_figure, subgroup_figure


def _figures_row(label: str, f) -> dict:
    return {
        "Population": label,
        "n": f.n,
        "Events": f.events,
        "AUROC": f.auroc,
        "Sensitivity": f.sensitivity,
        "Specificity": f.specificity,
        "Brier": f.brier,
        "ECE": f.ece,
        "Calibration slope": f.calibration_slope,
        "Calibration intercept": f.calibration_intercept,
    }


def render_model_facts(bundle: ModelBundle, *, reliability_curve=None, key_prefix: str) -> None:
    """Header + summary, mechanism, validation, uses and directions, warnings, other info."""
    card = bundle.card
    st.header(f"{card.name}")
    st.caption(
        f"Model Facts · {card.model_id} version {card.version} · released "
        f"{card.release_date} · last reviewed {card.last_review_date} (next review due "
        f"{card.review_due()})"
    )
    if card.demonstration_only:
        st.warning(
            "Demonstration model trained on public research data — not for clinical use.",
            icon=":material/warning:",
        )
    st.subheader("Summary")
    st.write(card.summary)
    st.subheader("Warnings")
    st.markdown("**Do not use for:**\n" + "\n".join(f"- {u}" for u in card.out_of_scope_uses))
    st.markdown(
        "**Known failure modes:**\n" + "\n".join(f"- {m}" for m in card.known_failure_modes)
    )
    st.markdown(f"**Who is under-represented or missing:** {card.training_data.under_represented}")
    st.subheader("Mechanism")
    td = card.training_data
    st.markdown(
        f"- **Outcome:** {card.outcome.definition} — {card.outcome.time_window}\n"
        f"- **Output:** calibrated probability ({card.calibration.method} calibration, "
        f"{card.calibration.fitted_on})\n"
        f"- **Target population:** {card.target_population}\n"
        f"- **Model type:** {card.model_type}\n"
        f"- **Inputs:** {', '.join(f.label for f in bundle.features)}\n"
        f"- **Training data:** {td.source}; {td.setting}; {td.dates}. {td.population}\n"
        f"- **Split:** {td.split} (train {td.n_train:,}, calibration {td.n_calibration:,}, "
        f"test {td.n_test:,})\n"
        f"- **Decision threshold:** {100 * card.decision_threshold:.0f}% — "
        f"{card.threshold_rationale}"
    )
    st.subheader("Validation and performance")
    st.caption(f"{card.validation.method}. {card.validation.dataset}.")
    overall = card.validation.overall
    rows = [_figures_row("Overall", overall)] + [
        _figures_row(f"{s.variable}: {s.group}", s.figures) for s in card.validation.subgroups
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{key_prefix}_validation")
    labels = {f.name: f.label for f in bundle.features}
    left, right = st.columns(2)
    left.plotly_chart(
        subgroup_figure(card.validation.subgroups, overall_auroc=overall.auroc, labels=labels),
        key=f"{key_prefix}_subgroups",
        config={"displayModeBar": False},
    )
    if reliability_curve is not None:
        right.plotly_chart(
            reliability_figure(reliability_curve),
            key=f"{key_prefix}_calibration",
            config={"displayModeBar": False},
        )
    st.caption(f"Calibration choice: {card.calibration.rationale}")
    st.subheader("Uses and directions")
    st.markdown(
        f"- **Intended use:** {card.intended_use}\n"
        f"- **Intended users:** {card.intended_users}\n"
        f"- **Decision role:** {card.source_attributes['intended_decision_role']}"
    )
    st.subheader("Other information")
    st.markdown(
        f"- **Owner:** {card.owner} · **Contact:** {card.contact}\n"
        f"- **Citation:** {td.citation}\n- **Licence of the data:** {td.licence}\n"
        f"- **Model file SHA-256:** `{bundle.model_sha256}`"
    )
    with st.expander("All 31 HTI-1 source attributes"):
        st.dataframe(
            pd.DataFrame(card.source_attribute_rows()), hide_index=True, key=f"{key_prefix}_hti1"
        )
    chai = json.dumps(to_chai_applied_model_card(card), indent=2, ensure_ascii=False)
    st.download_button(
        "Download the CHAI Applied Model Card (JSON)",
        chai,
        file_name=f"{card.model_id}-chai-model-card.json",
        mime="application/json",
        key=f"{key_prefix}_chai",
    )
