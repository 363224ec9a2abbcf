"""Render a CaseReport for a clinician. Every number shown is a field of the report.

Every string of the report (on replay, of the stored record) is data: it reaches the page
only through :func:`literal` or :func:`code`; our own labels carry the formatting."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from caselens.report import CaseReport
from components.figures import (
    lime_bar_figure,
    probability_figure,
    reliability_figure,
    shap_waterfall_figure,
)
from components.text import code, literal

SEVERITY_ICON = {
    "warning": ":material/warning:",
    "caution": ":material/report:",
    "info": ":material/info:",
}
SEVERITY_WORD = {"warning": "Warning", "caution": "Caution", "info": "Note"}


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def lazy_expander(label: str, *, key: str) -> Any:
    """A collapsed expander whose content is built only while it is open.

    A plain ``st.expander`` sends its content with every case shown, and the browser lays
    it out even while it is closed; these sections (tables, provenance) are read on
    demand, so opening one reruns the page (the report is already computed and recorded
    in this session: nothing is recomputed or written twice). Use as
    ``with (box := lazy_expander(...)): if box.open: ...``.
    """
    return st.expander(label, key=key, on_change="rerun")


def render_limitations(report: CaseReport) -> None:
    """Limitations, most severe first; severity in words and icon, never colour alone."""
    st.subheader("When not to trust this result")
    for lim in report.limitations:
        text = (
            f"**{SEVERITY_WORD[lim.severity]} · {literal(lim.code)}** — "
            f"{literal(lim.clinician_text)}  \n"
            f"Triggered by: {code(lim.trigger)}"
        )
        box = {"warning": st.warning, "caution": st.warning, "info": st.info}[lim.severity]
        box(text, icon=SEVERITY_ICON[lim.severity])


def _coverage_line(conformal) -> str:
    """Held-out coverage of the conformal set, overall and per outcome class (with n)."""
    if conformal.empirical_coverage is None:
        return ""
    parts = [f"overall {_pct(conformal.empirical_coverage)} of {conformal.empirical_coverage_n:,}"]
    parts += [
        f"{literal(c.name)} {_pct(c.held_out_coverage)} "
        f"({c.held_out_covered:,} of {c.held_out_n:,})"
        for c in conformal.class_coverage
    ]
    return " Held-out coverage: " + "; ".join(parts) + "."


def render_probability(report: CaseReport, *, key_prefix: str) -> None:
    """The probability (named calibrated only when it is), its interval, the threshold, the
    base rate and the conformal set with what it means."""
    c = report.confidence
    m = report.model
    cols = st.columns([1, 1, 1])
    cols[0].metric(
        f"{literal(c.probability_label)} of {literal(m.outcome.lower())}",
        _pct(c.probability),
        help=f"{literal(m.time_window)}. Calibration: {literal(m.calibration_method)}.",
    )
    if c.interval is not None:
        cols[1].metric(
            f"Probability interval ({100 * c.interval.level:.0f}%)",
            f"{_pct(c.interval.low, 0)} – {_pct(c.interval.high, 0)}",
            help=literal(c.interval.method) + ".",
        )
    elif c.range_low is not None and c.range_high is not None:
        # A report recorded before intervals existed: shown as it was shown then.
        cols[1].metric("Likely range (95%)", f"{_pct(c.range_low, 0)} – {_pct(c.range_high, 0)}")
    else:
        cols[1].metric(
            "Probability interval",
            "none",
            help=literal(c.interval_unavailable_reason or c.range_statement),
        )
    cols[2].metric(
        "Decision threshold",
        _pct(m.threshold, 0),
        delta=literal(c.side_statement),
        delta_color="off",
    )
    conformal = c.conformal
    line = (
        f"**{literal(c.side_statement.capitalize())}.** Base rate in held-out patients: "
        f"{_pct(c.base_rate)}. Outcome window: {literal(m.time_window)}."
    )
    if conformal is not None:
        line += (
            f" Conformal set at {100 * conformal.coverage:.0f}% coverage: "
            f"**{literal(conformal.statement)}**{_coverage_line(conformal)}"
        )
    elif c.conformal_unavailable_reason:
        line += f" {literal(c.conformal_unavailable_reason)}"
    if c.interval is None and c.interval_unavailable_reason:
        line += f" {literal(c.interval_unavailable_reason)}"
    st.markdown(line)
    st.plotly_chart(
        probability_figure(c, outcome=m.outcome.lower()),
        key=f"{key_prefix}_probability",
        config={"displayModeBar": False},
        theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
    )


def render_explanations(report: CaseReport, *, key_prefix: str) -> None:
    """SHAP waterfall and LIME bars side by side, the agreement badge and the number table."""
    a = report.attributions
    # Every bar names the variable with this patient's value ("Ejection fraction = 25 %").
    labels = {i.name: f"{i.label} = {i.value_text}" for i in report.case.inputs}
    st.subheader("What the model's estimate rests on")
    st.caption(
        "How much each of this patient's values moved the model's estimate from the average "
        "patient's. This describes the model, not what causes the outcome."
    )
    if a.agreement is not None:
        badge = "they agree" if a.agreement.agree else "they disagree"
        st.markdown(f"**SHAP vs LIME: {badge}.** {literal(a.agreement.sentence)}")
    left, right = st.columns(2)
    with left:
        if a.shap.status == "ok":
            st.plotly_chart(
                shap_waterfall_figure(a.shap, labels),
                key=f"{key_prefix}_shap",
                config={"displayModeBar": False},
                theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
            )
            st.caption(
                f"Method: {literal(a.shap.method)}. Background {a.shap.background_size} "
                f"held-out patients, seed {a.shap.seed}. Additivity error "
                f"{a.shap.additivity_error:.1e}."
            )
        else:
            st.error(f"SHAP explanation not shown: {literal(a.shap.failure_reason)}")
    with right:
        if a.lime.status == "ok":
            st.plotly_chart(
                lime_bar_figure(a.lime, labels),
                key=f"{key_prefix}_lime",
                config={"displayModeBar": False},
                theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
            )
            st.caption(
                f"Local fidelity R² {a.lime.fidelity_r2_mean:.2f} (lowest "
                f"{a.lime.fidelity_r2_min:.2f}); top-{a.lime.top_k} overlap across "
                f"seeds {a.lime.top_k_jaccard:.2f}. {literal(a.lime.note)}"
            )
        else:
            st.error(f"LIME explanation not shown: {literal(a.lime.failure_reason)}")
    with (box := lazy_expander("The numbers behind the charts", key=f"{key_prefix}_numbers")):
        if box.open:
            _render_numbers(report, key_prefix=key_prefix)


def _render_numbers(report: CaseReport, *, key_prefix: str) -> None:
    """The table of SHAP and LIME values per input, and how the SHAP values add up."""
    a = report.attributions
    table = pd.DataFrame(
        [
            {
                "Input": v.label,
                "Value": v.value_text,
                "SHAP (points)": None if v.shap_value is None else round(100 * v.shap_value, 2),
                "LIME (points)": None if v.lime_weight is None else round(100 * v.lime_weight, 2),
                "LIME spread (SD)": None
                if v.lime_spread is None
                else round(100 * v.lime_spread, 2),
                **({"Log-odds": round(v.log_odds, 3)} if v.log_odds is not None else {}),
            }
            for v in a.variables
        ]
    )
    st.dataframe(table, hide_index=True, key=f"{key_prefix}_attr_table")
    if a.shap.status == "ok":
        st.caption(
            f"Baseline {_pct(a.shap.baseline, 2)} + contributions = {_pct(a.shap.probability, 2)}."
        )
    if a.shap.log_odds_baseline is not None:
        st.caption(
            f"Exact logistic-regression contributions in log-odds; baseline "
            f"log-odds {a.shap.log_odds_baseline:.3f}. {literal(a.shap.log_odds_note or '')}"
        )


def render_reliability(report: CaseReport, *, key_prefix: str) -> None:
    """How often patients with a similar probability had the outcome, and the whole curve."""
    c = report.confidence
    n = c.neighbourhood
    st.subheader("How reliable is a probability like this?")
    st.markdown(
        f"Among **{n.n}** held-out patients with a similar predicted probability "
        f"({_pct(n.prob_low)}–{_pct(n.prob_high)}), **{n.events}** had the outcome: "
        f"observed {_pct(n.observed_rate)} (95% CI {_pct(n.ci_low)}–{_pct(n.ci_high)}) "
        f"against {_pct(n.mean_predicted)} predicted. {literal(n.definition)}"
    )
    if c.neighbourhood_statement:
        text = literal(c.neighbourhood_statement)
        st.markdown(f"**{text}**" if c.estimate_outside_neighbourhood else text)
    st.plotly_chart(
        reliability_figure(c.reliability_curve, highlight=c.probability),
        key=f"{key_prefix}_reliability",
        config={"displayModeBar": False},
        theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
    )
    with (box := lazy_expander("Reliability table", key=f"{key_prefix}_reliability_open")):
        if box.open:
            st.dataframe(
                pd.DataFrame([b.model_dump() for b in c.reliability_curve]),
                hide_index=True,
                key=f"{key_prefix}_reliability_table",
            )


def render_context(report: CaseReport, *, key_prefix: str) -> None:
    """Novelty, per-input flags and the patient's subgroups."""
    ctx = report.context
    st.subheader("How this patient compares with the evidence")
    st.markdown(f"**Novelty:** {literal(ctx.novelty.statement)}")
    if ctx.variable_flags:
        st.dataframe(
            pd.DataFrame(
                [
                    {"Input": f.label, "Value": f.value_text, "Flag": f.message}
                    for f in ctx.variable_flags
                ]
            ),
            hide_index=True,
            key=f"{key_prefix}_flags",
        )
    st.markdown(f"**The patient's subgroups** — {literal(ctx.subgroup_rule)}")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Subgroup": f"{s.label}: {s.group}",
                    "Status": s.status,
                    "n": s.n,
                    "Events": s.events,
                    "AUROC": s.auroc,
                    "Overall AUROC": s.overall_auroc,
                    "ECE": s.ece,
                    "Note": s.note,
                }
                for s in ctx.subgroups
            ]
        ),
        hide_index=True,
        key=f"{key_prefix}_subgroups",
    )


def render_provenance(report: CaseReport, *, key_prefix: str) -> None:
    """Report id, model hash, seeds, versions and step timings."""
    label = "Provenance: model, seeds, versions, timings"
    with (box := lazy_expander(label, key=f"{key_prefix}_provenance")):
        if box.open:
            _render_provenance_body(report)


def _render_provenance_body(report: CaseReport) -> None:
    """The provenance section's content."""
    prov = report.provenance
    st.markdown(
        f"Report {code(report.report_id[:16] + '…')} created "
        f"{literal(report.created_at)} · model {literal(report.model.model_id)} "
        f"{literal(report.model.version)} (SHA-256 {code(report.model.sha256[:16] + '…')}) "
        f"· validated on {literal(report.model.validated_on)}: "
        f"AUROC {literal(report.model.validation.auroc)}, "
        f"Brier {literal(report.model.validation.brier)}, "
        f"calibration slope {literal(report.model.validation.calibration_slope)}."
    )
    st.json(
        {
            "seeds": prov.seeds,
            "background_size": prov.background_size,
            "lime_runs": prov.lime_runs,
            "lime_samples": prov.lime_samples,
            "library_versions": prov.library_versions,
            "timings_ms": prov.timings_ms,
        },
        expanded=False,
    )


def render_clinician_report(report: CaseReport, *, key_prefix: str) -> None:
    """The whole clinician view of one report (ends with its id, a stable marker that the
    report is fully drawn)."""
    if report.model.demonstration_only:
        st.caption("Demonstration model — not for clinical use.")
    render_probability(report, key_prefix=key_prefix)
    st.info(literal(report.narrative.clinician_summary), icon=":material/summarize:")
    st.caption(
        "This is information for your judgement, not a recommendation. Clinical "
        "judgement stays with the treating clinician."
    )
    render_limitations(report)
    render_explanations(report, key_prefix=key_prefix)
    render_reliability(report, key_prefix=key_prefix)
    render_context(report, key_prefix=key_prefix)
    render_provenance(report, key_prefix=key_prefix)
    st.caption(f"Report {literal(report.report_id[:12])}")
