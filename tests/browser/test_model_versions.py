"""Model facts shows a model's versions and the diff of two, in a real browser.

A demo-mode server of this module's own, on a models folder holding the heart-disease sample
(1.0.0, seeded live and approved in demo mode) and an edited copy (1.1.0: threshold 0.40, age
accepted up to 110, a new intended use) loaded as a second version, not registered. The
reviewer sees the history (live first, "approved by admin until …", "Loaded, not
registered") and the comparison opens on live vs the other version, naming the threshold.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from caselens.bench.app import AppServer
from caselens.settings import SAMPLE_MODELS_DIR
from version_fixtures import edited_version

from .helpers import assert_png, go_to, open_signed_in, settled, shot, title

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def versions_url(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo-mode server whose models folder holds two versions of heart-disease."""
    root = tmp_path_factory.mktemp("versions")
    models = root / "models"
    models.mkdir()
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    edited_version(models / "heart-disease-v1.1")
    data = root / "data"
    data.mkdir()
    server = AppServer(
        data, env={"CASELENS_MODELS_DIR": str(models)}, log_file=root / "streamlit.log"
    )
    try:
        server.start(timeout=90)
        yield server.url
    finally:
        server.stop()


# The reviewer, and the clinician (who reads versions as model facts); the model owner's
# Model facts is covered by tests/browser/test_accessibility.py.
@pytest.mark.parametrize("user_id", ["rev.kim", "dr.lee"])
def test_model_facts_shows_the_version_history_and_the_diff_of_two_versions(
    browser: Any, versions_url: str, screenshots: Path, user_id: str
):
    page = open_signed_in(browser, versions_url, user_id)
    try:
        go_to(page, "/model_facts")
        expect(title(page, "Model facts")).to_be_visible()
        expect(page.get_by_role("heading", name="Versions")).to_be_visible()
        settled(page)
        # The history grid (the canvas's fallback content, hence include_hidden) lists the
        # live version first and the edited copy as loaded, not registered.
        history = page.get_by_role("region", name=re.compile(r"^Version history"))
        cells = history.get_by_role("gridcell", include_hidden=True)
        expect(cells.filter(has_text=re.compile(r"^Live$"))).to_have_count(1)
        expect(cells.filter(has_text=re.compile(r"^Loaded, not registered$"))).to_have_count(1)
        expect(cells.filter(has_text=re.compile(r"^approved by admin until \d{4}"))).to_have_count(
            1
        )
        expect(page.get_by_text("Compare two versions")).to_be_visible()
        expect(page.get_by_text("Decision threshold 0.50 → 0.40.")).to_be_visible()
        expect(page.get_by_text("Age (age): highest accepted value 120 → 110.")).to_be_visible()
        expect(page.get_by_text("none (this version is not registered)")).to_be_visible()
        page.get_by_role("heading", name="Versions").scroll_into_view_if_needed()
        assert_png(shot(page, screenshots, f"model_versions_{user_id}"))
    finally:
        page.context.close()
