"""What an approval of a model version must satisfy: pure checks with named refusals.

Decision rights (issue 27): a **model owner** registers a version, with the reason for the
change; a version goes live only through an approval by a **model owner or an
administrator who did not register it** (two people). An approval states

- its **scope**: the intended use and the population (the validation dataset) as the
  version's card states them, which the approver confirms;
- the **evidence** it rests on (at least one item): the version's validation figures, a
  monitoring report of the live model, a shadow comparison of this version against the
  live one;
- an **expiry**: a day after today and at most :data:`MAX_APPROVAL_DAYS` ahead. The
  approval holds until the end of that day (UTC); after it, the version shows no
  prediction until it is renewed.

Three kinds of approval, decided by what is live now:

- ``first``: no version of the model id is live (or the live one was never approved);
- ``promotion``: another version is live; the approval must cite a shadow comparison of
  **this** candidate against the **current** live version;
- ``renewal``: the live version approved again; it must cite monitoring evidence dated
  after that version's last approval.

A retired version cannot be approved. Every function here is pure (the time is an
argument); the workflow's door resolves the cited audit entries into
:class:`CitedEvidence`, checks the policy, records, then writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from caselens.errors import CaseLensError
from caselens.lifecycle.records import Approval, EvidenceItem, ModelVersion
from caselens.lifecycle.standing import last_approval, short_version

#: The longest an approval may last: two years, so every live version is looked at again
#: by a person at least that often (the guide's "time-boxed approvals").
MAX_APPROVAL_DAYS = 730

#: The roles that may approve a version (never the person who registered it).
APPROVER_ROLES = ("model_owner", "admin")

ApprovalKind = Literal["first", "promotion", "renewal"]
APPROVAL_KINDS: tuple[ApprovalKind, ...] = ("first", "promotion", "renewal")


class ApprovalRefused(CaseLensError):
    """An approval does not meet a rule: the message names the field and what is expected."""


@dataclass(frozen=True)
class CitedEvidence:
    """One evidence item as the door resolved it, with what the rules need to check.

    Attributes
    ----------
    item : EvidenceItem
        What the approval keeps (kind, reference, summary, dated).
    model_id : str
        The model id the evidence is about.
    live_bundle_sha256, candidate_bundle_sha256 : str or None
        For a shadow comparison: the two versions compared.
    """

    item: EvidenceItem
    model_id: str
    live_bundle_sha256: str | None = None
    candidate_bundle_sha256: str | None = None


@dataclass(frozen=True)
class ApprovalCheck:
    """What a checked approval will record: its kind, expiry and the approval it renews."""

    kind: ApprovalKind
    expires_at: dt.datetime
    renews: str | None


def expiry_moment(expires_on: dt.date) -> dt.datetime:
    """The moment an approval "until ``expires_on``" ends: the end of that day, UTC (naive)."""
    return dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time())


def check_expiry(expires_on: dt.date | None, now: dt.datetime) -> dt.datetime:
    """The end of the approval for ``expires_on``; refused unless it is a day after today
    and at most :data:`MAX_APPROVAL_DAYS` days ahead (``now``: UTC, naive).

    Examples
    --------
    >>> check_expiry(dt.date(2027, 1, 31), dt.datetime(2026, 12, 7, 9))
    datetime.datetime(2027, 2, 1, 0, 0)
    """
    today = now.date()
    latest = today + dt.timedelta(days=MAX_APPROVAL_DAYS)
    if expires_on is None:
        raise ApprovalRefused(
            "expires_on: choose the last day the approval holds (a date after "
            f"{today:%Y-%m-%d}, at most {MAX_APPROVAL_DAYS} days ahead, until {latest:%Y-%m-%d})."
        )
    if expires_on <= today:
        raise ApprovalRefused(
            f"expires_on: expected a date after today ({today:%Y-%m-%d}); got "
            f"{expires_on:%Y-%m-%d}. An approval must end in the future."
        )
    if expires_on > latest:
        raise ApprovalRefused(
            f"expires_on: expected at most {MAX_APPROVAL_DAYS} days ahead (until "
            f"{latest:%Y-%m-%d}); got {expires_on:%Y-%m-%d}. A longer approval must be "
            "renewed with fresh evidence instead."
        )
    return expiry_moment(expires_on)


def approval_kind(
    version: ModelVersion, live: ModelVersion | None, approvals: Sequence[Approval]
) -> ApprovalKind:
    """``promotion`` when another version is live, ``renewal`` when this live version was
    approved before, ``first`` otherwise."""
    if live is not None and live.bundle_sha256 != version.bundle_sha256:
        return "promotion"
    if live is not None and last_approval(approvals, version.bundle_sha256) is not None:
        return "renewal"
    return "first"


def check_approval(
    version: ModelVersion,
    *,
    approver: str,
    approver_role: str,
    expires_on: dt.date | None,
    evidence: Sequence[CitedEvidence],
    scope_confirmed: bool,
    live: ModelVersion | None,
    approvals: Sequence[Approval],
    now: dt.datetime,
) -> ApprovalCheck:
    """Check an approval of ``version`` against every rule; the first broken one is refused.

    Parameters
    ----------
    version : ModelVersion
        The registered version to approve.
    approver, approver_role : str
        Who approves (a model owner or an administrator).
    expires_on : date or None
        The last day the approval holds.
    evidence : sequence of CitedEvidence
        What the approval rests on (validation figures included by the door).
    scope_confirmed : bool
        The approver confirmed the card's intended use and population as the scope.
    live : ModelVersion or None
        The model id's live version now.
    approvals : sequence of Approval
        Every approval of the model id so far.
    now : datetime
        UTC, naive.

    Returns
    -------
    ApprovalCheck

    Raises
    ------
    ApprovalRefused
        Naming the field and what is expected.
    """
    named = short_version(version)
    if version.state == "retired":
        raise ApprovalRefused(
            f"bundle_sha256: {named} of {version.model_id} is retired, and a retired version "
            "cannot be approved. Register a new version instead."
        )
    if approver_role not in APPROVER_ROLES:
        raise ApprovalRefused(
            f"approver: a {approver_role} may not approve a version; expected a model owner "
            "or an administrator."
        )
    if approver == version.registered_by:
        raise ApprovalRefused(
            f"approver: {approver} registered {named}, so {approver} may not approve it. "
            "A second person (a model owner or an administrator) must approve it."
        )
    expires_at = check_expiry(expires_on, now)
    if not scope_confirmed:
        raise ApprovalRefused(
            "scope_confirmed: confirm that the approval covers the intended use and the "
            "population the version's card states."
        )
    if not evidence:
        raise ApprovalRefused(
            "evidence: cite at least one item (the version's validation figures, a "
            "monitoring report or a shadow comparison)."
        )
    for cited in evidence:
        if cited.model_id != version.model_id:
            raise ApprovalRefused(
                f"evidence: {cited.item.reference} is about {cited.model_id}, not "
                f"{version.model_id}."
            )
    kind = approval_kind(version, live, approvals)
    renews = None
    if kind == "promotion":
        assert live is not None
        _check_promotion(version, live, evidence)
    elif kind == "renewal":
        last = last_approval(approvals, version.bundle_sha256)
        assert last is not None
        _check_renewal(version, last, evidence)
        renews = last.approval_id
    return ApprovalCheck(kind, expires_at, renews)


def _check_promotion(
    version: ModelVersion, live: ModelVersion, evidence: Sequence[CitedEvidence]
) -> None:
    comparisons = [c for c in evidence if c.item.kind == "shadow_comparison"]
    fitting = [
        c
        for c in comparisons
        if c.candidate_bundle_sha256 == version.bundle_sha256
        and c.live_bundle_sha256 == live.bundle_sha256
    ]
    if fitting:
        return
    wanted = (
        f"a shadow comparison of {short_version(version)} against the live {short_version(live)}"
    )
    if comparisons:
        cited = ", ".join(c.item.reference for c in comparisons)
        raise ApprovalRefused(
            f"evidence: promoting {short_version(version)} over the live version needs "
            f"{wanted}; the comparison cited ({cited}) is of another pair of versions."
        )
    raise ApprovalRefused(
        f"evidence: promoting {short_version(version)} over the live version needs {wanted} "
        "(the audit entry of a shadow comparison viewed on Monitoring)."
    )


def _check_renewal(
    version: ModelVersion, last: Approval, evidence: Sequence[CitedEvidence]
) -> None:
    newer = [
        c
        for c in evidence
        if c.item.kind == "monitoring_report" and c.item.dated > last.approved_at
    ]
    if newer:
        return
    raise ApprovalRefused(
        f"evidence: renewing {short_version(version)} needs monitoring evidence dated after "
        f"its last approval ({last.approval_id}, {last.approved_at:%Y-%m-%d %H:%M} UTC): the "
        "audit entry of a monitoring view or a governance report made since."
    )
