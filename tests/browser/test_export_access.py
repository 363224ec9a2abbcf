"""An audit export exists only after its record is written, and only while the reviewer's
session offers it: before the click there is nothing, and once the session has moved on the
address returns nothing.

Driven in the real browser against ``streamlit run``: the reviewer prepares a CSV export,
downloads it and signs out; the download address is then fetched by a client without the
session (no cookies). Streamlit serves a download from memory by an unguessable address
while the page offers it; the address is never sent to anyone but that session.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from playwright.sync_api import expect

from caselens.bench_app import sign_in


def _fetch_without_session(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_export_is_recorded_before_it_exists_and_is_gone_with_the_session(
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

    with page.expect_download() as info:
        download_button.get_by_role("button").click()
    download = info.value
    with open(download.path(), encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("seq,recorded_at,actor_id")
    url = download.url
    assert re.search(r"/media/", url), url

    # Streamlit drops a download two runs after the page stops offering it: the sign-out,
    # then the next sign-in on the same tab.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    sign_in(page, app_url, "rev.kim")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    assert _fetch_without_session(url) == 404
    # A made-up media address is nothing either.
    assert _fetch_without_session(app_url.rstrip("/") + "/media/" + "0" * 56 + ".csv") == 404
