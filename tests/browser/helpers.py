"""Helpers shared by the real-browser tests (one copy, used by every file of this folder).

Pages, waits and screenshots for Streamlit in headless Chromium; the audit trail a server
wrote, read back from its data folder. Fixtures stay in conftest.py; these are plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from caselens.audit import AuditStore, load_key
from caselens.bench import app as bench_app
from caselens.bench.app import sign_in

#: Window sizes the tests use: a desktop, the clinician's target screen, and a phone.
DESKTOP = {"width": 1400, "height": 1000}
SCREEN = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The first report of a model in a fresh server pays the explainer warm-up; expect() returns
#: as soon as the report is there, so the bound only matters on a slow, shared machine.
FIRST_REPORT_MS = 180_000
#: Each Playwright action waits up to a minute (Streamlit draws asynchronously).
ACTION_TIMEOUT_MS = 60_000
#: The heart-disease demo patient most tests open (high risk, above the threshold).
H03 = "H-03 — High risk, man"
#: Pixels of one row of Streamlit's data grid (and of its header row).
ROW_PX = 35
#: axe impacts that fail a page (WCAG 2.2 AA: no serious or critical violation).
BLOCKING_IMPACTS = {"serious", "critical"}
#: Rules enforced whatever axe's impact rating: the issue asks for headings in order.
ALWAYS_ENFORCED = {"heading-order"}
#: A screenshot is never taller than this (a runaway page would make a huge PNG).
MAX_SHOT_HEIGHT = 20_000

_CONTENT_HEIGHT = """() => {
    // Streamlit scrolls inside its own containers, not the document: measure the tallest.
    let height = document.documentElement.scrollHeight;
    for (const el of document.querySelectorAll("*")) {
        const overflow = getComputedStyle(el).overflowY;
        if (overflow === "auto" || overflow === "scroll") {
            height = Math.max(height, el.scrollHeight);
        }
    }
    return height;
}"""
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
_GO_TO = """(path) => {
    history.pushState({}, "", path);
    window.dispatchEvent(new PopStateEvent("popstate", {state: {}}));
}"""


# The sample bundles' Case-page labels, demo options and expected values, worked out once per
# test process: each bench helper loads its bundle with every safety check (seconds for
# readmission-30d, longer on a busy host) and the tests ask for them again and again.
@cache
def _expected_probabilities(model_id: str) -> dict[str, str]:
    return bench_app.expected_probabilities(model_id)


@cache
def _demo_options(model_id: str) -> tuple[str, ...]:
    return tuple(bench_app.demo_options(model_id))


@cache
def model_label(model_id: str) -> str:
    """The "Model" option of a sample bundle on the Case page (``bench.app.model_label``)."""
    return bench_app.model_label(model_id)


def expected_probabilities(model_id: str) -> dict[str, str]:
    """The probability text each demo patient's report shows, by option label
    (``bench.app.expected_probabilities``; a fresh dict, the cached one stays intact)."""
    return dict(_expected_probabilities(model_id))


def demo_options(model_id: str) -> list[str]:
    """The "Demo patient" options of a sample bundle, in order (``bench.app.demo_options``)."""
    return list(_demo_options(model_id))


def open_browser_page(browser: Any, viewport: dict[str, int] | None = None) -> Page:
    """A page in a fresh browser context (its own Streamlit session), actions waiting up to
    a minute. The context is closed with the browser unless the caller closes it sooner."""
    context = browser.new_context(viewport=viewport or DESKTOP)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context.new_page()


def open_signed_in(
    browser: Any,
    base_url: str,
    user_id: str,
    *,
    viewport: dict[str, int] | None = None,
    timeout_ms: float = ACTION_TIMEOUT_MS,
) -> Page:
    """A fresh page of the server at ``base_url``, signed in as the demo user ``user_id``."""
    page = open_browser_page(browser, viewport)
    sign_in(page, base_url, user_id, timeout_ms=timeout_ms)
    return page


def title(page: Page, text: str) -> Any:
    """The page's h1 with exactly this text."""
    return page.get_by_role("heading", name=text, exact=True, level=1)


def go_to(page: Page, path: str) -> None:
    """Move within the running app session to ``path`` (address bar change without a
    reload, as the browser's back/forward would): the Streamlit session, and so the
    sign-in, is kept."""
    page.evaluate(_GO_TO, path)


def open_from_menu(page: Page, page_title: str) -> None:
    """Open a page through the sidebar menu (a reload would start a new session) and wait
    for its h1."""
    nav = page.get_by_test_id("stSidebarNav")
    if nav.count():
        nav.get_by_text(page_title, exact=True).click()
    expect(title(page, page_title)).to_be_visible()


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the current run (its status widget is gone)."""
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)
    page.wait_for_timeout(500)  # let the last frame's layout settle before measuring it
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)


def shot(page: Page, folder: Path, name: str) -> Path:
    """A full-page PNG: the viewport is grown to the content's height for the capture
    (Playwright's full_page alone sees only the window, since Streamlit scrolls inside)."""
    path = folder / f"{name}.png"
    viewport = page.viewport_size
    height = min(int(page.evaluate(_CONTENT_HEIGHT)), MAX_SHOT_HEIGHT)
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.evaluate(_TWO_FRAMES)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR)."""
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def assert_png(path: Path) -> None:
    """``path`` is a PNG with something drawn in it (not a blank or failed capture)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 10_000, f"{path} is suspiciously small ({len(data)} bytes)"


def read_entries(data_dir: Path, **filters: Any) -> list:
    """The audit entries a server wrote into ``data_dir``, read from its store."""
    key = load_key(data_dir / "audit.key", create=False, env={})
    store = AuditStore.open(data_dir / "audit.sqlite", key=key, create=False)
    try:
        return store.entries(**filters)
    finally:
        store.close()


def click_row(page: Page, row: int) -> None:
    """Click the selection cell of data row ``row`` (0 = first) of the first data grid, once
    the page has finished drawing (a stale grid may still show the previous rows)."""
    expect(page.locator("[data-stale='true']")).to_have_count(0)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 14, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2)


def narrow(page: Page, change: Callable[[], None]) -> None:
    """Apply ``change`` to the audit trail's filters and wait until the table's caption says
    the filtered count (until then the grid still shows the previous rows)."""
    caption = page.get_by_text(re.compile(r"^\d+ (entry matches|entries match)"))
    before = caption.inner_text()
    change()
    expect(caption).not_to_have_text(before)


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
