"""Registering, approving, shadowing and retiring model versions through the door (issue 27):
two people, evidence cited by audit entry, expiry that stops predictions on every server
sharing the database (recorded once), promotion and renewal — every act in the trail.

Real stores (SQLite files; PostgreSQL for the two servers), real bundles: the second version
of the heart model is the sample bundle with its card's version changed (another bundle
SHA-256, the same model file).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue, ModelBundle, load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow.door import Workflow
from caselens.workflow.errors import Refused, WorkflowError
from caselens.workflow.model_versions import LIFECYCLE_SYSTEM
from caselens.workflow.records import UserSession

KEY = bytes.fromhex("55" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician"),
    ("rev.kim", "Kim Okafor", "reviewer"),
    ("admin", "Ali Admin", "admin"),
    ("owner.ng", "Ngozi Owner", "model_owner"),
    ("owner.two", "Tomas Owner", "model_owner"),
)
HEART = "heart-disease"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Clock:
    """The real UTC time plus an offset a test moves forward (one per app server)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return _utcnow() + self.offset


@pytest.fixture(scope="module")
def heart_v2(tmp_path_factory, sample_bundles) -> ModelBundle:
    """Version 1.1.0 of the heart model: the sample bundle with another card version."""
    folder = tmp_path_factory.mktemp("versions") / "heart-disease-v2"
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, folder)
    (folder / "signature.json").unlink(missing_ok=True)
    card = json.loads((folder / "card.json").read_text())
    card["version"] = "1.1.0"
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    bundle = load_bundle(folder)
    assert bundle.bundle_sha256 != sample_bundles[HEART].bundle_sha256
    return bundle


@pytest.fixture(scope="module")
def catalogue(sample_bundles, heart_v2) -> BundleCatalogue:
    versions = {HEART: (sample_bundles[HEART], heart_v2)}
    versions.update({m: (b,) for m, b in sample_bundles.items() if m != HEART})
    return BundleCatalogue(bundles=dict(sample_bundles), refused={}, versions=versions)


def add_users(accounts: AccountStore) -> None:
    for user_id, name, role in USERS:
        accounts.add(user_id, name=name, role=role, password=PASSWORD)


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    """The accounts, made once (a password hash takes about a second)."""
    folder = tmp_path_factory.mktemp("accounts")
    add_users(AccountStore(open_app_database(folder)))
    return folder / "app.sqlite"


def build(data: Path, audit: AuditStore, catalogue, *, app_url: str | None = None) -> Workflow:
    engine = open_app_database(data, app_url)
    workflow = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=catalogue,
        explainer=lambda model_id: explainer_for(catalogue.bundles[model_id]),
        audit_key=KEY,
        clock=Clock(),
    )
    workflow.trail = audit
    return workflow


@pytest.fixture()
def workflow(tmp_path, catalogue, accounts_template):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    audit = AuditStore.open(tmp_path / "audit.sqlite", key=KEY)
    yield build(data, audit, catalogue)
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    """A fresh session of an account (sign-in itself is tested in test_workflow.py; its
    password hash would cost a second per session here)."""
    return UserSession(viewer=workflow._accounts.get(user_id).viewer())


def heart_case(workflow: Workflow, case_id: str = "H-01"):
    bundle = workflow.bundle(HEART)
    demo = bundle.demo_case(case_id)
    return validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)


def show(workflow: Workflow, session: UserSession | None = None):
    session = session or signed_in(workflow, "dr.lee")
    return workflow.show_report(session, HEART, heart_case(workflow), patient_ref="H-01")


def actions(workflow: Workflow, *names: str) -> list[tuple[str, str, dict]]:
    return [
        (e.action, e.actor_id, json.loads(e.detail_json))
        for e in workflow.trail.entries()
        if not names or e.action in names
    ]


def in_days(workflow: Workflow, days: int) -> dt.date:
    return workflow._clock().date() + dt.timedelta(days=days)


def first_live(workflow: Workflow, sha: str, *, days: int = 200) -> None:
    """owner.ng registers the first version, admin approves it (first approval)."""
    owner = signed_in(workflow, "owner.ng")
    workflow.register_version(owner, HEART, sha, "The first version of the heart model.")
    workflow.approve_version(
        signed_in(workflow, "admin"),
        HEART,
        sha,
        expires_on=in_days(workflow, days),
        evidence_entries=[],
        scope_confirmed=True,
    )


def monitoring_entry(workflow: Workflow, user_id: str = "admin") -> int:
    workflow.monitoring_view(signed_in(workflow, user_id), HEART)
    return workflow.trail.entries(action="monitoring_viewed")[-1].seq


def shadow_comparison_entry(workflow: Workflow, live: str, candidate: str) -> int:
    """What the monitoring helper's comparison view records, appended through the door."""
    session = signed_in(workflow, "owner.two")
    detail = {
        "model_id": HEART,
        "live_bundle_sha256": live,
        "candidate_bundle_sha256": candidate,
        "pairs": 120,
        "agreement": 0.97,
    }
    return workflow._record(
        session, "shadow_comparison_viewed", audience="model_owner", detail=detail
    ).seq


# -- two people, scope, evidence -------------------------------------------------------------


def test_a_new_deployment_shows_no_prediction_until_a_second_person_approves(
    workflow, sample_bundles
):
    sha = sample_bundles[HEART].bundle_sha256
    with pytest.raises(Refused, match=r"No version of .* is approved for use"):
        show(workflow)
    owner = signed_in(workflow, "owner.ng")
    version = workflow.register_version(owner, HEART, sha[:12], "The first version in use.")
    assert (version.state, version.registered_by) == ("candidate", "owner.ng")
    with pytest.raises(WorkflowError, match=r"^approver: owner\.ng registered version 1\.0\.0"):
        workflow.approve_version(
            owner,
            HEART,
            sha,
            expires_on=in_days(workflow, 100),
            evidence_entries=[],
            scope_confirmed=True,
        )
    refused = actions(workflow, "access_refused")
    assert refused[-1][1] == "owner.ng"
    assert refused[-1][2]["action"] == "approve_model_version"
    assert "registered version 1.0.0" in refused[-1][2]["reason"]
    assert not workflow.model_standing(HEART).may_predict
    approval = workflow.approve_version(
        signed_in(workflow, "owner.two"),
        HEART,
        sha,
        expires_on=in_days(workflow, 100),
        evidence_entries=[],
        scope_confirmed=True,
    )
    assert approval.approved_by == "owner.two" and approval.audit_seq is not None
    assert [e.kind for e in approval.evidence] == ["validation"]
    assert approval.intended_use == sample_bundles[HEART].card.intended_use
    assert show(workflow).model.bundle_sha256 == sha
    (_, who, detail) = actions(workflow, "model_version_approved")[-1]
    assert who == "owner.two" and detail["kind"] == "first"
    assert detail["approval_id"] == approval.approval_id
    assert detail["scope"]["confirmed"] is True
    assert detail["expires_on"] == f"{in_days(workflow, 100):%Y-%m-%d}"


def test_an_unconfirmed_scope_or_a_past_date_is_refused_in_words(workflow, sample_bundles):
    sha = sample_bundles[HEART].bundle_sha256
    workflow.register_version(signed_in(workflow, "owner.ng"), HEART, sha, "First version.")
    admin = signed_in(workflow, "admin")
    common = dict(evidence_entries=[], expires_on=in_days(workflow, 30))
    with pytest.raises(WorkflowError, match=r"^scope_confirmed: confirm"):
        workflow.approve_version(admin, HEART, sha, scope_confirmed=False, **common)
    with pytest.raises(WorkflowError, match=r"^expires_on: expected a date after today"):
        workflow.approve_version(
            admin,
            HEART,
            sha,
            scope_confirmed=True,
            evidence_entries=[],
            expires_on=in_days(workflow, 0),
        )
    assert workflow.lifecycle.approvals(HEART) == []


def test_cited_entries_must_exist_verify_concern_this_model_and_show_monitoring(
    workflow, sample_bundles
):
    sha = sample_bundles[HEART].bundle_sha256
    workflow.register_version(signed_in(workflow, "owner.ng"), HEART, sha, "First version.")
    admin = signed_in(workflow, "admin")
    other = workflow.monitoring_view(admin, "readmission-30d")
    assert other.model_id == "readmission-30d"
    other_seq = workflow.trail.entries(action="monitoring_viewed")[-1].seq
    registered_seq = workflow.trail.entries(action="model_version_registered")[-1].seq

    def approve(entries):
        workflow.approve_version(
            admin,
            HEART,
            sha,
            expires_on=in_days(workflow, 30),
            evidence_entries=entries,
            scope_confirmed=True,
        )

    with pytest.raises(WorkflowError, match=r"^evidence: there is no audit entry 99999"):
        approve([99999])
    with pytest.raises(WorkflowError, match="is about readmission-30d, not heart-disease"):
        approve([other_seq])
    wrong_kind = r"is a 'model_version_registered' entry; expected a monitoring view"
    with pytest.raises(WorkflowError, match=wrong_kind):
        approve([registered_seq])
    assert workflow.lifecycle.approvals(HEART) == []
    assert len(actions(workflow, "access_refused")) == 3


def test_only_a_model_owner_registers_and_the_refusal_is_recorded(workflow, sample_bundles):
    admin = signed_in(workflow, "admin")
    with pytest.raises(Refused, match="An admin may not register model version"):
        workflow.register_version(admin, HEART, sample_bundles[HEART].bundle_sha256, "reason x")
    assert actions(workflow, "access_refused")[-1][2]["action"] == "register_model_version"
    with pytest.raises(WorkflowError, match=r"^reason: expected the reason in words, 10 to"):
        workflow.register_version(
            signed_in(workflow, "owner.ng"), HEART, sample_bundles[HEART].bundle_sha256, "short"
        )
    with pytest.raises(WorkflowError, match=r"^bundle_sha256: no loaded version of heart-disease"):
        workflow.register_version(signed_in(workflow, "owner.ng"), HEART, "f" * 64, "A reason.")


# -- shadow, promotion, replay ------------------------------------------------------------


def test_a_promotion_needs_a_shadow_comparison_then_the_new_version_serves_and_old_entries_replay(
    workflow, sample_bundles, heart_v2
):
    v1, v2 = sample_bundles[HEART].bundle_sha256, heart_v2.bundle_sha256
    first_live(workflow, v1)
    clinician = signed_in(workflow, "dr.lee")
    before = show(workflow, clinician)
    assert before.model.bundle_sha256 == v1
    old_entry = workflow.trail.entries(action="viewed")[-1].seq

    owner = signed_in(workflow, "owner.ng")
    workflow.register_version(owner, HEART, v2, "Card version 1.1.0: wording of the scope.")
    started = workflow.set_shadow(owner, HEART, v2, True)
    assert started.state == "shadow" and workflow.model_standing(HEART).shadow.bundle_sha256 == v2
    with pytest.raises(WorkflowError, match=r"at most one shadow|only a registered candidate"):
        workflow.set_shadow(owner, HEART, v2, True)

    admin = signed_in(workflow, "admin")
    monitoring = monitoring_entry(workflow)
    promoting = r"^evidence: promoting version 1\.1\.0 .* needs a shadow"
    with pytest.raises(WorkflowError, match=promoting):
        workflow.approve_version(
            admin,
            HEART,
            v2,
            expires_on=in_days(workflow, 90),
            evidence_entries=[monitoring],
            scope_confirmed=True,
        )
    wrong_pair = shadow_comparison_entry(workflow, live="c" * 64, candidate=v2)
    with pytest.raises(WorkflowError, match="is of another pair of versions"):
        workflow.approve_version(
            admin,
            HEART,
            v2,
            expires_on=in_days(workflow, 90),
            evidence_entries=[wrong_pair],
            scope_confirmed=True,
        )
    assert show(workflow, clinician).model.bundle_sha256 == v1  # still the live version

    comparison = shadow_comparison_entry(workflow, live=v1, candidate=v2)
    approval = workflow.approve_version(
        admin,
        HEART,
        v2,
        expires_on=in_days(workflow, 90),
        evidence_entries=[comparison, monitoring],
        scope_confirmed=True,
    )
    assert [e.kind for e in approval.evidence] == [
        "validation",
        "shadow_comparison",
        "monitoring_report",
    ]
    states = {v.bundle_sha256: v.state for v in workflow.lifecycle.versions(HEART)}
    assert states == {v1: "retired", v2: "live"}
    assert all(a.revoked_at is not None for a in workflow.lifecycle.approvals(HEART, v1))
    detail = actions(workflow, "model_version_approved")[-1][2]
    assert (detail["kind"], detail["replaces_live"]) == ("promotion", v1)
    assert detail["evidence_entries"] == [f"entry {comparison}", f"entry {monitoring}"]

    # The same tab, the same case: the new live version's report, never the cached old one.
    after = show(workflow, clinician)
    assert after.model.bundle_sha256 == v2 and after.model.version == "1.1.0"
    assert after.report_id != before.report_id

    reviewer = signed_in(workflow, "rev.kim")
    replayed = workflow.replay(reviewer, old_entry)
    assert replayed.report.model.bundle_sha256 == v1 and replayed.report.model.version == "1.0.0"
    rerun = workflow.rerun(reviewer, old_entry)
    assert rerun.available and rerun.outcome in {"identical", "within_tolerance"}
    assert rerun.fresh.model.bundle_sha256 == v1


# -- renewal, expiry ---------------------------------------------------------------------------


def test_a_renewal_needs_monitoring_evidence_newer_than_the_last_approval(workflow, sample_bundles):
    v1 = sample_bundles[HEART].bundle_sha256
    older = monitoring_entry(workflow)
    first_live(workflow, v1, days=20)
    last = workflow.lifecycle.approvals(HEART, v1)[-1]
    admin = signed_in(workflow, "admin")
    with pytest.raises(WorkflowError, match=r"^evidence: renewing version 1\.0\.0 .* dated after"):
        workflow.approve_version(
            admin,
            HEART,
            v1,
            expires_on=in_days(workflow, 365),
            evidence_entries=[older],
            scope_confirmed=True,
        )
    newer = monitoring_entry(workflow, "owner.two")
    renewal = workflow.approve_version(
        admin,
        HEART,
        v1,
        expires_on=in_days(workflow, 365),
        evidence_entries=[newer],
        scope_confirmed=True,
    )
    assert renewal.renews == last.approval_id
    assert actions(workflow, "model_version_approved")[-1][2]["kind"] == "renewal"
    assert workflow.model_standing(HEART).approval.approval_id == renewal.approval_id


def test_approvals_ending_within_30_days_are_listed_for_reviewers_admins_and_owners(
    workflow, sample_bundles
):
    first_live(workflow, sample_bundles[HEART].bundle_sha256, days=12)
    for user_id in ("rev.kim", "admin", "owner.ng"):
        (soon,) = workflow.approvals_expiring(signed_in(workflow, user_id))
        assert soon.model_id == HEART
    assert workflow.model_standing(HEART).expires_soon
    with pytest.raises(Refused):
        workflow.approvals_expiring(signed_in(workflow, "dr.lee"))


def test_retiring_the_live_version_asks_to_confirm_then_stops_predictions(workflow, sample_bundles):
    v1 = sample_bundles[HEART].bundle_sha256
    first_live(workflow, v1)
    owner = signed_in(workflow, "owner.ng")
    with pytest.raises(WorkflowError, match=r"retiring it stops every prediction .* Confirm"):
        workflow.retire_version(owner, HEART, v1, "Withdrawn after a safety review.")
    assert show(workflow).model.bundle_sha256 == v1
    retired = workflow.retire_version(
        owner, HEART, v1, "Withdrawn after a safety review.", stop_confirmed=True
    )
    assert retired.state == "retired"
    with pytest.raises(Refused, match=r"No version of .* is approved for use"):
        show(workflow)
    detail = actions(workflow, "model_version_retired")[-1][2]
    assert detail["stops_predictions"] is True and detail["previous_state"] == "live"
    with pytest.raises(WorkflowError, match="is retired, and a retired version cannot be"):
        workflow.approve_version(
            signed_in(workflow, "admin"),
            HEART,
            v1,
            expires_on=in_days(workflow, 30),
            evidence_entries=[],
            scope_confirmed=True,
        )


def test_every_act_is_in_the_trail_in_order_by_its_person(workflow, sample_bundles, heart_v2):
    v1, v2 = sample_bundles[HEART].bundle_sha256, heart_v2.bundle_sha256
    first_live(workflow, v1)
    owner = signed_in(workflow, "owner.ng")
    workflow.register_version(owner, HEART, v2, "Card version 1.1.0: wording of the scope.")
    workflow.set_shadow(owner, HEART, v2, True)
    workflow.set_shadow(owner, HEART, v2, False)
    workflow.retire_version(owner, HEART, v2, "Not pursued after the shadow run.")
    acts = [
        (action, who, detail.get("bundle_sha256"))
        for action, who, detail in actions(workflow)
        if action.startswith("model_")
    ]
    assert acts == [
        ("model_version_registered", "owner.ng", v1),
        ("model_version_approved", "admin", v1),
        ("model_version_registered", "owner.ng", v2),
        ("model_version_shadow_started", "owner.ng", v2),
        ("model_version_shadow_stopped", "owner.ng", v2),
        ("model_version_retired", "owner.ng", v2),
    ]
    assert workflow.trail.verify().ok


def test_an_expired_approval_stops_predictions_on_two_servers_sharing_postgresql_recorded_once(
    tmp_path, catalogue, sample_bundles, new_pg_database
):
    app_url = new_pg_database("approvals_app")
    trail_url = new_pg_database("approvals_trail")
    with (
        AuditStore.open(trail_url, key=KEY) as trail_a,
        AuditStore.open(trail_url, key=KEY) as trail_b,
    ):
        server_a = build(tmp_path / "a", trail_a, catalogue, app_url=app_url)
        add_users(server_a._accounts)
        server_b = build(tmp_path / "b", trail_b, catalogue, app_url=app_url)
        v1 = sample_bundles[HEART].bundle_sha256
        first_live(server_a, v1, days=10)
        assert show(server_a).model.bundle_sha256 == v1
        assert show(server_b).model.bundle_sha256 == v1
        assert [a.model_id for a in server_b.record_approval_expiries().expiring] == [HEART]

        for server in (server_a, server_b):  # eleven days later, on both servers' clocks
            server._clock.offset = dt.timedelta(days=11)
        with pytest.raises(Refused, match=r"expired on .* so it shows no prediction"):
            show(server_b)
        with pytest.raises(Refused, match="expired on"):
            show(server_a)
        found = server_a.record_approval_expiries()
        assert [a.model_id for a in found.expired] == [HEART] and found.newly_recorded == ()
        expiries = actions(server_a, "model_approval_expired")
        assert len(expiries) == 1
        (_, who, detail) = expiries[0]
        assert who == LIFECYCLE_SYSTEM.user_id and detail["stops_predictions"] is True
        session = signed_in(server_b, "dr.lee")
        with pytest.raises(Refused, match="expired on"):
            server_b.preview_patient_view(session, show_report_of(server_a, v1))

        # A renewal on server B, with monitoring evidence newer than the approval, restarts
        # both servers.
        server_b.approve_version(
            signed_in(server_b, "owner.two"),
            HEART,
            v1,
            expires_on=in_days(server_b, 200),
            evidence_entries=[monitoring_entry(server_b)],
            scope_confirmed=True,
        )
        assert show(server_a).model.bundle_sha256 == v1
        assert show(server_b).model.bundle_sha256 == v1
        assert len(actions(server_b, "model_approval_expired")) == 1
        assert trail_a.verify().ok


def show_report_of(workflow: Workflow, sha: str):
    """A report of the version as recorded in the trail (for a preview attempt)."""
    from caselens.explain.report import CaseReport

    entry = next(
        e
        for e in reversed(workflow.trail.entries(action="viewed"))
        if json.loads(e.report_json)["model"]["bundle_sha256"] == sha
    )
    return CaseReport.from_json(entry.report_json)
