"""What if? in real Chromium: the clinician changes a value of the heart-disease demo case,
the what-if is recorded and drawn beside the original with its label; the reviewer replays
that entry with its label, its parent entry and the comparison. Screenshots of both."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from caselens.bench.app import choose_option, wait_for_report
from caselens.explain.cases import HYPOTHETICAL_LABEL
from caselens.workflow import format_percent

from .helpers import (
    FIRST_REPORT_MS,
    SCREEN,
    assert_png,
    go_to,
    model_label,
    settled,
    shot,
    title,
)

pytestmark = pytest.mark.browser


def test_a_clinician_changes_a_value_and_the_reviewer_replays_it(
    signed_in, audit_entries, screenshots
):
    page = signed_in("dr.lee", SCREEN)
    expect(title(page, "Case")).to_be_visible()
    choose_option(page, "Model", model_label("heart-disease"))
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    viewed = audit_entries(action="viewed", actor_id="dr.lee")[-1]
    before = len(audit_entries(action="what_if_viewed"))

    # The page's last run must be over before the form is used: a run still drawing when
    # the form is submitted (a busy shared server) can redraw it and drop the submission.
    settled(page)
    page.get_by_text("Change a value (what if?)", exact=True).click()
    form = page.get_by_test_id("stForm").filter(has_text="Show what the model would say")
    bp = form.get_by_role("spinbutton", name=re.compile(r"^Resting blood pressure"))
    expect(bp).to_have_value("108")  # the recorded value, not a default
    bp.fill("210")
    bp.press("Tab")
    settled(page)
    form.get_by_role("button", name="Show what the model would say").click()

    view = page.locator(".st-key-case_heart-disease_what_if_view")
    expect(view.get_by_text(HYPOTHETICAL_LABEL)).to_be_visible(timeout=FIRST_REPORT_MS)
    [entry] = audit_entries(action="what_if_viewed")[before:]
    assert entry.detail()["parent_entry"] == viewed.seq
    assert [(c["name"], c["to"]) for c in entry.detail()["changes"]] == [("resting_bp", 210.0)]
    after = format_percent(json.loads(entry.report_json)["confidence"]["probability"])
    metrics = view.get_by_test_id("stMetricValue")
    expect(metrics.nth(1)).to_have_text(after)
    expect(view.get_by_text("Resting blood pressure from 108 mm Hg to 210 mm Hg")).to_be_visible()
    assert_png(shot(page, screenshots, "clinician_what_if"))

    reviewer = signed_in("rev.kim", SCREEN)
    expect(title(reviewer, "Audit trail")).to_be_visible()
    go_to(reviewer, f"/audit_trail?entry={entry.seq}")
    expect(reviewer.get_by_text(f"Entry #{entry.seq}, hash {entry.entry_hash}")).to_be_visible()
    expect(reviewer.get_by_text(HYPOTHETICAL_LABEL).first).to_be_visible()
    expect(
        reviewer.get_by_role("button", name=f"Open the parent entry #{viewed.seq}")
    ).to_be_visible()
    expect(reviewer.get_by_text("The what-if beside its parent")).to_be_visible()
    assert_png(shot(reviewer, screenshots, "reviewer_what_if_replay"))
