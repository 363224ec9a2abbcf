"""What the model lifecycle's part of the door returns, and the evidence an approval cites.

Evidence is cited by audit entry number and checked here (:func:`cited_evidence`): the entry
exists, verifies, is about this model id and is of the right action. **Monitoring evidence**
is an entry that showed the live model's figures to a person: ``monitoring_viewed`` (the
Monitoring page) or ``exported`` with ``kind: monitoring_report`` (the governance report),
never of a simulated run. A **shadow comparison** is ``shadow_comparison_viewed`` with
``model_id``, ``live_bundle_sha256`` and ``candidate_bundle_sha256`` in its detail (the
Monitoring page's comparison of a live/candidate pair records it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from caselens.audit import AuditEntry, AuditError, AuditStore
from caselens.lifecycle.approval_rules import CitedEvidence
from caselens.lifecycle.records import (
    MAX_TEXT,
    MIN_REASON,
    Approval,
    EvidenceItem,
    ModelVersion,
    Standing,
)
from caselens.workflow.errors import NotRecorded, WorkflowError

#: Entries that showed the live model's monitoring figures to a person, citable as
#: monitoring evidence (``exported`` only with ``kind: monitoring_report``).
MONITORING_EVIDENCE_ACTIONS = ("monitoring_viewed", "exported")
#: The entry a shadow comparison view records (the Monitoring page's comparison).
SHADOW_COMPARISON_ACTION = "shadow_comparison_viewed"


@dataclass(frozen=True)
class LoadedVersion:
    """A version loaded on this server, and whether (and how) it is registered."""

    bundle_sha256: str
    card_version: str
    folder: str
    intended_use: str
    population: str
    registered: ModelVersion | None


@dataclass(frozen=True)
class LifecycleView:
    """What Model status shows about one model id's versions and approvals.

    Attributes
    ----------
    model_id, model_name : str
    standing : Standing
        The live version, its approval in force, the shadow candidate, the words when it
        may not predict.
    versions : tuple of ModelVersion
        Every registered version, oldest first.
    approvals : tuple of Approval
        Every approval of the model id, oldest first.
    loaded : tuple of LoadedVersion
        The versions this server has loaded (registered or not).
    """

    model_id: str
    model_name: str
    standing: Standing
    versions: tuple[ModelVersion, ...]
    approvals: tuple[Approval, ...]
    loaded: tuple[LoadedVersion, ...]


@dataclass(frozen=True)
class ApprovalExpiries:
    """What the expiry check found: approvals ending within the warning window, approvals
    that have ended without renewal (the model stopped), and those recorded just now."""

    expiring: tuple[Approval, ...]
    expired: tuple[Approval, ...]
    newly_recorded: tuple[Approval, ...]


def _entry_time(entry: AuditEntry) -> dt.datetime:
    """An entry's recorded-at as naive UTC."""
    return dt.datetime.fromisoformat(entry.recorded_at.replace("Z", "+00:00")).replace(tzinfo=None)


def stamp(moment: dt.datetime) -> str:
    """A UTC moment as recorded in an entry's detail (``2026-12-07T09:30:00Z``)."""
    return moment.isoformat(timespec="seconds") + "Z"


def check_change_reason(reason: str, *, field: str = "reason") -> str:
    """A stated reason, stripped: 10 to 2000 characters (it is recorded and shown)."""
    text = (reason or "").strip()
    if len(text) < MIN_REASON or len(text) > MAX_TEXT:
        raise WorkflowError(
            f"{field}: expected the reason in words, {MIN_REASON} to {MAX_TEXT} characters; "
            f"got {len(text)}."
        )
    return text


def cited_evidence(audit: AuditStore, model_id: str, seq: Any) -> CitedEvidence:
    """An audit entry cited as evidence of an approval, checked: it exists, verifies, is
    about ``model_id`` and is a monitoring view or report of what was shown, or a shadow
    comparison naming the two versions compared. ``EvidenceItem.dated`` is the entry's time.

    Raises
    ------
    WorkflowError
        Naming the entry and what is wrong (``NotRecorded`` when the trail cannot be read).
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise WorkflowError(f"evidence: expected audit entry numbers (1 or more); got {seq!r}.")
    try:
        entry = audit.get(seq)
        problem = audit.entry_problem(seq)
    except AuditError as exc:
        raise WorkflowError(f"evidence: there is no audit entry {seq}.") from exc
    except OSError as exc:
        raise NotRecorded(f"evidence: the audit trail could not be read ({exc}).") from exc
    if problem is not None:
        raise WorkflowError(
            f"evidence: entry {seq} fails verification ({problem}), so it cannot be cited."
        )
    try:
        detail = json.loads(entry.detail_json or "{}")
    except ValueError:
        detail = {}
    monitoring = entry.action in MONITORING_EVIDENCE_ACTIONS and (
        entry.action == "monitoring_viewed" or detail.get("kind") == "monitoring_report"
    )
    if not monitoring and entry.action != SHADOW_COMPARISON_ACTION:
        raise WorkflowError(
            f"evidence: entry {seq} is a '{entry.action}' entry; expected a monitoring "
            "view (monitoring_viewed), a governance report export, or a shadow comparison "
            f"view ({SHADOW_COMPARISON_ACTION})."
        )
    about = detail.get("model_id") or entry.model_id
    if about != model_id:
        raise WorkflowError(
            f"evidence: entry {seq} ({entry.action}) is about {about or 'no model'}, not "
            f"{model_id}."
        )
    dated = _entry_time(entry)
    who = f"{entry.actor_name} ({entry.actor_role})"
    if monitoring:
        return _monitoring_evidence(entry, detail, model_id, who, dated)
    return _shadow_comparison_evidence(entry, detail, model_id, who, dated)


def _monitoring_evidence(
    entry: AuditEntry, detail: dict[str, Any], model_id: str, who: str, dated: dt.datetime
) -> CitedEvidence:
    """A monitoring view or governance report cited as evidence (never a simulated run)."""
    seq = entry.seq
    if detail.get("simulated_run"):
        raise WorkflowError(
            f"evidence: entry {seq} is of the simulated run "
            f"{detail['simulated_run']}; monitoring evidence must be of what was shown "
            "to people."
        )
    if entry.action == "monitoring_viewed":
        summary = f"Monitoring figures viewed by {who}"
    else:
        periods = detail.get("periods") or []
        span = f" for {periods[0]} to {periods[-1]}" if periods else ""
        summary = f"Governance report{span} ({detail.get('alerts', 0)} alerts) exported by {who}"
    item = EvidenceItem("monitoring_report", f"entry {seq}", summary[:MAX_TEXT], dated)
    return CitedEvidence(item, model_id)


def _shadow_comparison_evidence(
    entry: AuditEntry, detail: dict[str, Any], model_id: str, who: str, dated: dt.datetime
) -> CitedEvidence:
    """A shadow comparison view cited as evidence: it must name the two versions compared."""
    seq = entry.seq
    live_sha = detail.get("live_bundle_sha256")
    candidate_sha = detail.get("candidate_bundle_sha256")
    if not live_sha or not candidate_sha:
        raise WorkflowError(
            f"evidence: entry {seq} does not name the two versions it compared "
            "(live_bundle_sha256, candidate_bundle_sha256)."
        )
    # The comparison's entry carries its own one-sentence summary (the figures in words);
    # an entry without one is named by its pair count alone.
    stated = detail.get("summary")
    if isinstance(stated, str) and stated.strip():
        figures = stated.strip()
    else:
        figures = f"pairs {detail['pairs']}" if "pairs" in detail else ""
    summary = (
        f"Shadow comparison of {str(candidate_sha)[:12]} against the live "
        f"{str(live_sha)[:12]} viewed by {who}" + (f": {figures}" if figures else "")
    )
    item = EvidenceItem("shadow_comparison", f"entry {seq}", summary[:MAX_TEXT], dated)
    return CitedEvidence(item, model_id, str(live_sha), str(candidate_sha))


def approval_detail(
    approval: Approval,
    *,
    kind: str,
    card_version: str,
    registered_by: str,
    cited: list[str],
    expires_on: dt.date | None,
    replaces_live: str | None,
) -> dict[str, Any]:
    """The ``model_version_approved`` entry's detail: the approval id, its kind (first,
    promotion, renewal), the scope confirmed, the evidence, the expiry and what it renews or
    replaces."""
    return {
        "model_id": approval.model_id,
        "bundle_sha256": approval.bundle_sha256,
        "card_version": card_version,
        "approval_id": approval.approval_id,
        "kind": kind,
        "registered_by": registered_by,
        "scope": {
            "intended_use": approval.intended_use,
            "population": approval.population,
            "confirmed": True,
        },
        "evidence": [
            {"kind": i.kind, "reference": i.reference, "dated": stamp(i.dated)}
            for i in approval.evidence
        ],
        "evidence_entries": cited,
        "expires_on": f"{expires_on:%Y-%m-%d}",
        "expires_at": stamp(approval.expires_at),
        "renews": approval.renews,
        "replaces_live": replaces_live,
    }
