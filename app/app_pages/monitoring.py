"""Monitoring page (reviewers and admins): is the model still accurate, calibrated and fair on
the patients it was actually shown for? Figures per period from the prediction log, the plan's
limits, the plan judged on every load (a crossing not yet recorded is shown as "would
alert"), the recorded alerts, points under the plan's minimum n marked "too few to judge",
and — for admins — "suspend this model" on a recorded alert; when a candidate version runs
in shadow, the live and candidate versions side by side on the same patients."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.figures import monitoring_figure
from components.private_download import private_download
from components.shadow_comparison import render_shadow_comparison
from components.subgroup_table import render_subgroup_table
from components.text import literal
from session import guard, run, workflow

guard("monitoring")
st.title("Monitoring")
offered = workflow().catalogue.bundles
if not offered:
    st.error("No model bundle could be loaded.")
    st.stop()
names = {f"{b.card.name} ({b.model_id})": b.model_id for b in offered.values()}
model_id = names[st.selectbox("Model", list(names), key="monitoring_model")]

runs = run(workflow().monitoring_runs, model_id)
sources = ["What was shown to people", *(f"Simulated run {r}" for r in runs)]
source = st.selectbox("Data", sources, key="monitoring_source")
run_id = runs[sources.index(source) - 1] if source != sources[0] else None
view = run(workflow().monitoring_view, model_id, run_id=run_id)

if run_id is not None:
    st.warning(
        f"SIMULATED DATA (run {literal(run_id)}): these predictions and outcomes were drawn "
        "from the bundle's reference data by `caselens monitor simulate`. Nobody was shown "
        "them; they demonstrate the checks.",
        icon=":material/science:",
    )
if view.suspended:
    st.error("This model is suspended: it shows no prediction anywhere.", icon=":material/block:")

plan = view.plan


def level_text(confidence: float) -> str:
    """The plan's confidence level as printed beside every interval: "95%", "90%", "97.5%"."""
    return f"{100 * confidence:g}%"


# Every interval on this page is computed at the plan's level; each label says that level.
LEVEL = level_text(plan.confidence)
CI = f"{LEVEL} CI"
st.caption(
    f"Plan: per {literal(plan.period)}; alert when calibration slope is outside "
    f"{plan.calibration_slope_low:g}–{plan.calibration_slope_high:g}, AUROC drops more than "
    f"{plan.auroc_drop:g} below validation, PSI exceeds {plan.psi_threshold:g}, or a subgroup's "
    f"AUROC drops more than {plan.subgroup_auroc_drop:g}; drift judged from "
    f"{plan.min_predictions} predictions a period, performance from {plan.min_outcomes} "
    f"outcomes ({plan.min_events} events), and only when the {LEVEL} interval lies "
    "wholly beyond the limit; fewer is marked “too few to judge”. See docs/monitoring.md."
)

if st.button("Check now (alerts are recorded)", key="monitoring_check"):
    raised = run(workflow().check_monitoring, model_id, run_id=run_id)
    st.success(f"Checked: {len(raised)} new alert(s) raised and recorded.")
    view = run(workflow().monitoring_view, model_id, run_id=run_id)

st.header("Alerts")
may_suspend = run(workflow().may, "suspend_model")
for alert in view.pending:
    # Judged on this very load: a crossing is shown before anyone has recorded it.
    with st.container(border=True):
        st.markdown(
            f":red-badge[Would alert] **{literal(alert.period)} · {literal(alert.kind)} · "
            f"{literal(alert.subject)}** — {literal(alert.message)}"
        )
        recorder = (
            "The scheduled check records it within minutes, without a click; "
            "“Check now” records it at once."
            if run_id is None
            else "Simulated run: “Check now” records it; the schedule judges only real displays."
        )
        st.caption(f"Not yet recorded. {recorder} n = {alert.n} · limit {literal(alert.threshold)}")
for alert in view.alerts:
    with st.container(border=True):
        st.markdown(
            f":orange-badge[Alert recorded] **{literal(alert.period)} · {literal(alert.kind)} · "
            f"{literal(alert.subject)}** — {literal(alert.message)}"
        )
        st.caption(
            f"Alert {literal(alert.alert_id)} · n = {alert.n} · limit {literal(alert.threshold)}"
        )
        offer = may_suspend and not alert.simulated and not view.suspended
        if offer and st.button("Suspend this model", key=f"monitoring_suspend_{alert.alert_id}"):
            run(workflow().suspend_from_alert, alert.alert_id)
            st.rerun()
unjudged = len(view.figures) - view.judged_periods
if not view.alerts and not view.pending and view.figures:
    if view.judged_periods == 0:
        st.warning(
            f"Too few to judge: no period has the plan's minimum ({plan.min_predictions} "
            f"predictions for drift; {plan.min_outcomes} with outcomes and {plan.min_events} "
            "events of each kind for performance). No alert can be raised yet, so the "
            "absence of one says nothing about the model.",
            icon=":material/hourglass_empty:",
        )
    else:
        st.info(
            f"No limit is crossed in the {view.judged_periods} period(s) judged against the "
            "plan" + (f"; {unjudged} period(s) have too few to judge." if unjudged else ".")
        )
if view.watches:
    with st.expander(f"To watch ({len(view.watches)}): beyond a limit, not yet certain"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Period": w.period,
                        "What": w.kind,
                        "Subject": w.subject,
                        "Value": w.value,
                        "Limit": w.threshold,
                        "n": w.n,
                    }
                    for w in view.watches
                ]
            ),
            hide_index=True,
            key="monitoring_watches",
            alt="Figures to watch: beyond a limit, not yet certain",
        )

if not view.figures:
    st.info("Nothing has been shown with this model yet, so there is nothing to monitor.")
    st.stop()

periods = [f.period for f in view.figures]


def _estimate(figures, path: str):
    """(value, low, high) of an Estimate reached by ``path`` on a period's figures."""
    obj = figures
    for part in path.split("."):
        obj = getattr(obj, part, None) if obj is not None else None
    if obj is None:
        return None, None, None
    return obj.value, obj.low, obj.high


def _series(path: str):
    triples = [_estimate(f, path) for f in view.figures]
    return [t[0] for t in triples], [t[1] for t in triples], [t[2] for t in triples]


reference_auroc = view.figures[0].reference_auroc.value
left, right = st.columns(2)
# A period under the plan's minimum n is marked on its points: a value beyond a limit
# there is not a verdict.
too_few_outcomes = [f.performance is None or not f.performance.judged for f in view.figures]
too_few_predictions = [not f.drift_judged for f in view.figures]
values, lows, highs = _series("performance.auroc")
left.plotly_chart(
    monitoring_figure(
        "AUROC (with outcomes)",
        periods,
        values,
        lows=lows,
        highs=highs,
        limits=[("validation", reference_auroc), ("alert below", reference_auroc - plan.auroc_drop)]
        if reference_auroc is not None
        else [],
        too_few=too_few_outcomes,
    ),
    key="monitoring_auroc",
    config={"displayModeBar": False},
)
values, lows, highs = _series("performance.calibration_slope")
right.plotly_chart(
    monitoring_figure(
        "Calibration slope",
        periods,
        values,
        lows=lows,
        highs=highs,
        limits=[
            ("low limit", plan.calibration_slope_low),
            ("high limit", plan.calibration_slope_high),
        ],
        too_few=too_few_outcomes,
    ),
    key="monitoring_slope",
    config={"displayModeBar": False},
)
left, right = st.columns(2)
left.plotly_chart(
    monitoring_figure(
        "Drift of predicted probabilities (PSI)",
        periods,
        [f.prediction_psi for f in view.figures],
        limits=[("alert above", plan.psi_threshold)],
        from_zero=True,
        too_few=too_few_predictions,
    ),
    key="monitoring_psi",
    config={"displayModeBar": False},
)
right.plotly_chart(
    monitoring_figure(
        "Predictions shown", periods, [f.predictions for f in view.figures], from_zero=True
    ),
    key="monitoring_volume",
    config={"displayModeBar": False},
)


def render_period_subgroups(view, *, model_id: str, run_id: str | None) -> None:
    """One period's subgroup table (chosen among the periods with outcomes), from the door."""
    st.header("Subgroups (fairness)")
    with_outcomes = [f.period for f in view.figures if f.with_outcomes]
    if not with_outcomes:
        st.info("No outcomes are linked yet, so there are no subgroup figures to show.")
        return
    period = st.selectbox(
        "Period", list(reversed(with_outcomes)), key=f"monitoring_subgroup_period_{model_id}"
    )
    table = run(workflow().monitoring_subgroups, model_id, period, run_id=run_id)
    st.caption(
        f"{table.n:,} predictions with a linked outcome in {literal(period)} "
        f"({table.events:,} events)."
    )
    render_subgroup_table(
        table,
        labels={f.name: f.label for f in workflow().bundle(model_id).features},
        key_prefix=f"monitoring_{model_id}",
        overall_auroc=next(
            (
                f.performance.auroc.value
                for f in view.figures
                if f.period == period and f.performance
            ),
            None,
        ),
        chart_title=f"Discrimination by subgroup ({period})",
    )


st.header("Every number")


def _fmt(value) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


rows = []
for f in view.figures:
    perf = f.performance
    rows.append(
        {
            "Period": f.period,
            "Simulated": "yes" if f.simulated else "no",
            "Drift judged": "yes" if f.drift_judged else "too few to judge",
            "Performance judged": "yes"
            if perf is not None and perf.judged
            else "too few to judge"
            if perf is not None
            else "no outcomes yet",
            "Displays": f.displays,
            "Predictions": f.predictions,
            "With outcomes": f.with_outcomes,
            "PSI (predictions)": _fmt(f.prediction_psi),
            "KS p": _fmt(f.prediction_ks_p),
            "AUROC": _fmt(perf.auroc.value) if perf else "",
            f"AUROC {CI}": f"{_fmt(perf.auroc.low)}–{_fmt(perf.auroc.high)}" if perf else "",
            "Calibration slope": _fmt(perf.calibration_slope.value) if perf else "",
            "Calibration-in-the-large": _fmt(perf.calibration_in_the_large.value) if perf else "",
            "ECE": _fmt(perf.ece) if perf else "",
            "Brier": _fmt(perf.brier.value) if perf else "",
            "Observed rate": _fmt(perf.observed_rate.value) if perf else "",
            "Mean predicted": _fmt(perf.mean_predicted) if perf else "",
            "Set coverage": _fmt(perf.coverage.value) if perf else "",
            "Sensitivity": _fmt(perf.sensitivity.value) if perf else "",
            "Specificity": _fmt(perf.specificity.value) if perf else "",
        }
    )
table = pd.DataFrame(rows)
st.dataframe(table, hide_index=True, key="monitoring_table", alt="Monitoring figures by period")
private_download(
    "Download these figures (CSV)",
    table.to_csv(index=False).encode("utf-8"),
    file_name=f"{model_id}-monitoring.csv",
    mime="text/csv",
    key="monitoring_csv",
)
drift_rows = [
    {
        "Period": f.period,
        "Input": d.name,
        "PSI": _fmt(d.psi),
        "Chi-square p": _fmt(d.chi_square_p),
        "Missing share": _fmt(d.missing_share.value),
        "Missing (reference)": _fmt(d.reference_missing_share),
        "Out of range": _fmt(d.out_of_range.value),
        "n": d.n,
    }
    for f in view.figures
    for d in f.inputs
]
with st.expander("Input drift per variable"):
    st.dataframe(
        pd.DataFrame(drift_rows),
        hide_index=True,
        key="monitoring_drift",
        alt="Input drift per variable and period",
    )
subgroup_rows = [
    {
        "Period": f.period,
        "Variable": s.variable,
        "Group": s.group,
        "n": s.performance.n,
        "AUROC": _fmt(s.performance.auroc.value),
        f"AUROC {CI}": f"{_fmt(s.performance.auroc.low)}–{_fmt(s.performance.auroc.high)}"
        if s.performance.auroc.value is not None
        else "not defined: one outcome only",
        "AUROC (reference)": _fmt(s.reference_auroc.value),
        f"AUROC (reference) {CI}": f"{_fmt(s.reference_auroc.low)}–{_fmt(s.reference_auroc.high)}"
        if s.reference_auroc.value is not None
        else "",
        "Judged": "yes" if s.performance.judged else "too few to judge",
    }
    for f in view.figures
    for s in f.subgroups
]
render_period_subgroups(view, model_id=model_id, run_id=run_id)
with st.expander("Subgroup AUROC against the reference, every period (the plan's alerts)"):
    st.dataframe(
        pd.DataFrame(subgroup_rows),
        hide_index=True,
        key="monitoring_subgroups",
        alt="Performance by subgroup and period",
    )

# A candidate version scored in shadow beside the live one (real displays only: a simulated
# run has no shadow candidate). Shown only when some candidate has shadow rows.
candidates = run(workflow().shadow_candidates, model_id) if run_id is None else ()
if candidates:
    st.header("Live and candidate")
    st.caption(
        "A candidate version in shadow is scored beside the live version on the same cases "
        "and shown to nobody. These figures compare the two on the same patients, each at "
        "its own threshold."
    )
    labels = {
        f"Version {c.card_version} ({c.bundle_sha256[:12]}, {c.state}, {c.rows} predictions)": (
            c.bundle_sha256
        )
        for c in candidates
    }
    chosen = labels[st.selectbox("Candidate", list(labels), key="monitoring_candidate")]
    compared = run(workflow().shadow_comparison, model_id, chosen)
    if compared is not None:
        render_shadow_comparison(compared, key_prefix="monitoring_shadow")

use = run(workflow().clinician_use, model_id, run_id=run_id)
st.header("How clinicians used it")
if use.feedback:
    st.caption(
        "Feedback given on reports, and the estimates clinicians recorded before seeing the "
        "model's; cards in the EHR accepted or overridden are counted apart (they carry no "
        "agree or disagree). A gap that shrinks while agreement rises can mean deference to the "
        "model (automation bias), not a better model: read it beside the performance figures."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Period": f.period,
                    "Feedback": f.feedback,
                    "Agree": f.agree,
                    "Disagree": f.disagree,
                    "Not useful": f.not_useful,
                    "EHR cards accepted": f.card_accepted,
                    "EHR cards overridden": f.card_overridden,
                    "Agreement": _fmt(f.agreement.value),
                    f"Agreement {CI}": f"{_fmt(f.agreement.low)}–{_fmt(f.agreement.high)}",
                    "With own estimate": f.with_own_estimate,
                    "Mean gap (points of 100)": _fmt(f.mean_gap_points),
                    "Own estimate across the threshold": _fmt(f.other_side.value),
                }
                for f in use.feedback
            ]
        ),
        hide_index=True,
        key="monitoring_feedback",
        alt="Clinician feedback and own estimates by period",
    )
elif run_id is None:
    st.info("No clinician has given feedback on this model's reports yet.")
codes = sorted({code for f in use.limitations for code in f.shown})
if codes:
    with st.expander("Limitations shown (share of displays)"):
        st.dataframe(
            pd.DataFrame(
                [
                    {"Period": f.period, "Displays": f.displays}
                    | {code: _fmt(f.rate(code)) for code in codes}
                    for f in use.limitations
                ]
            ),
            hide_index=True,
            key="monitoring_limitations",
            alt="Share of displays that showed each limitation",
        )

st.header("Governance report")
st.caption(
    "One self-contained HTML file with everything above, for a governance meeting. "
    "Preparing it is recorded in the audit trail."
)
if st.button("Prepare the report (HTML)", key="monitoring_report"):
    st.session_state["monitoring_report_file"] = run(
        workflow().monitoring_report, model_id, run_id=run_id
    )
prepared = st.session_state.get("monitoring_report_file")
if prepared is not None and prepared.file_name.startswith(f"{model_id}-"):
    private_download(
        f"Download {prepared.file_name}",
        prepared.data,
        file_name=prepared.file_name,
        mime=prepared.mime,
        key="monitoring_report_download",
    )
