"""The approval rules (pure): two people, a bounded expiry, evidence, scope, and the evidence
a promotion and a renewal need. Each refusal names the field and what is expected."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caselens.lifecycle.approval_rules import (
    MAX_APPROVAL_DAYS,
    ApprovalRefused,
    CitedEvidence,
    check_approval,
    check_expiry,
    expiry_moment,
)
from caselens.lifecycle.records import Approval, EvidenceItem, ModelVersion

NOW = dt.datetime(2026, 12, 7, 9, 30)
V1, V2 = "a" * 64, "b" * 64


def version(sha: str = V2, *, state: str = "candidate", by: str = "owner.ng") -> ModelVersion:
    return ModelVersion(
        model_id="heart-disease",
        bundle_sha256=sha,
        card_version="1.0.0" if sha == V1 else "1.1.0",
        state=state,  # type: ignore[arg-type]
        registered_by=by,
        registered_at=NOW - dt.timedelta(days=40),
        change_reason="Retrained on a wider cohort.",
        folder=f"heart-{sha[:4]}",
        state_changed_by=by,
        state_changed_at=NOW - dt.timedelta(days=40),
    )


def approval(sha: str = V1, *, at: dt.datetime, days: int = 365) -> Approval:
    return Approval(
        approval_id="A-000000000001",
        model_id="heart-disease",
        bundle_sha256=sha,
        approved_by="admin",
        approver_role="admin",
        approved_at=at,
        expires_at=at + dt.timedelta(days=days),
        intended_use="Risk of heart disease in adults referred for testing.",
        population="UCI Cleveland",
        evidence=(),
    )


def validation(dated: dt.datetime = NOW) -> CitedEvidence:
    return CitedEvidence(EvidenceItem("validation", "bundle", "AUROC 0.9", dated), "heart-disease")


def monitoring(dated: dt.datetime, model_id: str = "heart-disease") -> CitedEvidence:
    return CitedEvidence(EvidenceItem("monitoring_report", "entry 7", "viewed", dated), model_id)


def comparison(live: str = V1, candidate: str = V2) -> CitedEvidence:
    item = EvidenceItem("shadow_comparison", "entry 9", "agreement 0.97", NOW)
    return CitedEvidence(item, "heart-disease", live, candidate)


def check(v: ModelVersion, **overrides):
    arguments = dict(
        approver="admin",
        approver_role="admin",
        expires_on=NOW.date() + dt.timedelta(days=180),
        evidence=[validation()],
        scope_confirmed=True,
        live=None,
        approvals=[],
        now=NOW,
    )
    arguments.update(overrides)
    return check_approval(v, **arguments)


def test_a_first_approval_by_a_second_person_is_accepted_until_the_end_of_its_day():
    checked = check(version())
    assert checked.kind == "first" and checked.renews is None
    assert checked.expires_at == dt.datetime.combine(NOW.date() + dt.timedelta(days=181), dt.time())


def test_the_person_who_registered_a_version_may_not_approve_it():
    with pytest.raises(ApprovalRefused, match=r"^approver: owner\.ng registered version 1\.1\.0"):
        check(version(), approver="owner.ng", approver_role="model_owner")


def test_only_a_model_owner_or_an_administrator_approves():
    with pytest.raises(ApprovalRefused, match=r"approver: a reviewer may not approve"):
        check(version(), approver="rev.kim", approver_role="reviewer")


def test_a_retired_version_cannot_be_approved():
    with pytest.raises(ApprovalRefused, match=r"bundle_sha256: .* is retired"):
        check(version(state="retired"))


def test_the_scope_must_be_confirmed_and_no_box_means_no_approval():
    with pytest.raises(ApprovalRefused, match=r"^scope_confirmed: confirm"):
        check(version(), scope_confirmed=False)


def test_an_approval_without_evidence_is_refused():
    with pytest.raises(ApprovalRefused, match=r"^evidence: cite at least one item"):
        check(version(), evidence=[])


def test_evidence_about_another_model_is_refused():
    with pytest.raises(ApprovalRefused, match=r"evidence: entry 7 is about readmission-30d"):
        check(version(), evidence=[validation(), monitoring(NOW, "readmission-30d")])


def test_a_missing_expiry_date_is_asked_for():
    with pytest.raises(ApprovalRefused, match=r"^expires_on: choose the last day"):
        check(version(), expires_on=None)


@given(
    today=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 1, 1)),
    offset=st.integers(min_value=-1000, max_value=2000),
    hour=st.integers(min_value=0, max_value=23),
)
def test_an_expiry_is_accepted_exactly_from_tomorrow_to_the_longest_allowed(today, offset, hour):
    now = dt.datetime.combine(today, dt.time(hour))
    expires_on = today + dt.timedelta(days=offset)
    if 1 <= offset <= MAX_APPROVAL_DAYS:
        ends = check_expiry(expires_on, now)
        assert ends == expiry_moment(expires_on) and ends > now
        assert ends - now <= dt.timedelta(days=MAX_APPROVAL_DAYS + 1)
    else:
        wanted = "a date after today" if offset < 1 else f"at most {MAX_APPROVAL_DAYS}"
        with pytest.raises(ApprovalRefused, match=rf"^expires_on: expected {wanted}"):
            check_expiry(expires_on, now)


def test_a_promotion_needs_a_shadow_comparison_of_this_candidate_against_the_live_version():
    live = version(V1, state="live")
    approvals = [approval(V1, at=NOW - dt.timedelta(days=100))]
    promoting = r"evidence: promoting version 1\.1\.0 .* needs a shadow"
    with pytest.raises(ApprovalRefused, match=promoting):
        check(version(), live=live, approvals=approvals)
    with pytest.raises(ApprovalRefused, match="is of another pair of versions"):
        check(
            version(),
            live=live,
            approvals=approvals,
            evidence=[validation(), comparison(live="c" * 64)],
        )
    checked = check(version(), live=live, approvals=approvals, evidence=[comparison()])
    assert checked.kind == "promotion"


@given(
    last_days_ago=st.integers(min_value=1, max_value=700),
    evidence_offsets=st.lists(st.integers(min_value=-800, max_value=0), max_size=4),
    with_comparison=st.booleans(),
)
def test_a_renewal_is_accepted_only_with_monitoring_evidence_newer_than_the_last_approval(
    last_days_ago, evidence_offsets, with_comparison
):
    last_at = NOW - dt.timedelta(days=last_days_ago)
    live = version(V1, state="live")
    cited = [validation()] + [monitoring(NOW + dt.timedelta(days=o)) for o in evidence_offsets]
    if with_comparison:
        cited.append(comparison())  # a comparison is no monitoring evidence
    newer = any(NOW + dt.timedelta(days=o) > last_at for o in evidence_offsets)
    if newer:
        checked = check(live, live=live, approvals=[approval(V1, at=last_at)], evidence=cited)
        assert checked.kind == "renewal" and checked.renews == "A-000000000001"
    else:
        with pytest.raises(ApprovalRefused, match=r"evidence: renewing .* dated after its last"):
            check(live, live=live, approvals=[approval(V1, at=last_at)], evidence=cited)
