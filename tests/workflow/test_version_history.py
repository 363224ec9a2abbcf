"""A model's version history and the diff of two versions, through the door.

A real workflow over real SQLite files and real bundles: the heart-disease sample (version
1.0.0, live and approved) and an edited copy (1.1.0) loaded as a second version of the same
model id. Reading the history or a diff is model facts: checked against the policy, not
recorded; a refusal is recorded.
"""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.access.policy import Viewer
from caselens.audit import AuditStore
from caselens.explain.report import explainer_for
from caselens.lifecycle.tables import model_approvals
from caselens.model.bundle import BundleCatalogue
from caselens.model.version_diff import SECTION_INPUTS, SECTION_THRESHOLD
from caselens.workflow.door import Workflow
from caselens.workflow.errors import Refused, WorkflowError
from caselens.workflow.records import UserSession
from caselens.workflow.version_records import NO_APPROVAL, STATE_WORDS
from lifecycle_fixtures import SEEDED_APPROVER, SEEDED_BY, approve_first_versions
from version_fixtures import NEW_CARD_VERSION, edited_version

KEY = bytes.fromhex("45" * 32)
#: Who reads the history, by user id (signed in as the door's sessions are after sign-in).
VIEWERS = {
    "dr.lee": Viewer("dr.lee", "Dr. Ana Lee", "clinician"),
    "rev.kim": Viewer("rev.kim", "Kim Okafor", "reviewer"),
    "owner.ng": Viewer("owner.ng", "Nia Ng", "model_owner"),
    "admin": Viewer("admin", "Ali Admin", "admin"),
    "pat.h03": Viewer("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
}
#: The moment the tests' clock shows (UTC).
NOW = dt.datetime(2026, 12, 7, 9, 0)
REASON = "Threshold lowered to 0.40 after the cardiology review asked for higher sensitivity."


@pytest.fixture(scope="module")
def heart_v11(tmp_path_factory):
    return edited_version(tmp_path_factory.mktemp("versions") / "heart-disease-v1.1")


@pytest.fixture()
def workflow(tmp_path, sample_bundles, heart_v11):
    data = tmp_path / "data"
    data.mkdir()
    engine = open_app_database(data)
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2)
    heart = sample_bundles["heart-disease"]
    catalogue = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={
            "heart-disease": (heart, heart_v11),
            "readmission-30d": (sample_bundles["readmission-30d"],),
        },
    )
    built = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=catalogue,
        explainer=lambda model_id: explainer_for(sample_bundles[model_id]),
        audit_key=KEY,
        clock=lambda: NOW,
    )
    approve_first_versions(built, now=NOW - dt.timedelta(days=10), days=365)
    built.trail = audit
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    """A session signed in as ``user_id`` (the sign-in itself is tested elsewhere)."""
    return UserSession(viewer=VIEWERS[user_id])


def register_v11(workflow: Workflow, heart_v11, *, folder: str | None = None) -> None:
    """As the model owner's registration will (the approvals part of the door does it)."""
    workflow.lifecycle.register(
        model_id="heart-disease",
        bundle_sha256=heart_v11.bundle_sha256,
        card_version=heart_v11.version,
        registered_by="owner.ng",
        change_reason=REASON,
        folder=folder or heart_v11.path.name,
        at=NOW - dt.timedelta(days=1),
    )


def test_history_lists_the_live_version_first_then_a_loaded_folder_not_registered(
    workflow, heart_bundle, heart_v11
):
    history = workflow.model_versions(signed_in(workflow, "rev.kim"), "heart-disease")
    assert history.model_name == heart_bundle.card.name
    assert [(v.bundle_sha256, v.state) for v in history.versions] == [
        (heart_bundle.bundle_sha256, "live"),
        (heart_v11.bundle_sha256, "unregistered"),
    ]
    live, loose = history.versions
    expires = (NOW - dt.timedelta(days=10) + dt.timedelta(days=365)).date()
    assert live.approval == f"approved by {SEEDED_APPROVER} until {expires}"
    assert live.registered_by == SEEDED_BY and live.loaded
    assert len(live.approvals) == 1 and live.approvals[0].evidence
    assert loose.state_words == STATE_WORDS["unregistered"] == "Loaded, not registered"
    assert loose.approval == NO_APPROVAL and loose.registered_by is None and loose.loaded
    assert history.standing.may_predict
    assert history.default_pair() == (live, loose)


def test_a_registered_candidate_carries_its_reason_and_the_diff_names_the_changes(
    workflow, heart_bundle, heart_v11
):
    register_v11(workflow, heart_v11)
    session = signed_in(workflow, "dr.lee")  # a clinician reads model facts, versions too
    history = workflow.model_versions(session, "heart-disease")
    candidate = history.versions[1]
    assert (candidate.state, candidate.change_reason, candidate.registered_by) == (
        "candidate",
        REASON,
        "owner.ng",
    )
    assert candidate.label == f"{NEW_CARD_VERSION} ({heart_v11.bundle_sha256[:12]}) — Candidate"
    compared = workflow.version_diff(
        session,
        "heart-disease",
        heart_bundle.bundle_sha256[:8],
        heart_v11.bundle_sha256.upper()[:10],
    )
    assert compared.newer_reason == REASON
    assert compared.older.state == "live"
    words = [c.words for c in compared.diff.changes]
    assert "Decision threshold 0.50 → 0.40." in words
    assert "Age (age): highest accepted value 120 → 110." in words
    sections = compared.diff.by_section()
    assert SECTION_THRESHOLD in sections and SECTION_INPUTS in sections


def test_reading_versions_is_not_recorded_but_a_refusal_is(workflow, heart_bundle, heart_v11):
    for user_id in ("rev.kim", "owner.ng", "admin", "dr.lee"):
        session = signed_in(workflow, user_id)
        workflow.model_versions(session, "heart-disease")
        workflow.version_diff(
            session, "heart-disease", heart_bundle.bundle_sha256, heart_v11.bundle_sha256
        )
    patient = signed_in(workflow, "pat.h03")
    with pytest.raises(Refused, match="A patient may not view model versions"):
        workflow.model_versions(patient, "heart-disease")
    with pytest.raises(Refused, match="A patient may not view model versions"):
        workflow.version_diff(patient, "heart-disease", "abcd", "abcd")
    actions = [e.action for e in workflow.trail.entries()]
    assert actions == ["access_refused"] * 2


def test_a_registered_version_whose_folder_is_not_here_is_listed_and_not_compared(
    workflow, heart_bundle, tmp_path
):
    elsewhere = "0f" * 32
    workflow.lifecycle.register(
        model_id="heart-disease",
        bundle_sha256=elsewhere,
        card_version="2.0.0",
        registered_by="owner.ng",
        change_reason="Retrained on the 2026 cohort at the other site.",
        folder="heart-disease-v2",
        at=NOW,
    )
    session = signed_in(workflow, "owner.ng")
    history = workflow.model_versions(session, "heart-disease")
    far = next(v for v in history.versions if v.bundle_sha256 == elsewhere)
    assert not far.loaded and far.folder == "heart-disease-v2"
    assert far not in history.comparable
    with pytest.raises(WorkflowError, match=r"not loaded on this server .*'heart-disease-v2'"):
        workflow.version_diff(session, "heart-disease", heart_bundle.bundle_sha256, "0f0f0f")


@pytest.mark.parametrize(
    ("older", "newer", "message"),
    [
        ("ab", "{v11}", r"The older version: expected a bundle SHA-256 or its first 4"),
        ("{v10}", "not-hex!", r"The newer version: expected a bundle SHA-256"),
        ("{v10}", "ffffffff", r"'ffffffff' is not a version of heart-disease \(its versions: "),
        ("{v10}", "{readmission}", r"is a version of readmission-30d, not of heart-disease"),
    ],
)
def test_a_version_that_cannot_be_named_is_refused_with_words(
    workflow, heart_bundle, heart_v11, readmission_bundle, older, newer, message
):
    shas = {
        "v10": heart_bundle.bundle_sha256[:12],
        "v11": heart_v11.bundle_sha256[:12],
        "readmission": readmission_bundle.bundle_sha256[:12],
    }
    session = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match=message):
        workflow.version_diff(session, "heart-disease", older.format(**shas), newer.format(**shas))


def test_an_ambiguous_prefix_is_refused(workflow, heart_bundle):
    shared = heart_bundle.bundle_sha256[:6]
    for tail in ("1", "2"):
        workflow.lifecycle.register(
            model_id="heart-disease",
            bundle_sha256=(shared + tail * 58),
            card_version="9.9.9",
            registered_by="owner.ng",
            change_reason="Two versions sharing a prefix, for the test.",
            folder="elsewhere",
            at=NOW,
        )
    with pytest.raises(WorkflowError, match=r"matches 3 versions of heart-disease .*more"):
        workflow.version_diff(signed_in(workflow, "rev.kim"), "heart-disease", shared, shared)


def test_an_unknown_model_is_refused_with_words(workflow):
    with pytest.raises(WorkflowError, match="The model 'no-such-model' is not available"):
        workflow.model_versions(signed_in(workflow, "rev.kim"), "no-such-model")


def test_an_expired_approval_reads_expired_on_its_date(workflow):
    store = workflow.lifecycle
    approval = store.approvals("heart-disease")[0]
    # The approval ended yesterday (as one given a year ago would have).
    with store.engine.begin() as conn:
        conn.execute(model_approvals.update().values(expires_at=NOW - dt.timedelta(days=1)))
    history = workflow.model_versions(signed_in(workflow, "rev.kim"), "heart-disease")
    expired_on = (NOW - dt.timedelta(days=1)).date()
    assert history.versions[0].approval == (
        f"expired on {expired_on} (approved by {approval.approved_by})"
    )
    assert not history.standing.may_predict
    assert "expired on" in history.standing.message
