"""The case report as one self-contained HTML file: no script, no external resource, a
strict Content-Security-Policy, inline CSS and inline SVG charts with their words.

Everything printed comes from the report (and so, on replay, from the stored record) or
from the page stamp (the trail's entry): both are data. Jinja2 escapes every value
(autoescape on); the charts escape their own labels (:mod:`.svg_charts`). The canonical
report JSON travels inside ``<template id="caselens-report">`` as escaped text, never as a
script, so a verifier can read it back while no browser runs it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from caselens.explain.confidence.model import headline_label
from caselens.explain.interval_text import format_interval, format_percent, interval_level_text
from caselens.explain.interval_words import interval_covers
from caselens.explain.patient_language import catalogue
from caselens.explain.report import CaseReport
from caselens.export.stamp import ExportAudience, ExportStamp, PageSize
from caselens.export.svg_charts import contributions_chart, icon_array, probability_bar

#: The file's Content-Security-Policy: nothing may load or run; only its own inline styles
#: and data: images (there are none; SVG is inline) are allowed.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: The severities' words (never colour alone), as the screen names them.
SEVERITY_WORD = {"warning": "Warning", "caution": "Caution", "info": "Note"}


class ExportRefused(ValueError):
    """A report that must not be written for this audience (a what-if for a patient)."""


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("caselens.export", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def _points(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.2f}".replace("-", "−")


def _range(report: CaseReport) -> dict[str, Any]:
    """The probability's range as the result card prints it (label, value, what it covers)."""
    c = report.confidence
    if c.interval is not None:
        return {
            "label": f"Range ({interval_level_text(c.interval)})",
            "value": format_interval(c.interval.low, c.interval.high),
            "covers": interval_covers(c.interval),
            "method": c.interval.method,
            "low": c.interval.low,
            "high": c.interval.high,
        }
    if c.range_low is not None and c.range_high is not None:
        return {
            "label": "Likely range (about 95%)",
            "value": format_interval(c.range_low, c.range_high),
            "covers": c.range_statement,
            "method": "",
            "low": c.range_low,
            "high": c.range_high,
        }
    return {
        "label": "Range",
        "value": "none given",
        "covers": c.interval_unavailable_reason or c.range_statement,
        "method": "",
        "low": None,
        "high": None,
    }


def clinician_context(report: CaseReport) -> dict[str, Any]:
    """What the clinician's file shows: everything the clinician's screen shows."""
    c, m, a = report.confidence, report.model, report.attributions
    labels = {i.name: f"{i.label} = {i.value_text}" for i in report.case.inputs}
    shown_range = _range(report)
    headline = headline_label(c.calibrated, c.calibration_method, m.outcome.lower())
    charts = {
        "probability": probability_bar(
            c.probability,
            c.threshold,
            low=shown_range["low"],
            high=shown_range["high"],
            title=f"{headline}: {format_percent(c.probability)}",
        )
    }
    if a.shap.status == "ok":
        charts["shap"] = contributions_chart(
            a.shap.contributions, labels, title="SHAP contributions (percentage points)"
        )
    if a.lime.status == "ok":
        charts["lime"] = contributions_chart(
            a.lime.weights, labels, title="LIME weights (percentage points)"
        )
    n = c.neighbourhood
    conformal = c.conformal
    return {
        "headline": headline,
        "probability": format_percent(c.probability),
        "range": shown_range,
        "side": c.side_statement[:1].upper() + c.side_statement[1:],
        "threshold": format_percent(c.threshold),
        "threshold_rationale": m.threshold_rationale,
        "charts": charts,
        "shap": a.shap,
        "lime": a.lime,
        "agreement": a.agreement,
        "variables": [
            {
                "label": v.label,
                "value": v.value_text,
                "shap": _points(v.shap_value),
                "lime": _points(v.lime_weight),
                "spread": "—" if v.lime_spread is None else f"{100 * v.lime_spread:.2f}",
            }
            for v in a.variables
        ],
        "shap_sum": (
            f"Baseline {_pct(a.shap.baseline, 2)} + contributions = {_pct(a.shap.probability, 2)}."
            if a.shap.status == "ok"
            else ""
        ),
        "limitations": [
            {"word": SEVERITY_WORD.get(lim.severity, lim.severity), **lim.model_dump()}
            for lim in report.limitations
        ],
        "calibration": (
            f"{headline}; calibration method: {m.calibration_method}. Base rate in held-out "
            f"patients: {_pct(c.base_rate)}. Outcome window: {m.time_window}."
        ),
        "conformal": None
        if conformal is None
        else f"Conformal set at {100 * conformal.coverage:.0f}% coverage. {conformal.statement}",
        "conformal_unavailable": c.conformal_unavailable_reason or "",
        "reliability": (
            f"Among {n.n} held-out patients with a similar predicted probability "
            f"({format_interval(n.prob_low, n.prob_high)}), {n.events} had the outcome: "
            f"observed {_pct(n.observed_rate)} (95% CI {format_interval(n.ci_low, n.ci_high)}) "
            f"against {_pct(n.mean_predicted)} predicted. {n.definition}"
        ),
        "neighbourhood_statement": c.neighbourhood_statement or "",
        "context": report.context,
        "validation": (
            f"Validated on {m.validated_on}: AUROC {_number(m.validation.auroc)}, Brier "
            f"{_number(m.validation.brier)}, calibration slope "
            f"{_number(m.validation.calibration_slope)}."
        ),
        "sources": _sources(report),
    }


def _number(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _sources(report: CaseReport) -> list[dict[str, str]]:
    """Where each value came from, for a case read from the patient's record."""
    sources = report.case.record_sources
    if sources is None:
        return []
    labels = {i.name: i.label for i in report.case.inputs}
    return [
        {
            "input": labels.get(f.feature, f.feature),
            "status": f.status,
            "sources": "; ".join(s.describe() for s in f.sources) or "—",
            "message": f.message,
        }
        for f in sources.fields
    ]


def patient_context(report: CaseReport, care_team: str | None = None) -> dict[str, Any]:
    """What the patient's file shows: the plain-language summary in the patient's language,
    with the icon array and its words (the same sentences as the My result page)."""
    if report.case.hypothetical is not None:
        raise ExportRefused("A what-if result is not this patient's and is never given to them.")
    p = report.narrative.patient
    say = catalogue(p.language)
    picture = p.picture_text or say(
        "Picture of 100 figures. Filled in: {count}. Open: {rest}.",
        count=p.out_of_100,
        rest=100 - p.out_of_100,
    )
    if not p.available:
        return {
            "patient": p,
            "available": False,
            "headings": {},
            "icons": None,
            "care_team": care_team or "",
        }
    return {
        "care_team": care_team or "",
        "patient": p,
        "available": True,
        "icons": icon_array(p.out_of_100, title=picture, text=picture),
        "questions": [q.removeprefix("Ask your care team: ") for q in p.questions],
        "headings": {
            "title": say("My result"),
            "factors": say("What is linked with your result"),
            "does_not_mean": say("What this does not mean"),
            "cautions": say("Please keep in mind"),
            "questions": say("Questions to ask your care team"),
            "care": say("How to reach your care team"),
        },
    }


def render_html(
    report: CaseReport,
    stamp: ExportStamp,
    *,
    audience: ExportAudience,
    page_size: PageSize,
    report_json: str,
    for_pdf: bool = False,
    care_team: str | None = None,
) -> str:
    """The whole file as text, ending with ``</html>\\n`` (the signed-file convention).

    ``report_json`` is the canonical report JSON as the display entry holds it;
    ``for_pdf`` repeats the stamp in every page's margins (WeasyPrint running elements);
    ``care_team`` is how to reach the care team (the patient's file only)."""
    body = (
        clinician_context(report) if audience == "clinician" else patient_context(report, care_team)
    )
    language = report.narrative.patient.language if audience == "patient" else "en"
    template = _environment().get_template(f"{audience}.html.j2")
    text = template.render(
        report=report,
        stamp=stamp,
        audience=audience,
        page_size=page_size,
        for_pdf=for_pdf,
        language=language,
        csp=CONTENT_SECURITY_POLICY,
        hypothetical=report.case.hypothetical,
        report_json=report_json,
        **body,
    )
    return text.rstrip() + "\n"


def html_file(
    report: CaseReport,
    stamp: ExportStamp,
    *,
    audience: ExportAudience,
    page_size: PageSize,
    report_json: str,
    care_team: str | None = None,
) -> bytes:
    """The HTML file's bytes (UTF-8), unsigned."""
    text = render_html(
        report,
        stamp,
        audience=audience,
        page_size=page_size,
        report_json=report_json,
        care_team=care_team,
    )
    return text.encode("utf-8")
