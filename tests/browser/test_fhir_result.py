"""The result back to the record in a real browser: "Download as FHIR (RiskAssessment)" on the
clinician's report and on the reviewer's replay; the file downloaded is valid R4 and its
export was recorded before it was offered. Screenshots of both are saved for a person."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import Page, expect

from caselens.bench.app import wait_for_report

from .helpers import FIRST_REPORT_MS, go_to, settled, title

pytestmark = pytest.mark.browser

DOWNLOAD = "Download as FHIR (RiskAssessment)"
SAVE = re.compile(r"^Save caselens-risk-assessment-\d+\.fhir\.json \(recorded as entry #\d+\)$")


def _download(page: Page, screenshots: Any, name: str) -> dict:
    """Click the download button, save a screenshot of the offered file, return the Bundle."""
    button = page.get_by_role("button", name=DOWNLOAD)
    button.scroll_into_view_if_needed()
    button.click()
    save = page.get_by_role("button", name=SAVE)
    expect(save).to_be_visible()
    settled(page)
    save.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"{name}.png"))
    with page.expect_download() as info:
        save.click()
    return json.loads(info.value.path().read_text(encoding="utf-8"))


def test_clinician_and_reviewer_download_the_recorded_fhir_result(
    signed_in, audit_entries, screenshots
):
    clinician = signed_in("dr.lee")
    expect(title(clinician, "Case")).to_be_visible()
    wait_for_report(clinician, timeout_ms=FIRST_REPORT_MS)
    viewed = audit_entries(action="viewed", actor_id="dr.lee")[-1]
    bundle = _download(clinician, screenshots, "fhir_result_clinician")
    Bundle.model_validate(bundle)
    exported = audit_entries(action="exported_fhir", actor_id="dr.lee")[-1]
    assert exported.detail()["entry"] == viewed.seq
    assessment = bundle["entry"][0]["resource"]
    assert assessment["resourceType"] == "RiskAssessment"
    assert (
        json.loads(viewed.report_json)["confidence"]["probability"]
        == (assessment["prediction"][0]["probabilityDecimal"])
    )

    reviewer = signed_in("rev.kim")
    expect(title(reviewer, "Audit trail")).to_be_visible()
    go_to(reviewer, f"/audit_trail?entry={viewed.seq}")
    expect(reviewer.get_by_text(f"Entry #{viewed.seq}, hash {viewed.entry_hash}")).to_be_visible()
    replayed = _download(reviewer, screenshots, "fhir_result_reviewer")
    assert replayed["entry"][0]["resource"]["id"] == assessment["id"]  # the same display
    exported = audit_entries(action="exported_fhir", actor_id="rev.kim")[-1]
    assert exported.detail()["entry"] == viewed.seq
