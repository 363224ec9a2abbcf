"""WCAG 2.2 AA in a real browser: axe-core on every page for every role, and a keyboard path.

axe-core (4.12, shipped inside the pinned ``axe-playwright-python`` wheel: no download) runs
in the page after Streamlit has finished drawing it. A page passes when axe reports no
violation of impact "serious" or "critical" and no skipped heading level (WCAG 1.3.1 /
2.4.6: "headings in order" is asked for explicitly, though axe rates it "moderate").
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.access.policy import PAGE_TITLES, PAGES
from caselens.bench.app import DEMO_PASSWORD, sign_in, wait_for_report

pytestmark = pytest.mark.browser

# One demo account per role (README "Roles and demo accounts").
ROLE_USERS = {"clinician": "dr.lee", "patient": "pat.h03", "reviewer": "rev.kim", "admin": "admin"}
BLOCKING_IMPACTS = {"serious", "critical"}
# Rules enforced whatever axe's impact rating: the issue asks for headings in order.
ALWAYS_ENFORCED = {"heading-order"}
VIEWPORT = {"width": 1440, "height": 900}
FIRST_REPORT_MS = 120_000


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the current run (its status widget is gone)."""
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)
    page.wait_for_timeout(500)  # let the last frame's layout settle before axe measures it
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)


def axe_problems(page: Page) -> list[str]:
    """Every blocking axe violation on the page, one line each (rule, impact, first nodes)."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(
        page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa", "best-practice"]}
    )
    problems = []
    for violation in result.response["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS or violation["id"] in ALWAYS_ENFORCED:
            nodes = "; ".join(
                f"{node['target']} ({node.get('failureSummary', '').splitlines()[-1:]})"
                for node in violation["nodes"][:3]
            )
            problems.append(f"{violation['id']} [{violation['impact']}]: {nodes}")
    return problems


def open_page(page: Page, title: str) -> None:
    """Open a page through the sidebar menu (a reload would start a new session)."""
    nav = page.get_by_test_id("stSidebarNav")
    if nav.count():
        nav.get_by_text(title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible()


def test_sign_in_page_has_no_serious_accessibility_violation(new_page: Any, app_url: str) -> None:
    page = new_page(VIEWPORT)
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
    page = new_page(VIEWPORT)
    sign_in(page, app_url, ROLE_USERS[role])
    open_page(page, PAGE_TITLES[page_id])
    if page_id == "case":
        wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    settled(page)
    assert axe_problems(page) == []


def test_keyboard_alone_goes_from_sign_in_to_a_report(new_page: Any, app_url: str) -> None:
    page = new_page(VIEWPORT)
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
