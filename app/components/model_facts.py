"""The model card as a one-page Model Facts label (Sendak et al. 2020), HTI-1 attributes and
the CHAI Applied Model Card export one click away."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from caselens.model import (
    ChangeableInput,
    leakage_flag_text,
    no_counterfactual_reason,
    to_chai_applied_model_card,
)
from caselens.monitoring import SubgroupTable
from caselens.workflow import ModelFacts
from components.figures import reliability_figure, subgroup_figure
from components.next_steps import render_card_next_steps
from components.subgroup_table import render_subgroup_table
from components.text import code, literal

#: How each stated direction reads in the table of changeable inputs.
DIRECTION_WORDS = {"up": "only up", "down": "only down", "either": "either way"}


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


def _limits(statement: ChangeableInput, unit: str) -> str:
    """The stated bounds (with the input's unit) or target categories of one input, in words
    ('' when none)."""
    if statement.to_categories is not None:
        return "to " + ", ".join(statement.to_categories)
    unit = f" {unit}" if unit else ""
    if statement.lower is not None and statement.upper is not None:
        return f"{statement.lower:g} to {statement.upper:g}{unit}"
    if statement.lower is not None:
        return f"not below {statement.lower:g}{unit}"
    if statement.upper is not None:
        return f"not above {statement.upper:g}{unit}"
    return ""


def _direction(statement: ChangeableInput) -> str:
    if not statement.modifiable:
        return ""
    if statement.to_categories is not None:
        return "to the listed categories"
    return DIRECTION_WORDS[statement.direction]


def _cell(text: object) -> str:
    """A data text as one Markdown table cell (on one line, every '|' escaped by literal)."""
    return literal(" ".join(str(text).split()))


def changeable_input_rows(
    statements: dict[str, ChangeableInput],
    labels: dict[str, str],
    units: dict[str, str],
) -> list[dict[str, str]]:
    """One row per input the owners state can change: direction, bounds, cost weight, why
    (in the card's order)."""
    return [
        {
            "Input": labels.get(name, name),
            "Direction": _direction(s),
            "Bounds": _limits(s, units.get(name, "")) or "the training range",
            "Cost weight": f"{s.cost_weight:g}",
            "Why": s.why,
        }
        for name, s in statements.items()
        if s.modifiable
    ]


def render_card_statements(facts: ModelFacts) -> None:
    """What the owners state can change (for "what would change it?": a table of the inputs
    that can, a list of those that cannot, each with why) and the next steps they recommend,
    or that they state none. Tables in Markdown, so that every reason is read whole."""
    card = facts.bundle.card
    labels = {f.name: f.label for f in facts.bundle.features}
    units = {f.name: f.unit or "" for f in facts.bundle.features}
    st.subheader("What can change, and the owners' next steps")
    st.markdown("**Inputs that can change in practice** (stated by the model's owners)")
    statements = card.changeable_inputs
    if statements is None:
        st.markdown("Not stated. " + literal(no_counterfactual_reason(None) or ""))
    else:
        rows = changeable_input_rows(statements, labels, units)
        if rows:
            head = list(rows[0])
            st.markdown(
                "| "
                + " | ".join(head)
                + " |\n|"
                + " --- |" * len(head)
                + "\n"
                + "\n".join("| " + " | ".join(_cell(r[h]) for h in head) + " |" for r in rows)
            )
        else:
            st.markdown(literal(no_counterfactual_reason(statements) or ""))
        fixed = [(n, s) for n, s in statements.items() if not s.modifiable]
        if fixed:
            st.markdown(
                "**Stated as not changeable:**\n"
                + "\n".join(f"- {_cell(labels.get(n, n))}: {_cell(s.why)}" for n, s in fixed)
            )
    st.markdown("**Next steps the model's owners recommend**")
    render_card_next_steps(card.next_steps)


def _render_signature(facts: ModelFacts) -> None:
    """Who published the bundle, with which key, and whether the signature holds: a trusted
    signature as a line, anything else as a warning naming the file or key."""
    signature = facts.signature
    if signature is None:
        st.info("Signature: not checked (this bundle was not loaded from a folder).")
        return
    if signature.status == "trusted":
        st.markdown(
            f"**Publisher:** {literal(signature.publisher or '')} · **Key id:** "
            f"{code(signature.key_id or '')} · **Signature:** verified: every file matches "
            f"the manifest signed on {literal(signature.signed_at or '')} by a trusted key"
            + (" (the CaseLens demo publisher key, not secret)" if signature.demo_key else "")
        )
        if signature.demo_key:
            st.caption(
                "The demo publisher key is committed with CaseLens, so anyone can sign with "
                "it: it is trusted in demo mode only."
            )
    elif signature.status == "unsigned":
        st.info(literal(signature.sentence()), icon=":material/info:")
    else:
        st.warning(
            f"**Publisher (as stated, not verified):** {literal(signature.publisher or 'unknown')}"
            f" · **Key id:** {code(signature.key_id or 'unknown')} · "
            f"{literal(signature.sentence())}",
            icon=":material/gpp_bad:",
        )


def render_model_facts(
    facts: ModelFacts, *, key_prefix: str, subgroups: SubgroupTable | None = None
) -> None:
    """Header + summary, mechanism, validation, uses and directions, warnings, other info.

    The card is the bundle's text (untrusted): every field reaches the page through
    :func:`literal` or :func:`code`, inside our own formatting. Performance figures are the
    ones CaseLens measured on the bundle's reference data; ``subgroups`` (the door's
    ``validation_subgroups``) shows every subgroup figure with its interval, small groups
    suppressed, intersections and the largest gaps, in place of the bare subgroup rows."""
    bundle = facts.bundle
    card = bundle.card
    st.header(literal(card.name))
    st.caption(
        f"Model Facts · {literal(card.model_id)} version {literal(card.version)} · released "
        f"{literal(card.release_date)} · last reviewed {literal(card.last_review_date)} "
        f"(next review due {literal(card.review_due())})"
    )
    if card.demonstration_only:
        st.warning(
            "Demonstration model trained on public research data — not for clinical use.",
            icon=":material/warning:",
        )
    for warning in facts.warnings:
        st.error(literal(warning), icon=":material/report:")
    _render_signature(facts)
    st.subheader("Summary")
    st.markdown(literal(card.summary))
    st.subheader("Warnings")
    st.markdown(
        "**Do not use for:**\n" + "\n".join(f"- {literal(u)}" for u in card.out_of_scope_uses)
    )
    st.markdown(
        "**Known failure modes:**\n"
        + "\n".join(f"- {literal(m)}" for m in card.known_failure_modes)
    )
    st.markdown(
        f"**Who is under-represented or missing:** {literal(card.training_data.under_represented)}"
    )
    standing = facts.standing_limitations
    if standing:
        st.markdown(
            "**Holds for every patient (stated once here, not on each case):**\n"
            + "\n".join(f"- {literal(lim.code)}: {literal(lim.clinician_text)}" for lim in standing)
        )
    st.subheader("Mechanism")
    td = card.training_data
    st.markdown(
        f"- **Outcome:** {literal(card.outcome.definition)} — {literal(card.outcome.time_window)}\n"
        + (
            f"- **Output:** calibrated probability ({literal(card.calibration.method)} "
            f"calibration, {literal(card.calibration.fitted_on)})\n"
            if card.calibration.method != "none"
            else "- **Output:** model probability (**not calibrated**)\n"
        )
        + f"- **Target population:** {literal(card.target_population)}\n"
        f"- **Model type:** {literal(card.model_type)}\n"
        f"- **Inputs:** {literal(', '.join(f.label for f in bundle.features))}\n"
        f"- **Training data:** {literal(td.source)}; {literal(td.setting)}; {literal(td.dates)}. "
        f"{literal(td.population)}\n"
        f"- **Split:** {literal(td.split)} (train {td.n_train:,}, "
        f"calibration {td.n_calibration:,}, test {td.n_test:,})\n"
        f"- **Decision threshold:** {100 * card.decision_threshold:.0f}% — "
        f"{literal(card.threshold_rationale)}"
    )
    st.subheader("Validation and performance")
    st.caption(f"{literal(card.validation.method)}. {literal(card.validation.dataset)}.")
    validation = facts.validation
    if bundle.measured_validation is not None:
        st.caption("Figures measured by CaseLens on this bundle's reference data.")
    # An AUROC this high is more often leakage than skill: said beside the figures.
    flag_text = leakage_flag_text(facts.leakage_flags)
    if flag_text:
        st.warning(literal(flag_text), icon=":material/search:")
    overall = validation.overall
    rows = [_figures_row("Overall", overall)]
    if subgroups is None:
        rows += [_figures_row(f"{s.variable}: {s.group}", s.figures) for s in validation.subgroups]
    flagged = {f.population for f in facts.leakage_flags}
    if flagged:
        for row in rows:
            population = "overall" if row["Population"] == "Overall" else row["Population"]
            row["Leakage"] = "check for leakage" if population in flagged else ""
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key=f"{key_prefix}_validation",
        alt="Validation figures, overall"
        if subgroups is not None
        else "Validation figures, overall and by subgroup",
    )
    labels = {f.name: f.label for f in bundle.features}
    left, right = st.columns(2)
    if subgroups is None:
        left.plotly_chart(
            subgroup_figure(validation.subgroups, overall_auroc=overall.auroc, labels=labels),
            key=f"{key_prefix}_subgroups",
            config={"displayModeBar": False},
        )
    if facts.reliability_curve is not None:
        (right if subgroups is None else left).plotly_chart(
            reliability_figure(facts.reliability_curve),
            key=f"{key_prefix}_calibration",
            config={"displayModeBar": False},
        )
    st.caption(f"Calibration choice: {literal(card.calibration.rationale)}")
    if subgroups is not None:
        st.markdown("**By subgroup** (measured on this bundle's reference data)")
        render_subgroup_table(
            subgroups,
            labels=labels,
            key_prefix=key_prefix,
            overall_auroc=overall.auroc,
            chart_title="Discrimination by subgroup (reference data)",
            flagged=flagged,
        )
    st.subheader("Uses and directions")
    st.markdown(
        f"- **Intended use:** {literal(card.intended_use)}\n"
        f"- **Intended users:** {literal(card.intended_users)}\n"
        f"- **Decision role:** {literal(card.source_attributes['intended_decision_role'])}"
    )
    render_card_statements(facts)
    st.subheader("Other information")
    st.markdown(
        f"- **Owner:** {literal(card.owner)} · **Contact:** {literal(card.contact)}\n"
        f"- **Citation:** {literal(td.citation)}\n"
        f"- **Licence of the data:** {literal(td.licence)}\n"
        f"- **Model file SHA-256:** {code(bundle.model_sha256)}"
    )
    with st.expander("All 31 HTI-1 source attributes"):
        st.dataframe(
            pd.DataFrame(card.source_attribute_rows()),
            hide_index=True,
            key=f"{key_prefix}_hti1",
            alt="HTI-1 source attributes",
        )
    chai = json.dumps(to_chai_applied_model_card(card), indent=2, ensure_ascii=False)
    st.download_button(
        "Download the CHAI Applied Model Card (JSON)",
        chai,
        file_name=f"{card.model_id}-chai-model-card.json",
        mime="application/json",
        key=f"{key_prefix}_chai",
    )
