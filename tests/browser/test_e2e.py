"""End-to-end tests in a real browser: sign-in per role, the clinician's report and its audit
record, the reviewer's exact replay and re-run, patient isolation, and screenshots.

One server and one Chromium serve the module (see conftest.py); each sign-in uses a fresh
browser context, i.e. a fresh Streamlit session. Waits are Playwright's own (expect), never
fixed sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import (
    SHAP_TITLE,
    choose_option,
    probability_value,
    shap_chart,
    wait_for_report,
)

from .helpers import (
    FIRST_REPORT_MS,
    H03,
    PHONE,
    assert_png,
    expected_probabilities,
    go_to,
    open_signed_in,
    png_size,
    shot,
    title,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clinician_h03(browser: Any, app_url: str) -> Iterator[tuple[Page, str]]:
    """dr.lee's page with demo patient H-03 of heart-disease open; yields (page, shown %)."""
    page = open_signed_in(browser, app_url, "dr.lee")
    expect(title(page, "Case")).to_be_visible()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(
        re.compile(r"\(heart-disease ")
    )
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)  # the default patient, H-01
    choose_option(page, "Demo patient", H03)
    shown = wait_for_report(page, expected_probabilities("heart-disease")[H03])
    yield page, shown
    page.context.close()


@pytest.mark.parametrize(
    ("user_id", "page_title", "name"),
    [
        ("dr.lee", "Case", "Dr. Ana Lee"),
        ("pat.h03", "My result", "Sam Patel"),
        ("rev.kim", "Audit trail", "Kim Okafor"),
        ("admin", "Users", "Ali Admin"),
    ],
)
def test_each_role_lands_on_its_page(signed_in, user_id, page_title, name):
    page = signed_in(user_id)
    expect(title(page, page_title)).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text(name)
    expect(page.get_by_text("Not allowed")).to_have_count(0)


def test_clinician_sees_h03_report_and_it_is_recorded(clinician_h03, audit_entries):
    page, shown = clinician_h03
    assert re.fullmatch(r"\d{1,3}\.\d%", shown), shown
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Chance of heart disease")
    ).to_be_visible()
    expect(shap_chart(page)).to_have_count(1)
    expect(shap_chart(page).locator(".js-plotly-plot").first).to_be_visible()
    expect(shap_chart(page)).to_contain_text(SHAP_TITLE)
    expect(page.get_by_role("heading", name="When not to trust this result")).to_be_visible()

    viewed = audit_entries(action="viewed", patient_ref="H-03", actor_id="dr.lee")
    assert viewed, "no 'viewed' entry for H-03 by dr.lee in the audit trail"
    entry = viewed[-1]
    assert entry.actor_role == "clinician" and entry.audience == "clinician"
    assert entry.model_id == "heart-disease"
    stored = json.loads(entry.report_json)
    assert f"{100 * stored['confidence']['probability']:.1f}%" == shown


def test_reviewer_replays_exactly_and_reproduces(clinician_h03, signed_in, audit_entries):
    _, shown = clinician_h03
    entry = audit_entries(action="viewed", patient_ref="H-03", actor_id="dr.lee")[-1]
    page = signed_in("rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    # Nothing is replayed until the reviewer asks: here, by the entry's number.
    expect(page.get_by_text("No entry is open.")).to_be_visible()
    find = page.get_by_role("textbox", name="Find a display: entry number or report id")
    find.fill(str(entry.seq))
    find.press("Enter")
    expect(page.get_by_text(f"Entry #{entry.seq}, hash {entry.entry_hash}")).to_be_visible()
    expect(
        page.get_by_role("heading", name=re.compile(r"^As shown to Dr\. Ana Lee \(clinician\) on "))
    ).to_be_visible()
    expect(probability_value(page)).to_have_text(shown)

    page.get_by_role("button", name="Re-run with the same model version and compare").click()
    expect(page.get_by_text(re.compile(r"^Reproduces"))).to_be_visible()
    expect(page.get_by_text("Does not reproduce")).to_have_count(0)


def test_patient_sees_only_their_own_result(signed_in, audit_entries):
    page = signed_in("pat.h03")  # first: it starts the app (and its audit store) if need be
    refused_before = len(audit_entries(action="access_refused", actor_id="pat.h03"))
    expect(title(page, "My result")).to_be_visible()
    expect(page.get_by_text("out of 100 people like you").first).to_be_visible()
    expect(page.locator(".st-key-patient_text_care")).to_be_visible()  # drawn to the end
    # The reading measure is for staff (the clinician's preview), not the patient's page.
    expect(page.get_by_text("Reading level of this page")).to_have_count(0)
    expect(page.get_by_text("SHAP")).to_have_count(0)

    # Another patient's record through the address bar: refused, nothing of the summary.
    go_to(page, "/?patient=H-04")
    expect(page.get_by_text("may only see their own result")).to_be_visible()
    expect(page.get_by_text("out of 100 people like you")).to_have_count(0)
    expect(title(page, "My result")).to_have_count(0)

    # The clinician's page through the address bar: refused. (Wait for this refusal's own
    # words: the one above also starts "Not allowed" and stays on screen until the rerun.)
    go_to(page, "/case")
    expect(page.get_by_text("may not open the Case page")).to_be_visible()
    expect(title(page, "Case")).to_have_count(0)
    expect(probability_value(page)).to_have_count(0)

    refused = audit_entries(action="access_refused", actor_id="pat.h03")[refused_before:]
    details = [e.detail() for e in refused]
    assert any(d.get("patient_ref") == "H-04" for d in details), details
    assert any(d.get("page") == "case" for d in details), details


def test_screenshots_of_every_page(new_page, signed_in, app_url, screenshots, audit_entries):
    saved = []
    page = new_page()
    page.goto(app_url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Password for all")).to_be_visible()
    saved.append(shot(page, screenshots, "sign_in"))

    page = signed_in("dr.lee")
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    saved.append(shot(page, screenshots, "case"))
    page.get_by_test_id("stSidebarNav").get_by_text("Model facts", exact=True).click()
    expect(title(page, "Model facts")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    saved.append(shot(page, screenshots, "model_facts"))

    page = signed_in("pat.h03")
    expect(page.locator(".st-key-patient_text_care")).to_be_visible()
    saved.append(shot(page, screenshots, "my_result"))
    phone = signed_in("pat.h03", viewport=PHONE)
    expect(phone.locator(".st-key-patient_text_care")).to_be_visible()
    saved.append(shot(phone, screenshots, "my_result_phone"))

    page = signed_in("rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    go_to(page, f"/audit_trail?entry={audit_entries(action='viewed')[-1].seq}")
    expect(page.get_by_role("heading", name=re.compile(r"^As shown to "))).to_be_visible()
    expect(
        shap_chart(page).or_(page.get_by_text("out of 100 people like you")).first
    ).to_be_visible()
    saved.append(shot(page, screenshots, "audit_trail"))
    page.get_by_test_id("stSidebarNav").get_by_text("Model status", exact=True).click()
    expect(title(page, "Model status")).to_be_visible()
    expect(page.get_by_text("next review due").first).to_be_visible()
    saved.append(shot(page, screenshots, "model_status"))

    page = signed_in("admin")
    expect(title(page, "Users")).to_be_visible()
    expect(page.get_by_role("button", name="Add user")).to_be_visible()
    saved.append(shot(page, screenshots, "users"))

    for path in saved:
        assert_png(path)
    width, height = png_size(screenshots / "my_result_phone.png")
    assert width == PHONE["width"] and height > PHONE["height"], (width, height)


_POINT_FILLS = """(chart) => Array.from(chart.querySelectorAll("path.point"))
    .map(p => getComputedStyle(p).fill)"""


def test_patient_icon_array_draws_100_people(signed_in):
    page = signed_in("pat.h03")
    expect(page.locator(".st-key-patient_text_care")).to_be_visible()
    # The picture's text alternative, in words, says how many figures are filled.
    key = page.locator(".st-key-patient_text_picture").inner_text()
    filled = int(re.search(r"Picture of 100 people\. Filled in: (\d+)\.", key).group(1))
    chart = page.locator(".st-key-patient_icon_array .js-plotly-plot")
    expect(chart).to_be_visible()
    expect(chart.locator("path.point")).to_have_count(200)  # a head and a body per person
    fills = chart.evaluate(_POINT_FILLS)
    white = {"rgb(255, 255, 255)", "#ffffff"}
    assert sum(f not in white for f in fills) == 2 * filled, fills[:4]
