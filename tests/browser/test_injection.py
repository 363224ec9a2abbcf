"""No raw HTML from data, in a real browser: a hostile copy of the heart-disease bundle (its
card, feature labels and demo cases carrying script, iframe, style, meta-refresh, form and
Markdown link/image payloads), a hostile care-team contact and a hostile user name, served
by a Streamlit server of this module's own.

On the clinician's Case page (with the patient preview), the patient's My result page, the
reviewer's replays on the Audit trail page and the Model facts page, the payloads must be
shown as the characters they are: no script runs (``window.__pwned`` stays undefined), no
iframe, form, password field, image, refresh or link is made from them, and the page is
never navigated away.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app_helpers import HOSTILE_PERSON, PAYLOAD, PAYLOADS, build_hostile_bundle, hostile
from caselens.access.accounts import DEMO_PASSWORD, AccountStore
from caselens.access.app_database import open_app_database
from caselens.bench.app import (
    AppServer,
    choose_option,
    wait_for_report,
)
from caselens.model.bundle import load_bundle

from .helpers import FIRST_REPORT_MS, click_row, narrow, open_signed_in, title

pytestmark = pytest.mark.browser

CONTACT = f"Care team {PAYLOAD}"
HOSTILE_USER = "dr.evil"
HOSTILE_NAME = HOSTILE_PERSON
WORD_JOINER = "\u2060"  # literal() puts one inside "http://" so GFM makes no link of it

# What a payload would leave in the DOM had it been rendered as HTML or Markdown.
FORBIDDEN = (
    "iframe",
    "form input",
    "input[type=password]",
    'img[src="x"]',
    'img[src*="127.0.0.1:9"]',
    "meta[http-equiv]",
    'a[href^="javascript"]',
    'a[href*="127.0.0.1:9"]',
)


@pytest.fixture(scope="module")
def hostile_url(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo-mode server on the hostile models folder, with a hostile contact and user."""
    root = tmp_path_factory.mktemp("injection")
    models = root / "models"
    models.mkdir()
    folder = build_hostile_bundle(models)
    bundle = load_bundle(folder)  # every safety check still passes: only text changed
    assert bundle.card.name.endswith(PAYLOAD)
    assert bundle.demo_case("H-03").title.endswith(PAYLOAD)

    data = root / "data"
    data.mkdir()
    AccountStore(open_app_database(str(data))).add(
        HOSTILE_USER, name=HOSTILE_NAME, role="clinician", password=DEMO_PASSWORD
    )
    server = AppServer(
        data,
        env={"CASELENS_MODELS_DIR": str(models), "CASELENS_CARE_TEAM_CONTACT": CONTACT},
        log_file=root / "streamlit.log",
    )
    try:
        server.start(timeout=90)
        yield server.url
    finally:
        server.stop()


def open_watched(browser: Any, url: str, user_id: str) -> tuple[Any, Page]:
    """A fresh signed-in page marked so that a reload or navigation shows (checked at the end
    of every test); its browser context and the page."""
    page = open_signed_in(browser, url, user_id)
    page.evaluate("() => { window.__stay = 42; }")
    return page.context, page


def page_text(page: Page) -> str:
    return page.locator("body").inner_text().replace(WORD_JOINER, "")


def assert_shown_literally(page: Page, text: str = PAYLOAD) -> None:
    """``text`` is on the page as written (each payload's characters visible)."""
    expect(page.get_by_text(PAYLOADS[0]).first).to_be_visible()
    shown = page_text(page)
    assert text in shown, f"{text!r} is not shown literally"


def assert_inert(page: Page, base_url: str) -> None:
    """No payload became markup, ran, restyled the page or navigated it."""
    assert page.evaluate("() => window.__pwned") is None, "a payload's script ran"
    assert page.evaluate("() => window.__stay") == 42, "the page was reloaded or navigated"
    assert page.url.startswith(base_url), page.url
    for selector in FORBIDDEN:
        assert page.locator(selector).count() == 0, f"{selector} found in the page"
    assert page.get_by_role("link", name="click").count() == 0
    assert page.get_by_role("img", name="x", exact=True).count() == 0
    assert not page.evaluate(
        """() => [...document.querySelectorAll("style")]
            .some(s => s.textContent.includes("body{display:none}"))"""
    ), "a payload's <style> reached the document"
    assert page.evaluate("() => getComputedStyle(document.body).display") != "none"
    assert not page.evaluate(
        "() => [...document.scripts].some(s => s.textContent.includes('__pwned'))"
    ), "a payload's <script> element reached the document"


@pytest.fixture(scope="module")
def clinician(browser: Any, hostile_url: str) -> Iterator[Page]:
    """dr.lee on the Case page with hostile demo patient H-03 open, patient preview on."""
    context, page = open_watched(browser, hostile_url, "dr.lee")
    expect(title(page, "Case")).to_be_visible()
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)  # the default patient, H-01
    shown = page.get_by_role("combobox", name="Demo patient", exact=True)
    choose_option(page, "Demo patient", f"H-03 — {hostile('High risk, man')}")
    expect(shown).to_have_value(re.compile("^H-03 "))
    expect(page.get_by_text(f"Highest predicted risk among men. {PAYLOADS[0]}")).to_be_visible()
    wait_for_report(page)
    yield page
    context.close()


def test_hostile_bundle_loads_and_the_clinician_case_page_shows_it_literally(
    clinician, hostile_url
):
    page = clinician
    assert_shown_literally(page)
    # Card summary and intended use (a caption in the "About this model" popover, opened
    # here), the demo description, the outcome's name in the probability label, limitation
    # texts: all as written.
    page.get_by_role("button", name="About this model").click()
    expect(page.get_by_text("Intended use:", exact=False).first).to_be_visible()
    text = page_text(page)
    assert hostile("Highest predicted risk among men.") in text
    assert f"referred for coronary angiography. {PAYLOAD}" in text  # the intended use
    assert_inert(page, hostile_url)


def test_patient_preview_shows_wording_and_contact_literally(clinician, hostile_url):
    page = clinician
    page.get_by_text("Preview what the patient would read").click()
    expect(page.get_by_text("Reading level of this page")).to_be_visible()
    text = page_text(page)
    assert (
        f"people like you {hostile('have narrowed heart arteries found by the heart test')}" in text
    )
    assert CONTACT in text
    assert_inert(page, hostile_url)


def test_patient_my_result_shows_wording_labels_and_contact_literally(browser, hostile_url):
    context, page = open_watched(browser, hostile_url, "pat.h03")
    try:
        expect(title(page, "My result")).to_be_visible()
        expect(page.locator(".st-key-patient_text_care")).to_be_visible()
        assert_shown_literally(page)
        text = page_text(page)
        assert (
            f"people like you {hostile('have narrowed heart arteries found by the heart test')}"
            in text
        )
        assert CONTACT in text
        # The patient labels of the main factors.
        assert PAYLOAD.lower() in text.lower()
        # The large patient type still applies (keyed containers, not HTML classes).
        size = page.locator(".st-key-patient_headline p").first.evaluate(
            "p => parseFloat(getComputedStyle(p).fontSize)"
        )
        assert size >= 24, size
        assert_inert(page, hostile_url)
    finally:
        context.close()


def _open_newest(page: Page, user_id: str, action: str) -> None:
    """Filter the trail to one user's entries of one action and open the newest by its row
    (nothing is replayed until the reviewer asks)."""
    box = page.get_by_role("textbox", name="User id", exact=True)
    narrow(page, lambda: (box.fill(user_id), box.press("Enter")))
    narrow(page, lambda: choose_option(page, "Action", action))
    click_row(page, 0)


def test_reviewer_replays_of_both_views_show_the_stored_text_literally(
    clinician, browser, hostile_url
):
    # Displays to replay: dr.lee's clinician view of H-03 (the clinician fixture) and the
    # patient's own view.
    context, patient = open_watched(browser, hostile_url, "pat.h03")
    expect(patient.locator(".st-key-patient_text_care")).to_be_visible()
    context.close()

    context, page = open_watched(browser, hostile_url, "rev.kim")
    try:
        expect(title(page, "Audit trail")).to_be_visible()
        _open_newest(page, "pat.h03", "patient_viewed")
        expect(
            page.get_by_role("heading", name=re.compile(r"^As shown to Sam Patel"))
        ).to_be_visible()
        expect(page.locator(".st-key-patient_text_care")).to_be_visible()
        assert_shown_literally(page)
        assert CONTACT in page_text(page)
        assert_inert(page, hostile_url)

        _open_newest(page, "dr.lee", "viewed")
        expect(
            page.get_by_role("heading", name=re.compile(r"^As shown to Dr\. Ana Lee"))
        ).to_be_visible()
        wait_for_report(page)
        assert_shown_literally(page)
        assert_inert(page, hostile_url)
    finally:
        context.close()


def test_model_facts_and_a_hostile_user_name_are_shown_literally(browser, hostile_url):
    context, page = open_watched(browser, hostile_url, HOSTILE_USER)
    try:
        expect(page.get_by_test_id("stSidebar")).to_contain_text(PAYLOADS[0])
        assert HOSTILE_NAME in page.get_by_test_id("stSidebar").inner_text().replace(
            WORD_JOINER, ""
        )
        page.get_by_test_id("stSidebarNav").get_by_text("Model facts", exact=True).click()
        expect(title(page, "Model facts")).to_be_visible()
        expect(
            page.get_by_role(
                "heading", name=re.compile(r"^Heart disease at angiography <script>window")
            )
        ).to_be_visible()
        expect(page.get_by_text("Known failure modes")).to_be_visible()
        # Drawn to the end (the last element of the label).
        expect(page.get_by_role("button", name=re.compile("^Download the CHAI"))).to_be_visible()
        assert_shown_literally(page)
        text = page_text(page)
        for shown in (
            hostile("CaseLens project"),  # owner
            hostile("caselens@example.org"),  # contact
            f"patients see a plain-language summary. {PAYLOAD}",  # intended users
        ):
            assert shown in text, shown
        assert_inert(page, hostile_url)
    finally:
        context.close()
