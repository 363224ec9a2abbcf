"""A shadow candidate scored beside the live version through the door (issue 27, item 3).

Real stores (SQLite trail and app database), the real heart-disease sample as the live
version and a real candidate: a copy of its bundle folder with another decision threshold
(another version id), registered in state ``shadow``. Every test reads the trail and the
prediction log back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue, ModelBundle
from caselens.monitoring.prediction_log import verify_prediction_log
from caselens.monitoring.shadow_scorer import ShadowScorer
from caselens.monitoring.tables import prediction_log, ready_engine
from caselens.workflow import UserSession, Workflow, WorkflowError
from caselens.workflow.model_versions import LIFECYCLE_SYSTEM
from caselens.workflow.trail_search import displays_of_report
from lifecycle_fixtures import approve_first_versions
from monitoring_fixtures import KEY, PASSWORD, USERS, heart_case, signed_in
from shadow_fixtures import CANDIDATE_THRESHOLD, HEART, candidate_copy


@pytest.fixture(scope="module")
def candidate(tmp_path_factory) -> ModelBundle:
    return candidate_copy(tmp_path_factory.mktemp("candidate") / "heart-disease-1.1")


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    """The test accounts once per module (hashing their passwords takes seconds)."""
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    for user_id, name, role, ref, model in USERS:
        store.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    return folder / "app.sqlite"


@pytest.fixture()
def workflow(tmp_path, sample_bundles, candidate, accounts_template) -> Iterator[Workflow]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    engine = open_app_database(data)
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2)
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
    # Both versions loaded on this server, as a models folder holding both would give.
    built._all_versions = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={
            HEART: (sample_bundles[HEART], candidate),
            "readmission-30d": (sample_bundles["readmission-30d"],),
        },
    )
    built.lifecycle.register(
        model_id=HEART,
        bundle_sha256=candidate.bundle_sha256,
        card_version=candidate.version,
        registered_by="owner.ng",
        change_reason="A lower threshold for the same model (test candidate).",
        folder=candidate.path.name,
        state="shadow",
    )
    yield built
    built.stop_shadow_scoring()
    audit.close()


def shadow_rows(workflow: Workflow) -> list:
    engine = ready_engine(workflow.trail)
    c = prediction_log.c
    with engine.connect() as conn:
        return conn.execute(
            select(prediction_log).where(c.never_shown.is_(True)).order_by(c.id)
        ).all()


def entries(workflow: Workflow, action: str) -> list:
    return [e for e in workflow.trail.entries() if e.action == action]


def show(workflow: Workflow, session, case_id: str):
    return workflow.show_report(session, HEART, heart_case(workflow, case_id), patient_ref=case_id)


def test_the_candidates_logged_probabilities_equal_a_direct_computation(workflow, candidate):
    session = signed_in(workflow, "dr.lee")
    shown = {case_id: show(workflow, session, case_id) for case_id in ("H-01", "H-02", "H-03")}
    assert workflow.flush_shadow_scores()
    rows = shadow_rows(workflow)
    assert len(rows) == 3
    displays = {e.patient_ref: e for e in entries(workflow, "viewed")}
    direct = explainer_for(candidate)
    for row in rows:
        live = shown[row.patient_ref]
        case = heart_case(workflow, row.patient_ref)
        # Exactly the candidate's model on this one case, asked directly.
        frame = case.to_frame()[candidate.features.names]
        assert row.probability == float(candidate.model.predict_proba(frame)[0, 1])
        assert row.conformal_set is None  # the candidate's confidence model is not built
        # And the number the candidate's own report shows, to the last bits a batched
        # model call may round differently (the attributor's documented caveat).
        own = direct.explain(case)
        assert row.probability == pytest.approx(own.confidence.probability, rel=0, abs=1e-12)
        assert row.threshold == own.confidence.threshold == CANDIDATE_THRESHOLD
        assert live.confidence.threshold == 0.5
        assert row.bundle_sha256 == candidate.bundle_sha256 != live.model.bundle_sha256
        assert row.model_version == "1.1.0" and row.model_id == HEART
        assert row.paired_report_id == live.report_id
        assert row.paired_entry_seq == displays[row.patient_ref].seq
        assert row.recorded_at == displays[row.patient_ref].recorded_at
        assert row.never_shown is True and row.simulated is False and row.entry_seq is None
        assert (row.action, row.audience) == ("shadow_scored", "system")
        assert row.report_id not in {r.report_id for r in shown.values()}
    assert verify_prediction_log(workflow.trail).ok


def test_one_entry_records_each_batch_by_the_lifecycle_system(workflow):
    # Batches of two rows: five displays make three batches, each one entry.
    workflow._shadow = ShadowScorer(workflow._write_shadow_batch, batch_rows=2)
    session = signed_in(workflow, "dr.lee")
    for case_id in ("H-01", "H-02", "H-03", "H-04", "H-05"):
        show(workflow, session, case_id)
    assert workflow.flush_shadow_scores()
    batches = entries(workflow, "shadow_scored")
    assert [b.detail()["rows"] for b in batches] == [2, 2, 1]
    rows = shadow_rows(workflow)
    assert [sum(r.source_seq == b.seq for r in rows) for b in batches] == [2, 2, 1]
    for batch in batches:
        detail = batch.detail()
        assert (batch.actor_id, batch.actor_role, batch.audience) == (
            LIFECYCLE_SYSTEM.user_id,
            "system",
            "system",
        )
        assert batch.report_json is None and batch.rendered_digest is None
        paired = [r.paired_entry_seq for r in rows if r.source_seq == batch.seq]
        assert (detail["first_paired_entry"], detail["last_paired_entry"]) == (
            min(paired),
            max(paired),
        )
        assert detail["candidate_bundle_sha256"] == rows[0].bundle_sha256
        assert detail["live_bundle_sha256"] == workflow.bundle(HEART).bundle_sha256
        assert detail["dropped"] == 0 and detail["skipped"] == {}
    check = verify_prediction_log(workflow.trail)
    assert check.ok and check.shadow_rows == 5 and check.rows == check.displays == 5


def test_a_report_displayed_again_is_scored_once_and_a_what_if_never(workflow):
    session = signed_in(workflow, "dr.lee")
    report = show(workflow, session, "H-01")
    show(workflow, signed_in(workflow, "dr.lee"), "H-01")  # the same report, another session
    workflow.preview_patient_view(session, report)  # the same report id, previewed
    values = {**report.case.values(), "cholesterol": 180}
    view = workflow.show_what_if(session, report, values)
    assert view.report.case.hypothetical is not None
    assert workflow.flush_shadow_scores()
    assert len(entries(workflow, "viewed")) == 2 and len(entries(workflow, "previewed")) == 1
    rows = shadow_rows(workflow)
    assert [r.paired_report_id for r in rows] == [report.report_id]


def test_shadow_rows_are_never_found_replayed_or_exported_as_displays(workflow):
    session = signed_in(workflow, "dr.lee")
    show(workflow, session, "H-02")
    assert workflow.flush_shadow_scores()
    (row,) = shadow_rows(workflow)
    (batch,) = entries(workflow, "shadow_scored")
    # No display entry names the shadow computation, and no entry holds it as a report.
    assert all(
        e.action != "viewed" or e.seq == row.paired_entry_seq for e in workflow.trail.entries()
    )
    assert not any(
        e.report_json and row.report_id in e.report_json for e in workflow.trail.entries()
    )
    # Not found by its report id, as a display, by the reviewer's search.
    assert displays_of_report(workflow.trail.engine, row.report_id) == ()
    reviewer = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match="No display of a report whose id starts with"):
        workflow.find_in_trail(reviewer, row.report_id[:16])
    # Its batch entry is no display: it does not replay, re-run or export as a result.
    with pytest.raises(WorkflowError):
        workflow.replay(reviewer, batch.seq)
    with pytest.raises(WorkflowError):
        workflow.rerun(reviewer, batch.seq)
    with pytest.raises(WorkflowError):
        workflow.risk_assessment(reviewer, batch.seq)
    # The live display's own export carries the live probability, not the candidate's.
    exported = json.loads(workflow.risk_assessment(reviewer, row.paired_entry_seq).data)
    probability = exported["entry"][0]["resource"]["prediction"][0]["probabilityDecimal"]
    assert probability != row.probability or row.threshold != 0.5
    assert not [e for e in workflow.trail.entries() if e.action == "exported_fhir"][1:]


def test_stopping_scores_what_is_queued_and_records_the_last_batch(workflow):
    session = signed_in(workflow, "dr.lee")
    for case_id in ("H-03", "H-04"):
        show(workflow, session, case_id)
    workflow.stop_shadow_scoring()  # no flush asked: the stop writes what waits
    counts = workflow.shadow_scoring_counts()
    assert counts is not None and not counts.running
    assert counts.rows_written == 2 and counts.batches == 1
    assert [b.detail()["rows"] for b in entries(workflow, "shadow_scored")] == [2]
    # After the stop a display is still shown and recorded; its shadow is not queued.
    show(workflow, session, "H-05")
    assert len(entries(workflow, "viewed")) == 3 and len(shadow_rows(workflow)) == 2


def test_without_a_shadow_version_no_scorer_starts(workflow, candidate):
    workflow.lifecycle.set_state(HEART, candidate.bundle_sha256, "candidate", by="owner.ng")
    workflow._shadow_view = None  # the one-second view, read afresh
    show(workflow, signed_in(workflow, "dr.lee"), "H-01")
    assert workflow.shadow_scoring_counts() is None
    assert shadow_rows(workflow) == [] and entries(workflow, "shadow_scored") == []


def test_closing_the_runtime_stops_the_scorer_and_records_its_last_batch(
    tmp_path, sample_bundles, candidate
):
    import sqlite3

    from caselens.access import DEMO_PASSWORD
    from caselens.runtime import Runtime
    from caselens.settings import Settings

    catalogue = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={
            HEART: (sample_bundles[HEART], candidate),
            "readmission-30d": (sample_bundles["readmission-30d"],),
        },
    )
    data = tmp_path / "data"
    settings = Settings.from_environment({"CASELENS_DATA_DIR": str(data), "CASELENS_DEMO": "1"})
    runtime = Runtime.from_settings(settings, catalogue=catalogue, background=False)
    workflow = runtime.workflow  # demo mode: the samples' first versions live and approved
    workflow.lifecycle.register(
        model_id=HEART,
        bundle_sha256=candidate.bundle_sha256,
        card_version=candidate.version,
        registered_by="owner.ng",
        change_reason="A lower threshold for the same model (test candidate).",
        folder=candidate.path.name,
        state="shadow",
    )
    session = UserSession()
    workflow.sign_in(session, "dr.lee", DEMO_PASSWORD)
    workflow.show_report(session, HEART, heart_case(workflow, "H-04"), patient_ref="H-04")
    runtime.close()
    counts = workflow.shadow_scoring_counts()
    assert counts is not None and not counts.running and counts.rows_written == 1
    with sqlite3.connect(data / "audit.sqlite") as conn:
        batches = conn.execute(
            "SELECT detail_json FROM audit_entry WHERE action = 'shadow_scored'"
        ).fetchall()
        rows = conn.execute(
            "SELECT patient_ref FROM monitoring_prediction WHERE never_shown"
        ).fetchall()
    assert [json.loads(d)["rows"] for (d,) in batches] == [1] and rows == [("H-04",)]


def test_a_candidate_with_another_model_file_logs_its_own_reports_probability(
    workflow, sample_bundles, sample_v2_bundles
):
    """Version 2 of both samples (samples-v2): heart-disease's another model family at a 40%
    threshold, readmission's an added input (missing allowed, so version-1 cases score)."""
    workflow._all_versions = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={m: (sample_bundles[m], sample_v2_bundles[m]) for m in sample_bundles},
    )
    for model_id, v2 in sample_v2_bundles.items():
        workflow.lifecycle.register(
            model_id=model_id,
            bundle_sha256=v2.bundle_sha256,
            card_version=v2.version,
            registered_by="owner.ng",
            change_reason="The second version of the sample (test).",
            folder=v2.path.name,
            state="shadow",
        )
    workflow._shadow_view = None
    session = signed_in(workflow, "dr.lee")
    shown = [show(workflow, session, "H-02")]
    readmission = workflow.bundle("readmission-30d")
    demo = readmission.demo_cases[0]
    case = validate_inputs(demo.inputs, readmission.features, source="demo", case_id="R-01")
    shown.append(workflow.show_report(session, "readmission-30d", case, patient_ref="R-01"))
    assert workflow.flush_shadow_scores()
    rows = {r.model_id: r for r in shadow_rows(workflow)}
    assert set(rows) == {HEART, "readmission-30d"}
    for live in shown:
        v2 = sample_v2_bundles[live.model.model_id]
        row = rows[live.model.model_id]
        # The same case values, as version 2 takes them (an input it adds is missing).
        values = live.case.values()
        case_v2 = validate_inputs(
            {name: values.get(name) for name in v2.features.names}, v2.features, source="demo"
        )
        own = explainer_for(v2).explain(case_v2)
        assert row.bundle_sha256 == v2.bundle_sha256 and row.model_version == v2.version
        assert row.probability == pytest.approx(own.confidence.probability, rel=0, abs=1e-12)
        assert row.threshold == own.confidence.threshold == v2.card.decision_threshold
        assert row.probability != live.confidence.probability
    assert verify_prediction_log(workflow.trail).ok
