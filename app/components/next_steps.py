"""The model's owners' next steps on a screen: beside the threshold badge on the clinician's report,
in the patient's words on the patient view, and as the card states them on Model facts.

Every step is the owners' text (a card's, or on replay the stored report's): it reaches the
page through :func:`literal`; a step's link is drawn as a link only when it is https, its
address percent-encoded so that no character of it can end the Markdown link.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from caselens.explain import HYPOTHETICAL_LABEL, NO_NEXT_STEPS_TEXT, CaseReport
from caselens.model import NextSteps
from components.text import literal

#: Characters a link address keeps as they are; every other one (brackets, parentheses,
#: spaces, quotes, non-ASCII) is percent-encoded, so the address cannot close the link.
_URL_SAFE = "/:?#&=%+,;@!$'*~-._"


def _address(url: str | None) -> str | None:
    """An https address, percent-encoded for a Markdown link; None for none or another scheme."""
    if not url or not url.startswith("https://"):
        return None
    return quote(url, safe=_URL_SAFE)


def source_links(links: list[str | None], first: int = 1) -> str:
    """'Open the sources: [steps 1, 2](…) · [step 3](…)' for the steps' https links (one per
    address), or '' when none has one. Drawn as its own element: the words are ours, only
    the (encoded) address is the owners', so no element mixes their text with a link."""
    numbers: dict[str, list[int]] = {}
    for i, link in enumerate(links, start=first):
        address = _address(link)
        if address is not None:
            numbers.setdefault(address, []).append(i)
    parts = [
        f"[step{'s' if len(n) > 1 else ''} {', '.join(map(str, n))}]({address})"
        for address, n in numbers.items()
    ]
    return ("Open the sources: " + " · ".join(parts)) if parts else ""


def _numbered(texts: list[tuple[str, str, str | None]], first: int) -> str:
    """Steps as a numbered list from ``first``: the text, then its source on its own line
    (once under the list when every step has the same source)."""
    one_source = len({source for _, source, _ in texts}) == 1
    lines = "\n".join(
        f"{i}. {literal(text)}"
        + ("" if one_source else f"  \n   _Source:_ {literal(source)}")
        + (f"  \n   _Patient wording:_ {literal(patient)}" if patient else "")
        for i, (text, source, patient) in enumerate(texts, start=first)
    )
    if one_source:
        which = "this step" if len(texts) == 1 else "these steps"
        lines += f"\n\n_Source of {which}:_ {literal(texts[0][1])}"
    return lines


def _steps_block(heading: str, steps, first: int, *, patient: bool = False) -> int:
    """A heading and its numbered steps, then their links; returns the next step number."""
    # A report's stored steps have no patient wording; Model facts shows the card's beside.
    rows = [(s.text, s.source, s.patient_text if patient else None) for s in steps]
    st.markdown(f"**{heading}**\n\n" + _numbered(rows, first))
    links = source_links([s.link for s in steps], first)
    if links:
        st.caption(links)
    return first + len(steps)


def popover_label(report: CaseReport) -> str:
    """The button beside the threshold badge: whose steps, and how many apply."""
    shown = report.next_steps
    count = 0 if shown is None else len(shown.all_steps())
    return f"Model owners' next steps ({count})"


def render_report_next_steps(report: CaseReport, *, key: str) -> None:
    """Beside the threshold badge: the owners' next steps for this report's side of the
    threshold (and its band), each with its source, one click away (a popover keeps the
    result card above the fold); or, as a line, that none are stated."""
    shown = report.next_steps
    if shown is None:
        st.caption(literal(NO_NEXT_STEPS_TEXT))
        return
    with st.popover(popover_label(report), icon=":material/checklist:", key=key):
        if shown.steps:
            after = _steps_block(literal(shown.heading), shown.steps, 1)
        else:
            st.markdown(f"**{literal(shown.heading)}**")
            after = 1
        if shown.band is not None:
            _steps_block(literal(shown.band.heading), shown.band.steps, after)
        notes = [literal(shown.none_stated)] if shown.none_stated else []
        if report.case.hypothetical is not None:
            notes.append(f"{literal(HYPOTHETICAL_LABEL)}: the steps for the changed values.")
        notes.append(literal(shown.attribution))
        if report.confidence.near_threshold:
            # The near-threshold caution stays where it is; this says why the side matters.
            notes.append(
                "This result is near the threshold: which side's steps apply is uncertain "
                "(see the caution on this result)."
            )
        st.caption(" ".join(notes))


def render_card_next_steps(stated: NextSteps | None) -> None:
    """Model facts: every next step the card states, per side of the threshold and per band,
    with the patient wording beside a step that has one; or that none are stated."""
    if stated is None:
        st.markdown(literal(NO_NEXT_STEPS_TEXT))
        return
    sections = [
        ("For results at or above the threshold", stated.at_or_above_threshold),
        ("For results below the threshold", stated.below_threshold),
    ] + [
        (
            f"Also for results in the band '{literal(band.label)}' "
            f"({100 * band.from_probability:.0f}% to {100 * band.to_probability:.0f}%)",
            band.steps,
        )
        for band in stated.bands
    ]
    for heading, steps in sections:
        if steps:
            _steps_block(heading, steps, 1, patient=True)
        else:
            st.markdown(f"**{heading}:** none stated.")
    st.caption(
        "Stated by the model's owners, with their sources; not written or checked by CaseLens. "
        "A patient sees only the steps with patient wording."
    )
