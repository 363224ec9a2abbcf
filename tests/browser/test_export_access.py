"""An audit export exists only after its record is written, is fetched only by the session
that prepared it, and its address serves nothing seconds after the click.

Driven in the real browser against ``streamlit run``: before the click the page holds no
address of the export at all (the data wait behind a placeholder id sent to this session
only); the reviewer prepares a CSV export and downloads it; a client with no cookies and no
session then fetches the same address a few seconds later, while the page still offers the
button, and gets nothing. A second click by the reviewer still downloads (a fresh copy, with
the same short life).
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect

from app_helpers import APP_DIR  # noqa: F401  (puts the app's folder on the import path)
from components.private_download import ADDRESS_LIFETIME_S

#: Seconds beyond the address's lifetime before the cookie-less fetch (timer slack).
SLACK_S = 2.0


def _fetch_without_session(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _media_addresses(page) -> list[str]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("[href], [src]"))
            .map(e => e.getAttribute("href") || e.getAttribute("src"))
            .filter(a => a && a.includes("/media/") && !a.includes("/static/"))"""
    )


def test_an_export_is_recorded_first_and_its_address_dies_seconds_after_the_click(
    signed_in, audit_entries, app_url
):
    page = signed_in("rev.kim")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    exported_before = len(audit_entries(action="exported"))
    # Before the click there is no export and no download button anywhere on the page.
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(0)
    assert len(audit_entries(action="exported")) == exported_before

    page.get_by_text("CSV", exact=True).click()
    page.get_by_role("button", name="Prepare the export").click()
    download_button = page.get_by_test_id("stDownloadButton")
    expect(download_button).to_be_visible()
    exported = audit_entries(action="exported")
    assert len(exported) == exported_before + 1  # recorded before it was offered
    assert exported[-1].detail()["format"] == "csv" and exported[-1].actor_id == "rev.kim"
    # Offered, but with no address anyone could fetch: the data wait for this session's click.
    assert _media_addresses(page) == []

    with page.expect_download() as info:
        download_button.get_by_role("button").click()
    download = info.value
    clicked = time.monotonic()
    with open(download.path(), encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("seq,recorded_at,actor_id")
    url = download.url
    assert re.search(r"/media/", url), url

    # The page still offers the button; the address no longer serves the export to anyone.
    time.sleep(max(0.0, ADDRESS_LIFETIME_S + SLACK_S - (time.monotonic() - clicked)))
    expect(download_button).to_be_visible()
    assert _fetch_without_session(url) == 404
    # A made-up media address is nothing either.
    assert _fetch_without_session(app_url.rstrip("/") + "/media/" + "0" * 56 + ".csv") == 404

    # The reviewer's own second click still downloads, from a fresh, equally short-lived copy.
    with page.expect_download() as again:
        download_button.get_by_role("button").click()
    with open(again.value.path(), encoding="utf-8") as handle:
        assert handle.read() == text
    assert len(audit_entries(action="exported")) == exported_before + 1  # one export, recorded
