"""The shadow comparison through the door: checked, recorded as ``shadow_comparison_viewed``
with the keys an approval cites before it is returned, the candidate chosen as documented,
and the governance report holding the comparison."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue
from caselens.workflow.door import Workflow
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from lifecycle_fixtures import approve_first_versions
from monitoring_fixtures import KEY, PASSWORD, USERS, heart_case, signed_in
from shadow_log_rows import ShadowRow, random_log, write_outcomes, write_shadow_batch

MODEL = "heart-disease"
SHADOW = "c" * 64
OTHER = "d" * 64
CITED_KEYS = {
    "model_id",
    "live_bundle_sha256",
    "candidate_bundle_sha256",
    "pairs",
    "agreement",
    "auroc_live",
    "auroc_candidate",
    "period",
}


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    """The test accounts (and a model owner) once per module: hashing passwords takes
    seconds."""
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    for user_id, name, role, ref, model in (
        *USERS,
        ("owner.ng", "Olu Ng", "model_owner", None, None),
    ):
        store.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    return folder / "app.sqlite"


@pytest.fixture()
def trail_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture()
def workflow(tmp_path, trail_path, sample_bundles, accounts_template) -> Iterator[Workflow]:
    """A workflow on a fresh trail and app database, the samples' first versions approved."""
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
    built.trail = audit  # type: ignore[attr-defined]
    yield built
    audit.close()


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


@pytest.fixture()
def shadowed(workflow):
    """The workflow with 120 logged pairs of the shadow candidate (100 with outcomes, 7
    women) and a second candidate's rows; both candidates registered (the first in shadow).
    The figures themselves are checked on 300 pairs in tests/monitoring."""
    live_sha = workflow.bundle(MODEL).bundle_sha256
    random_log(workflow.trail, MODEL, patients=120, with_outcomes=100, live_sha=live_sha)
    lifecycle = workflow.lifecycle
    lifecycle.register(
        model_id=MODEL,
        bundle_sha256=SHADOW,
        card_version="2.0.0",
        registered_by="owner.ng",
        change_reason="Retrained with a lower threshold.",
        folder="heart-disease-v2",
        state="shadow",
    )
    lifecycle.register(
        model_id=MODEL,
        bundle_sha256=OTHER,
        card_version="2.1.0",
        registered_by="owner.ng",
        change_reason="Another family, for comparison.",
        folder="heart-disease-v3",
    )
    return workflow


def _entries(workflow, action):
    return [e for e in workflow.trail.entries() if e.action == action]


def test_the_comparison_is_recorded_with_what_an_approval_cites_before_it_returns(shadowed):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    view = workflow.shadow_comparison(reviewer, MODEL)
    [entry] = _entries(workflow, "shadow_comparison_viewed")
    assert view.seq == entry.seq and entry.actor_id == "rev.kim"
    assert entry.audience == "reviewer"
    detail = entry.detail()
    assert set(detail) >= CITED_KEYS
    assert detail["model_id"] == MODEL
    assert detail["live_bundle_sha256"] == workflow.bundle(MODEL).bundle_sha256
    assert detail["candidate_bundle_sha256"] == SHADOW and detail["candidate_state"] == "shadow"
    c = view.comparison
    assert detail["pairs"] == c.pairs == 120
    assert detail["agreement"]["value"] == pytest.approx(c.agreement.value, abs=1e-4)
    assert detail["auroc_live"]["value"] == pytest.approx(c.live.auroc.value, abs=1e-4)
    assert detail["auroc_candidate"]["n"] == c.candidate.auroc.n == 100
    assert detail["period"] == {"first": c.first, "last": c.last}
    assert view.citation() == f"Cite entry {entry.seq} as the shadow comparison in the approval."
    assert view.summary.startswith("120 pairs (2026-11-02 to 2026-11-29)")
    assert detail["summary"] == view.summary


def test_a_real_display_is_paired_with_the_candidate_row_beside_it(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = workflow.show_report(clinician, MODEL, heart_case(workflow), patient_ref="H-01")
    workflow.preview_patient_view(clinician, report)  # shown twice: still one pair
    shown = [e for e in workflow.trail.entries() if e.patient_ref == "H-01"]
    write_shadow_batch(
        workflow.trail,
        MODEL,
        [ShadowRow(report.report_id, "H-01", 0.7, 0.45)],
        {report.report_id: shown[0].seq},
        day=dt.date.fromisoformat(shown[0].recorded_at[:10]),
    )
    view = workflow.shadow_comparison(signed_in(workflow, "rev.kim"), MODEL, SHADOW)
    c = view.comparison
    assert c.pairs == 1 and c.candidate_version == "2.0.0"
    assert c.live_bundle_sha256s == (report.model.bundle_sha256,)
    assert c.differences.mean == pytest.approx(0.7 - report.confidence.probability)
    assert c.outcome_words.startswith("No outcome is linked to these 1 pair yet")
    assert view.candidate_state == "not registered"


def test_the_same_figures_are_recorded_once_per_session_and_new_outcomes_record_again(shadowed):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    first = workflow.shadow_comparison(reviewer, MODEL)
    again = workflow.shadow_comparison(reviewer, MODEL)
    assert again.seq == first.seq and len(_entries(workflow, "shadow_comparison_viewed")) == 1
    # P-0110 was shown on 2026-11-28 (day 110 % 28 of the log): this outcome links.
    write_outcomes(workflow.trail, MODEL, [("P-0110", 1, dt.date(2026, 12, 1))])
    newer = workflow.shadow_comparison(reviewer, MODEL)
    assert newer.seq > first.seq and newer.comparison.with_outcomes == 101
    assert len(_entries(workflow, "shadow_comparison_viewed")) == 2
    other_session = signed_in(workflow, "rev.kim")
    assert workflow.shadow_comparison(other_session, MODEL).seq > newer.seq


def test_the_default_candidate_is_the_shadow_version_then_the_newest_candidate(shadowed):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    listed = workflow.shadow_candidates(reviewer, MODEL)
    assert [c.bundle_sha256 for c in listed] == [SHADOW, OTHER]
    assert [c.state for c in listed] == ["shadow", "candidate"]
    assert listed[0].rows == 121 and listed[1].rows == 20  # 121: one orphan row
    workflow.lifecycle.set_state(MODEL, SHADOW, "retired", by="owner.ng")
    view = workflow.shadow_comparison(reviewer, MODEL)
    assert view.comparison.candidate_bundle_sha256 == OTHER and view.candidate_state == "candidate"
    chosen = workflow.shadow_comparison(reviewer, MODEL, SHADOW)
    assert (
        chosen.comparison.candidate_bundle_sha256 == SHADOW and chosen.candidate_state == "retired"
    )


def test_a_version_without_shadow_rows_or_the_live_one_is_refused_in_words(shadowed):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    with pytest.raises(WorkflowError, match=r"candidate: version eeeeeeeeeeee of heart-disease "
                       r"has no shadow predictions in the log"):  # fmt: skip
        workflow.shadow_comparison(reviewer, MODEL, "e" * 64)
    live = workflow.bundle(MODEL).bundle_sha256
    with pytest.raises(WorkflowError, match=r"is the live version of heart-disease"):
        workflow.shadow_comparison(reviewer, MODEL, live)
    assert not _entries(workflow, "shadow_comparison_viewed")


def test_no_candidate_with_rows_shows_nothing_and_records_nothing(workflow):
    reviewer = signed_in(workflow, "rev.kim")
    before = len(workflow.trail.entries())
    assert workflow.shadow_comparison(reviewer, MODEL) is None
    assert workflow.shadow_candidates(reviewer, MODEL) == ()
    assert len(workflow.trail.entries()) == before


def test_a_clinician_is_refused_and_the_refusal_recorded(shadowed):
    workflow = shadowed
    clinician = signed_in(workflow, "dr.lee")
    with pytest.raises(Refused):
        workflow.shadow_comparison(clinician, MODEL)
    refused = _entries(workflow, "access_refused")[-1]
    assert refused.actor_id == "dr.lee" and refused.detail()["action"] == "view_monitoring"
    assert not _entries(workflow, "shadow_comparison_viewed")


def test_a_model_owner_and_an_admin_may_view_it(shadowed):
    workflow = shadowed
    for user in ("owner.ng", "admin"):
        view = workflow.shadow_comparison(signed_in(workflow, user), MODEL)
        assert view.comparison.pairs == 120
    roles = [e.audience for e in _entries(workflow, "shadow_comparison_viewed")]
    assert roles == ["model_owner", "admin"]


def test_without_an_entry_nothing_is_returned(shadowed, trail_path):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    with trail_down(trail_path), pytest.raises(NotRecorded):
        workflow.shadow_comparison(reviewer, MODEL)
    assert not _entries(workflow, "shadow_comparison_viewed")


def test_the_governance_report_holds_the_comparison_and_names_it_in_its_entry(shadowed):
    workflow = shadowed
    reviewer = signed_in(workflow, "rev.kim")
    built = workflow.monitoring_report(reviewer, MODEL)
    text = built.data.decode("utf-8")
    assert "<h2>Live and candidate (shadow comparison)</h2>" in text
    assert f"Candidate version 2.0.0 ({SHADOW[:12]}, shadow) was scored beside" in text
    assert "Nobody was shown the candidate&#39;s predictions." in text
    assert "Agreement at the threshold" in text and "Probability difference" in text
    assert "Side by side on 100 pairs with an outcome" in text
    assert "AUROC difference, candidate minus live, on the same patients" in text
    assert "<td>sex</td><td>Female</td><td>7</td><td>fewer than 10 patients</td>" in text
    assert "<td>suppressed</td>" in text
    exported = _entries(workflow, "exported")[-1]
    assert exported.detail()["shadow_comparison"] == {
        "candidate_bundle_sha256": SHADOW,
        "pairs": 120,
        "with_outcomes": 100,
    }


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    from shadow_fixtures import candidate_copy

    return candidate_copy(tmp_path_factory.mktemp("candidate") / "heart-disease-1.1")


def test_the_rows_the_real_shadow_scorer_writes_are_compared(workflow, sample_bundles, candidate):
    """End to end: three demo patients shown, the candidate (the same model file with a
    threshold of 0.4) scored by the real scorer, then compared: equal probabilities, each
    judged at its own threshold."""
    workflow._all_versions = BundleCatalogue(
        bundles=dict(sample_bundles),
        refused={},
        versions={
            MODEL: (sample_bundles[MODEL], candidate),
            "readmission-30d": (sample_bundles["readmission-30d"],),
        },
    )
    workflow.lifecycle.register(
        model_id=MODEL,
        bundle_sha256=candidate.bundle_sha256,
        card_version=candidate.version,
        registered_by="owner.ng",
        change_reason="A lower threshold for the same model (test candidate).",
        folder=candidate.path.name,
        state="shadow",
    )
    clinician = signed_in(workflow, "dr.lee")
    shown = []
    try:
        for case_id in ("H-01", "H-02", "H-03"):
            shown.append(
                workflow.show_report(
                    clinician, MODEL, heart_case(workflow, case_id), patient_ref=case_id
                )
            )
        assert workflow.flush_shadow_scores(60)
    finally:
        workflow.stop_shadow_scoring()
    view = workflow.shadow_comparison(signed_in(workflow, "rev.kim"), MODEL)
    c = view.comparison
    assert c.pairs == 3 and c.candidate_bundle_sha256 == candidate.bundle_sha256
    assert view.candidate_state == "shadow"
    assert c.live_thresholds == (0.5,) and c.candidate_thresholds == (0.4,)
    assert c.differences.mean == pytest.approx(0.0, abs=1e-12)  # the same model file
    p = [r.confidence.probability for r in shown]
    assert c.table.both_above == sum(x >= 0.5 for x in p)
    assert c.table.candidate_only == sum(0.4 <= x < 0.5 for x in p)
    assert c.table.live_only == 0
