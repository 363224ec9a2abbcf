"""A CDS Hooks 2.0 card from what the door decided and recorded.

* ``summary`` (fewer than 140 characters): the probability named as the report's headline names
  it ("Chance of …", or "Model score … (not calibrated)") and which side of the threshold.
* ``indicator``: ``warning`` at or above the model's threshold, ``info`` below it and for
  every card without a probability. Never ``critical``: a model's estimate is not an alarm,
  and a low result gets no alarm colour.
* ``detail`` (GitHub-flavoured Markdown): the top factors with this patient's values, the
  likely range, the one limitation that matters most, the model's name and version, and
  that it is not a diagnosis.
* ``source``: the model's Model facts; ``links``: with sign-in with the EHR set up, first a
  ``smart`` link the EHR launches CaseLens with for this patient and clinician; the full
  report of this entry in the app (for safety reviewers); then one ``absolute`` link per next
  step the model's owners state with a link (label: the step's text, cut to
  :data:`MAX_LINK_LABEL_CHARS`). The next steps are plain steps, not FHIR
  actions, so they are never ``suggestions``; every one (with its source) is also in
  ``detail``, so an EHR that shows no links still shows them. They are read off the recorded
  report, so the card says what the trail holds.

Every string that is not this module's own wording (model card text, input labels and
values, patient ids, anything from the EHR) is escaped before it enters Markdown, so a
hostile bundle or record can add no link, image, HTML or heading to a card.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from caselens.explain.clinician_summary import outcome_phrase
from caselens.explain.confidence.model import headline_label
from caselens.explain.next_steps import NO_NEXT_STEPS_TEXT, ReportNextSteps, StatedStep
from caselens.explain.report import CaseReport
from caselens.fhir import LAUNCH_ROUTE
from caselens.model.bundle import ModelBundle
from caselens.workflow import CardDecision, format_interval, format_percent

#: CDS Hooks 2.0: a card's summary is a "<140-character" sentence.
MAX_SUMMARY_CHARS = 139
#: Factors named on a card (the app's report shows all of them).
CARD_FACTORS = 3
#: The prediction card's link: this display's audit entry, replayed (reviewers open it).
REPORT_LINK_LABEL = "This card as recorded in CaseLens (entry #{seq}; for safety reviewers)"
#: The link of a card without an estimate: CaseLens, to read the record and enter the rest.
ENTER_IN_APP_LABEL = "Open CaseLens to enter the missing inputs"
#: Missing inputs listed on a card before "and N more".
CARD_MISSING_LISTED = 12
#: The app's page that shows one audit entry's report (safety reviewers open it).
REPORT_PATH = "/audit_trail?entry={seq}"
#: With sign-in with the EHR set up, the card's first link is a CDS Hooks ``smart`` link: the
#: EHR launches CaseLens (``LAUNCH_ROUTE``) for this patient and clinician, who lands on the Case
#: page with the patient's record read.
SMART_LINK_LABEL = "Open this patient's case in CaseLens"
#: The app's Model facts page.
MODEL_FACTS_PATH = "/model_facts"
#: Longest outside text put on a card in one place (a label, a value, a limitation).
MAX_TEXT_CHARS = 400
#: Longest label of a next step's link. CDS Hooks 2.0 sets no limit on a link's label; an EHR
#: shows it as one line of link text, so it is held to the card summary's limit (<140).
MAX_LINK_LABEL_CHARS = MAX_SUMMARY_CHARS

# CommonMark lets any ASCII punctuation be escaped with a backslash; these are the ones that
# can start or end markup (emphasis, links, images, code, HTML, tables, headings, lists).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: object) -> str:
    """``text`` as literal Markdown text: one line, special characters escaped, ``<`` and
    ``&`` as entities (no HTML), at most :data:`MAX_TEXT_CHARS` characters.

    >>> print(escape_markdown("[x](javascript:alert(1)) <b>"))
    \\[x\\]\\(javascript:alert\\(1\\)\\) &lt;b&gt;
    """
    line = " ".join(str(text).split())[:MAX_TEXT_CHARS]
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def _headline(report: CaseReport, bundle: ModelBundle) -> str:
    confidence = report.confidence
    return headline_label(
        confidence.calibrated, confidence.calibration_method, outcome_phrase(bundle.card)
    )


def _side(report: CaseReport) -> str:
    threshold = format_percent(report.confidence.threshold)
    where = "below" if report.confidence.side == "below" else "at or above"
    return f"{where} the {threshold} threshold"


def card_summary(report: CaseReport, bundle: ModelBundle) -> str:
    """The card's one line, fewer than 140 characters: the number in the headline's words and
    the side of the threshold (shorter wordings when the outcome's name is long)."""
    probability = format_percent(report.probability)
    side = _side(report)
    named = "Chance" if report.confidence.calibrated else "Model score (not calibrated)"
    for candidate in (
        f"{_headline(report, bundle)}: {probability}, {side}",
        f"{bundle.card.name}: {named.lower()} {probability}, {side}",
        f"{named}: {probability}, {side}",
    ):
        line = " ".join(candidate.split())
        if len(line) <= MAX_SUMMARY_CHARS:
            return line
    return f"{named}: {probability}"[:MAX_SUMMARY_CHARS]


def indicator_for(decision: CardDecision) -> str:
    """``warning`` for a probability at or above the threshold; ``info`` otherwise."""
    report = decision.report
    if decision.kind == "prediction" and report is not None and report.confidence.side != "below":
        return "warning"
    return "info"


def _factors(report: CaseReport) -> list[str]:
    shap = report.attributions.shap
    if shap.status != "ok":
        return ["- The explanation could not be computed reliably and is not shown\\."]
    shown = {v.name: v.value_text for v in report.attributions.variables}
    ranked = sorted(shap.contributions, key=lambda c: -abs(c.value))[:CARD_FACTORS]
    return [
        f"- {escape_markdown(c.label)}: {escape_markdown(shown.get(c.name, 'not shown'))} "
        f"({'raises' if c.value >= 0 else 'lowers'} the estimate by "
        f"{100 * abs(c.value):.1f} points)"
        for c in ranked
    ]


def _likely_range(report: CaseReport) -> str:
    confidence = report.confidence
    if confidence.interval is not None:
        interval = confidence.interval
        return f"Likely range: {escape_markdown(format_interval(interval.low, interval.high))}."
    if confidence.range_low is not None and confidence.range_high is not None:
        text = format_interval(confidence.range_low, confidence.range_high)
        return f"Likely range: {escape_markdown(text)}."
    return "No likely range can be given for this estimate."


def _main_limitation(report: CaseReport) -> str | None:
    ordered = sorted(
        report.limitations,
        key=lambda lim: (lim.severity == "info", lim.code == "DEMONSTRATION_MODEL"),
    )
    return ordered[0].clinician_text if ordered else None


def _model_line(name: str, version: str) -> str:
    return (
        f"Model: {escape_markdown(name)} {escape_markdown(version)}\\. Not a diagnosis: an "
        "estimate from a statistical model; the factors are associations, not causes\\."
    )


def _prediction_detail(report: CaseReport, bundle: ModelBundle) -> str:
    confidence = report.confidence
    lines = [
        f"**{escape_markdown(_headline(report, bundle))}: "
        f"{escape_markdown(format_percent(report.probability))}**, "
        f"{escape_markdown(confidence.side_statement)}\\.",
        "",
        _likely_range(report),
        "",
        "Factors the estimate rests on most (SHAP), with this patient's values:",
        "",
        *_factors(report),
        "",
    ]
    limitation = _main_limitation(report)
    if limitation:
        lines += [f"Main caution: {escape_markdown(limitation)}", ""]
    lines += _next_steps_detail(report.next_steps)
    lines.append(_model_line(report.model.name, report.model.version))
    return "\n".join(lines)


def _step_item(step: StatedStep) -> str:
    linked = "; its link is below the card" if step.link else ""
    return f"- {escape_markdown(step.text)} (source: {escape_markdown(step.source)}{linked})"


def _next_steps_detail(shown: ReportNextSteps | None) -> list[str]:
    """The owners' next steps for this result, each with its source, in their words; or that
    none are stated."""
    if shown is None:
        return [escape_markdown(NO_NEXT_STEPS_TEXT), ""]
    lines = [f"{escape_markdown(shown.heading)} (their words, not CaseLens's):", ""]
    lines += [_step_item(s) for s in shown.steps]
    if shown.band is not None:
        lines += ["", f"{escape_markdown(shown.band.heading)}:", ""]
        lines += [_step_item(s) for s in shown.band.steps]
    if shown.none_stated:
        lines.append(escape_markdown(shown.none_stated))
    return [*lines, ""]


def link_label(text: str) -> str:
    """A step's text as a link label: one line, at most :data:`MAX_LINK_LABEL_CHARS`
    characters, cut at a word with '…' when longer."""
    line = " ".join(text.split())
    if len(line) <= MAX_LINK_LABEL_CHARS:
        return line
    cut = line[: MAX_LINK_LABEL_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def next_step_links(report: CaseReport) -> list[dict[str, str]]:
    """One ``absolute`` link per next step with an (https) link, in the order shown."""
    if report.next_steps is None:
        return []
    return [
        {"label": link_label(s.text), "url": s.link, "type": "absolute"}
        for s in report.next_steps.all_steps()
        if s.link and s.link.startswith("https://")
    ]


def _missing_detail(decision: CardDecision, bundle: ModelBundle) -> str:
    listed = decision.missing[:CARD_MISSING_LISTED]
    lines = [
        "No estimate: the record does not give every input the model needs, and CaseLens "
        "does not guess a missing value\\. Missing:",
        "",
        *(
            f"- {escape_markdown(label)}: {escape_markdown(_without(label, why))}"
            for label, why in listed
        ),
    ]
    more = len(decision.missing) - len(listed)
    if more > 0:
        lines.append(f"- and {more} more")
    lines += ["", "Enter them in CaseLens to see the estimate\\.", ""]
    lines.append(_model_line(bundle.card.name, bundle.card.version))
    return "\n".join(lines)


def _without(label: str, why: str) -> str:
    """The intake's message without the input's label it starts with (the card names it)."""
    return why.removeprefix(f"{label}:").strip() or why


def _links(
    decision: CardDecision, app_url: str | None, *, smart_launch: bool = False
) -> list[dict[str, str]]:
    """The app's links (with an app URL), then the owners' next-step links."""
    steps = (
        next_step_links(decision.report)
        if decision.kind == "prediction" and decision.report is not None
        else []
    )
    return _app_links(decision, app_url, smart_launch=smart_launch) + steps


def _app_links(
    decision: CardDecision, app_url: str | None, *, smart_launch: bool = False
) -> list[dict[str, str]]:
    if not app_url:
        return []
    launch = {"url": app_url.rstrip("/") + LAUNCH_ROUTE, "type": "smart"}
    if decision.kind == "inputs_missing":
        # The Case page, where a clinician reads the same record and enters what it lacks:
        # launched by the EHR with this patient when SMART is set up, else the sign-in page.
        if smart_launch:
            return [{"label": ENTER_IN_APP_LABEL, **launch}]
        return [{"label": ENTER_IN_APP_LABEL, "url": app_url.rstrip("/") + "/", "type": "absolute"}]
    if decision.kind != "prediction":
        return []
    url = app_url.rstrip("/") + REPORT_PATH.format(seq=decision.entry_seq)
    # The entry's page is the audit trail's replay, which safety reviewers open: the label says
    # so rather than promise more. The clinician's way in is the SMART launch, when set up.
    label = REPORT_LINK_LABEL.format(seq=decision.entry_seq)
    entry = {"label": label, "url": url, "type": "absolute"}
    return [{"label": SMART_LINK_LABEL, **launch}, entry] if smart_launch else [entry]


def _source(bundle: ModelBundle, app_url: str | None) -> dict[str, str]:
    source = {"label": f"CaseLens Model facts: {bundle.card.name} {bundle.card.version}"[:200]}
    if app_url:
        model = quote(bundle.model_id, safe="")
        source["url"] = f"{app_url.rstrip('/')}{MODEL_FACTS_PATH}?model={model}"
    return source


def render_card(
    decision: CardDecision,
    bundle: ModelBundle,
    *,
    app_url: str | None,
    smart_launch: bool = False,
) -> dict[str, Any]:
    """The CDS Hooks card (a JSON object) for what the door decided; ``smart_launch`` (sign-in
    with the EHR is set up) makes its link to the case a CDS Hooks ``smart`` link."""
    if decision.kind == "prediction" and decision.report is not None:
        summary = card_summary(decision.report, bundle)
        detail = _prediction_detail(decision.report, bundle)
    elif decision.kind == "model_suspended":
        summary = f"{bundle.card.name}: model suspended, no estimate"[:MAX_SUMMARY_CHARS]
        detail = (
            "This model is suspended, so CaseLens shows no estimate from it\\. "
            f"Reason: {escape_markdown(decision.reason or 'not stated')}\n\n"
            + _model_line(bundle.card.name, bundle.card.version)
        )
    elif decision.kind == "model_not_approved":
        summary = f"{bundle.card.name}: no approval in force, no estimate"[:MAX_SUMMARY_CHARS]
        detail = (
            "This model has no approval in force, so CaseLens shows no estimate from it\\. "
            f"{escape_markdown(decision.reason or '')}\n\n"
            + _model_line(bundle.card.name, bundle.card.version)
        )
    else:
        count = len(decision.missing)
        summary = (
            f"{bundle.card.name}: no estimate, {count} input{'s' if count != 1 else ''} "
            "missing from the record"
        )
        if len(summary) > MAX_SUMMARY_CHARS:
            summary = f"No estimate: {count} input{'s' if count != 1 else ''} missing"
        detail = _missing_detail(decision, bundle)
    card: dict[str, Any] = {
        "summary": summary,
        "indicator": indicator_for(decision),
        "detail": detail,
        "source": _source(bundle, app_url),
    }
    if decision.card_uuid is not None:
        card["uuid"] = decision.card_uuid
    links = _links(decision, app_url, smart_launch=smart_launch)
    if links:
        card["links"] = links
    return card
