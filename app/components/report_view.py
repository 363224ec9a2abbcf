"""Render a CaseReport for a clinician. Every number shown is a field of the report.

Every string of the report (on replay, of the stored record) is data: it reaches the page
only through :func:`literal` or :func:`code`; our own labels carry the formatting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from caselens.explain import CaseReport, headline_label
from caselens.workflow import (
    format_interval,
    format_percent,
    interval_covers,
    interval_level_text,
)
from components.figures import (
    lime_bar_figure,
    reliability_figure,
    shap_waterfall_figure,
    threshold_strip_figure,
)
from components.hypothetical import render_hypothetical_label
from components.next_steps import render_report_next_steps
from components.record_intake import render_notes, render_sources_table, summary_line
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


#: Badge colour and icon of each side of the threshold: the arrow and the colour follow
#: the sign of (probability − threshold), never a fixed style.
SIDE_BADGE = {
    "above": ("red", ":material/arrow_upward:"),
    "below": ("blue", ":material/arrow_downward:"),
    "at": ("gray", ":material/drag_handle:"),
}
#: Factors named on the result card (the rest are in the charts below it).
CARD_FACTORS = 3


def render_model_banner(problems: tuple[str, ...], *, key: str) -> None:
    """The banner of a bundle whose card failed its checks against its own reference data,
    shown on every screen with its predictions (the problems behind a click)."""
    if not problems:
        return
    st.error(
        f"**This model's card failed {len(problems)} check(s) against its own reference "
        "data** (the same result Model facts shows): the figures it states cannot be "
        "trusted, and the bundle may have been altered. Treat these predictions with "
        "caution and tell the model's owner.",
        icon=":material/gpp_bad:",
    )
    with (box := lazy_expander("What failed", key=key)):
        if box.open:
            st.markdown("\n".join(f"- {literal(p)}" for p in problems))


def probability_headline(report: CaseReport) -> str:
    """The probability's name on the result card, in plain words ("Chance of heart
    disease"); drawn from the stored report, so a replay of an old entry reads the same."""
    c = report.confidence
    return headline_label(c.calibrated, c.calibration_method, report.model.outcome.lower())


def side_badge(report: CaseReport) -> tuple[str, str, str]:
    """(colour, icon, words) of the threshold badge, all from the report's one side."""
    c = report.confidence
    colour, icon = SIDE_BADGE[c.side]
    return colour, icon, c.side_statement[:1].upper() + c.side_statement[1:]


def range_text(report: CaseReport) -> tuple[str, str, str]:
    """(label, value, what it covers) of the probability's range on the result card."""
    c = report.confidence
    if c.interval is not None:
        return (
            f"Range ({interval_level_text(c.interval)})",
            format_interval(c.interval.low, c.interval.high),
            interval_covers(c.interval),
        )
    if c.range_low is not None and c.range_high is not None:
        # A report recorded before intervals existed: its range, printed by today's rule.
        return (
            "Likely range (about 95%)",
            format_interval(c.range_low, c.range_high),
            literal(c.range_statement),
        )
    return ("Range", "none given", c.interval_unavailable_reason or c.range_statement)


def top_factors(report: CaseReport, count: int = CARD_FACTORS) -> list[str]:
    """The largest SHAP contributions (LIME's when SHAP failed), each with this patient's
    value and its direction: "▲ Ejection fraction = 25 %: +9.9 points"."""
    a = report.attributions
    values = {i.name: i for i in report.case.inputs}
    if a.shap.status == "ok":
        ranked = sorted(a.shap.contributions, key=lambda c: -abs(c.value))
        items = [(c.name, c.label, c.value) for c in ranked]
    elif a.lime.status == "ok":
        ranked_lime = sorted(a.lime.weights, key=lambda w: -abs(w.value))
        items = [(w.name, w.label, w.value) for w in ranked_lime]
    else:
        return []
    lines = []
    for name, label, value in items[:count]:
        shown = values.get(name)
        named = f"{shown.label} = {shown.value_text}" if shown is not None else label
        arrow, sign = ("▲", "+") if value >= 0 else ("▼", "−")
        lines.append(f"{arrow} {named}: {sign}{abs(100 * value):.1f} points")
    return lines


def render_result_card(
    report: CaseReport, *, key_prefix: str, on_model_facts: Any | None = None
) -> None:
    """The answer, first: the probability and its range on a threshold strip, the side of
    the threshold, the top three factors with this patient's values, the caution that
    matters most and a way to this model's Model facts. Each number is printed once."""
    c = report.confidence
    m = report.model
    # One card per page keeps its stable key; a what-if drawn beside it gets its own.
    card_key = "result_card" if report.case.hypothetical is None else "what_if_result_card"
    with st.container(border=True, key=card_key):
        left, middle, right = st.columns([1.6, 1.1, 1.3], vertical_alignment="center")
        left.metric(
            literal(probability_headline(report)),
            format_percent(c.probability),
            help=f"{literal(m.outcome_definition)} Time window: {literal(m.time_window)}.",
        )
        label, value, covers = range_text(report)
        middle.metric(label, value, help=literal(covers))
        colour, icon, words = side_badge(report)
        with right:
            st.badge(literal(words), icon=icon, color=colour)  # type: ignore[arg-type]
            # Beside the threshold: the steps the model's owners state for this side of it.
            render_report_next_steps(report, key=f"{key_prefix}_next_steps")
            if c.interval is None:
                st.caption(f"No range: {literal(c.interval_unavailable_reason or '')}")
        st.plotly_chart(
            threshold_strip_figure(c, outcome=m.outcome.lower()),
            key=f"{key_prefix}_strip",
            config={"displayModeBar": False, "staticPlot": True},
            theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
        )
        factors, caution = st.columns([1, 1])
        with factors:
            lines = top_factors(report)
            if lines:
                source = "SHAP" if report.attributions.shap.status == "ok" else "LIME"
                st.markdown(
                    f"**What moved this estimate most** ({source}; association, not cause)\n"
                    + "".join(f"\n- {literal(line)}" for line in lines)
                )
            agreement = report.attributions.agreement
            if agreement is not None and not agreement.agree:
                st.caption("SHAP and LIME disagree on the top factors: see below.")
        with caution:
            if report.limitations:
                # The caution that matters most for this patient: the most severe one about
                # the case; one about the model (true for everyone) only when none is.
                about_case = [lim for lim in report.limitations if not lim.standing]
                first = (about_case or list(report.limitations))[0]
                more = len(report.limitations) - 1
                box = {"warning": st.warning, "caution": st.warning, "info": st.info}
                box[first.severity](
                    f"**{SEVERITY_WORD[first.severity]}:** {literal(first.clinician_text)}"
                    + (f"  \n_{more} more below._" if more else ""),
                    icon=SEVERITY_ICON[first.severity],
                )
            if report.model.demonstration_only:
                st.caption("Demonstration model — not for clinical use.")
            if on_model_facts is not None:
                st.button(
                    "Model facts for this model",
                    key=f"{key_prefix}_facts",
                    icon=":material/description:",
                    on_click=on_model_facts,
                )


def render_limitations(report: CaseReport, *, key_prefix: str) -> None:
    """Limitations, most severe first; severity in words and icon, never colour alone. Their
    codes and what triggered them sit behind a click."""
    st.header("When not to trust this result")
    for lim in report.limitations:
        text = f"**{SEVERITY_WORD[lim.severity]}** — {literal(lim.clinician_text)}"
        box = {"warning": st.warning, "caution": st.warning, "info": st.info}[lim.severity]
        box(text, icon=SEVERITY_ICON[lim.severity])
    with (box := lazy_expander("Details: codes and triggers", key=f"{key_prefix}_codes")):
        if box.open:
            st.markdown(
                "\n".join(
                    f"- {code(lim.code)} ({literal(lim.severity)}): triggered by "
                    f"{code(lim.trigger)}"
                    for lim in report.limitations
                )
            )


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


def render_how_sure(report: CaseReport) -> None:
    """Details of how sure the model is: what the probability is, how its range was built,
    the base rate and the conformal set with what it means (method text, once)."""
    c = report.confidence
    m = report.model
    lines = [
        f"**The probability.** {literal(probability_headline(report))}; calibration "
        f"method: {literal(m.calibration_method)}. Base rate in held-out patients: "
        f"{_pct(c.base_rate)}. Outcome window: {literal(m.time_window)}.",
    ]
    if c.interval is not None:
        lines.append(
            f"**The range.** {literal(interval_covers(c.interval))} Method: "
            f"{literal(c.interval.method)}."
        )
    else:
        lines.append(f"**No range.** {literal(c.interval_unavailable_reason or '')}")
    conformal = c.conformal
    if conformal is not None:
        lines.append(
            f"**Conformal set at {100 * conformal.coverage:.0f}% coverage.** "
            f"{literal(conformal.statement)}{_coverage_line(conformal)}"
        )
    elif c.conformal_unavailable_reason:
        lines.append(literal(c.conformal_unavailable_reason))
    st.markdown("\n\n".join(lines))


def render_explanations(report: CaseReport, *, key_prefix: str) -> None:
    """SHAP waterfall and LIME bars, each at the page's full width, the agreement line and
    the number table; method text behind a click."""
    a = report.attributions
    # Every bar names the variable with this patient's value ("Ejection fraction = 25 %").
    labels = {i.name: f"{i.label} = {i.value_text}" for i in report.case.inputs}
    st.header("What the model's estimate rests on")
    st.caption(
        "How much each of this patient's values moved the model's estimate from the average "
        "patient's. This describes the model, not what causes the outcome."
    )
    if a.agreement is not None:
        badge = "they agree" if a.agreement.agree else "they disagree"
        st.markdown(f"**SHAP vs LIME: {badge}.** {literal(a.agreement.sentence)}")
    if a.shap.status == "ok":
        st.plotly_chart(
            shap_waterfall_figure(a.shap, labels),
            key=f"{key_prefix}_shap",
            config={"displayModeBar": False},
            theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
        )
    else:
        st.error(f"SHAP explanation not shown: {literal(a.shap.failure_reason)}")
    if a.lime.status == "ok":
        st.plotly_chart(
            lime_bar_figure(a.lime, labels),
            key=f"{key_prefix}_lime",
            config={"displayModeBar": False},
            theme=None,  # the figure carries its own template (figures.REPORT_TEMPLATE)
        )
        # LIME is never shown without its local fidelity and its stability across seeds.
        st.caption(
            f"LIME's local fidelity R² {a.lime.fidelity_r2_mean:.2f} (lowest "
            f"{a.lime.fidelity_r2_min:.2f}); top-{a.lime.top_k} overlap across seeds "
            f"{a.lime.top_k_jaccard:.2f}."
        )
    else:
        st.error(f"LIME explanation not shown: {literal(a.lime.failure_reason)}")
    with (box := lazy_expander("The numbers behind the charts", key=f"{key_prefix}_numbers")):
        if box.open:
            if a.shap.status == "ok":
                st.caption(
                    f"SHAP method: {literal(a.shap.method)}. Background "
                    f"{a.shap.background_size} held-out patients, seed {a.shap.seed}. "
                    f"Additivity error {a.shap.additivity_error:.1e}."
                )
            if a.lime.status == "ok" and a.lime.note:
                st.caption(f"LIME: {literal(a.lime.note)}")
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
    st.dataframe(
        table, hide_index=True, key=f"{key_prefix}_attr_table", alt="Contribution of each input"
    )
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
    """How often patients with a similar probability had the outcome, the whole curve and
    its table (drawn inside the Details section, so no expander of its own)."""
    c = report.confidence
    n = c.neighbourhood
    st.header("How reliable is a probability like this?")
    st.markdown(
        f"Among **{n.n}** held-out patients with a similar predicted probability "
        f"({format_interval(n.prob_low, n.prob_high)}), **{n.events}** had the outcome: "
        f"observed {_pct(n.observed_rate)} (95% CI {format_interval(n.ci_low, n.ci_high)}) "
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
    st.dataframe(
        pd.DataFrame([b.model_dump() for b in c.reliability_curve]),
        hide_index=True,
        key=f"{key_prefix}_reliability_table",
        alt="Reliability: predicted and observed risk by bin",
    )


def render_context(report: CaseReport, *, key_prefix: str) -> None:
    """Novelty, per-input flags and the patient's subgroups."""
    ctx = report.context
    st.header("How this patient compares with the evidence")
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
            alt="Inputs flagged for this patient",
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
        alt="The patient's subgroups and the model's figures in each",
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


def render_record_sources(report: CaseReport, *, key_prefix: str) -> None:
    """ "Where the values came from", for a case read from the patient's record: drawn from the
    report itself, so the reviewer's replay shows what the clinician saw."""
    sources = report.case.record_sources
    if sources is None:
        return
    with (box := lazy_expander("Where the values came from", key=f"{key_prefix}_sources")):
        if box.open:
            labels = {i.name: i.label for i in report.case.inputs}
            by_hand = ", ".join(labels.get(n, n) for n in sources.entered_by_hand())
            st.caption(
                literal(summary_line(sources, entered=True))
                + (f" Entered by hand: {literal(by_hand)}." if by_hand else "")
            )
            render_sources_table(
                sources,
                labels,
                {i.name: i.value_text for i in report.case.inputs},
                key=f"{key_prefix}_sources_table",
            )
            render_notes(sources)


def render_clinician_report(
    report: CaseReport,
    *,
    key_prefix: str,
    on_model_facts: Any | None = None,
    model_problems: tuple[str, ...] = (),
    case_notes: tuple[str, ...] = (),
    counterfactuals: Callable[[], None] | None = None,
) -> None:
    """The whole clinician view of one report: the result card first, then why, then when
    not to trust it, then the details behind a click (ends with the report's id, a stable
    marker that the report is fully drawn).

    ``model_problems`` are the bundle's failed card checks (a banner above the card);
    ``on_model_facts`` is called by the card's Model facts button (none on a replay);
    ``case_notes`` are the case's own input flags, shown right under the card;
    ``counterfactuals`` draws "What would move this result across the threshold?" under
    them (the clinician's page only)."""
    render_hypothetical_label(report)  # first, on every hypothetical report
    render_model_banner(model_problems, key=f"{key_prefix}_model_problems")
    render_result_card(report, key_prefix=key_prefix, on_model_facts=on_model_facts)
    for note in case_notes:
        st.warning(literal(note), icon=":material/report:")
    st.caption(
        "This is information for your judgement, not a recommendation. Clinical "
        "judgement stays with the treating clinician."
    )
    if counterfactuals is not None:
        counterfactuals()
    render_explanations(report, key_prefix=key_prefix)
    render_limitations(report, key_prefix=key_prefix)
    render_record_sources(report, key_prefix=key_prefix)
    label = "Details: how sure, the summary, how this patient compares with the evidence"
    with (box := lazy_expander(label, key=f"{key_prefix}_reliability_open")):
        if box.open:
            render_how_sure(report)
            st.info(literal(report.narrative.clinician_summary), icon=":material/summarize:")
            render_reliability(report, key_prefix=key_prefix)
            render_context(report, key_prefix=key_prefix)
    render_provenance(report, key_prefix=key_prefix)
    st.caption(f"Report {literal(report.report_id[:12])}")
