"""Sign-in with the EHR (SMART App Launch) in real Chromium, against a real local EHR (its
authorization server, which approves at once, and its FHIR server): the EHR's launch address →
the EHR's authorize page → back to CaseLens → the Case page with the launched patient's record
read. A fhirUser with no account lands on the sign-in page with the refusal. Screenshots of
the sign-in page (with the EHR button) and of the Case page after the launch."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from caselens.bench.app import HEART, AppServer
from caselens.model.bundle import load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from fhir_server import running
from record_cases import PATIENT_ID, heart_record
from smart_auth_server import CLIENT_ID, SmartAuthServer, new_rsa_key
from smart_ehr import SmartEhr

from .helpers import FIRST_REPORT_MS, SCREEN, assert_png, read_entries, settled, shot, title


@pytest.fixture(scope="module")
def ehr() -> Iterator[SmartEhr]:
    bundle = load_bundle(SAMPLE_MODELS_DIR / HEART)
    today = dt.datetime.now(dt.UTC).date()  # the Case page's case date
    server = SmartEhr(
        SmartAuthServer(new_rsa_key(), patient=PATIENT_ID),
        [heart_record(bundle, case_date=today)],
    )
    with running(server):
        yield server


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, ehr: SmartEhr, browser: Any
) -> Iterator[AppServer]:
    """A demo-mode app registered with the EHR (dr.lee is Practitioner/123 there)."""
    root = tmp_path_factory.mktemp("smart-launch")
    (root / "ehr.jwks").write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    (root / "users.json").write_text(json.dumps({"Practitioner/123": "dr.lee"}), encoding="utf-8")
    data = root / "data"
    data.mkdir()
    server = AppServer(data, log_file=root / "streamlit.log")
    server.env.update(
        {
            "CASELENS_APP_URL": server.url,
            "CASELENS_SMART_CLIENT_ID": CLIENT_ID,
            "CASELENS_SMART_ISSUER": ehr.base,
            "CASELENS_SMART_AUTHORIZE_URL": f"{ehr.base}/authorize",
            "CASELENS_SMART_TOKEN_URL": f"{ehr.base}/token",
            "CASELENS_SMART_JWKS_FILE": str(root / "ehr.jwks"),
            "CASELENS_SMART_USERS_FILE": str(root / "users.json"),
        }
    )
    try:
        server.start(timeout=90)
        yield server
    finally:
        server.stop()


def _launch(page: Page, app: AppServer, ehr: SmartEhr) -> Page:
    """Open CaseLens as the EHR does (its launch address with ``iss`` and ``launch``) and
    continue to the EHR's sign-in, which approves at once; the tab CaseLens opens in."""
    page.goto(f"{app.url}/launch?{urlencode({'iss': ehr.base, 'launch': 'enc-1'})}")
    return _continue(page, "Continue to the EHR's sign-in")


def _continue(page: Page, name: str) -> Page:
    """Click the link to the EHR's sign-in; Streamlit opens it in a new tab."""
    link = page.get_by_role("link", name=name)
    expect(link).to_be_visible(timeout=FIRST_REPORT_MS)
    with page.context.expect_page() as opened:
        link.click()
    return opened.value


def test_the_sign_in_page_offers_the_ehr_and_a_launch_opens_the_patients_record(
    app, ehr, new_page, screenshots: Path
):
    ehr.reset()
    page = new_page(SCREEN)
    page.goto(app.url)
    button = page.get_by_role("link", name="Sign in with the EHR (SMART)")
    expect(button).to_be_visible(timeout=FIRST_REPORT_MS)
    # A launch of this tab without an EHR context: the EHR is asked for a patient.
    assert button.get_attribute("href").startswith(f"{ehr.base}/authorize?")
    assert "launch%2Fpatient" in button.get_attribute("href")
    settled(page)
    sign_in = shot(page, screenshots, "smart_sign_in_page")

    page = _launch(new_page(SCREEN), app, ehr)
    expect(title(page, "Case")).to_be_visible(timeout=FIRST_REPORT_MS)
    assert "code=" not in page.url and "state=" not in page.url  # spent, and gone
    expect(page.get_by_text("Dr. Ana Lee")).to_be_visible()
    record = rf"Record of Patient/{PATIENT_ID}(/_history/\d+)?"
    summary = re.compile(rf"{record}, case date .*: \d+ of 13")
    expect(page.get_by_text(summary)).to_be_visible(timeout=FIRST_REPORT_MS)
    field = page.get_by_role("textbox", name="Patient id at the EHR (from the launch)")
    expect(field).to_have_value(PATIENT_ID)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    settled(page)
    case = shot(page, screenshots, "smart_launch_case_clinician")

    [signed] = read_entries(app.data_dir, action="sign_in")
    detail = signed.detail()
    assert signed.actor_id == "dr.lee" and detail["method"] == "smart"
    assert detail["launch_patient_id"] == PATIENT_ID and detail["fhir_user"] == "Practitioner/123"
    [read] = read_entries(app.data_dir, action="record_read")
    assert read.detail()["launch"] == "smart" and read.detail()["server"] == ehr.base
    # The screen's count is the reading's: the values came from this patient's record.
    given = read.detail()["inputs_from_record"]
    assert given >= 2
    expect(page.get_by_text(re.compile(rf": {given} of 13 inputs from the record"))).to_be_visible()
    trail = "".join(e.detail_json for e in read_entries(app.data_dir))
    assert not any(token in trail for token in ehr.issued)
    for path in (sign_in, case):
        assert_png(path)


def test_a_launch_for_an_ehr_user_without_an_account_ends_on_the_sign_in_page(
    app, ehr, new_page, screenshots: Path
):
    ehr.reset()
    ehr.auth.claims = {"fhirUser": "Practitioner/999"}
    page = _launch(new_page(SCREEN), app, ehr)
    refused = page.get_by_text(re.compile(r"Sign-in with the EHR was refused: .*Practitioner/999"))
    expect(refused).to_be_visible(timeout=FIRST_REPORT_MS)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    [entry] = read_entries(app.data_dir, action="sign_in_refused")
    assert entry.detail()["reason"] == "unknown_fhir_user"
    settled(page)
    assert_png(shot(page, screenshots, "smart_launch_refused"))


def test_the_sign_in_pages_button_signs_in_with_the_patient_chosen_at_the_ehr(app, ehr, new_page):
    ehr.reset()
    before = len(read_entries(app.data_dir, action="sign_in"))
    page = new_page(SCREEN)
    page.goto(app.url)
    case = _continue(page, "Sign in with the EHR (SMART)")
    expect(title(case, "Case")).to_be_visible(timeout=FIRST_REPORT_MS)
    field = case.get_by_role("textbox", name="Patient id at the EHR (from the launch)")
    expect(field).to_have_value(PATIENT_ID)
    entries = read_entries(app.data_dir, action="sign_in")
    assert len(entries) == before + 1 and entries[-1].detail()["method"] == "smart"
    assert "launch/patient" in entries[-1].detail()["scopes"]
