""" "What would move this result across the threshold?" in real Chromium: the clinician asks
on a heart-disease case just above the threshold and reads the recorded answer (label,
caveats, each alternative with the model's own estimate); a case far above it says none was
found; the readmission sample answers in its own inputs; the reviewer replays the answer
from its entry. Screenshots are saved for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import choose_option, wait_for_report
from caselens.explain.counterfactual import COUNTERFACTUAL_CAVEATS
from caselens.workflow import (
    COUNTERFACTUAL_QUESTION,
    HYPOTHETICAL_LABEL,
    alternative_sentence,
)
from caselens.workflow.counterfactual_records import read_display_detail

from .helpers import (
    FIRST_REPORT_MS,
    assert_png,
    axe_problems,
    demo_options,
    expected_probabilities,
    go_to,
    model_label,
    settled,
    shot,
    title,
)

pytestmark = pytest.mark.browser


def _patient(model_id: str, case_id: str) -> str:
    return next(o for o in demo_options(model_id) if o.startswith(f"{case_id} "))


def _open_case(page: Page, model_id: str, case_id: str) -> None:
    expect(title(page, "Case")).to_be_visible()
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    if model_id != "heart-disease":
        choose_option(page, "Model", model_label(model_id))
        # The model's own demo patients are listed only once its run has ended.
        settled(page)
    option = _patient(model_id, case_id)
    choose_option(page, "Demo patient", option)
    wait_for_report(page, expected_probabilities(model_id)[option], timeout_ms=FIRST_REPORT_MS)


def _ask(page: Page, audit_entries: Any) -> Any:
    """Click the question and wait for its recorded answer; return that entry."""
    before = len(audit_entries(action="counterfactuals_viewed", actor_id="dr.lee"))
    page.get_by_role("button", name=COUNTERFACTUAL_QUESTION).click()
    expect(page.get_by_text(HYPOTHETICAL_LABEL, exact=True)).to_be_visible()
    entries = audit_entries(action="counterfactuals_viewed", actor_id="dr.lee")
    assert len(entries) == before + 1
    return entries[-1]


def test_clinician_asks_and_reviewer_replays(signed_in, audit_entries, screenshots):
    page = signed_in("dr.lee")
    _open_case(page, "heart-disease", "H-07")  # 53.9%: just above the 50% threshold
    entry = _ask(page, audit_entries)
    result, _ = read_display_detail(entry)
    assert result.alternatives
    for alternative in result.alternatives:
        expect(
            page.get_by_text(alternative_sentence(alternative, result.threshold), exact=False)
        ).to_be_visible()
    for caveat in COUNTERFACTUAL_CAVEATS:
        expect(page.get_by_text(caveat)).to_be_visible()
    assert not page.evaluate("() => window.__pwned === 1")
    assert axe_problems(page) == []
    assert_png(shot(page, screenshots, "counterfactual_clinician_alternatives"))

    # Far above the threshold: exactly why nothing is shown.
    h03 = _patient("heart-disease", "H-03")
    choose_option(page, "Demo patient", h03)
    wait_for_report(page, expected_probabilities("heart-disease")[h03])
    none = _ask(page, audit_entries)
    reason, _ = read_display_detail(none)
    assert not reason.alternatives and reason.none_reason
    expect(page.get_by_text(reason.none_reason)).to_be_visible()
    assert_png(shot(page, screenshots, "counterfactual_clinician_none_found"))

    reviewer = signed_in("rev.kim")
    expect(title(reviewer, "Audit trail")).to_be_visible()
    go_to(reviewer, f"/audit_trail?entry={entry.seq}")
    heading = reviewer.get_by_role("heading", name="Counterfactuals as shown to Dr. Ana Lee")
    expect(heading).to_be_visible()
    expect(
        reviewer.get_by_text(alternative_sentence(result.alternatives[0], result.threshold))
    ).to_be_visible()
    reviewer.get_by_role(
        "button", name="Re-run the search with the recorded settings and seed, and compare"
    ).click()
    expect(reviewer.get_by_text("the same alternatives", exact=False)).to_be_visible()
    assert axe_problems(reviewer) == []
    assert_png(shot(reviewer, screenshots, "counterfactual_reviewer_replay"))


def test_the_readmission_sample_answers_in_its_own_inputs(signed_in, audit_entries, screenshots):
    page = signed_in("dr.lee")
    _open_case(page, "readmission-30d", "R-05")  # 19.5%: just below the 20% threshold
    result, _ = read_display_detail(_ask(page, audit_entries))
    assert result.alternatives and result.target_side == "at_or_above"
    expect(page.get_by_text("(at or above the 20% threshold)", exact=False).first).to_be_visible()
    assert_png(shot(page, screenshots, "counterfactual_clinician_readmission"))
