"""Counterfactuals through the door, with real stores, the real sample bundles and the real
search: checked, recorded before they are returned, never a prediction-log row, refused to
patients, replayed exactly and re-run with the recorded seed."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.counterfactual import COUNTERFACTUAL_CAVEATS
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue, load_bundle
from caselens.model.changeable_inputs import NO_STATEMENT_REASON, modifiable_inputs
from caselens.monitoring.tables import prediction_log, ready_engine
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow.counterfactual_records import (
    COUNTERFACTUALS_VIEWED,
    offer_for,
    read_display_detail,
)
from caselens.workflow.door import Workflow
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from caselens.workflow.records import UserSession
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("45" * 32)
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
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    return folder / "app.sqlite"


def _workflow(folder: Path, trail: AuditStore, accounts: Path, bundles: dict) -> Workflow:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    if not (data / "app.sqlite").exists():
        shutil.copy(accounts, data / "app.sqlite")
    engine = open_app_database(data)
    built = Workflow(
        audit=trail,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(bundles), refused={}),
        explainer=lambda model_id: explainer_for(bundles[model_id]),
        audit_key=KEY,
    )
    approve_first_versions(built)
    built.trail = trail
    return built


@pytest.fixture()
def trail_path(tmp_path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture()
def workflow(tmp_path, trail_path, accounts_template, sample_bundles) -> Iterator[Workflow]:
    trail = AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2)
    yield _workflow(tmp_path, trail, accounts_template, sample_bundles)
    trail.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def shown(workflow: Workflow, session: UserSession, case_id: str, model_id: str = "heart-disease"):
    bundle = workflow.bundle(model_id)
    demo = bundle.demo_case(case_id)
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=case_id)
    return workflow.show_report(session, model_id, case, patient_ref=f"MRN-{case_id}")


def actions(workflow: Workflow) -> list[str]:
    return [e.action for e in workflow.trail.entries()]


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


def test_the_answer_is_recorded_with_its_parent_entry_before_it_is_returned(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = shown(workflow, clinician, "H-07")  # 53.9%: just above the 50% threshold
    viewed = workflow.trail.entries()[-1]
    result = workflow.show_counterfactuals(clinician, report)
    entry = workflow.trail.entries()[-1]
    assert (entry.action, entry.audience, entry.actor_id) == (
        COUNTERFACTUALS_VIEWED,
        "clinician",
        "dr.lee",
    )
    assert (entry.patient_ref, entry.model_id, entry.model_sha256) == (
        "MRN-H-07",
        "heart-disease",
        report.model.sha256,
    )
    assert entry.report_json is None  # it shows no report of the patient's own values
    recorded, inputs = read_display_detail(entry)
    assert recorded == result  # the detail is exactly what was returned
    assert inputs == offer_for(workflow.bundle("heart-disease")).inputs
    assert result.parent_entry == viewed.seq and result.parent_report_id == report.report_id
    assert entry.detail()["settings"]["seed"] == result.settings.seed
    assert result.caveats == COUNTERFACTUAL_CAVEATS
    # Alternatives exist for this case, each below the threshold by the model's own
    # probability, changing only what the card states as modifiable.
    allowed = set(modifiable_inputs(workflow.bundle("heart-disease").card.changeable_inputs))
    assert result.alternatives and result.target_side == "below"
    for alternative in result.alternatives:
        assert alternative.probability < result.threshold and alternative.side == "below"
        assert {c.name for c in alternative.changes} <= allowed


def test_the_same_parent_asked_twice_is_searched_and_recorded_once(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = shown(workflow, clinician, "H-07")
    first = workflow.show_counterfactuals(clinician, report)
    again = workflow.show_counterfactuals(clinician, report)
    assert again is first
    assert actions(workflow).count(COUNTERFACTUALS_VIEWED) == 1


def test_a_counterfactual_writes_no_prediction_log_row(workflow):
    clinician = signed_in(workflow, "dr.lee")
    workflow.show_counterfactuals(clinician, shown(workflow, clinician, "H-07"))
    engine = ready_engine(workflow.trail)
    with engine.connect() as conn:
        rows = conn.execute(select(prediction_log.c.entry_seq)).scalars().all()
    viewed = [e.seq for e in workflow.trail.entries() if e.action == "viewed"]
    assert rows == viewed  # the report's display only


def test_a_failing_trail_shows_nothing_and_keeps_nothing(workflow, trail_path):
    clinician = signed_in(workflow, "dr.lee")
    report = shown(workflow, clinician, "H-07")
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.show_counterfactuals(clinician, report)
    assert not clinician.counterfactuals
    assert COUNTERFACTUALS_VIEWED not in actions(workflow)
    workflow.show_counterfactuals(clinician, report)  # the trail is back: recorded now
    assert actions(workflow).count(COUNTERFACTUALS_VIEWED) == 1


def test_a_patient_is_refused_and_the_refusal_recorded(workflow):
    patient = signed_in(workflow, "pat.h03")
    report = workflow.show_my_result(patient)
    with pytest.raises(Refused, match="may not explore hypothetical"):
        workflow.show_counterfactuals(patient, report)
    with pytest.raises(Refused):
        workflow.counterfactual_offer(patient, "heart-disease")
    refused = [e for e in workflow.trail.entries() if e.action == "access_refused"]
    assert [e.detail()["action"] for e in refused] == ["explore_hypothetical"] * 2
    assert COUNTERFACTUALS_VIEWED not in actions(workflow)


def test_a_report_not_shown_in_this_session_is_refused_and_nothing_recorded(workflow):
    report = shown(workflow, signed_in(workflow, "dr.lee"), "H-07")
    other = signed_in(workflow, "dr.ng")
    before = len(workflow.trail.entries())
    with pytest.raises(WorkflowError, match="show the report first"):
        workflow.show_counterfactuals(other, report)
    assert len(workflow.trail.entries()) == before


def test_a_suspended_model_answers_nothing_not_even_an_answer_kept_from_before(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = shown(workflow, clinician, "H-07")
    workflow.show_counterfactuals(clinician, report)  # kept in the session
    workflow.set_model_status(
        signed_in(workflow, "admin"), "heart-disease", suspend=True, reason="Calibration drift"
    )
    with pytest.raises(Refused, match="suspended"):
        workflow.show_counterfactuals(clinician, report)
    assert actions(workflow).count(COUNTERFACTUALS_VIEWED) == 1  # the one before


def test_a_model_whose_card_states_nothing_says_why_and_searches_nothing(
    workflow, tmp_path, sample_bundles, accounts_template
):
    folder = tmp_path / "bare" / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    card = json.loads((folder / "card.json").read_text())
    del card["changeable_inputs"]
    (folder / "card.json").write_text(json.dumps(card))
    # Its own app database: the shared one has the sample's version live and approved.
    bare = _workflow(
        tmp_path / "bare", workflow.trail, accounts_template, {"heart-disease": load_bundle(folder)}
    )
    clinician = signed_in(bare, "dr.lee")
    offer = bare.counterfactual_offer(clinician, "heart-disease")
    assert not offer.offered and offer.reason == NO_STATEMENT_REASON
    report = shown(workflow, signed_in(workflow, "dr.lee"), "H-07")
    with pytest.raises(WorkflowError, match="have not stated which of its inputs"):
        bare.show_counterfactuals(clinician, report)
    assert COUNTERFACTUALS_VIEWED not in actions(workflow)


def test_none_found_far_above_the_threshold_is_recorded_with_its_reason(workflow):
    clinician = signed_in(workflow, "dr.lee")
    result = workflow.show_counterfactuals(clinician, shown(workflow, clinician, "H-03"))
    # The reason is the search's own words (docs/counterfactuals.md); it names the target.
    assert not result.alternatives and "below the 50% threshold" in (result.none_reason or "")
    assert read_display_detail(workflow.trail.entries()[-1])[0] == result


def test_replay_draws_the_recorded_answer_and_re_run_finds_the_same(workflow):
    clinician = signed_in(workflow, "dr.lee")
    result = workflow.show_counterfactuals(
        clinician, shown(workflow, clinician, "R-05", "readmission-30d")
    )
    assert result.alternatives and result.target_side == "at_or_above"
    seq = workflow.trail.entries()[-1].seq
    reviewer = signed_in(workflow, "rev.kim")
    replay = workflow.replay_counterfactuals(reviewer, seq)
    assert replay.result == result and replay.result.parent_entry == seq - 1
    assert replay.heading.startswith("Counterfactuals as shown to Dr. Ana Lee (clinician) on ")
    workflow.replay_counterfactuals(reviewer, seq)  # the same replay in a session: once
    assert actions(workflow).count("replayed") == 1
    replayed = workflow.trail.entries()[-1]
    assert replayed.patient_ref == "MRN-R-05" and replayed.detail()["seq"] == seq
    rerun = workflow.rerun_counterfactuals(reviewer, seq)
    assert (rerun.outcome, rerun.differences) == ("same", ())
    assert rerun.fresh is not None and rerun.fresh.alternatives == result.alternatives
    assert "the same alternatives" in rerun.message
    recorded = workflow.trail.entries()[-1]
    assert recorded.action == "rerun" and recorded.detail()["outcome"] == "same"


def test_re_run_without_the_model_version_says_so(
    workflow, tmp_path, accounts_template, sample_bundles
):
    clinician = signed_in(workflow, "dr.lee")
    workflow.show_counterfactuals(clinician, shown(workflow, clinician, "H-07"))
    seq = workflow.trail.entries()[-1].seq
    only_other = _workflow(
        tmp_path, workflow.trail, accounts_template,
        {"readmission-30d": sample_bundles["readmission-30d"]},
    )  # fmt: skip
    rerun = only_other.rerun_counterfactuals(signed_in(only_other, "rev.kim"), seq)
    assert rerun.outcome == "unavailable" and "no longer available" in rerun.message
    assert workflow.trail.entries()[-1].detail()["outcome"] == "unavailable"


def test_replay_of_another_kind_of_entry_is_refused_by_name(workflow):
    clinician = signed_in(workflow, "dr.lee")
    shown(workflow, clinician, "H-07")
    seq = workflow.trail.entries()[-1].seq
    reviewer = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match=r"\(viewed\) is not a counterfactual display"):
        workflow.replay_counterfactuals(reviewer, seq)
    with pytest.raises(Refused):
        workflow.replay_counterfactuals(clinician, seq)  # a clinician replays nothing
