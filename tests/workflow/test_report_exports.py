"""Report files through the door: checked, recorded before the file is built, refused (and
the refusal recorded) to roles that may not have them, and no file when the trail is down.

Real stores and the real heart sample; every test reads the audit trail back.
"""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.audit.signing_keys import SigningKey
from caselens.explain.cases import validate_inputs
from caselens.explain.cases.hypothetical import HYPOTHETICAL_LABEL, ChangedValue, Hypothetical
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue
from caselens.workflow import NotRecorded, Refused, UserSession, Workflow, WorkflowError
from caselens.workflow.display import record_display
from lifecycle_fixtures import approval_ended, approve_first_versions

#: The server's report key here (every exported file is signed with it).
SIGNING_KEY = SigningKey.generate()
KEY = bytes.fromhex("48" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("dr.ng", "Dr. Bo Ng", "clinician", None, None),
    ("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
    ("admin", "Ali Admin", "admin", None, None),
)


@pytest.fixture(scope="module")
def trail_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export-trail") / "audit.sqlite"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, trail_path, heart_bundle):
    folder = tmp_path_factory.mktemp("export-accounts")
    engine = open_app_database(folder)
    accounts = AccountStore(engine)
    for user_id, name, role, ref, model in USERS:
        accounts.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    audit = AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2)
    built = Workflow(
        audit=audit,
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles={"heart-disease": heart_bundle}, refused={}),
        explainer=lambda model_id: explainer_for(heart_bundle),
        audit_key=KEY,
        signing_key=lambda: SIGNING_KEY,
    )
    approve_first_versions(built)
    built.trail = audit
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def shown(workflow: Workflow, session: UserSession, case_id: str = "H-01"):
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_case(case_id)
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return workflow.show_report(session, "heart-disease", case, patient_ref=case_id)


def actions_since(workflow: Workflow, seq: int) -> list[tuple[str, str]]:
    return [(e.action, e.actor_id) for e in workflow.trail.entries() if e.seq > seq]


def head(workflow: Workflow) -> int:
    return max((e.seq for e in workflow.trail.entries()), default=0)


def test_the_export_is_recorded_before_the_file_and_names_its_display(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session)
    display = session.display_entries[report.report_id]
    exported = workflow.export_report(session, report, audience="clinician", file_format="html")
    record = workflow.trail.get(exported.seq)
    assert record.action == "report_exported" and exported.seq > display
    assert record.detail()["entry"] == display and record.detail()["page_size"] == "A4"
    # The file names the entry that recorded it: it was written before the file was built.
    assert f"entry #{exported.seq}" in exported.data.decode("utf-8")
    # Then, once signed, the file's hashes are recorded right after (before it returns).
    assert exported.seq + 1 == head(workflow)
    assert workflow.trail.get(head(workflow)).action == "report_signed"


def test_a_model_whose_approval_ended_exports_no_file_to_a_clinician(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session)
    before = head(workflow)
    ended = r"approval .* was ended.*not exported"
    with approval_ended(workflow, "heart-disease"), pytest.raises(Refused, match=ended):
        workflow.export_report(session, report, audience="clinician", file_format="html")
    assert head(workflow) == before  # nothing exported, nothing recorded


def test_a_patient_takes_only_their_own_summary(workflow):
    session = signed_in(workflow, "pat.h03")
    report = workflow.show_my_result(session)
    start = head(workflow)
    exported = workflow.export_report(
        session, report, audience="patient", file_format="html", care_team="Call 555-0100."
    )
    assert workflow.trail.get(exported.seq).actor_id == "pat.h03"
    # The care team's contact, as the page shows it, is in the file.
    assert f"{report.narrative.patient.care_team} Call 555-0100." in exported.data.decode()
    with pytest.raises(Refused, match="patient's file is the patient summary"):
        workflow.export_report(session, report, audience="clinician", file_format="html")
    # Another patient's report (shown to a clinician) is refused by the policy.
    clinician = signed_in(workflow, "dr.lee")
    other = shown(workflow, clinician, "H-01")
    with pytest.raises(Refused, match="only see their own result"):
        workflow.export_report(session, other, audience="patient", file_format="html")
    recorded = actions_since(workflow, start)
    assert recorded.count(("access_refused", "pat.h03")) == 2
    assert recorded.count(("report_exported", "pat.h03")) == 1


def test_a_report_not_shown_to_this_clinician_in_this_session_is_refused(workflow):
    lee = signed_in(workflow, "dr.lee")
    report = shown(workflow, lee)
    ng = signed_in(workflow, "dr.ng")
    start = head(workflow)
    with pytest.raises(Refused, match="not shown to you in this session"):
        workflow.export_report(ng, report, audience="clinician", file_format="pdf")
    # A display entry of someone else, asked by number, is refused too.
    with pytest.raises(Refused):
        workflow.export_report(
            ng, lee.display_entries[report.report_id], audience="clinician", file_format="html"
        )
    assert actions_since(workflow, start) == [("access_refused", "dr.ng")] * 2


def test_admins_are_refused_by_the_policy_and_the_refusal_is_recorded(workflow):
    session = signed_in(workflow, "admin")
    start = head(workflow)
    with pytest.raises(Refused, match="admin may not export report"):
        workflow.export_report(session, 1, audience="clinician", file_format="html")
    assert actions_since(workflow, start) == [("access_refused", "admin")]


def test_a_reviewer_exports_from_a_replay_only(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = shown(workflow, clinician)
    seq = clinician.display_entries[report.report_id]
    reviewer = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match="not been replayed in this session"):
        workflow.export_report(reviewer, seq, audience="clinician", file_format="html")
    workflow.replay(reviewer, seq)
    exported = workflow.export_report(
        reviewer, seq, audience="clinician", file_format="pdf", page_size="Letter"
    )
    record = workflow.trail.get(exported.seq)
    assert (record.actor_id, record.detail()["entry"]) == ("rev.kim", seq)
    assert exported.mime == "application/pdf" and exported.data.startswith(b"%PDF-")


def test_a_what_if_is_never_the_patients_file(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session)
    first = report.case.inputs[0]
    what_if = report.model_copy(
        update={
            "report_id": "f" * 64,
            "case": report.case.model_copy(
                update={
                    "hypothetical": Hypothetical(
                        kind="what_if",
                        parent_report_id=report.report_id,
                        parent_entry=session.display_entries[report.report_id],
                        changes=(
                            ChangedValue(
                                name=first.name,
                                label=first.label,
                                from_value=first.value,
                                from_text=first.value_text,
                                to_value=first.value,
                                to_text=first.value_text,
                            ),
                        ),
                    )
                }
            ),
        }
    )
    entry = record_display(
        workflow.trail,
        what_if,
        session.viewer,
        audience="clinician",
        action="viewed",
        session_id=session.session_id,
    )
    session.display_entries[what_if.report_id] = entry.seq
    start = head(workflow)
    with pytest.raises(Refused, match="never the patient's file"):
        workflow.export_report(session, what_if, audience="patient", file_format="html")
    exported = workflow.export_report(session, what_if, audience="clinician", file_format="html")
    text = html.unescape(exported.data.decode("utf-8"))
    assert f'<p class="hypothetical" role="note">{HYPOTHETICAL_LABEL}</p>' in text
    assert actions_since(workflow, start) == [
        ("access_refused", "dr.lee"),
        ("report_exported", "dr.lee"),
        ("report_signed", "dr.lee"),
    ]


def test_no_file_when_the_export_cannot_be_recorded(workflow, trail_path):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session)
    start = head(workflow)
    other = sqlite3.connect(trail_path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock: appends fail
    try:
        with pytest.raises(NotRecorded):
            workflow.export_report(session, report, audience="clinician", file_format="pdf")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert actions_since(workflow, start) == []
