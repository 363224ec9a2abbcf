"""A model id's first version, registered live and approved, when nothing is on record.

Two uses: demo mode (the workflow's door records the registration and the approval by the
demo model owner and administrator first, then writes them here), and a deployment or test
that starts from a models folder already in use. Writes only for model ids with no
registered version, so it is safe to call at every start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from caselens.lifecycle.records import Approval, EvidenceItem, ModelVersion
from caselens.lifecycle.store import LifecycleStore, new_approval_id
from caselens.model.bundle import ModelBundle


@dataclass(frozen=True)
class FirstVersion:
    """What :func:`first_version` would write for one model id."""

    version: ModelVersion
    approval: Approval


def validation_evidence(bundle: ModelBundle, now: dt.datetime) -> EvidenceItem:
    """The version's validation figures as evidence: measured on its reference data when
    loaded (the card's figures when they could not be measured)."""
    validation = bundle.measured_validation or bundle.card.validation
    overall = validation.overall
    parts = [f"n={overall.n}", f"events={overall.events}"]
    if overall.auroc is not None:
        interval = (
            f" ({overall.auroc_ci95[0]:.2f}–{overall.auroc_ci95[1]:.2f})"
            if overall.auroc_ci95
            else ""
        )
        parts.insert(0, f"AUROC {overall.auroc:.2f}{interval}")
    if overall.ece is not None:
        parts.append(f"ECE {overall.ece:.3f}")
    return EvidenceItem(
        kind="validation",
        reference=f"bundle {bundle.bundle_sha256[:16]} on {validation.dataset}"[:200],
        summary=", ".join(parts),
        dated=now,
    )


def first_version(
    bundle: ModelBundle,
    *,
    registered_by: str,
    approved_by: str,
    approver_role: str,
    now: dt.datetime,
    days: int,
    reason: str,
) -> FirstVersion:
    """The live version and its approval for a model id's first bundle (nothing written)."""
    version = ModelVersion(
        model_id=bundle.model_id,
        bundle_sha256=bundle.bundle_sha256,
        card_version=bundle.version,
        state="live",
        registered_by=registered_by,
        registered_at=now,
        change_reason=reason,
        folder=bundle.path.name,
        state_changed_by=approved_by,
        state_changed_at=now,
    )
    approval = Approval(
        approval_id=new_approval_id(),
        model_id=bundle.model_id,
        bundle_sha256=bundle.bundle_sha256,
        approved_by=approved_by,
        approver_role=approver_role,
        approved_at=now,
        expires_at=now + dt.timedelta(days=days),
        intended_use=bundle.card.intended_use,
        population=bundle.card.validation.dataset,
        evidence=(validation_evidence(bundle, now),),
    )
    return FirstVersion(version, approval)


def write_first_version(store: LifecycleStore, first: FirstVersion) -> None:
    """Write a first version and its approval (the caller has recorded them)."""
    v = first.version
    store.register(
        model_id=v.model_id,
        bundle_sha256=v.bundle_sha256,
        card_version=v.card_version,
        registered_by=v.registered_by,
        change_reason=v.change_reason,
        folder=v.folder,
        state="live",
        at=v.registered_at,
    )
    store.add_approval(first.approval)


def unregistered(store: LifecycleStore, bundles: Iterable[ModelBundle]) -> list[ModelBundle]:
    """The bundles whose model id has no registered version at all (the first given of
    each model id)."""
    known = {v.model_id for v in store.all_versions()}
    found: dict[str, ModelBundle] = {}
    for bundle in bundles:
        if bundle.model_id not in known:
            found.setdefault(bundle.model_id, bundle)
    return list(found.values())


def seed_first_versions(
    store: LifecycleStore,
    bundles: Iterable[ModelBundle],
    *,
    registered_by: str,
    approved_by: str,
    approver_role: str = "admin",
    now: dt.datetime | None = None,
    days: int = 365,
    reason: str = "First version in use.",
) -> list[FirstVersion]:
    """Register and approve the first version of every model id with none on record,
    without an audit entry (the door's demo seeding records first; tests call this)."""
    when = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    written = []
    for bundle in unregistered(store, bundles):
        first = first_version(
            bundle,
            registered_by=registered_by,
            approved_by=approved_by,
            approver_role=approver_role,
            now=when,
            days=days,
            reason=reason,
        )
        write_first_version(store, first)
        written.append(first)
    return written
