"""Reading and writing versions and approvals in the app database.

Every app server sharing the database sees the same live version and the same approvals,
so an expiry or a promotion takes effect on all of them at their next prediction. The
store checks nothing about people or evidence (that is :mod:`.approval_rules` and the
workflow's door); it keeps the two invariants of the data itself: at most one live and at
most one shadow version per model id.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from caselens.access.app_tables import APP_METADATA
from caselens.errors import CaseLensError
from caselens.lifecycle.records import (
    VERSION_STATES,
    Approval,
    EvidenceItem,
    ModelVersion,
    VersionState,
)
from caselens.lifecycle.tables import model_approvals, model_versions


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_approval_id() -> str:
    """A fresh approval id: ``A-`` and 12 hex characters."""
    return f"A-{secrets.token_hex(6)}"


def evidence_to_json(evidence: Sequence[EvidenceItem]) -> str:
    """Evidence items as the JSON the table keeps."""
    return json.dumps(
        [
            {
                "kind": item.kind,
                "reference": item.reference,
                "summary": item.summary,
                "dated": item.dated.isoformat(),
            }
            for item in evidence
        ],
        sort_keys=True,
    )


def evidence_from_json(text: str) -> tuple[EvidenceItem, ...]:
    """The evidence items of a stored approval."""
    return tuple(
        EvidenceItem(
            kind=item["kind"],
            reference=item["reference"],
            summary=item["summary"],
            dated=dt.datetime.fromisoformat(item["dated"]),
        )
        for item in json.loads(text)
    )


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        model_id=row.model_id,
        bundle_sha256=row.bundle_sha256,
        card_version=row.card_version,
        state=row.state,
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        change_reason=row.change_reason,
        folder=row.folder,
        state_changed_by=row.state_changed_by,
        state_changed_at=row.state_changed_at,
    )


def _approval(row: Any) -> Approval:
    return Approval(
        approval_id=row.approval_id,
        model_id=row.model_id,
        bundle_sha256=row.bundle_sha256,
        approved_by=row.approved_by,
        approver_role=row.approver_role,
        approved_at=row.approved_at,
        expires_at=row.expires_at,
        intended_use=row.intended_use,
        population=row.population,
        evidence=evidence_from_json(row.evidence_json),
        renews=row.renews,
        audit_seq=row.audit_seq,
        revoked_at=row.revoked_at,
        expiry_recorded=bool(row.expiry_recorded),
    )


class LifecycleStore:
    """Versions and approvals of every model id, in the app database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        APP_METADATA.create_all(engine, tables=[model_versions, model_approvals])

    @property
    def engine(self) -> Engine:
        """The app database engine."""
        return self._engine

    # -- versions ------------------------------------------------------------------------

    def versions(self, model_id: str) -> list[ModelVersion]:
        """Every registered version of ``model_id``, oldest registration first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.model_id == model_id)
                .order_by(model_versions.c.registered_at, model_versions.c.bundle_sha256)
            ).all()
        return [_version(r) for r in rows]

    def all_versions(self) -> list[ModelVersion]:
        """Every registered version of every model id."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(model_versions).order_by(
                    model_versions.c.model_id, model_versions.c.registered_at
                )
            ).all()
        return [_version(r) for r in rows]

    def version(self, model_id: str, bundle_sha256: str) -> ModelVersion | None:
        """One registered version, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(model_versions).where(
                    and_(
                        model_versions.c.model_id == model_id,
                        model_versions.c.bundle_sha256 == bundle_sha256,
                    )
                )
            ).first()
        return None if row is None else _version(row)

    def live_versions(self) -> dict[str, str]:
        """``model_id -> bundle_sha256`` of every live version (one query, for the door)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(model_versions.c.model_id, model_versions.c.bundle_sha256).where(
                    model_versions.c.state == "live"
                )
            ).all()
        return {r.model_id: r.bundle_sha256 for r in rows}

    def register(
        self,
        *,
        model_id: str,
        bundle_sha256: str,
        card_version: str,
        registered_by: str,
        change_reason: str,
        folder: str,
        state: VersionState = "candidate",
        at: dt.datetime | None = None,
    ) -> ModelVersion:
        """Register a version (``candidate`` unless told); refuses one already registered."""
        if self.version(model_id, bundle_sha256) is not None:
            raise CaseLensError(
                f"Version {bundle_sha256[:16]}… of {model_id} is already registered."
            )
        when = at or _utcnow()
        values = dict(
            model_id=model_id,
            bundle_sha256=bundle_sha256,
            card_version=card_version,
            state=state,
            registered_by=registered_by,
            registered_at=when,
            change_reason=change_reason,
            folder=folder,
            state_changed_by=registered_by,
            state_changed_at=when,
        )
        with self._engine.begin() as conn:
            if state in {"live", "shadow"}:
                self._demote(conn, model_id, state, registered_by, when)
            conn.execute(insert(model_versions).values(**values))
        return self.version(model_id, bundle_sha256)  # type: ignore[return-value]

    def set_state(
        self,
        model_id: str,
        bundle_sha256: str,
        state: VersionState,
        *,
        by: str,
        at: dt.datetime | None = None,
    ) -> ModelVersion:
        """Change a version's state. Making one live retires the version live before it;
        making one shadow returns the previous shadow to candidate."""
        if state not in VERSION_STATES:
            raise CaseLensError(f"state: expected one of {', '.join(VERSION_STATES)}.")
        if self.version(model_id, bundle_sha256) is None:
            raise CaseLensError(f"Version {bundle_sha256[:16]}… of {model_id} is not registered.")
        when = at or _utcnow()
        with self._engine.begin() as conn:
            if state in {"live", "shadow"}:
                self._demote(conn, model_id, state, by, when, keep=bundle_sha256)
            conn.execute(
                update(model_versions)
                .where(
                    and_(
                        model_versions.c.model_id == model_id,
                        model_versions.c.bundle_sha256 == bundle_sha256,
                    )
                )
                .values(state=state, state_changed_by=by, state_changed_at=when)
            )
        return self.version(model_id, bundle_sha256)  # type: ignore[return-value]

    @staticmethod
    def _demote(
        conn: Any,
        model_id: str,
        state: str,
        by: str,
        when: dt.datetime,
        keep: str | None = None,
    ) -> None:
        demoted = "retired" if state == "live" else "candidate"
        condition = and_(model_versions.c.model_id == model_id, model_versions.c.state == state)
        if keep is not None:
            condition = and_(condition, model_versions.c.bundle_sha256 != keep)
        conn.execute(
            update(model_versions)
            .where(condition)
            .values(state=demoted, state_changed_by=by, state_changed_at=when)
        )

    # -- approvals -----------------------------------------------------------------------

    def add_approval(self, approval: Approval) -> Approval:
        """Store an approval as given (the door has checked it and recorded it)."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(model_approvals).values(
                    approval_id=approval.approval_id,
                    model_id=approval.model_id,
                    bundle_sha256=approval.bundle_sha256,
                    approved_by=approval.approved_by,
                    approver_role=approval.approver_role,
                    approved_at=approval.approved_at,
                    expires_at=approval.expires_at,
                    intended_use=approval.intended_use,
                    population=approval.population,
                    evidence_json=evidence_to_json(approval.evidence),
                    renews=approval.renews,
                    audit_seq=approval.audit_seq,
                    revoked_at=approval.revoked_at,
                    expiry_recorded=approval.expiry_recorded,
                )
            )
        return approval

    def approvals(self, model_id: str, bundle_sha256: str | None = None) -> list[Approval]:
        """Approvals of a model id (of one version when given), oldest first."""
        condition = model_approvals.c.model_id == model_id
        if bundle_sha256 is not None:
            condition = and_(condition, model_approvals.c.bundle_sha256 == bundle_sha256)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(model_approvals)
                .where(condition)
                .order_by(model_approvals.c.approved_at, model_approvals.c.approval_id)
            ).all()
        return [_approval(r) for r in rows]

    def all_approvals(self) -> list[Approval]:
        """Every approval of every model id, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(model_approvals).order_by(model_approvals.c.approved_at)
            ).all()
        return [_approval(r) for r in rows]

    def revoke_approvals(
        self, model_id: str, bundle_sha256: str, *, at: dt.datetime | None = None
    ) -> int:
        """End every approval of a version still in force (a retirement); returns how many."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(model_approvals)
                .where(
                    and_(
                        model_approvals.c.model_id == model_id,
                        model_approvals.c.bundle_sha256 == bundle_sha256,
                        model_approvals.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=at or _utcnow())
            )
        return int(result.rowcount or 0)

    def claim_expiry_record(self, approval_id: str) -> bool:
        """Mark an approval's expiry as recorded; True only for the one caller (of every
        server) that changed it, so the expiry is recorded once."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(model_approvals)
                .where(
                    and_(
                        model_approvals.c.approval_id == approval_id,
                        model_approvals.c.expiry_recorded.is_(False),
                    )
                )
                .values(expiry_recorded=True)
            )
        return int(result.rowcount or 0) == 1

    def release_expiry_record(self, approval_id: str) -> None:
        """Undo :meth:`claim_expiry_record` when the expiry's audit entry could not be
        written (so the next check records it)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(model_approvals)
                .where(model_approvals.c.approval_id == approval_id)
                .values(expiry_recorded=False)
            )
