"""The reviewer finds any display in seconds, in a real browser against ``streamlit run``.

A clinician's view of a demo patient is recorded; the reviewer lands on the Audit trail and
nothing is replayed (or recorded as replayed); clicking the row of that view opens its
verified replay and puts the entry in the address; a search by the report id printed under
the report finds the same display; an address ``/audit_trail?entry=N`` opens entry N; the
re-run verdict stays on screen after another click. Screenshots are saved for a person.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import choose_option, wait_for_report

from .helpers import FIRST_REPORT_MS, assert_png, click_row, go_to, narrow, shot, title

pytestmark = pytest.mark.browser

REPLAY_HEADING = re.compile(r"^As shown to Dr\. Ana Lee \(clinician\) on ")
FIND = "Find a display: entry number or report id"


def _viewed(signed_in: Any, audit_entries: Any) -> Any:
    """dr.lee signs in and sees the default demo patient; the recorded entry."""
    page = signed_in("dr.lee")
    expect(title(page, "Case")).to_be_visible()
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    return audit_entries(action="viewed", actor_id="dr.lee")[-1]


def _open_entry_shown(page: Page, seq: int, entry_hash: str) -> None:
    expect(page.get_by_text(f"Entry #{seq}, hash {entry_hash}")).to_be_visible()
    expect(page.get_by_role("heading", name=REPLAY_HEADING)).to_be_visible()


def test_reviewer_clicks_a_row_searches_and_opens_an_address(signed_in, audit_entries, screenshots):
    viewed = _viewed(signed_in, audit_entries)
    # The server is shared by the folder: count the reviewer's earlier replays, not none.
    before = len(audit_entries(action="replayed", actor_id="rev.kim"))
    page = signed_in("rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    expect(page.get_by_text("No entry is open.")).to_be_visible()
    expect(page.get_by_role("heading", name=REPLAY_HEADING)).to_have_count(0)
    assert len(audit_entries(action="replayed", actor_id="rev.kim")) == before

    # Narrow the table to views (a choice, not free text), then click the newest row.
    narrow(page, lambda: choose_option(page, "Action", "viewed"))
    click_row(page, 0)
    _open_entry_shown(page, viewed.seq, viewed.entry_hash)
    expect(page).to_have_url(re.compile(rf"[?&]entry={viewed.seq}(&|$)"))
    replayed = audit_entries(action="replayed", actor_id="rev.kim")[before:]
    assert [e.detail()["seq"] for e in replayed] == [viewed.seq]

    # The re-run verdict stays when the reviewer clicks something else.
    page.get_by_role("button", name="Re-run with the same model version and compare").click()
    expect(page.get_by_text(re.compile(r"^Reproduces"))).to_be_visible()
    page.get_by_role("button", name="Verify the whole trail").click()
    expect(page.get_by_text(re.compile(r"^Intact: "))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Reproduces"))).to_be_visible()
    assert_png(shot(page, screenshots, "reviewer_audit_trail"))

    # By the report id as printed under the report (its first characters).
    report_id = viewed.report_json.split('"report_id":"', 1)[1][:64]
    page.get_by_role("textbox", name=FIND).fill(report_id[:12])
    page.get_by_role("textbox", name=FIND).press("Enter")
    _open_entry_shown(page, viewed.seq, viewed.entry_hash)

    # By address, in a fresh session (an address shared with a colleague): another entry (the
    # clinician's sign-in) opens with its verified details, then the view itself.
    sign_in_entry = audit_entries(action="sign_in", actor_id="dr.lee")[-1]
    colleague = signed_in("rev.kim")
    expect(title(colleague, "Audit trail")).to_be_visible()
    go_to(colleague, f"/audit_trail?entry={sign_in_entry.seq}")
    expect(
        colleague.get_by_role("heading", name=f"Entry #{sign_in_entry.seq}: sign_in")
    ).to_be_visible()
    expect(colleague.get_by_text("displayed no report", exact=False)).to_be_visible()
    go_to(colleague, f"/audit_trail?entry={viewed.seq}")
    _open_entry_shown(colleague, viewed.seq, viewed.entry_hash)


def test_a_shared_address_opens_the_entry_for_another_reviewer_only(
    signed_in, audit_entries, new_page, app_url
):
    viewed = _viewed(signed_in, audit_entries)
    reviewer = signed_in("rev.kim")
    go_to(reviewer, f"/audit_trail?entry={viewed.seq}")
    _open_entry_shown(reviewer, viewed.seq, viewed.entry_hash)

    clinician = signed_in("dr.lee")
    expect(title(clinician, "Case")).to_be_visible()
    go_to(clinician, f"/audit_trail?entry={viewed.seq}")
    expect(clinician.get_by_text("may not open the Audit trail page")).to_be_visible()
    expect(clinician.get_by_role("heading", name=REPLAY_HEADING)).to_have_count(0)
    refused = audit_entries(action="access_refused", actor_id="dr.lee")
    assert any(e.detail().get("page") == "audit_trail" for e in refused)
