"""The lifecycle's records: a model version, an approval and the evidence it cites."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

#: Where a version stands. ``live``: its predictions are shown (with a valid approval);
#: ``shadow``: scored beside the live version on every case and logged as never shown;
#: ``candidate``: registered, not scored; ``retired``: no longer used (its past reports
#: still replay and re-run).
VersionState = Literal["live", "shadow", "candidate", "retired"]
VERSION_STATES: tuple[VersionState, ...] = ("live", "shadow", "candidate", "retired")

#: What an approval may rest on: the version's validation figures (from its card, measured
#: on its reference data), a monitoring report of the live model, a shadow comparison of
#: this version against the live one.
EvidenceKind = Literal["validation", "monitoring_report", "shadow_comparison"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = ("validation", "monitoring_report", "shadow_comparison")

#: Longest reason for a change, scope text or evidence summary kept.
MAX_TEXT = 2000
#: Shortest stated reason for a change (it is recorded and shown in the change log).
MIN_REASON = 10


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model id.

    Attributes
    ----------
    model_id : str
    bundle_sha256 : str
        The version id (:func:`caselens.model.bundle_digest.bundle_sha256`).
    card_version : str
        The card's own version label (e.g. ``1.1.0``), for people.
    state : VersionState
    registered_by : str
        The user id who registered (uploaded) it: they may not approve it.
    registered_at : datetime
        UTC, naive.
    change_reason : str
        The owner's stated reason for the change (the change log's text).
    folder : str
        The bundle folder's name in the models folder, when registered.
    state_changed_by, state_changed_at
        Who last changed the state, and when (UTC); the registration itself at first.
    """

    model_id: str
    bundle_sha256: str
    card_version: str
    state: VersionState
    registered_by: str
    registered_at: dt.datetime
    change_reason: str
    folder: str
    state_changed_by: str
    state_changed_at: dt.datetime


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence an approval cites.

    Attributes
    ----------
    kind : EvidenceKind
    reference : str
        What it is, findable again: an audit entry number (``entry 1042``), a monitoring
        period (``2026-11-01..2026-11-30``), a bundle SHA-256.
    summary : str
        The figures it shows, in words (e.g. ``AUROC 0.86 (0.81–0.90), n=303``).
    dated : datetime
        When the evidence was produced (UTC, naive): renewal needs monitoring evidence newer
        than the last approval's.
    """

    kind: EvidenceKind
    reference: str
    summary: str
    dated: dt.datetime


@dataclass(frozen=True)
class Approval:
    """A recorded approval of one version for live use, until ``expires_at``.

    Attributes
    ----------
    approval_id : str
        ``A-`` and 12 hex characters.
    model_id, bundle_sha256 : str
        The version approved.
    approved_by : str
        A model owner or an administrator, never the person who registered the version.
    approver_role : str
    approved_at, expires_at : datetime
        UTC, naive. At ``expires_at`` the version stops showing predictions.
    intended_use, population : str
        The scope, as the card states them (checked against the card when approved).
    evidence : tuple of EvidenceItem
        At least one item; a renewal cites monitoring evidence newer than the last approval.
    renews : str or None
        The approval id this one renews (same version), if any.
    audit_seq : int or None
        The audit entry that recorded the approval.
    revoked_at : datetime or None
        When a later act ended it early (a promotion of another version, a retirement).
    expiry_recorded : bool
        Whether the system has recorded this approval's expiry (once, by whichever server
        noticed first).
    """

    approval_id: str
    model_id: str
    bundle_sha256: str
    approved_by: str
    approver_role: str
    approved_at: dt.datetime
    expires_at: dt.datetime
    intended_use: str
    population: str
    evidence: tuple[EvidenceItem, ...]
    renews: str | None = None
    audit_seq: int | None = None
    revoked_at: dt.datetime | None = None
    expiry_recorded: bool = False

    def valid_at(self, now: dt.datetime) -> bool:
        """Whether the approval holds at ``now`` (UTC, naive): not revoked, not expired."""
        return self.revoked_at is None and self.approved_at <= now < self.expires_at


@dataclass(frozen=True)
class Standing:
    """Whether a model id may show predictions now, and the words when it may not.

    Attributes
    ----------
    model_id : str
    live : ModelVersion or None
        The live version (None when no version of the id is live).
    approval : Approval or None
        The approval that holds now for the live version (None when none does).
    may_predict : bool
    message : str
        What a person sees in place of a prediction when ``may_predict`` is false (empty
        otherwise); says which version, why and who can act.
    expires_soon : bool
        The approval ends within :data:`caselens.lifecycle.standing.EXPIRY_WARNING_DAYS`.
    shadow : ModelVersion or None
        The version scored in shadow beside the live one, if any.
    """

    model_id: str
    live: ModelVersion | None
    approval: Approval | None
    may_predict: bool
    message: str = ""
    expires_soon: bool = False
    shadow: ModelVersion | None = None
    notes: tuple[str, ...] = field(default=())
