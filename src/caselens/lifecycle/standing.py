"""Whether a model id may show predictions now: a live version with an approval in force.

Pure: it reads the versions and approvals it is given and the time, so every app server
sharing the database reaches the same answer at the same moment. An expired approval stops
predictions exactly like a suspension (the workflow's door refuses with these words).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from caselens.lifecycle.records import Approval, ModelVersion, Standing

#: Approvals ending within this many days are listed for reviewers and administrators.
EXPIRY_WARNING_DAYS = 30


def short_version(version: ModelVersion) -> str:
    """How a version is named in a sentence: ``version 1.1.0 (3f2a9c0d1e2b)``."""
    return f"version {version.card_version} ({version.bundle_sha256[:12]})"


def current_approval(
    approvals: Sequence[Approval], bundle_sha256: str, now: dt.datetime
) -> Approval | None:
    """The approval of this version in force at ``now`` that lasts longest, or None."""
    valid = [a for a in approvals if a.bundle_sha256 == bundle_sha256 and a.valid_at(now)]
    return max(valid, key=lambda a: a.expires_at, default=None)


def last_approval(approvals: Sequence[Approval], bundle_sha256: str) -> Approval | None:
    """The most recent approval of this version (in force or not), or None."""
    own = [a for a in approvals if a.bundle_sha256 == bundle_sha256]
    return max(own, key=lambda a: (a.approved_at, a.expires_at), default=None)


def model_standing(
    model_id: str,
    versions: Sequence[ModelVersion],
    approvals: Sequence[Approval],
    now: dt.datetime,
    *,
    model_name: str | None = None,
) -> Standing:
    """Where ``model_id`` stands at ``now`` (UTC, naive).

    A model id may predict only when one version is live and an approval of that version is
    in force. Otherwise the standing carries the words a person sees in place of a
    prediction: which version, what is missing or when the approval ended, and who can act.
    """
    name = model_name or model_id
    live = next((v for v in versions if v.state == "live"), None)
    shadow = next((v for v in versions if v.state == "shadow"), None)
    if live is None:
        return Standing(
            model_id,
            None,
            None,
            False,
            message=(
                f"No version of {name} is approved for use, so it shows no prediction. "
                "A model owner registers a version, and a second person (a model owner or an "
                "administrator) approves it."
            ),
            shadow=shadow,
        )
    approval = current_approval(approvals, live.bundle_sha256, now)
    if approval is not None:
        soon = approval.expires_at - now <= dt.timedelta(days=EXPIRY_WARNING_DAYS)
        return Standing(model_id, live, approval, True, expires_soon=soon, shadow=shadow)
    last = last_approval(approvals, live.bundle_sha256)
    if last is None:
        message = (
            f"{name} {short_version(live)} has no approval on record, so it shows no "
            "prediction. A model owner or an administrator who did not register it must "
            "approve it."
        )
    elif last.revoked_at is not None:
        message = (
            f"The approval of {name} {short_version(live)} was ended on "
            f"{last.revoked_at:%Y-%m-%d %H:%M} UTC, so it shows no prediction until it is "
            "approved again."
        )
    else:
        message = (
            f"The approval of {name} {short_version(live)} expired on "
            f"{last.expires_at:%Y-%m-%d %H:%M} UTC (approved by {last.approved_by} on "
            f"{last.approved_at:%Y-%m-%d}), so it shows no prediction until it is renewed "
            "with monitoring evidence newer than that approval."
        )
    return Standing(model_id, live, None, False, message=message, shadow=shadow)


def expiring_approvals(
    standings: Sequence[Standing], now: dt.datetime, *, days: int = EXPIRY_WARNING_DAYS
) -> list[Approval]:
    """The approvals in force that end within ``days`` of ``now``, soonest first."""
    horizon = now + dt.timedelta(days=days)
    found = [
        s.approval for s in standings if s.approval is not None and s.approval.expires_at <= horizon
    ]
    return sorted(found, key=lambda a: a.expires_at)
