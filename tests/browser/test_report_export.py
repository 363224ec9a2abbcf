"""Case report files in a real browser: "Download report (HTML)" / "(PDF)" on the clinician's
report, My result and the reviewer's replay. Each file's export is recorded before it is
offered; the downloaded HTML opens in Chromium with nothing blocked or run, and screenshots
of the buttons and of the opened file are saved for a person."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import wait_for_report

from .helpers import FIRST_REPORT_MS, go_to, settled, title

pytestmark = pytest.mark.browser

SAVE = re.compile(r"^Save caselens-report-\d+-(clinician|patient)\.(html|pdf) \(recorded as")
#: The patient's box is worded for the patient (their catalogue): no entry number.
PATIENT_SAVE = re.compile(r"^Save caselens-report-\d+-patient\.(html|pdf)$")


def _download(
    page: Page, label: str, screenshots: Any, name: str, *, save_name: re.Pattern = SAVE
) -> Path:
    """Click the button, screenshot the offered file, download it; its saved path."""
    button = page.get_by_role("button", name=label)
    button.scroll_into_view_if_needed()
    button.click()
    save = page.get_by_role("button", name=save_name)
    expect(save).to_be_visible(timeout=60_000)
    settled(page)
    save.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"{name}.png"))
    with page.expect_download() as info:
        save.click()
    target = screenshots / info.value.suggested_filename
    info.value.save_as(target)
    return target


def _open_file(new_page: Any, path: Path, screenshots: Any, name: str) -> list[str]:
    """Open a downloaded HTML file; what the console said (a CSP block would be there)."""
    page = new_page()
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.resolve().as_uri())
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    assert requests == [path.resolve().as_uri()]  # nothing else was fetched
    return said


def test_clinician_patient_and_reviewer_take_recorded_files(
    signed_in, new_page, audit_entries, screenshots
):
    clinician = signed_in("dr.lee")
    expect(title(clinician, "Case")).to_be_visible()
    wait_for_report(clinician, timeout_ms=FIRST_REPORT_MS)
    viewed = audit_entries(action="viewed", actor_id="dr.lee")[-1]
    pdf = _download(clinician, "Download report (PDF)", screenshots, "report_export_clinician")
    assert pdf.read_bytes().startswith(b"%PDF-")
    exported = audit_entries(action="report_exported", actor_id="dr.lee")[-1]
    assert exported.detail()["entry"] == viewed.seq and exported.detail()["format"] == "pdf"
    html = _download(clinician, "Download report (HTML)", screenshots, "report_export_html")
    assert _open_file(new_page, html, screenshots, "report_export_clinician_file") == []

    patient = signed_in("pat.h03")
    expect(title(patient, "My result")).to_be_visible()
    mine = _download(
        patient,
        "Download your result (HTML)",
        screenshots,
        "report_export_patient",
        save_name=PATIENT_SAVE,
    )
    assert audit_entries(action="report_exported", actor_id="pat.h03")[-1].detail()["audience"] == (
        "patient"
    )
    assert _open_file(new_page, mine, screenshots, "report_export_patient_file") == []

    reviewer = signed_in("rev.kim")
    expect(title(reviewer, "Audit trail")).to_be_visible()
    go_to(reviewer, f"/audit_trail?entry={viewed.seq}")
    expect(reviewer.get_by_text(f"Entry #{viewed.seq}, hash {viewed.entry_hash}")).to_be_visible()
    replayed = _download(reviewer, "Download report (PDF)", screenshots, "report_export_reviewer")
    assert replayed.read_bytes().startswith(b"%PDF-")
    exported = audit_entries(action="report_exported", actor_id="rev.kim")[-1]
    assert exported.detail()["entry"] == viewed.seq
