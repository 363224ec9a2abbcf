"""WCAG 2.2 AA in a real browser: axe-core on every page for every role, and a keyboard path.

axe-core (4.12, shipped inside the pinned ``axe-playwright-python`` wheel: no download) runs
in the page after Streamlit has finished drawing it. A page passes when axe reports no
violation of impact "serious" or "critical" and no skipped heading level (WCAG 1.3.1 /
2.4.6: "headings in order" is asked for explicitly, though axe rates it "moderate").
Beyond each page as it opens, axe runs with a reviewer's replay of a recorded display open and
with the Case page's "Details" sections open; every data grid must have an accessible name.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.access.policy import PAGE_TITLES, PAGES
from caselens.bench.app import DEMO_PASSWORD, sign_in, wait_for_report

from .helpers import FIRST_REPORT_MS, SCREEN, axe_problems, go_to, open_from_menu, settled, title

pytestmark = pytest.mark.browser

# One demo account per role (README "Roles and demo accounts").
ROLE_USERS = {"clinician": "dr.lee", "patient": "pat.h03", "reviewer": "rev.kim", "admin": "admin"}
#: A data grid names what it holds here (Streamlit's ``alt``): a region around the grid.
GRID_NAME_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].map(grid => {
    const region = grid.querySelector('[data-testid="stDataFrameResizable"]');
    return {
        role: region ? region.getAttribute("role") : null,
        name: region ? (region.getAttribute("aria-label") || "").trim() : "",
    };
})"""


def grid_names(page: Page) -> list[str]:
    """The accessible name of every data grid on the page, in order; a grid with no name
    (or not in a named region) gives ""."""
    grids = page.evaluate(GRID_NAME_JS)
    return [g["name"] if g["role"] == "region" else "" for g in grids]


def test_sign_in_page_has_no_serious_accessibility_violation(new_page: Any, app_url: str) -> None:
    page = new_page(SCREEN)
    page.goto(app_url)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    settled(page)
    assert axe_problems(page) == []


@pytest.mark.parametrize(
    ("role", "page_id"),
    [(role, page_id) for role, pages in PAGES.items() for page_id in pages],
)
def test_every_page_of_every_role_has_no_serious_accessibility_violation(
    new_page: Any, app_url: str, role: str, page_id: str
) -> None:
    page = new_page(SCREEN)
    sign_in(page, app_url, ROLE_USERS[role])
    open_from_menu(page, PAGE_TITLES[page_id])
    if page_id == "case":
        wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    settled(page)
    assert axe_problems(page) == []
    assert "" not in grid_names(page), "a data grid on the page has no accessible name"


def test_the_subgroup_grid_of_model_facts_is_named_and_holds_its_rows(
    new_page: Any, app_url: str
) -> None:
    page = new_page(SCREEN)
    sign_in(page, app_url, ROLE_USERS["reviewer"])
    open_from_menu(page, "Model facts")
    region = page.get_by_role("region", name="Validation figures, overall", exact=True)
    expect(region.first).to_be_visible()
    # The name is on the grid's own region, and the grid with its rows is inside it. The
    # grid is the canvas's fallback content: Chromium's accessibility tree exposes it (a
    # screen reader reads it), Playwright's visibility check does not, hence include_hidden.
    grid = region.first.get_by_role("grid", include_hidden=True)
    expect(grid).to_have_count(1)
    header = grid.get_by_role("columnheader", name="Population", include_hidden=True)
    expect(header).to_have_count(1)
    cells = grid.get_by_role("gridcell", include_hidden=True)
    expect(cells.filter(has_text=re.compile(r"^Overall$"))).to_have_count(1)
    # The subgroups have their own grid, each figure printed with its interval.
    region = page.get_by_role("region", name="Figures by subgroup, each with its interval")
    expect(region.first).to_be_visible()
    grid = region.first.get_by_role("grid", include_hidden=True)
    expect(grid.get_by_role("columnheader", name="Group", include_hidden=True)).to_have_count(1)
    cells = grid.get_by_role("gridcell", include_hidden=True)
    expect(cells.filter(has_text=re.compile(r"^Female$"))).to_have_count(1)
    interval = re.compile(r"^\d\.\d+ \(\d\.\d+–\d\.\d+\)$")
    expect(cells.filter(has_text=interval).first).to_be_attached()


def test_an_open_replay_has_no_serious_accessibility_violation(
    new_page: Any, app_url: str, audit_entries: Any
) -> None:
    clinician = new_page(SCREEN)
    sign_in(clinician, app_url, ROLE_USERS["clinician"])
    wait_for_report(clinician, timeout_ms=FIRST_REPORT_MS)
    viewed = audit_entries(action="viewed", actor_id=ROLE_USERS["clinician"])[-1]

    page = new_page(SCREEN)
    sign_in(page, app_url, ROLE_USERS["reviewer"])
    expect(title(page, "Audit trail")).to_be_visible()
    go_to(page, f"/audit_trail?entry={viewed.seq}")
    expect(page.get_by_text(f"Entry #{viewed.seq}, hash {viewed.entry_hash}")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^As shown to "))).to_be_visible()
    wait_for_report(page)  # the replayed report is drawn to its SHAP chart
    settled(page)
    assert axe_problems(page) == []
    assert "" not in grid_names(page), "a data grid on the page has no accessible name"


def test_the_case_page_with_its_details_open_has_no_serious_accessibility_violation(
    new_page: Any, app_url: str
) -> None:
    page = new_page(SCREEN)
    sign_in(page, app_url, ROLE_USERS["clinician"])
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    details = (
        page.get_by_test_id("stMain")
        .get_by_test_id("stExpander")
        .filter(has=page.locator("summary", has_text="Details: "))
    )
    expect(details).to_have_count(2)  # codes and triggers; how sure and the evidence
    for index in range(details.count()):
        # Each opens by a rerun that builds its content (lazy expanders): one at a time.
        details.nth(index).locator("summary").click()
        expect(details.nth(index).locator("details")).to_have_attribute("open", "")
        settled(page)
    expect(page.get_by_text("triggered by").first).to_be_visible()
    evidence = page.get_by_role("heading", name="How this patient compares with the evidence")
    expect(evidence).to_be_visible()
    assert axe_problems(page) == []
    names = grid_names(page)
    assert "" not in names, "a data grid on the page has no accessible name"
    assert "The patient's subgroups and the model's figures in each" in names


def test_keyboard_alone_goes_from_sign_in_to_a_report(new_page: Any, app_url: str) -> None:
    page = new_page(SCREEN)
    page.goto(app_url)
    user = page.get_by_role("textbox", name="User name", exact=True)
    expect(user).to_be_visible()
    settled(page)
    # Tab from the top of the document until the user-name field has the focus.
    for _ in range(20):
        if user.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    assert user.evaluate("el => el === document.activeElement"), "Tab never reaches User name"
    page.keyboard.type("dr.lee")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Case", exact=True, level=1)).to_be_visible()
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    focus_ring = page.evaluate(
        "() => getComputedStyle(document.activeElement).outlineStyle !== 'none'"
        " || document.activeElement === document.body"
    )
    assert focus_ring
    assert re.search(r"\d", page.get_by_test_id("stMetricValue").first.inner_text())
