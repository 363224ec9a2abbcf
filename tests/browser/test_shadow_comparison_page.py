"""The Monitoring page's "Live and candidate" section in a real browser, on a server of this
module's own.

Before the server starts, its data folder gets the samples' first versions live and
approved, a heart-disease candidate registered in shadow, and a trail holding 300 live
displays with the candidate's never-shown predictions beside them and outcomes for 240
patients (written through the real tables, as the shadow scorer and an outcome import
write them). A reviewer and then a model owner open Monitoring: the section draws the
tables and the histogram and names the entry to cite, and that entry is in the trail as
``shadow_comparison_viewed`` by that person. Screenshots are saved for a person to look at.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from caselens.access.app_database import open_app_database
from caselens.audit import AuditStore, load_key
from caselens.bench.app import AppServer, open_options
from caselens.lifecycle.seed import seed_first_versions
from caselens.lifecycle.store import LifecycleStore
from caselens.model.bundle import load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from shadow_log_rows import random_log

from .helpers import assert_png, open_signed_in, read_entries, shot, title

pytestmark = pytest.mark.browser

HEART = "heart-disease"
CANDIDATE = "c" * 64


@pytest.fixture(scope="module")
def shadow_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("shadow_page")
    data, models = root / "data", root / "models"
    data.mkdir()
    shutil.copytree(SAMPLE_MODELS_DIR, models)
    bundles = [load_bundle(models / name) for name in (HEART, "readmission-30d")]
    lifecycle = LifecycleStore(open_app_database(data))
    seed_first_versions(
        lifecycle,
        bundles,
        registered_by="owner.ng",
        approved_by="admin",
        days=365,
        reason="Seeded by the test.",
    )
    lifecycle.register(
        model_id=HEART,
        bundle_sha256=CANDIDATE,
        card_version="2.0.0",
        registered_by="owner.ng",
        change_reason="Retrained with a lower threshold (0.45).",
        folder="heart-disease-v2",
        state="shadow",
    )
    key = load_key(data / "audit.key", create=True, env={})
    with AuditStore.open(data / "audit.sqlite", key=key) as store:
        random_log(store, HEART, live_sha=bundles[0].bundle_sha256)
    server = AppServer(
        data, log_file=root / "streamlit.log", env={"CASELENS_MODELS_DIR": str(models)}
    )
    try:
        server.start(timeout=90)
        yield {"url": server.url, "data": data}
    finally:
        server.stop()


def test_reviewer_and_model_owner_see_live_and_candidate_and_the_entry_to_cite(
    browser, shadow_server, screenshots
):
    data = shadow_server["data"]
    for user, landing in (("rev.kim", "Audit trail"), ("owner.ng", None)):
        page = open_signed_in(browser, shadow_server["url"], user)
        if landing:
            expect(title(page, landing)).to_be_visible()
        page.get_by_test_id("stSidebarNav").get_by_text("Monitoring", exact=True).click()
        expect(title(page, "Monitoring")).to_be_visible()
        open_options(page, "Model")
        page.get_by_role("option", name=re.compile(rf"\({HEART}\)$")).click()
        expect(page.get_by_role("heading", name="Live and candidate")).to_be_visible()
        expect(page.get_by_role("combobox", name="Candidate", exact=True)).to_have_value(
            re.compile(r"^Version 2\.0\.0 \(cccccccccccc, shadow, 301 predictions\)$")
        )
        cite = page.get_by_text(re.compile(r"Cite entry \d+ as the shadow comparison"))
        expect(cite).to_be_visible()
        seq = int(re.search(r"Cite entry (\d+)", cite.inner_text()).group(1))
        expect(page.get_by_text("Agreement at the threshold", exact=False).first).to_be_visible()
        expect(page.get_by_text("Side by side on 240 pairs with an outcome").first).to_be_visible()
        histogram = page.locator(".js-plotly-plot").filter(
            has_text="Candidate minus live probability (300 pairs)"
        )
        expect(histogram).to_have_count(1)
        expect(histogram).to_be_visible()
        expect(page.locator("[data-stale='true']")).to_have_count(0)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        [entry] = [e for e in read_entries(data, action="shadow_comparison_viewed") if e.seq == seq]
        assert entry.actor_id == user
        assert entry.detail()["candidate_bundle_sha256"] == CANDIDATE
        assert entry.detail()["pairs"] == 300
        page.get_by_role("heading", name="Live and candidate").scroll_into_view_if_needed()
        assert_png(shot(page, screenshots, f"monitoring_shadow_{user.replace('.', '_')}"))
        page.context.close()
