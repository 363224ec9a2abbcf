"""What-if editing through the door: checked, recorded before it is returned, linked to its
parent entry, never a prediction about the patient, never shown to a patient, replayable.

Real stores, the real heart-disease sample bundle and real reports; the trail is read back
after every call. One workflow per module (explaining is the cost); each test reads only the
entries it wrote.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.errors import CaseValidationError
from caselens.explain.cases import HYPOTHETICAL_LABEL, validate_inputs
from caselens.explain.report import displayed_digest, displayed_text, explainer_for
from caselens.model.bundle import BundleCatalogue
from caselens.monitoring.tables import ensure_tables, prediction_log
from caselens.workflow.door import Workflow
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from caselens.workflow.records import UserSession
from caselens.workflow.what_if import NOTHING_CHANGED, WHAT_IF_ACTION
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("45" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("pat.h01", "Sam Patel", "patient", "H-01", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
)
MODEL = "heart-disease"


@pytest.fixture(scope="module")
def trail_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("trail") / "audit.sqlite"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, trail_path, sample_bundles) -> Iterator[Workflow]:
    data = tmp_path_factory.mktemp("data")
    engine = open_app_database(data)
    accounts = AccountStore(engine)
    for user_id, name, role, ref, model in USERS:
        accounts.add(
            user_id,
            name=name,
            role=role,
            password=PASSWORD,
            patient_ref=ref,
            patient_model_id=model,
        )
    audit = AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2)
    built = Workflow(
        audit=audit,
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(sample_bundles), refused={}),
        explainer=lambda model_id: explainer_for(sample_bundles[model_id]),
        audit_key=KEY,
        estimate_first=lambda user_id, role: False,
    )
    approve_first_versions(built)
    built.trail = audit
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def last_seq(workflow: Workflow) -> int:
    entries = workflow.trail.page(limit=1)
    return entries[0].seq if entries else 0


def entries_after(workflow: Workflow, seq: int) -> list:
    return [e for e in workflow.trail.entries() if e.seq > seq]


@pytest.fixture(scope="module")
def shown(workflow):
    """One clinician's session and the H-01 report shown in it, shared by the property tests
    (signing in and showing a report per example would only repeat the same work)."""
    session = signed_in(workflow, "dr.lee")
    return session, shown_report(workflow, session)


def shown_report(workflow: Workflow, session: UserSession, case_id: str = "H-01"):
    bundle = workflow.bundle(MODEL)
    demo = bundle.demo_case(case_id)
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return workflow.show_report(session, MODEL, case, patient_ref=case_id)


def edited(report, **changes) -> dict:
    values = report.case.values()
    values.update(changes)
    return values


def logged_report_ids(workflow: Workflow) -> set[str]:
    engine = workflow.trail.engine
    ensure_tables(engine)
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(select(prediction_log.c.report_id))}


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


def test_a_what_if_is_recorded_linked_to_its_parent_before_it_is_returned(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    parent_entry = session.display_entries[parent.report_id]
    before = last_seq(workflow)

    view = workflow.show_what_if(session, parent, edited(parent, resting_bp=210, cholesterol=300))

    report = view.report
    assert report.case.values()["resting_bp"] == 210
    assert report.case.values()["cholesterol"] == 300
    hypothetical = report.case.hypothetical
    assert hypothetical is not None and hypothetical.kind == "what_if"
    assert hypothetical.parent_report_id == parent.report_id
    assert hypothetical.parent_entry == parent_entry
    assert [(c.name, c.from_value, c.to_value) for c in hypothetical.changes] == [
        ("resting_bp", 108.0, 210.0),
        ("cholesterol", 267.0, 300.0),
    ]
    assert hypothetical.changes[0].to_text == "210 mm Hg"
    # The one entry it wrote holds exactly the report returned, with its parent and changes.
    (entry,) = entries_after(workflow, before)
    assert entry.seq == view.entry
    assert (entry.action, entry.audience, entry.actor_id) == (WHAT_IF_ACTION, "clinician", "dr.lee")
    assert entry.patient_ref == "H-01"
    assert entry.report_json == report.to_json()
    detail = entry.detail()
    assert detail["parent_report_id"] == parent.report_id
    assert detail["parent_entry"] == parent_entry
    assert [(c["name"], c["from"], c["to"]) for c in detail["changes"]] == [
        ("resting_bp", 108.0, 210.0),
        ("cholesterol", 267.0, 300.0),
    ]
    # The recorded digest covers the label: the displayed text starts with it.
    assert displayed_text(report, "clinician").startswith(HYPOTHETICAL_LABEL + "\n")
    assert entry.rendered_digest == displayed_digest(report, "clinician")
    assert not displayed_text(parent, "clinician").startswith(HYPOTHETICAL_LABEL)
    # Not a prediction about the patient: the parent has its monitoring row, the what-if none.
    logged = logged_report_ids(workflow)
    assert parent.report_id in logged
    assert report.report_id not in logged


def test_the_comparison_is_the_two_reports_own_figures(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    view = workflow.show_what_if(
        session, parent, edited(parent, major_vessels=3, thallium_test="Reversible defect")
    )
    diff = view.diff
    assert diff.before.probability == parent.probability
    assert diff.after.probability == view.report.probability
    assert diff.threshold == parent.confidence.threshold
    assert (diff.before.range_low, diff.before.range_high) == (
        parent.confidence.interval.low,
        parent.confidence.interval.high,
    )
    # 6.7% → 56.7% across the 50% threshold: the side changed, and the diff says so.
    assert diff.before.at_or_above is False and diff.after.at_or_above is True
    assert diff.side_changed is True
    assert diff.ranked_by == "SHAP"
    sizes = [abs(row.shap_change) for row in diff.contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert {row.name for row in diff.contributions} == set(parent.case.values())
    shap_after = {c.name: c.shap_value for c in view.report.attributions.variables}
    assert all(row.shap_after == shap_after[row.name] for row in diff.contributions)
    codes_before = {lim.code for lim in parent.limitations}
    codes_after = {lim.code for lim in view.report.limitations}
    assert {c.code for c in diff.limitations_appeared} == codes_after - codes_before
    assert {c.code for c in diff.limitations_gone} == codes_before - codes_after
    assert "NEAR_THRESHOLD" in codes_after - codes_before or diff.limitations_appeared


def test_an_out_of_range_input_limitation_appears_by_its_input(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    view = workflow.show_what_if(session, parent, edited(parent, resting_bp=210))
    assert ("OUT_OF_RANGE", "resting_bp") in {
        (c.code, c.about) for c in view.diff.limitations_appeared
    }
    # And going back from it: the same limitation goes away (a chain, one report per edit).
    back = workflow.show_what_if(session, view.report, edited(view.report, resting_bp=120))
    assert ("OUT_OF_RANGE", "resting_bp") in {(c.code, c.about) for c in back.diff.limitations_gone}


def test_a_failing_trail_shows_nothing(workflow, trail_path):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    before = last_seq(workflow)
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.show_what_if(session, parent, edited(parent, resting_bp=140))
    assert entries_after(workflow, before) == []


def test_out_of_range_edits_are_refused_per_field_and_nothing_is_recorded(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    before = last_seq(workflow)
    with pytest.raises(CaseValidationError) as refused:
        workflow.show_what_if(
            session,
            parent,
            edited(parent, resting_bp=400, cholesterol="high", sex="Unknown"),
        )
    assert {p.field for p in refused.value.problems} == {"resting_bp", "cholesterol", "sex"}
    assert entries_after(workflow, before) == []


def test_the_same_values_as_the_parent_say_so_and_record_nothing(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    before = last_seq(workflow)
    # A form gives numbers back as it shows them (145 as 145.0): still no change.
    values = {k: (float(v) if isinstance(v, int | float) else v) for k, v in edited(parent).items()}
    with pytest.raises(WorkflowError, match="No value was changed") as refused:
        workflow.show_what_if(session, parent, values)
    assert str(refused.value) == NOTHING_CHANGED
    assert entries_after(workflow, before) == []


def test_a_report_not_shown_in_this_session_cannot_be_edited(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    other = signed_in(workflow, "dr.lee")  # another tab: it never displayed that report
    before = last_seq(workflow)
    with pytest.raises(WorkflowError, match="shown to you in this session"):
        workflow.show_what_if(other, parent, edited(parent, resting_bp=140))
    assert entries_after(workflow, before) == []


def test_a_patient_is_refused_and_the_refusal_is_recorded(workflow):
    clinician = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, clinician)
    patient = signed_in(workflow, "pat.h01")
    patient.display_entries.update(clinician.display_entries)  # even knowing the entry
    before = last_seq(workflow)
    with pytest.raises(Refused):
        workflow.show_what_if(patient, parent, edited(parent, resting_bp=140))
    (entry,) = entries_after(workflow, before)
    assert (entry.action, entry.actor_id) == ("access_refused", "pat.h01")
    assert entry.detail()["action"] == "explore_hypothetical"
    assert entry.report_json is None


def test_a_chain_of_two_edits_is_two_reports_each_naming_the_one_before(workflow):
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    first = workflow.show_what_if(session, parent, edited(parent, resting_bp=130))
    second = workflow.show_what_if(session, first.report, edited(first.report, cholesterol=200))
    assert second.report.case.hypothetical.parent_report_id == first.report.report_id
    assert second.report.case.hypothetical.parent_entry == first.entry
    # Each edit lists its own change, from the report it was made on.
    assert [(c.name, c.from_value, c.to_value) for c in second.diff.changes] == [
        ("cholesterol", 267.0, 200.0)
    ]
    assert second.report.case.values()["resting_bp"] == 130
    assert second.diff.before.probability == first.report.probability
    seqs = [e.seq for e in workflow.trail.entries() if e.action == WHAT_IF_ACTION]
    assert first.entry in seqs and second.entry in seqs and first.entry < second.entry


def test_replay_shows_the_what_if_with_its_parent_and_a_rerun_reproduces_it(workflow):
    clinician = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, clinician)
    view = workflow.show_what_if(clinician, parent, edited(parent, st_depression=2.5))
    reviewer = signed_in(workflow, "rev.kim")
    before = last_seq(workflow)

    replayed = workflow.replay_what_if(reviewer, view.entry)

    assert replayed.report == view.report
    assert replayed.parent == parent
    assert replayed.diff == view.diff
    assert replayed.entry == view.entry
    recorded = [(e.action, e.detail()["seq"]) for e in entries_after(workflow, before)]
    parent_entry = view.report.case.hypothetical.parent_entry
    assert recorded == [("replayed", view.entry), ("replayed", parent_entry)]
    rerun = workflow.rerun(reviewer, view.entry)
    assert rerun.comparison is not None and rerun.comparison.outcome == "identical"
    assert rerun.fresh.case.hypothetical == view.report.case.hypothetical
    # A patient can never replay it.
    patient = signed_in(workflow, "pat.h01")
    with pytest.raises(Refused):
        workflow.replay(patient, view.entry)


def test_replay_of_a_display_that_is_not_a_what_if_says_so(workflow):
    clinician = signed_in(workflow, "dr.lee")
    shown_report(workflow, clinician)
    seq = next(iter(clinician.display_entries.values()))
    with pytest.raises(WorkflowError, match="is not a what-if display"):
        workflow.replay_what_if(signed_in(workflow, "rev.kim"), seq)


def test_a_patient_can_never_see_a_what_if_nor_can_it_go_to_the_record(workflow):
    clinician = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, clinician)
    view = workflow.show_what_if(clinician, parent, edited(parent, resting_bp=150))
    before = last_seq(workflow)
    # A preview of the patient's words of a what-if: refused, and the refusal recorded.
    with pytest.raises(Refused, match="never shown to a patient"):
        workflow.preview_patient_view(clinician, view.report)
    with pytest.raises(Refused, match="never shown to a patient"):
        workflow.preview_patient_view(clinician, view.report, language="es")
    refusals = entries_after(workflow, before)
    assert [e.action for e in refusals] == ["access_refused", "access_refused"]
    assert all(e.report_json is None for e in refusals)
    # Not written back as the patient's FHIR RiskAssessment, by report or by entry.
    with pytest.raises(Refused, match="never written to the patient's record"):
        workflow.risk_assessment(clinician, view.report)
    with pytest.raises(Refused, match="never written to the patient's record"):
        workflow.risk_assessment(clinician, view.entry)
    fhir_refusals = entries_after(workflow, before)[2:]
    assert [(e.action, e.detail()["action"]) for e in fhir_refusals] == [
        ("access_refused", "export_fhir_result"),
        ("access_refused", "export_fhir_result"),
    ]
    assert fhir_refusals[1].detail()["entry"] == view.entry
    # Nor recorded as the patient's result by the ordinary report path.
    import dataclasses

    bundle = workflow.bundle(MODEL)
    case = validate_inputs(view.report.case.values(), bundle.features, source="form")
    case = dataclasses.replace(case, hypothetical=view.report.case.hypothetical)
    with pytest.raises(WorkflowError, match="hypothetical"):
        workflow.show_report(clinician, MODEL, case, patient_ref="H-01")
    assert all(e.action == "access_refused" for e in entries_after(workflow, before))
    # The patient's own page shows their own result, never the what-if.
    patient = signed_in(workflow, "pat.h01")
    own = workflow.show_my_result(patient)
    assert own.case.hypothetical is None


RESTING_BP = st.integers(min_value=50, max_value=300)
OUT_OF_BOUNDS = st.one_of(st.integers(max_value=49), st.integers(min_value=301, max_value=10**6))


def valid_value(feature) -> st.SearchStrategy:
    """Any value the heart schema accepts for ``feature`` (a form's kinds: whole numbers for
    an integer input, a listed category, nothing where a value may be missing)."""
    if feature.kind == "category":
        values = st.sampled_from(list(feature.categories))
    elif feature.kind == "integer":
        values = st.integers(int(feature.hard_min), int(feature.hard_max)).map(float)
    else:
        values = st.floats(feature.hard_min, feature.hard_max, allow_nan=False).map(
            lambda x: round(x, 2)
        )
    return st.one_of(st.none(), values) if feature.missing_allowed else values


@st.composite
def edits(draw, features) -> dict:
    """One to three inputs of the heart schema, each with a valid value."""
    chosen = draw(
        st.lists(
            st.sampled_from(list(features)), min_size=1, max_size=3, unique_by=lambda f: f.name
        )
    )
    return {f.name: draw(valid_value(f)) for f in chosen}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_valid_edit_gives_a_report_of_exactly_the_edited_values(workflow, shown, data):
    session, parent = shown
    change = data.draw(edits(workflow.bundle(MODEL).features))
    values = edited(parent, **change)
    before = parent.case.values()
    expected = {
        n for n, v in change.items() if not (v == before[n] or (v is None and before[n] is None))
    }
    if not expected:
        with pytest.raises(WorkflowError, match="No value was changed"):
            workflow.show_what_if(session, parent, values)
        return
    view = workflow.show_what_if(session, parent, values)
    assert view.report.case.values() == values
    assert {c.name for c in view.report.case.hypothetical.changes} == expected
    assert workflow.trail.get(view.entry).report_json == view.report.to_json()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(bp=OUT_OF_BOUNDS, age=st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 17)))
def test_any_invalid_edit_is_refused_per_field_with_no_entry(workflow, shown, bp, age):
    session, parent = shown
    before = last_seq(workflow)
    with pytest.raises(CaseValidationError) as refused:
        workflow.show_what_if(session, parent, edited(parent, resting_bp=bp, age=age))
    fields = {p.field for p in refused.value.problems}
    assert "resting_bp" in fields
    assert fields <= {"resting_bp", "age"}
    assert entries_after(workflow, before) == []


def test_the_trail_names_the_action_in_words_and_exports_it_as_a_read(workflow):
    from caselens.audit.fhir_export import to_audit_event
    from caselens.workflow import action_name

    assert action_name(WHAT_IF_ACTION).startswith("What-if viewed (hypothetical values")
    assert action_name("viewed") == "viewed"
    session = signed_in(workflow, "dr.lee")
    parent = shown_report(workflow, session)
    view = workflow.show_what_if(session, parent, edited(parent, max_heart_rate=120))
    event = to_audit_event(workflow.trail.get(view.entry))
    assert event["action"] == "R"
    assert event["subtype"][-1]["code"] == WHAT_IF_ACTION
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
