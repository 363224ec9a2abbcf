"""A case from the patient's FHIR record through the door: clinicians only, every problem asked
for by hand (and nothing else), the sources recorded with the report, replayed and re-run."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.errors import CaseValidationError
from caselens.explain.cases import FROM_RECORD, FieldSource, RecordSources
from caselens.explain.report import CaseExplainer, CaseReport
from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.synthetic import synthetic_record
from caselens.model.bundle import BundleCatalogue
from caselens.workflow.door import Workflow
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from caselens.workflow.record_intake import checked_sources, intake_sources
from caselens.workflow.records import UserSession
from fhir_records import BYO_CASE, BYO_SCHEMA
from fhir_records import CASE_DATE as BYO_DATE
from lifecycle_fixtures import approve_first_versions
from record_cases import CASE_DATE, PATIENT_ID, heart_record, record_inputs

KEY = bytes.fromhex("55" * 32)
PASSWORD = "a long enough password"
MODEL = "heart-disease"
#: Hand values for the heart inputs its mapping leaves to the clinician (a stress test's
#: findings, the chest pain type …), and for the two the problem records spoil.
BY_HAND = {
    "chest_pain": "Atypical angina",
    "resting_ecg": "Normal",
    "max_heart_rate": 150,
    "exercise_angina": "No",
    "st_depression": 1.2,
    "st_slope": "Flat",
    "major_vessels": 0,
    "thallium_test": "Normal",
}
HAND = {**BY_HAND, "resting_bp": 138, "cholesterol": 241}


@pytest.fixture(scope="module")
def mapped_bundle(heart_bundle):
    """The sample heart-disease bundle: its inputs carry their FHIR mapping."""
    return heart_bundle


@pytest.fixture(scope="module")
def explainer(mapped_bundle) -> CaseExplainer:
    return CaseExplainer(mapped_bundle)


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    store.add("dr.lee", name="Dr. Ana Lee", role="clinician", password=PASSWORD)
    store.add("rev.kim", name="Kim Okafor", role="reviewer", password=PASSWORD)
    store.add(
        "pat.h03",
        name="Sam Patel",
        role="patient",
        password=PASSWORD,
        patient_ref="H-03",
        patient_model_id=MODEL,
    )
    return folder / "app.sqlite"


@pytest.fixture()
def workflow(tmp_path, accounts_template, mapped_bundle, explainer) -> Iterator[Workflow]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    engine = open_app_database(data)
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2)
    built = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles={MODEL: mapped_bundle}, refused={}),
        explainer=lambda model_id: explainer,
        audit_key=KEY,
        clock=lambda: dt.datetime(2026, 12, 1, 9, 0),
    )
    # Approved before the test's fixed clock (an approval holds from its own time on).
    approve_first_versions(built, now=built._clock() - dt.timedelta(days=1))
    built.trail = audit
    built.trail_path = tmp_path / "audit.sqlite"
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def asked(sources: RecordSources) -> set[str]:
    return {f.feature for f in sources.fields if f.status not in FROM_RECORD}


def test_only_a_clinician_may_read_a_record_and_a_patient_s_refusal_is_recorded(workflow):
    for user_id in ("pat.h03", "rev.kim"):
        session = signed_in(workflow, user_id)
        with pytest.raises(Refused):
            workflow.case_from_record(
                session, MODEL, heart_record(workflow.bundle(MODEL)), case_date=CASE_DATE
            )
    refusals = [e for e in workflow.trail.entries() if e.action == "access_refused"]
    assert [e.actor_id for e in refusals] == ["pat.h03", "rev.kim"]
    assert all(e.report_json is None for e in workflow.trail.entries())


def test_a_record_with_problems_asks_by_hand_for_exactly_the_problem_inputs(workflow):
    session = signed_in(workflow, "dr.lee")
    sources = workflow.case_from_record(
        session,
        MODEL,
        heart_record(
            workflow.bundle(MODEL),
            variants={"cholesterol": "stale", "fasting_glucose_high": "other_unit"},
            bp_unit="kPa",
        ),
        case_date=CASE_DATE,
    )
    status = {f.feature: f.status for f in sources.fields}
    assert status["cholesterol"] == "stale"
    assert status["resting_bp"] == "unit_not_allowed"
    assert status["chest_pain"] == "entered_by_hand"
    assert {name for name, s in status.items() if s == "filled"} == {
        "age",
        "sex",
        "fasting_glucose_high",
    }
    assert asked(sources) == set(HAND)  # every input with a problem, and only those
    glucose = sources.field("fasting_glucose_high")  # written in mmol/L, read through its band
    assert glucose.value == "No" and glucose.original.endswith("mmol/L")
    # Nothing is defaulted: an input with a problem has no value until the clinician types one.
    assert all(f.value is None for f in sources.fields if f.feature in HAND)
    stale = sources.field("cholesterol")
    assert stale.original == "298 mg/dL" and stale.sources[0].date < "2025-11-30"
    assert stale.sources[0].resource_type == "Observation" and "older than" in stale.message
    assert sources.field("resting_bp").original == "140 kPa"
    assert sources.patient_id == PATIENT_ID and sources.case_date == CASE_DATE.isoformat()
    # Who read which record is recorded before the values are returned (no report with it).
    [read] = [e for e in workflow.trail.entries() if e.action == "record_read"]
    assert read.actor_id == "dr.lee" and read.report_json is None
    assert read.detail()["record_patient_id"] == PATIENT_ID
    assert (read.detail()["inputs_from_record"], read.detail()["inputs_by_hand"]) == (3, 10)

    case = workflow.case_with_values_by_hand(session, MODEL, sources, HAND)
    assert case.source == "fhir"
    assert case.values["age"] == 51.0 and case.values["sex"] == "Male"
    assert case.values["cholesterol"] == 241.0  # typed, not the stale 298 mg/dL
    kept = case.record_sources
    assert set(kept.entered_by_hand()) == set(HAND)
    assert kept.field("cholesterol").value == 241.0 and kept.field("cholesterol").by_hand
    assert kept.field("cholesterol").where_from() == (
        "Entered by hand · not used from the record: " + stale.where_from()
    )
    assert kept.field("chest_pain").where_from() == "Entered by hand"
    assert not kept.field("age").by_hand and kept.field("age").from_record


def test_a_record_is_not_shown_when_its_reading_cannot_be_recorded(workflow):
    session = signed_in(workflow, "dr.lee")
    other = sqlite3.connect(workflow.trail_path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the trail's write lock
    try:
        with pytest.raises(NotRecorded):
            workflow.case_from_record(
                session, MODEL, heart_record(workflow.bundle(MODEL)), case_date=CASE_DATE
            )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "record_read" not in [e.action for e in workflow.trail.entries()]


def test_a_required_input_left_empty_or_a_record_value_typed_over_is_refused_per_field(
    workflow, mapped_bundle
):
    session = signed_in(workflow, "dr.lee")
    sources = workflow.case_from_record(
        session, MODEL, heart_record(workflow.bundle(MODEL)), case_date=CASE_DATE
    )
    assert asked(sources) == set(BY_HAND)
    hand = {k: v for k, v in HAND.items() if k in asked(sources)}
    with pytest.raises(CaseValidationError) as empty:
        workflow.case_with_values_by_hand(session, MODEL, sources, {**hand, "st_slope": None})
    assert [(p.field, p.code) for p in empty.value.problems] == [("st_slope", "missing_required")]
    with pytest.raises(CaseValidationError) as over:
        workflow.case_with_values_by_hand(session, MODEL, sources, {**hand, "age": 40})
    [problem] = over.value.problems
    assert problem.field == "age" and "came from the record" in problem.message
    # A value that may be not recorded (the model allows it) is the clinician's choice.
    case = workflow.case_with_values_by_hand(
        session, MODEL, sources, {**hand, "major_vessels": None}
    )
    assert case.values["major_vessels"] is None
    assert case.record_sources.field("major_vessels").by_hand


def test_the_recorded_report_carries_the_sources_and_the_replay_and_rerun_keep_them(workflow):
    clinician = signed_in(workflow, "dr.lee")
    sources = workflow.case_from_record(
        clinician,
        MODEL,
        heart_record(workflow.bundle(MODEL), conflicting_bp=True),
        case_date=CASE_DATE,
    )
    assert sources.field("resting_bp").status == "conflict"
    assert {s.resource_id for s in sources.field("resting_bp").sources} == {"bp-1", "bp-2"}
    hand = {k: v for k, v in HAND.items() if k in asked(sources)}
    case = workflow.case_with_values_by_hand(clinician, MODEL, sources, hand)
    report = workflow.show_report(clinician, MODEL, case, patient_ref="MRN-7")
    assert report.case.record_sources == case.record_sources

    [entry] = [e for e in workflow.trail.entries() if e.action == "viewed"]
    stored = CaseReport.from_json(entry.report_json)
    assert stored.case.record_sources == case.record_sources
    assert json.loads(entry.report_json)["case"]["source"] == "fhir"

    reviewer = signed_in(workflow, "rev.kim")
    replay = workflow.replay(reviewer, entry.seq)
    assert replay.report.case.record_sources.field("resting_bp").by_hand
    assert replay.report.case.record_sources.field("resting_bp").sources[0].version == "2"
    rerun = workflow.rerun(reviewer, entry.seq)
    assert rerun.outcome in ("identical", "within_tolerance"), rerun.message


def test_the_same_values_from_another_record_are_another_report(workflow):
    """The session's report cache is keyed by the sources too: the same values read from
    another patient's record never show the first record's sources."""
    session = signed_in(workflow, "dr.lee")
    reports = []
    for patient in ("pat-a", "pat-b"):
        sources = workflow.case_from_record(
            session,
            MODEL,
            heart_record(workflow.bundle(MODEL), patient_id=patient),
            case_date=CASE_DATE,
        )
        hand = {k: v for k, v in HAND.items() if k in asked(sources)}
        case = workflow.case_with_values_by_hand(session, MODEL, sources, hand)
        reports.append(workflow.show_report(session, MODEL, case, patient_ref="MRN-9"))
    assert [r.case.record_sources.patient_id for r in reports] == ["pat-a", "pat-b"]
    assert reports[0].probability == reports[1].probability
    assert reports[0].report_id != reports[1].report_id


@pytest.mark.parametrize(
    ("data", "case_date", "patient_id", "says"),
    [
        (b"{not json", CASE_DATE, None, "Patient record:"),
        (json.dumps({"resourceType": "Patient"}).encode(), CASE_DATE, None, "Patient record:"),
        (None, dt.date(2026, 12, 2), None, "Case date: 2026-12-02 is in the future"),
        (None, CASE_DATE, "<b>x</b>", "Patient id: expected a FHIR id"),
    ],
)
def test_a_bad_record_date_or_id_is_refused_with_what_is_wrong(
    workflow, data, case_date, patient_id, says
):
    session = signed_in(workflow, "dr.lee")
    data = data or heart_record(workflow.bundle(MODEL))
    with pytest.raises(WorkflowError) as refused:
        workflow.case_from_record(session, MODEL, data, case_date=case_date, patient_id=patient_id)
    assert says in str(refused.value)
    assert "Traceback" not in str(refused.value)


def test_a_record_value_the_case_checks_refuse_becomes_a_problem_asked_by_hand(mapped_bundle):
    schema = mapped_bundle.features
    given = {"age": 63.0, "sex": "Male", "resting_bp": 999.0}
    fields = tuple(FieldSource(feature=n, status="filled", value=v) for n, v in given.items())
    sources = RecordSources(case_date=CASE_DATE.isoformat(), fields=fields)
    checked = checked_sources(sources, schema)
    assert [f.status for f in checked.fields] == ["filled", "filled", "invalid_value"]
    refused = checked.fields[2]
    assert refused.value is None and "outside" in refused.message
    assert checked_sources(
        RecordSources(case_date=CASE_DATE.isoformat(), fields=fields[:2]), schema
    ) == RecordSources(case_date=CASE_DATE.isoformat(), fields=fields[:2])


def test_the_inputs_the_record_gives_are_the_ones_its_mapping_reads(workflow):
    session = signed_in(workflow, "dr.lee")
    bundle = workflow.bundle(MODEL)
    sources = workflow.case_from_record(session, MODEL, heart_record(bundle), case_date=CASE_DATE)
    from_record = {f.feature for f in sources.fields if f.status in FROM_RECORD}
    assert from_record == record_inputs(bundle)
    demo = bundle.demo_case("H-03").inputs
    assert all(f.value == demo[f.feature] for f in sources.fields if f.feature in from_record)


VARIANTS = ("missing", "stale", "conflict", "wrong_unit", "unknown_code", "invalid_value")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spoiled=st.dictionaries(
        st.sampled_from([f.name for f in BYO_SCHEMA if f.fhir and not f.fhir.entered_by_hand]),
        st.sampled_from(VARIANTS),
        max_size=4,
    ),
    seed=st.integers(0, 1000),
)
def test_any_spoiled_record_of_a_model_we_did_not_make_asks_exactly_what_the_reader_asks(
    spoiled, seed
):
    """A bring-your-own schema's record with random problems: the report data keep one field
    per input in schema order, a value only where the reader gave one, and ask by hand for
    exactly the inputs the reader says need it."""
    try:
        data = synthetic_record(
            BYO_SCHEMA, BYO_CASE, case_date=BYO_DATE, seed=seed, variants=spoiled
        )
    except ValueError:
        assume(False)  # a problem the builder cannot make for that input's mapping
    intake = case_from_record(BYO_SCHEMA, read_fhir_bundle(data), case_date=BYO_DATE)
    sources = checked_sources(intake_sources(intake, BYO_SCHEMA), BYO_SCHEMA)
    assert [f.feature for f in sources.fields] == BYO_SCHEMA.names
    assert [f.feature for f in sources.fields if f.status not in FROM_RECORD] == (
        intake.needs_by_hand()
    )
    assert {f.feature: f.value for f in sources.fields if f.status in FROM_RECORD} == (
        intake.values()
    )
    assert all(f.value is None for f in sources.fields if f.status not in FROM_RECORD)
    assert RecordSources.model_validate_json(sources.model_dump_json()) == sources


def test_the_fhir_result_of_a_record_case_lists_the_resources_the_screen_showed(workflow):
    """The written RiskAssessment's basis comes from the stored report: the Patient and each
    used value's resources, never a value asked by hand (the conflicting blood pressures)."""
    clinician = signed_in(workflow, "dr.lee")
    sources = workflow.case_from_record(
        clinician,
        MODEL,
        heart_record(workflow.bundle(MODEL), conflicting_bp=True),
        case_date=CASE_DATE,
    )
    hand = {k: v for k, v in HAND.items() if k in asked(sources)}
    case = workflow.case_with_values_by_hand(clinician, MODEL, sources, hand)
    workflow.show_report(clinician, MODEL, case, patient_ref="MRN-7")
    [entry] = [e for e in workflow.trail.entries() if e.action == "viewed"]
    exported = json.loads(workflow.risk_assessment(signed_in(workflow, "rev.kim"), entry.seq).data)
    [assessment] = [
        e["resource"]
        for e in exported["entry"]
        if e["resource"]["resourceType"] == "RiskAssessment"
    ]
    written = [b["reference"] for b in assessment["basis"]]
    used = [sources.patient.reference()] + [
        s.reference() for f in sources.fields if f.status in FROM_RECORD for s in f.sources
    ]
    assert written == list(dict.fromkeys(used)) and len(written) > 1
    assert not any("bp-" in reference for reference in written)


def test_a_record_read_from_the_fhir_server_is_the_uploaded_records_reading(workflow):
    """The configured server's record of a patient reads as the same Bundle uploaded would:
    the same values, sources and problems; the reading names the server in the trail (never
    the token), and a server that refuses is a plain error with nothing shown."""
    from caselens.fhir.server_fetch import BearerToken
    from fhir_server import FhirTestServer, running

    clinician = signed_in(workflow, "dr.lee")
    record = heart_record(workflow.bundle(MODEL), conflicting_bp=True)
    with pytest.raises(WorkflowError, match="No FHIR server is configured"):
        workflow.case_from_server(clinician, MODEL, PATIENT_ID, case_date=CASE_DATE)
    with running(FhirTestServer([record], token="site-token")) as base:
        workflow.configure_record_server((base, BearerToken("site-token")))
        fetched = workflow.case_from_server(clinician, MODEL, PATIENT_ID, case_date=CASE_DATE)
        uploaded = workflow.case_from_record(clinician, MODEL, record, case_date=CASE_DATE)
        assert fetched.fields == uploaded.fields and fetched.patient == uploaded.patient
        workflow.configure_record_server((base, BearerToken("wrong-token")))
        with pytest.raises(WorkflowError, match=f"Patient record from {base}"):
            workflow.case_from_server(clinician, MODEL, PATIENT_ID, case_date=CASE_DATE)
    reads = [e for e in workflow.trail.entries() if e.action == "record_read"]
    assert reads[0].detail()["server"] == base and "bytes" in reads[1].detail()
    assert len(reads) == 2  # the refused read showed nothing and is not a reading
    assert "site-token" not in "".join(e.detail_json for e in workflow.trail.entries())
    with pytest.raises(WorkflowError, match="Patient id"):
        workflow.case_from_server(clinician, MODEL, "../Patient", case_date=CASE_DATE)
