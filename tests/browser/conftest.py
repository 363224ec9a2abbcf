"""Fixtures for the real-browser tests: one Streamlit server and one headless Chromium for
the whole folder, a fresh browser context (a fresh app session) per sign-in.

The server runs ``streamlit run app/streamlit_app.py`` in demo mode against a temporary
data folder, so the audit trail it writes can be read back directly. The browser is Debian's
``/usr/bin/chromium``; without it the tests are skipped, except under ``CI=true`` where they
fail (CI must not silently skip them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from caselens.bench.app import CHROMIUM, REPO_ROOT, AppServer, launch_chromium, sign_in

from .helpers import ACTION_TIMEOUT_MS, open_browser_page, read_entries

# Streamlit draws asynchronously: every expect() waits up to a minute (on success it returns
# as soon as the condition holds).
expect.set_options(timeout=ACTION_TIMEOUT_MS)

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


def _require_chromium() -> None:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = (
        f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
        f"(apt-get install chromium); the browser tests never download a browser."
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's CASELENS_DATA_DIR (audit.sqlite, audit.key, app.sqlite)."""
    return tmp_path_factory.mktemp("browser") / "data"


@pytest.fixture(scope="session")
def app_url(data_dir: Path) -> Iterator[str]:
    """Base URL of one demo-mode Streamlit server, healthy, stopped at the end."""
    _require_chromium()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = AppServer(data_dir, log_file=data_dir.parent / "streamlit.log")
    try:
        server.start(timeout=90)
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, shared by the folder."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (its own Streamlit session); closed after."""
    pages: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        pages.append(open_browser_page(browser, viewport))
        return pages[-1]

    yield make
    for page in pages:
        page.context.close()


@pytest.fixture()
def signed_in(new_page: Callable[..., Any], app_url: str) -> Callable[..., Any]:
    """``signed_in(user_id)``: a fresh page signed in as that demo user."""

    def make(user_id: str, viewport: dict[str, int] | None = None) -> Any:
        page = new_page(viewport)
        sign_in(page, app_url, user_id)
        return page

    return make


@pytest.fixture()
def audit_entries(data_dir: Path) -> Callable[..., list]:
    """``audit_entries(**filters)``: the entries the server wrote, read from its store."""

    def read(**filters: Any) -> list:
        return read_entries(data_dir, **filters)

    return read


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``test-artifacts/screenshots`` at the repo root (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
