"""Sign-in with the EHR (SMART App Launch) through the door, against a real local EHR (its
authorization server and FHIR server under one uvicorn): the clinician the EHR names is signed
in with the patient in context and the record read with their token; every refusal is
recorded and leaves the tab signed out; the token is never in the trail."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.browser_sessions import new_device_cookie
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import FROM_RECORD
from caselens.explain.report import CaseExplainer
from caselens.fhir import SmartLaunchConfig
from caselens.fhir.smart_launch import MAX_PENDING_S
from caselens.model.bundle import BundleCatalogue
from caselens.workflow import smart_sign_in
from caselens.workflow.door import Workflow
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession
from caselens.workflow.smart_sign_in import REFUSED, SmartStartRefused
from fhir_server import running
from lifecycle_fixtures import approve_first_versions
from record_cases import CASE_DATE, PATIENT_ID, heart_record
from smart_auth_server import CLIENT_ID, SmartAuthServer, new_rsa_key
from smart_ehr import SmartEhr

KEY = bytes.fromhex("66" * 32)
PASSWORD = "a long enough password"
MODEL = "heart-disease"
REDIRECT = "https://caselens.test/launch"
START = dt.datetime(2026, 12, 1, 9, 0)
#: The EHR's users and the CaseLens accounts they map to.
USERS = {
    "Practitioner/123": "dr.lee",
    "Practitioner/555": "pat.h03",
    "Practitioner/777": "admin",
    "Practitioner/888": "nobody.here",
}


@pytest.fixture(scope="module")
def ehr(heart_bundle) -> Iterator[SmartEhr]:
    server = SmartEhr(
        SmartAuthServer(new_rsa_key(), patient=PATIENT_ID), [heart_record(heart_bundle)]
    )
    with running(server):
        yield server


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    store.add("dr.lee", name="Dr. Ana Lee", role="clinician", password=PASSWORD)
    store.add("admin", name="Ada Admin", role="admin", password=PASSWORD)
    store.add(
        "pat.h03",
        name="Sam Patel",
        role="patient",
        password=PASSWORD,
        patient_ref="H-03",
        patient_model_id=MODEL,
    )
    return folder / "app.sqlite"


@pytest.fixture(scope="module")
def explainer(heart_bundle) -> CaseExplainer:
    return CaseExplainer(heart_bundle)


class Clock:
    """The door's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def workflow(
    tmp_path, accounts_template, heart_bundle, explainer, ehr, clock
) -> Iterator[Workflow]:
    ehr.reset()
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    engine = open_app_database(data)
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2)
    built = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles={MODEL: heart_bundle}, refused={}),
        explainer=lambda model_id: explainer,
        audit_key=KEY,
        clock=clock,
    )
    # Approved before the test's fixed clock (an approval holds from its own time on).
    approve_first_versions(built, now=built._clock() - dt.timedelta(days=1))
    jwks = tmp_path / "ehr-jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    built.configure_smart_sign_in(
        SmartLaunchConfig(
            client_id=CLIENT_ID,
            redirect_uri=REDIRECT,
            authorize_endpoint=f"{ehr.base}/authorize",
            token_endpoint=f"{ehr.base}/token",
            issuer=ehr.base,
            jwks_file=jwks,
            fhir_user_roles=USERS,
        )
    )
    built.trail = audit
    yield built
    audit.close()


@pytest.fixture()
def browser(workflow: Workflow, clock: Clock) -> str:
    """A genuine device cookie: the browser the launch is bound to."""
    return new_device_cookie(workflow._accounts.key, clock())


def _authorize(url: str) -> dict[str, str]:
    """Follow the authorize URL as the browser does; the query the EHR sends back."""
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _refusals(workflow: Workflow) -> list:
    return [e for e in workflow.trail.entries() if e.action == "sign_in_refused"]


def test_an_ehr_launch_signs_the_clinician_in_with_the_patient_and_reads_the_record(
    workflow, ehr, browser
):
    session = UserSession()
    url = workflow.start_smart_sign_in(
        session, device_cookie=browser, launch="xyz123", iss=ehr.base + "/"
    )
    asked = parse_qs(urlsplit(url).query)
    assert asked["launch"] == ["xyz123"] and "launch" in asked["scope"][0].split()
    assert asked["code_challenge_method"] == ["S256"]
    back = _authorize(url)
    assert session.viewer is None  # nothing until the EHR answers and every check holds

    viewer = workflow.complete_smart_sign_in(
        session, device_cookie=browser, code=back["code"], state=back["state"]
    )
    assert (viewer.user_id, viewer.role) == ("dr.lee", "clinician")
    assert session.viewer == viewer and session.cookie_handoff  # like a password sign-in
    assert workflow.launched_patient(session) == PATIENT_ID
    [entry] = [e for e in workflow.trail.entries() if e.action == "sign_in"]
    detail = entry.detail()
    assert entry.actor_id == "dr.lee" and detail["method"] == "smart"
    assert detail["fhir_user"] == "Practitioner/123" and detail["iss"] == ehr.base
    assert detail["launch_patient_id"] == PATIENT_ID
    assert "patient/Observation.rs" in detail["scopes"]

    sources = workflow.case_from_launch(session, MODEL, case_date=CASE_DATE)
    assert sources.patient_id == PATIENT_ID
    assert {"age", "sex"} <= {f.feature for f in sources.fields if f.status in FROM_RECORD}
    [read] = [e for e in workflow.trail.entries() if e.action == "record_read"]
    assert read.detail()["server"] == ehr.base and read.detail()["launch"] == "smart"
    token = session.launch.access_token
    assert token == ehr.issued[-1] and token not in repr(session.launch)
    everything = "".join(e.detail_json + (e.report_json or "") for e in workflow.trail.entries())
    assert token not in everything

    workflow.sign_out(session)
    assert session.launch is None  # the token goes with the session


def test_the_sign_in_pages_launch_asks_the_ehr_for_a_patient(workflow, ehr, browser):
    url = workflow.start_smart_sign_in(UserSession(), device_cookie=browser)
    scopes = parse_qs(urlsplit(url).query)["scope"][0].split()
    assert "launch/patient" in scopes and "launch" not in scopes
    assert "launch" not in parse_qs(urlsplit(url).query)
    back = _authorize(url)
    session = UserSession()
    workflow.complete_smart_sign_in(
        session, device_cookie=browser, code=back["code"], state=back["state"]
    )
    assert workflow.launched_patient(session) == PATIENT_ID


def _set_claims(fhir_user: str) -> Callable[[SmartEhr], None]:
    def change(ehr: SmartEhr) -> None:
        ehr.auth.claims = {"fhirUser": fhir_user}

    return change


def _forge(ehr: SmartEhr) -> None:
    ehr.auth.signing_key = new_rsa_key()


def _grant_write(ehr: SmartEhr) -> None:
    ehr.auth.scope = "launch openid fhirUser patient/Observation.rs patient/Observation.cud"


def _deny(ehr: SmartEhr) -> None:
    ehr.deny = "access_denied"


@pytest.mark.parametrize(
    ("change", "reason", "fhir_user", "words"),
    [
        (_deny, "ehr_refused", None, "did not authorize it ('access_denied')"),
        (_set_claims("Practitioner/999"), "unknown_fhir_user", "Practitioner/999", "no CaseLens"),
        (_set_claims("Practitioner/555"), "not_a_clinician", "Practitioner/555", "patient"),
        (_set_claims("Practitioner/777"), "not_a_clinician", "Practitioner/777", "admin"),
        (_set_claims("Practitioner/888"), "no_account", "Practitioner/888", "no CaseLens"),
        (_forge, "launch_refused", None, "id_token does not verify"),
        (_grant_write, "launch_refused", None, "wider than asked"),
    ],
)
def test_an_ehr_answer_that_fails_a_check_is_refused_recorded_and_signs_no_one_in(
    workflow, ehr, browser, change, reason, fhir_user, words
):
    change(ehr)
    session = UserSession()
    url = workflow.start_smart_sign_in(session, device_cookie=browser, launch="l1", iss=ehr.base)
    back = _authorize(url)
    with pytest.raises(WorkflowError, match=REFUSED) as refused:
        workflow.complete_smart_sign_in(
            session,
            device_cookie=browser,
            code=back.get("code"),
            state=back["state"],
            error=back.get("error"),
        )
    assert words in str(refused.value)
    assert session.viewer is None and session.launch is None and not session.cookie_handoff
    [entry] = _refusals(workflow)
    detail = entry.detail()
    assert detail["method"] == "smart" and detail["reason"] == reason
    assert detail.get("fhir_user") == fhir_user and entry.actor_role == "anonymous"
    assert not [e for e in workflow.trail.entries() if e.action == "sign_in"]


def test_a_wrong_replayed_foreign_or_late_return_is_refused_and_recorded(
    workflow, ehr, browser, clock
):
    session = UserSession()
    url = workflow.start_smart_sign_in(session, device_cookie=browser, launch="l1", iss=ehr.base)
    back = _authorize(url)
    other = new_device_cookie(workflow._accounts.key, clock())
    with pytest.raises(WorkflowError, match="another browser"):
        workflow.complete_smart_sign_in(
            session, device_cookie=other, code=back["code"], state=back["state"]
        )
    # Used once: the launch is gone, even for the browser that started it.
    with pytest.raises(WorkflowError, match="not started here or was already used"):
        workflow.complete_smart_sign_in(
            session, device_cookie=browser, code=back["code"], state=back["state"]
        )
    with pytest.raises(WorkflowError, match="not started here"):
        workflow.complete_smart_sign_in(session, device_cookie=browser, code="c", state="forged")

    url = workflow.start_smart_sign_in(session, device_cookie=browser, launch="l2", iss=ehr.base)
    back = _authorize(url)
    clock.now += dt.timedelta(seconds=MAX_PENDING_S + 1)
    with pytest.raises(WorkflowError, match="more than 600 s"):
        workflow.complete_smart_sign_in(
            session, device_cookie=browser, code=back["code"], state=back["state"]
        )
    reasons = [e.detail()["reason"] for e in _refusals(workflow)]
    assert reasons == ["other_browser", "unknown_state", "unknown_state", "expired"]
    assert session.viewer is None


def test_a_launch_is_refused_before_the_ehr_when_it_cannot_be_bound_or_trusted(
    workflow, ehr, browser, monkeypatch
):
    session = UserSession()

    def refused(code: str, words: str, **launch: str | None) -> None:
        # The code is what a redirect carries to the sign-in page; the page's words for it
        # are the refusal's own.
        with pytest.raises(SmartStartRefused, match=words) as raised:
            workflow.start_smart_sign_in(session, **launch)
        assert raised.value.code == code
        assert workflow.smart_start_refusal(code) == str(raised.value)

    refused("no_cookie", "did not send CaseLens's cookie", device_cookie=None, iss=ehr.base)
    evil = "https://evil.example.org/fhir"
    refused("other_ehr", "not the configured EHR", device_cookie=browser, launch="l", iss=evil)
    assert evil not in workflow.smart_start_refusal("other_ehr")  # never the address's text
    refused("bad_launch", "'launch' parameter", device_cookie=browser, launch="x" * 2_000)
    assert workflow.smart_start_refusal("<script>") is None
    monkeypatch.setattr(smart_sign_in, "MAX_PENDING_LAUNCHES", 2)
    for _ in range(2):
        workflow.start_smart_sign_in(session, device_cookie=browser, launch="l", iss=ehr.base)
    refused("busy", "too many sign-ins", device_cookie=browser, launch="l", iss=ehr.base)
    workflow.configure_smart_sign_in(None, problem="CASELENS_SMART_TOKEN_URL is unset")
    assert not workflow.smart_sign_in_available
    refused("not_set_up", "not set up on this server: CASELENS_SMART_TOKEN", device_cookie=browser)


def test_a_signed_in_tab_or_a_session_without_a_launch_gets_no_ehr_record(workflow, browser):
    session = UserSession()
    workflow.sign_in(session, "dr.lee", PASSWORD)
    with pytest.raises(WorkflowError, match="No patient from the EHR"):
        workflow.case_from_launch(session, MODEL, case_date=CASE_DATE)
    with pytest.raises(WorkflowError, match="signed in already"):
        workflow.complete_smart_sign_in(session, device_cookie=browser, code="c", state="s")
