"""The one door: check → record → return, with real stores, real bundles and real reports.

Every test drives :class:`caselens.workflow.door.Workflow` as a page would and then reads the
audit trail back: what was returned must have been recorded first, and what was refused
must have left its refusal (and nothing else) in the trail.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue
from caselens.workflow.door import Workflow
from caselens.workflow.errors import (
    EntryFailsVerification,
    NotRecorded,
    Refused,
    Unavailable,
    WorkflowError,
)
from caselens.workflow.records import UserSession
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("44" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("dr.ng", "Dr. Bo Ng", "clinician", None, None),
    ("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
    ("admin", "Ali Admin", "admin", None, None),
)


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    for user_id, name, role, ref, model in USERS:
        store.add(
            user_id,
            name=name,
            role=role,
            password=PASSWORD,
            patient_ref=ref,
            patient_model_id=model,
        )
    return folder / "app.sqlite"


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
    built.trail = audit  # the tests read the trail back through the same store
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str, session: UserSession | None = None):
    session = session or UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def actions(workflow: Workflow) -> list[tuple[str, str]]:
    return [(e.action, e.actor_id) for e in workflow.trail.entries()]


def heart_case(workflow: Workflow, case_id: str = "H-01"):
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_case(case_id)
    return validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)


@contextlib.contextmanager
def trail_down(path: Path) -> Iterator[None]:
    """Another process holds the trail's write lock: every append fails, for real."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


# -- sessions ---------------------------------------------------------------------------------


def test_sign_in_is_recorded_and_sign_out_gives_a_new_session_that_inherits_nothing(workflow):
    session = signed_in(workflow, "dr.lee")
    report = workflow.show_report(
        session, "heart-disease", heart_case(workflow), patient_ref="MRN-1"
    )
    workflow.save_own_estimate(
        session, "heart-disease", heart_case(workflow), 30, patient_ref="MRN-1"
    )
    fresh = workflow.sign_out(session)
    assert fresh.session_id != session.session_id
    assert fresh.viewer is None and not fresh.recorded and not fresh.reports
    assert not fresh.own_estimates
    assert actions(workflow) == [
        ("sign_in", "dr.lee"),
        ("viewed", "dr.lee"),
        ("estimate_recorded", "dr.lee"),
        ("signed_out", "dr.lee"),
    ]
    assert report.case.case_id == "MRN-1"


def test_a_second_clinician_on_the_same_tab_has_their_own_view_recorded(workflow):
    session = signed_in(workflow, "dr.lee")
    case = heart_case(workflow)
    workflow.show_report(session, "heart-disease", case, patient_ref="MRN-1")
    workflow.show_report(session, "heart-disease", case, patient_ref="MRN-1")  # a rerun
    session = signed_in(workflow, "dr.ng", workflow.sign_out(session))
    workflow.show_report(session, "heart-disease", case, patient_ref="MRN-1")
    viewed = [e for e in workflow.trail.entries() if e.action == "viewed"]
    assert [e.actor_id for e in viewed] == ["dr.lee", "dr.ng"]
    assert viewed[0].session_id != viewed[1].session_id
    assert viewed[0].patient_ref == viewed[1].patient_ref == "MRN-1"


def test_a_refused_sign_in_is_recorded_and_signs_nobody_in(workflow):
    session = UserSession()
    with pytest.raises(WorkflowError, match="Sign-in failed"):
        workflow.sign_in(session, "dr.lee", "wrong password")
    assert session.viewer is None
    assert actions(workflow) == [("sign_in_refused", "dr.lee")]


def test_nothing_is_shown_before_sign_in(workflow):
    with pytest.raises(WorkflowError, match="sign in"):
        workflow.show_report(
            UserSession(), "heart-disease", heart_case(workflow), patient_ref="MRN-1"
        )
    assert workflow.trail.entries() == []


# -- clinician --------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["", "   ", "MRN 1", "x" * 65, "<script>", "-MRN"])
def test_a_report_needs_a_valid_patient_reference_and_nothing_is_recorded_without_one(
    workflow, ref
):
    session = signed_in(workflow, "dr.lee")
    with pytest.raises(WorkflowError, match="Patient reference"):
        workflow.show_report(session, "heart-disease", heart_case(workflow), patient_ref=ref)
    assert [a for a, _ in actions(workflow)] == ["sign_in"]


def test_a_report_the_trail_cannot_take_is_not_returned(workflow, trail_path):
    session = signed_in(workflow, "dr.lee")
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.show_report(session, "heart-disease", heart_case(workflow), patient_ref="M1")
    assert not session.recorded
    # Once the trail is back, the same display is recorded (it was never marked as done).
    workflow.show_report(session, "heart-disease", heart_case(workflow), patient_ref="M1")
    assert [a for a, _ in actions(workflow)] == ["sign_in", "viewed"]
    assert workflow.trail.verify().ok


def test_a_suspended_model_shows_nothing_to_anyone(workflow):
    admin = signed_in(workflow, "admin")
    workflow.set_model_status(admin, "heart-disease", suspend=True, reason="Calibration drift")
    clinician = signed_in(workflow, "dr.lee")
    with pytest.raises(Refused, match="suspended"):
        workflow.show_report(clinician, "heart-disease", heart_case(workflow), patient_ref="M1")
    patient = signed_in(workflow, "pat.h03")
    with pytest.raises(Unavailable, match="paused"):
        workflow.show_my_result(patient)
    assert not any(a in {"viewed", "patient_viewed"} for a, _ in actions(workflow))
    suspended = next(e for e in workflow.trail.entries() if e.action == "model_suspended")
    assert suspended.detail() == {"model_id": "heart-disease", "reason": "Calibration drift"}


def test_a_clinician_may_not_suspend_a_model_and_the_attempt_is_recorded(workflow):
    session = signed_in(workflow, "dr.lee")
    with pytest.raises(Refused):
        workflow.set_model_status(session, "heart-disease", suspend=True, reason="I think so")
    assert actions(workflow)[-1] == ("access_refused", "dr.lee")
    assert not workflow.model_status("heart-disease").suspended


def test_feedback_keeps_the_estimate_committed_before_the_model_was_seen(workflow):
    session = signed_in(workflow, "dr.lee")
    case = heart_case(workflow)
    workflow.save_own_estimate(session, "heart-disease", case, 35, patient_ref="MRN-9")
    report = workflow.show_report(session, "heart-disease", case, patient_ref="MRN-9")
    estimate = workflow.own_estimate(session, "heart-disease", case)
    workflow.give_feedback(
        session,
        report,
        verdict="I disagree",
        comment="  too low  ",
        own_estimate_out_of_100=estimate,
    )
    feedback = workflow.trail.entries()[-1]
    assert feedback.action == "feedback"
    assert feedback.detail()["own_estimate_out_of_100"] == 35
    assert feedback.detail()["comment"] == "too low"


# -- patient ----------------------------------------------------------------------------------


def test_a_patient_sees_only_their_own_result(workflow):
    session = signed_in(workflow, "pat.h03")
    report = workflow.show_my_result(session)
    assert report.case.case_id == "H-03"
    with pytest.raises(Refused, match="only see their own"):
        workflow.show_my_result(session, asked_refs=("H-04",))
    assert [a for a, _ in actions(workflow)] == ["sign_in", "patient_viewed", "access_refused"]


# -- reviewer ---------------------------------------------------------------------------------


def _one_view(workflow: Workflow) -> int:
    clinician = signed_in(workflow, "dr.lee")
    workflow.show_report(clinician, "heart-disease", heart_case(workflow), patient_ref="MRN-7")
    return [e for e in workflow.trail.entries() if e.action == "viewed"][-1].seq


def test_replay_returns_the_verified_report_and_records_the_replay_once(workflow):
    seq = _one_view(workflow)
    reviewer = signed_in(workflow, "rev.kim")
    replay = workflow.replay(reviewer, seq)
    workflow.replay(reviewer, seq)
    assert replay.heading.startswith("As shown to Dr. Ana Lee (clinician)")
    replayed = [e for e in workflow.trail.entries() if e.action == "replayed"]
    assert len(replayed) == 1 and replayed[0].detail()["seq"] == seq


def test_a_tampered_entry_is_refused_on_replay_and_not_drawn(workflow, trail_path):
    seq = _one_view(workflow)
    reviewer = signed_in(workflow, "rev.kim")
    raw = sqlite3.connect(trail_path)
    raw.execute("DROP TRIGGER audit_entry_no_update")
    stored = raw.execute("SELECT report_json FROM audit_entry WHERE seq = ?", (seq,)).fetchone()
    raw.execute(
        "UPDATE audit_entry SET report_json = ? WHERE seq = ?",
        (stored[0].replace('"probability":0.0', '"probability":0.93', 1), seq),
    )
    raw.commit()
    raw.close()
    with pytest.raises(EntryFailsVerification, match="This entry fails verification"):
        workflow.replay(reviewer, seq)
    with pytest.raises(EntryFailsVerification):
        workflow.rerun(reviewer, seq)
    assert not any(a in {"replayed", "rerun"} for a, _ in actions(workflow))


def test_rerun_records_its_outcome_before_returning(workflow):
    seq = _one_view(workflow)
    reviewer = signed_in(workflow, "rev.kim")
    rerun = workflow.rerun(reviewer, seq)
    assert rerun.outcome == "identical"
    recorded = workflow.trail.entries()[-1]
    assert recorded.action == "rerun"
    assert recorded.detail()["outcome"] == "identical" and recorded.detail()["seq"] == seq


def test_export_is_recorded_before_it_is_built_and_only_for_reviewers(workflow, trail_path):
    _one_view(workflow)
    clinician = signed_in(workflow, "dr.lee")
    with pytest.raises(Refused):
        workflow.export_trail(clinician, "csv", filters={})
    reviewer = signed_in(workflow, "rev.kim")
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.export_trail(reviewer, "fhir", filters={})
    export = workflow.export_trail(reviewer, "csv", filters={"action": "viewed"})
    exported = workflow.trail.entries()[-1]
    assert exported.action == "exported"
    assert exported.detail()["entries"] == export.entries == 1
    assert b"viewed" in export.data and b"MRN-7" not in export.data  # pseudonymised
    assert workflow.patient_pseudonym("MRN-7").encode() in export.data


def test_audit_pages_are_read_in_the_database(workflow):
    for _ in range(3):
        _one_view(workflow)
    reviewer = signed_in(workflow, "rev.kim")
    page = workflow.audit_page(reviewer, filters={"action": "sign_in"}, limit=2)
    assert page.total == 4 and len(page.entries) == 2
    assert page.entries[0].seq > page.entries[1].seq  # newest first
    rest = workflow.audit_page(
        reviewer, filters={"action": "sign_in"}, before_seq=page.next_before_seq, limit=2
    )
    assert len(rest.entries) == 2 and rest.next_before_seq is not None
    assert {e.seq for e in page.entries}.isdisjoint(e.seq for e in rest.entries)


# -- admin ------------------------------------------------------------------------------------


def test_a_user_added_while_the_trail_is_down_is_not_created(workflow, trail_path):
    admin = signed_in(workflow, "admin")
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.add_user(admin, "dr.new", name="Dr New", role="clinician", password=PASSWORD)
    assert "dr.new" not in {a.user_id for a in workflow.list_users(admin)}
    workflow.add_user(admin, "dr.new", name="Dr New", role="clinician", password=PASSWORD)
    assert "dr.new" in {a.user_id for a in workflow.list_users(admin)}
    assert actions(workflow)[-1] == ("user_added", "admin")


def test_an_invalid_user_is_refused_before_anything_is_recorded(workflow):
    admin = signed_in(workflow, "admin")
    with pytest.raises(WorkflowError, match="password: at least"):
        workflow.add_user(admin, "dr.new", name="Dr New", role="clinician", password="short")
    assert actions(workflow) == [("sign_in", "admin")]


def test_an_administrator_unlocks_an_account_and_it_is_recorded(workflow):
    session = UserSession()
    browser = "device:" + "d" * 32  # one browser's failures back off that browser's attempts
    for _ in range(6):
        with pytest.raises(WorkflowError):
            workflow.sign_in(session, "dr.lee", "wrong password", client=browser)
    admin = signed_in(workflow, "admin")
    assert workflow.list_users(admin)[1].locked_until is not None  # dr.lee, by user id
    workflow.unlock_user(admin, "dr.lee")
    assert actions(workflow)[-1] == ("user_unlocked", "admin")
    assert signed_in(workflow, "dr.lee").viewer.user_id == "dr.lee"
    with workflow.trail._engine.connect() as conn:  # the unlock names whom it unlocked
        detail = conn.execute(text("SELECT detail_json FROM audit_entry ORDER BY seq DESC"))
        assert any('"dr.lee"' in row[0] for row in detail)


def test_a_session_resumes_from_its_cookie_recorded_and_not_after_sign_out(workflow):
    session = signed_in(workflow, "dr.lee")
    token = workflow.cookie_handoff(session)
    assert token is not None and workflow.cookie_handoff(session) is None  # handed off once
    cookie, _ = workflow._accounts.sessions.redeem(token)
    reloaded = UserSession()  # a reload: a new Streamlit session, the same browser cookie
    assert workflow.resume(reloaded, cookie).user_id == "dr.lee"
    assert reloaded.session_id == session.session_id  # the same session in the trail
    assert actions(workflow)[-1] == ("session_resumed", "dr.lee")
    workflow.sign_out(reloaded)
    assert workflow.resume(UserSession(), cookie) is None
    assert actions(workflow)[-1] == ("signed_out", "dr.lee")


def test_a_resume_that_cannot_be_recorded_signs_nobody_in(workflow, trail_path):
    session = signed_in(workflow, "dr.lee")
    cookie, _ = workflow._accounts.sessions.redeem(workflow.cookie_handoff(session))
    with contextlib.closing(sqlite3.connect(trail_path)) as blocker:
        blocker.execute("BEGIN EXCLUSIVE")  # the trail cannot take an entry
        reloaded = UserSession()
        with pytest.raises(NotRecorded):
            workflow.resume(reloaded, cookie)
        blocker.rollback()
    assert reloaded.viewer is None


# -- the reviewer finds a display ---------------------------------------------------------------


def test_a_display_is_found_by_entry_number_and_by_its_report_id_and_finding_records_nothing(
    workflow,
):
    seq = _one_view(workflow)
    viewed = workflow.trail.get(seq)
    report_id = viewed.report_json.split('"report_id":"', 1)[1][:64]
    clinician = signed_in(workflow, "dr.lee")
    report = workflow.show_report(
        clinician, "heart-disease", heart_case(workflow), patient_ref="MRN-7"
    )
    assert report.report_id == report_id
    workflow.preview_patient_view(clinician, report)  # a second display of the same report
    # Three displays of one report: viewed in two sessions, then previewed.
    displays = [e.seq for e in workflow.trail.entries() if e.report_json]
    assert len(displays) == 3 and workflow.trail.get(displays[-1]).action == "previewed"
    reviewer = signed_in(workflow, "rev.kim")
    before = len(workflow.trail.entries())

    found = workflow.find_in_trail(reviewer, f"#{seq}")
    assert (found.kind, found.seqs) == ("entry", (seq,))
    assert workflow.find_in_trail(reviewer, f" {seq} ").seqs == (seq,)
    # The report view prints the first 12 or 16 characters (with "…"); any 8+ will do.
    for typed in (report_id[:12], report_id[:16] + "…", report_id.upper(), report_id[:8]):
        found = workflow.find_in_trail(reviewer, typed)
        assert found.kind == "report" and found.seqs == tuple(reversed(displays)), typed
    with pytest.raises(WorkflowError, match="There is no entry #99999"):
        workflow.find_in_trail(reviewer, "99999")
    with pytest.raises(WorkflowError, match="No display of a report whose id starts with"):
        workflow.find_in_trail(reviewer, "ffffffffffff0000")
    with pytest.raises(WorkflowError, match=r"neither an entry number .* nor a report id"):
        workflow.find_in_trail(reviewer, "MRN-7; DROP TABLE audit_entry")
    with pytest.raises(WorkflowError, match="type an entry number"):
        workflow.find_in_trail(reviewer, "   ")
    assert len(workflow.trail.entries()) == before  # finding is reading: nothing recorded
    assert workflow.audit_entry(reviewer, seq).seq == seq


def test_a_long_number_that_is_no_entry_is_tried_as_a_report_id(workflow):
    from caselens.monitoring.tables import prediction_log, ready_engine

    seq = _one_view(workflow)
    engine = ready_engine(workflow.trail)
    with engine.begin() as conn:  # a report id that begins with digits only, as 2% do
        conn.execute(
            prediction_log.update()
            .where(prediction_log.c.entry_seq == seq)
            .values(report_id="12345678" + "a" * 56)
        )
    reviewer = signed_in(workflow, "rev.kim")
    assert workflow.find_in_trail(reviewer, "12345678").seqs == (seq,)
    assert workflow.find_in_trail(reviewer, f"{seq}").kind == "entry"
    with pytest.raises(WorkflowError, match="There is no entry #12345678"):
        workflow.find_in_trail(reviewer, "#12345678")  # '#' says: an entry number


def test_the_filters_offer_the_actions_models_and_roles_of_the_trail(workflow):
    _one_view(workflow)
    reviewer = signed_in(workflow, "rev.kim")
    choices = workflow.audit_choices(reviewer)
    assert {"sign_in", "viewed"} <= set(choices.actions)
    assert list(choices.actions) == sorted(set(choices.actions))
    assert {"heart-disease", "readmission-30d"} <= set(choices.models)
    assert {"clinician", "patient", "reviewer", "admin", "system"} <= set(choices.roles)


def test_a_clinician_may_not_search_the_trail_and_the_attempt_is_recorded(workflow):
    seq = _one_view(workflow)
    clinician = signed_in(workflow, "dr.lee")
    for call in (
        lambda: workflow.find_in_trail(clinician, str(seq)),
        lambda: workflow.audit_choices(clinician),
        lambda: workflow.audit_entry(clinician, seq),
    ):
        with pytest.raises(Refused):
            call()
        assert workflow.trail.entries()[-1].action == "access_refused"
