"""Sign-in with the EHR (SMART App Launch) in real Chromium, against a real local EHR (its
authorization server, which approves at once, and its FHIR server): the EHR's launch address
(the route ``/_caselens/launch``) → the EHR's authorize page → back to CaseLens → the Case page
with the launched patient's record read, all in one tab with no click. A fhirUser with no
account, or a launch from another EHR, lands on the sign-in page with the refusal. The route
itself is asked with a plain HTTP client (its redirect, its refusal). Screenshots of the
sign-in page (with the EHR button) and of the Case page after the launch."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from caselens.access import DEVICE_COOKIE
from caselens.bench.app import HEART, AppServer
from caselens.fhir import LAUNCH_ROUTE
from caselens.fhir.smart_launch import DEFAULT_SCOPES
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


def _launch(page: Page, app: AppServer, ehr: SmartEhr, **params: str) -> Page:
    """Open CaseLens as the EHR does (its launch address with ``iss`` and ``launch``): the
    route sends the tab to the EHR's sign-in, which approves at once and sends it back."""
    query = {"iss": ehr.base, "launch": "enc-1", **params}
    page.goto(f"{app.url}{LAUNCH_ROUTE}?{urlencode(query)}")
    return page


def _one_tab(page: Page) -> None:
    """The launch never opened another tab or window."""
    assert len(page.context.pages) == 1


def test_the_launch_route_redirects_to_the_ehrs_sign_in_or_to_the_sign_in_page(app, ehr):
    """A plain HTTP client: no JavaScript, no Streamlit session. First in the module: the
    route builds the pages' runtime itself when no page has loaded yet."""
    launch = {"iss": ehr.base, "launch": "enc-7"}
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        answer = client.get(f"{app.url}{LAUNCH_ROUTE}", params=launch)
        assert answer.status_code == 302
        assert answer.headers["cache-control"] == "no-store"
        # A browser without CaseLens's cookie gets one: the launch is bound to it.
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{DEVICE_COOKIE}=") and "SameSite=Lax" in cookie
        assert "HttpOnly" in cookie
        target = urlsplit(answer.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == f"{ehr.base}/authorize"
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == f"{app.url}/launch"
        assert query["aud"] == ehr.base and query["launch"] == "enc-7"
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 32
        assert tuple(query["scope"].split()) == DEFAULT_SCOPES
        assert not any(s.endswith((".write", ".*", ".cruds")) for s in query["scope"].split())
        # Each launch is its own: a second one has another state and challenge.
        second = client.get(f"{app.url}{LAUNCH_ROUTE}", params=launch)
        assert "set-cookie" not in second.headers  # its cookie came back: no new one
        assert parse_qs(urlsplit(second.headers["location"]).query)["state"][0] != query["state"]

        other = client.get(f"{app.url}{LAUNCH_ROUTE}", params={**launch, "iss": "https://x.org"})
        assert other.status_code == 303 and other.headers["cache-control"] == "no-store"
        assert other.headers["location"] == "../?smart_error=other_ehr"


def test_the_sign_in_page_offers_the_ehr_and_a_launch_opens_the_patients_record(
    app, ehr, new_page, screenshots: Path
):
    ehr.reset()
    page = new_page(SCREEN)
    page.goto(app.url)
    button = page.get_by_role("link", name="Sign in with the EHR (SMART)")
    expect(button).to_be_visible(timeout=FIRST_REPORT_MS)
    # The launch route, in this tab (no target): the route starts the launch when clicked.
    assert button.get_attribute("href") == f"{app.url}{LAUNCH_ROUTE}"
    assert button.get_attribute("target") in (None, "_self")
    settled(page)
    sign_in = shot(page, screenshots, "smart_sign_in_page")

    page = _launch(new_page(SCREEN), app, ehr)
    expect(title(page, "Case")).to_be_visible(timeout=FIRST_REPORT_MS)
    assert "code=" not in page.url and "state=" not in page.url  # spent, and gone
    _one_tab(page)
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
    _one_tab(page)
    [entry] = read_entries(app.data_dir, action="sign_in_refused")
    assert entry.detail()["reason"] == "unknown_fhir_user"
    settled(page)
    assert_png(shot(page, screenshots, "smart_launch_refused"))


def test_the_sign_in_pages_button_signs_in_with_the_patient_chosen_at_the_ehr(app, ehr, new_page):
    ehr.reset()
    before = len(read_entries(app.data_dir, action="sign_in"))
    page = new_page(SCREEN)
    page.goto(app.url)
    button = page.get_by_role("link", name="Sign in with the EHR (SMART)")
    expect(button).to_be_visible(timeout=FIRST_REPORT_MS)
    button.click()
    expect(title(page, "Case")).to_be_visible(timeout=FIRST_REPORT_MS)
    _one_tab(page)
    field = page.get_by_role("textbox", name="Patient id at the EHR (from the launch)")
    expect(field).to_have_value(PATIENT_ID)
    entries = read_entries(app.data_dir, action="sign_in")
    assert len(entries) == before + 1 and entries[-1].detail()["method"] == "smart"
    assert "launch/patient" in entries[-1].detail()["scopes"]


def test_a_launch_from_another_ehr_is_refused_on_the_sign_in_page_in_the_doors_words(
    app, ehr, new_page, screenshots: Path
):
    ehr.reset()
    page = _launch(new_page(SCREEN), app, ehr, iss="https://evil.example.org/<b>fhir</b>")
    words = r"Sign-in with the EHR was refused: the launch's 'iss' is not .* only launches from"
    expect(page.get_by_text(re.compile(words))).to_be_visible(timeout=FIRST_REPORT_MS)
    assert "evil" not in page.content() and "smart_error" not in page.url
    _one_tab(page)
    settled(page)
    assert_png(shot(page, screenshots, "smart_launch_other_ehr"))


def test_the_old_launch_address_says_what_to_register_and_carries_the_launch_on(
    app, ehr, new_page, screenshots: Path
):
    ehr.reset()
    page = new_page(SCREEN)
    page.goto(f"{app.url}/launch?{urlencode({'iss': ehr.base, 'launch': 'enc-1'})}")
    note = page.get_by_text(re.compile(r"old launch address.*register .* as the launch URL"))
    expect(note).to_be_visible(timeout=FIRST_REPORT_MS)
    link = page.get_by_role("link", name="Continue to the EHR's sign-in")
    assert link.get_attribute("href").startswith(f"{app.url}{LAUNCH_ROUTE}?iss=")
    settled(page)
    assert_png(shot(page, screenshots, "smart_old_launch_address"))
    link.click()
    expect(title(page, "Case")).to_be_visible(timeout=FIRST_REPORT_MS)
    _one_tab(page)
