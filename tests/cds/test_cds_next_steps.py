"""The owners' next steps on a CDS Hooks card: one absolute link per step with a link (label
within limits), every step with its source in the escaped detail, never a suggestion; read off
the recorded report."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.cds.cards import (
    MAX_LINK_LABEL_CHARS,
    escape_markdown,
    link_label,
    next_step_links,
    render_card,
)
from caselens.explain.cases import validate_inputs
from caselens.explain.next_steps import ReportNextSteps, StatedStep
from caselens.explain.report import explainer_for
from caselens.model.next_steps import NO_NEXT_STEPS_TEXT
from caselens.workflow import CardDecision

APP_URL = "https://caselens.example.org"


def _report(bundle, case_id: str):
    demo = bundle.demo_case(case_id)
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=case_id)
    return explainer_for(bundle).explain(case)


def _card(report, bundle, app_url=APP_URL):
    decision = CardDecision(
        kind="prediction", model_id=bundle.model_id, entry_seq=7, report=report, card_uuid="u"
    )
    return render_card(decision, bundle, app_url=app_url)


@pytest.fixture(scope="module")
def above(heart):
    report = _report(heart, "H-03")
    assert report.next_steps is not None and report.next_steps.side == "at_or_above_threshold"
    return report


def test_each_linked_step_is_an_absolute_link_after_the_entrys(heart, above):
    card = _card(above, heart)
    assert "suggestions" not in card
    entry, *steps = card["links"]
    assert entry["url"] == f"{APP_URL}/audit_trail?entry=7"
    stated = above.next_steps.steps
    assert [s["url"] for s in steps] == [s.link for s in stated]
    assert [s["label"] for s in steps] == [link_label(s.text) for s in stated]
    for link in card["links"]:
        # CDS Hooks 2.0 Link: label, url, type ('absolute': the URL is used as it is).
        assert set(link) == {"label", "url", "type"} and link["type"] == "absolute"
        assert 0 < len(link["label"]) <= MAX_LINK_LABEL_CHARS
    # Without the app's URL the entry's link goes, the owners' links stay.
    assert [s["url"] for s in _card(above, heart, app_url=None)["links"]] == [
        s.link for s in stated
    ]


def test_the_detail_names_every_step_with_its_source_escaped(heart, above):
    detail = _card(above, heart)["detail"]
    shown = above.next_steps
    assert escape_markdown(shown.heading) in detail
    for step in shown.steps:
        assert f"- {escape_markdown(step.text)} (source: {escape_markdown(step.source)}" in detail
    assert "not CaseLens's" in detail


def test_a_band_and_a_step_without_a_link_are_in_the_detail_only(readmission, heart, above):
    band = above.next_steps.model_copy(
        update={
            "steps": (StatedStep(text="Call the patient [today](javascript:x)", source="Ward"),),
            "band": None,
        }
    )
    report = above.model_copy(update={"next_steps": band})
    card = _card(report, heart)
    assert len(card["links"]) == 1  # the entry's only
    assert "Call the patient \\[today\\]\\(javascript:x\\)" in card["detail"]
    assert "](javascript" not in card["detail"]
    # A readmission result in the 'Highest estimates' band: the band's step is linked too.
    high = next(
        r
        for r in (_report(readmission, d.case_id) for d in readmission.demo_cases)
        if r.next_steps.band is not None
    )
    detail = _card(high, readmission)["detail"]
    assert escape_markdown(high.next_steps.band.heading) in detail
    urls = [link["url"] for link in next_step_links(high)]
    assert len(urls) == len(high.next_steps.all_steps())


def test_a_model_without_next_steps_says_so_on_the_card(heart, above):
    card = _card(above.model_copy(update={"next_steps": None}), heart)
    assert escape_markdown(NO_NEXT_STEPS_TEXT) in card["detail"]
    assert len(card["links"]) == 1


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
def test_any_step_text_makes_a_one_line_label_within_the_limit(text):
    label = link_label(text)
    assert 0 < len(label) <= MAX_LINK_LABEL_CHARS
    assert "\n" not in label and not re.search(r"\s{2,}", label)
    if len(" ".join(text.split())) <= MAX_LINK_LABEL_CHARS:
        assert label == " ".join(text.split())
    else:
        assert label.endswith("…")


def test_a_stored_step_without_https_gets_no_link():
    shown = ReportNextSteps.model_construct(
        side="below_threshold",
        heading="h",
        steps=(StatedStep.model_construct(text="t", source="s", link="http://x.org"),),
        band=None,
        none_stated=None,
    )

    class _Report:
        next_steps = shown

    assert next_step_links(_Report()) == []  # type: ignore[arg-type]
