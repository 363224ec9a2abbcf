"""The patient page in a real browser: the Spanish demo patient reads Spanish only (no English
sentence mixed in, the menu included), the picture of 100 people has its text alternative
beside it, the reading measure is not on the patient's own page; screenshots of My result for
every demo patient at phone width (390×844) and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import choose_option, wait_for_report
from caselens.explain.patient_language import catalogue

from .helpers import DESKTOP, FIRST_REPORT_MS, PHONE, assert_png, png_size, shot, title

pytestmark = pytest.mark.browser

#: Demo patients and the title of their page in their account's language.
PATIENTS = {"pat.h03": "My result", "pat.r01": "My result", "pat.r06.es": "Mi resultado"}


def _drawn(page: Page, user_id: str) -> None:
    """Wait until the page is drawn to its end (the care-team paragraph comes last)."""
    expect(title(page, PATIENTS[user_id])).to_be_visible()
    expect(page.locator(".st-key-patient_text_care")).to_be_visible()
    chart = page.locator(".st-key-patient_icon_array .js-plotly-plot")
    expect(chart.locator("path.point")).to_have_count(200)  # a head and a body per person


def _english_sentences() -> list[str]:
    """English words that would betray a mixed-in sentence on a Spanish page."""
    return [
        "out of 100",
        "people like you",
        "care team",
        "What this does not mean",
        "Questions to ask",
        "Sign out",
        "Reading level",
        "Demonstration models",
        "not available",
        "This ",
        " the ",
    ]


def test_the_spanish_demo_patient_reads_spanish_only(signed_in, audit_entries):
    page = signed_in("pat.r06.es")
    _drawn(page, "pat.r06.es")
    main = page.get_by_test_id("stMain").inner_text()
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    say = catalogue("es")
    assert say("What this does not mean") in main and say("How to reach your care team") in main
    assert re.search(r"Alrededor de \d+ de cada 100 personas como usted", main), main
    assert say("Sign out") in sidebar and say("patient") in sidebar
    for english in _english_sentences():
        assert english not in main, (english, main)
        assert english not in sidebar, (english, sidebar)
    # The picture of 100 people has its text alternative right below it.
    alternative = page.locator(".st-key-patient_text_picture").inner_text()
    assert alternative.startswith("Dibujo de 100 personas. En color:"), alternative
    expect(page.locator(".st-key-patient_icon_array .js-plotly-plot")).to_be_visible()
    entries = audit_entries(action="patient_viewed", actor_id="pat.r06.es")
    assert entries and entries[-1].detail()["language"] == "es"


def test_an_english_patient_page_shows_no_reading_measure_and_describes_the_picture(signed_in):
    page = signed_in("pat.h03")
    _drawn(page, "pat.h03")
    main = page.get_by_test_id("stMain").inner_text()
    assert "Reading level" not in main and "Flesch" not in main
    alternative = page.locator(".st-key-patient_text_picture").inner_text()
    assert re.match(r"Picture of 100 people\. Filled in: \d+\.", alternative), alternative
    assert "This is a demonstration" in page.locator(".st-key-patient_text_care").inner_text()


@pytest.mark.parametrize("user_id", list(PATIENTS))
def test_screenshots_of_my_result_on_a_phone_and_a_desktop(signed_in, screenshots, user_id):
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = signed_in(user_id, viewport=viewport)
        _drawn(page, user_id)
        path = shot(page, screenshots, f"my_result_{user_id}_{name}")
        assert_png(path)
        width, _ = png_size(path)
        assert width == viewport["width"], (path, width)
        # Nothing wider than the screen: no sideways scrolling on a phone.
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= viewport["width"], (user_id, name, overflow)


def test_the_clinicians_preview_shows_the_chosen_language_and_its_reading_measure(
    signed_in, screenshots
):
    page = signed_in("dr.lee")
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    page.get_by_text("Preview what the patient would read").click()
    english = page.get_by_text("Reading level of this page (en): Flesch–Kincaid grade")
    expect(english).to_be_visible()
    choose_option(page, "The patient's language", "Español")
    expect(
        page.get_by_text("Reading level of this page (es): Fernández-Huerta reading ease")
    ).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Alrededor de \d+ de cada 100 personas"))).to_be_visible()
    page.get_by_text("Reading level of this page (es)").scroll_into_view_if_needed()
    path = shot(page, screenshots, "case_patient_preview_es")
    assert_png(path)
