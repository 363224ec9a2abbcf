"""The FHIR result through the door: checked, recorded before it returns, sent and recorded.

Real stores, real sample bundles, a real local FHIR server (uvicorn, ``fhir_test_server.py``)
over real HTTP; every test reads the audit trail back.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.fhir import FhirDestinationError, FhirServer
from caselens.fhir.risk_codes import ENTRY_NUMBER_SYSTEM
from caselens.model.bundle import BundleCatalogue
from caselens.workflow import NotRecorded, Refused, UserSession, Workflow, WorkflowError
from fhir_test_server import fhir_test_server
from lifecycle_fixtures import approval_ended, approve_first_versions

KEY = bytes.fromhex("46" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("dr.ng", "Dr. Bo Ng", "clinician", None, None),
    ("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
    ("admin", "Ali Admin", "admin", None, None),
)
TOKEN = "s3cret-bearer-token-never-logged"
#: The client's timeout against the server's /slow base: far below its hold.
SHORT_TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    for user_id, name, role, ref, model in USERS:
        store.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    return folder / "app.sqlite"


@pytest.fixture(scope="module")
def server():
    with fhir_test_server() as running:
        yield running


@pytest.fixture()
def trail_path(tmp_path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture()
def workflow(tmp_path, trail_path, accounts_template, sample_bundles) -> Iterator[Workflow]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    engine = open_app_database(data)
    audit = AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2)
    built = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(sample_bundles), refused={}),
        explainer=lambda model_id: explainer_for(sample_bundles[model_id]),
        audit_key=KEY,
    )
    approve_first_versions(built)
    built.trail = audit
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def shown_report(workflow: Workflow, session: UserSession, case_id: str = "H-01"):
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_case(case_id)
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return workflow.show_report(session, "heart-disease", case, patient_ref=case_id)


def last(workflow: Workflow, action: str):
    return [e for e in workflow.trail.entries() if e.action == action][-1]


def test_a_clinicians_result_is_recorded_before_the_file_and_names_its_display(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    display = last(workflow, "viewed")
    exported = workflow.risk_assessment(session, report)
    record = last(workflow, "exported_fhir")
    # The file carries the number of the entry that recorded it, written before it returned.
    assert exported.seq == record.seq > display.seq
    assert record.detail()["entry"] == display.seq
    assert record.detail()["destination"] == "download"
    assert record.actor_id == "dr.lee" and record.patient_ref == "H-01"
    bundle = json.loads(exported.data)
    Bundle.model_validate(bundle)
    assessment = bundle["entry"][0]["resource"]
    assert {"system": ENTRY_NUMBER_SYSTEM, "value": str(display.seq)} in assessment["identifier"]
    assert assessment["prediction"][0]["probabilityDecimal"] == report.confidence.probability
    assert record.detail()["resources"][0] == f"RiskAssessment/{assessment['id']}"
    assert exported.mime == "application/fhir+json"
    # By entry number, the same display gives the same resources.
    again = json.loads(workflow.risk_assessment(session, display.seq).data)
    assert again == bundle


def test_a_reviewer_exports_any_displayed_result_by_entry_number(workflow):
    clinician = signed_in(workflow, "dr.lee")
    shown_report(workflow, clinician)
    display = last(workflow, "viewed")
    reviewer = signed_in(workflow, "rev.kim")
    exported = workflow.risk_assessment(reviewer, display.seq)
    record = last(workflow, "exported_fhir")
    assert (record.actor_id, record.audience, record.seq) == ("rev.kim", "reviewer", exported.seq)
    provenance = json.loads(exported.data)["entry"][1]["resource"]
    # The viewer named in the Provenance is the clinician who was shown it.
    assert provenance["agent"][1]["who"]["identifier"]["value"] == "dr.lee"


def test_patients_and_other_clinicians_are_refused_and_the_refusal_is_recorded(workflow):
    clinician = signed_in(workflow, "dr.lee")
    shown_report(workflow, clinician)
    display = last(workflow, "viewed")
    patient = signed_in(workflow, "pat.h03")
    with pytest.raises(Refused, match="patient may not export fhir result"):
        workflow.risk_assessment(patient, display.seq)
    other = signed_in(workflow, "dr.ng")
    with pytest.raises(Refused, match="only write back a result they were shown"):
        workflow.risk_assessment(other, display.seq)
    refusals = [e for e in workflow.trail.entries() if e.action == "access_refused"]
    assert [e.actor_id for e in refusals] == ["pat.h03", "dr.ng"]
    assert not [e for e in workflow.trail.entries() if e.action == "exported_fhir"]


def test_an_entry_that_showed_no_report_or_does_not_exist_is_named(workflow):
    reviewer = signed_in(workflow, "rev.kim")
    sign_in = last(workflow, "sign_in")
    with pytest.raises(WorkflowError, match=f"Entry #{sign_in.seq} is not a report shown"):
        workflow.risk_assessment(reviewer, sign_in.seq)
    with pytest.raises(WorkflowError):
        workflow.risk_assessment(reviewer, 10_000)


def test_nothing_is_returned_when_the_export_cannot_be_recorded(workflow, trail_path):
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    other = sqlite3.connect(trail_path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock: appends fail
    try:
        with pytest.raises(NotRecorded):
            workflow.risk_assessment(session, report)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not [e for e in workflow.trail.entries() if e.action == "exported_fhir"]


def test_sending_posts_a_transaction_with_the_token_and_records_the_servers_answer(
    workflow, server, tmp_path
):
    token_file = tmp_path / "fhir.token"
    token_file.write_text(TOKEN + "\n")
    workflow.configure_fhir_server(FhirServer(server.base("ok"), token_file))
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    before = len(server.received.requests)
    sent = workflow.send_risk_assessment(session, report)
    assert sent.ok, sent.message
    request = server.received.requests[before]
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["content-type"] == "application/fhir+json"
    Bundle.model_validate(request["body"])
    assert request["body"]["type"] == "transaction"
    attempt, answer = last(workflow, "exported_fhir"), last(workflow, "fhir_sent")
    assert (attempt.seq, answer.seq) == (sent.export_seq, sent.answer_seq)
    assert attempt.seq < answer.seq
    assert attempt.detail()["destination"] == server.base("ok")
    assert answer.detail()["status"] == 200
    assert answer.detail()["locations"][0].startswith("RiskAssessment/")
    assert "RiskAssessment/" in sent.message
    # The token is never in the trail.
    assert not any(
        TOKEN in (e.detail_json + (e.report_json or "")) for e in workflow.trail.entries()
    )


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("fail", "answered 500: the database is down"),
        ("slow", "did not answer within"),
        ("html", "without a transaction-response Bundle"),
        ("huge", "answer is larger than 1,000,000 bytes"),
    ],
)
def test_a_failed_send_is_recorded_and_said_plainly(workflow, server, mode, problem):
    workflow.configure_fhir_server(FhirServer(server.base(mode), timeout_s=SHORT_TIMEOUT_S))
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    sent = workflow.send_risk_assessment(session, report)
    assert not sent.ok
    assert problem in sent.message and "Not sent" in sent.message
    failed = last(workflow, "fhir_send_failed")
    assert failed.seq == sent.answer_seq
    assert problem in failed.detail()["problem"]
    assert failed.detail()["export_seq"] == last(workflow, "exported_fhir").seq


def test_sending_without_a_server_or_to_an_unsafe_address_is_refused(workflow, tmp_path):
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    with pytest.raises(WorkflowError, match="No FHIR server is configured"):
        workflow.send_risk_assessment(session, report)
    with pytest.raises(FhirDestinationError, match="https only"):
        FhirServer("http://ehr.example.org/fhir")
    with pytest.raises(FhirDestinationError, match="no user name or password"):
        FhirServer("https://user:pw@ehr.example.org/fhir")
    with pytest.raises(FhirDestinationError, match="expected an http"):
        FhirServer("file:///etc/passwd")
    missing = FhirServer("https://ehr.example.org/fhir", tmp_path / "no-such-token")
    with pytest.raises(FhirDestinationError, match="cannot be read"):
        missing.token()


def test_a_suspended_models_results_are_not_written_back(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    display = last(workflow, "viewed")
    admin = signed_in(workflow, "admin")
    workflow.set_model_status(
        admin, "heart-disease", suspend=True, reason="Calibration drift under review"
    )
    reviewer = signed_in(workflow, "rev.kim")
    with pytest.raises(Refused, match=r"suspended.*not written to the patient's record"):
        workflow.risk_assessment(reviewer, display.seq)
    with pytest.raises(Refused, match="suspended"):
        workflow.risk_assessment(session, report)
    assert not [e for e in workflow.trail.entries() if e.action == "exported_fhir"]


def test_a_model_whose_approval_ended_writes_no_result_back(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown_report(workflow, session)
    display = last(workflow, "viewed")
    reviewer = signed_in(workflow, "rev.kim")
    with approval_ended(workflow, "heart-disease"):
        with pytest.raises(Refused, match=r"approval .* was ended.*not written to the patient"):
            workflow.risk_assessment(reviewer, display.seq)
        with pytest.raises(Refused, match="approval"):
            workflow.risk_assessment(session, report)
    assert not [e for e in workflow.trail.entries() if e.action == "exported_fhir"]


def test_a_bad_token_file_is_named_without_quoting_the_token(workflow, server, tmp_path):
    token_file = tmp_path / "fhir.token"
    token_file.write_text(f"{TOKEN} {TOKEN}\n")  # two words: not one bearer token
    workflow.configure_fhir_server(FhirServer(server.base("ok"), token_file))
    session = signed_in(workflow, "dr.lee")
    before = len(server.received.requests)
    sent = workflow.send_risk_assessment(session, shown_report(workflow, session))
    assert not sent.ok and "CASELENS_FHIR_TOKEN_FILE: expected one token" in sent.message
    assert TOKEN not in sent.message
    assert len(server.received.requests) == before  # nothing was sent
    assert not any(TOKEN in e.detail_json for e in workflow.trail.entries())
