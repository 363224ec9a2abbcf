"""Registering, approving, shadowing and retiring model versions through the door (issue 27).

Decision rights:

- a **model owner** registers a loaded version of a model id, with the reason for the
  change (``model_version_registered``); starts and stops a candidate's shadow run
  (``model_version_shadow_started`` / ``model_version_shadow_stopped``); retires a version
  (``model_version_retired``; retiring the live one stops the model's predictions);
- a version goes live only through an **approval** (``model_version_approved``) by a model
  owner or an administrator **who did not register it**, with the card's scope confirmed,
  the evidence it rests on and an expiry date (:mod:`caselens.lifecycle.approval_rules`).
  Approving a candidate while another version is live is a **promotion**: the candidate
  becomes live, the previous live version is retired and its approvals end. Approving the
  live version again is a **renewal**.

Evidence is cited by audit entry number and checked here: the entry exists, verifies, is
about this model id and is of the right action. Monitoring evidence is an entry that showed
the live model's figures to a person: ``monitoring_viewed`` (the Monitoring page) or
``exported`` with ``kind: monitoring_report`` (the governance report), never of a simulated
run. A shadow comparison is ``shadow_comparison_viewed`` with ``model_id``,
``live_bundle_sha256`` and ``candidate_bundle_sha256`` in its detail. The version's own
validation figures (measured on its reference data) are always added.

When an approval ends without renewal, the model stops like a suspension; the system
records the expiry once (``model_approval_expired``, by ``LIFECYCLE_SYSTEM``), whichever
server notices first: a refused prediction or the scheduled monitoring check.

Every act: policy check → checks in words → audit entry → store write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError

from caselens.errors import CaseLensError
from caselens.lifecycle.approval_rules import (
    MAX_APPROVAL_DAYS,
    ApprovalCheck,
    ApprovalRefused,
    CitedEvidence,
    check_approval,
)
from caselens.lifecycle.records import (
    MAX_TEXT,
    Approval,
    ModelVersion,
    Standing,
)
from caselens.lifecycle.seed import validation_evidence
from caselens.lifecycle.standing import (
    EXPIRY_WARNING_DAYS,
    expiring_approvals,
    last_approval,
    short_version,
)
from caselens.lifecycle.store import new_approval_id
from caselens.model.bundle import ModelBundle
from caselens.workflow._door_base import DoorBase
from caselens.workflow.approval_records import (
    MONITORING_EVIDENCE_ACTIONS,
    SHADOW_COMPARISON_ACTION,
    ApprovalExpiries,
    LifecycleView,
    LoadedVersion,
    approval_detail,
    check_change_reason,
    cited_evidence,
)
from caselens.workflow.approval_records import stamp as _stamp
from caselens.workflow.errors import WorkflowError
from caselens.workflow.model_versions import LIFECYCLE_SYSTEM
from caselens.workflow.records import UserSession

_log = logging.getLogger("caselens.workflow.model_approvals")

#: Shortest unique start of a bundle SHA-256 accepted in place of the whole (the CLI).
MIN_SHA_PREFIX = 12


class ModelApprovalsMixin(DoorBase):
    """The door's acts on model versions: register, approve, shadow, retire; expiries."""

    # -- reading ----------------------------------------------------------------------------

    def model_lifecycle(self, session: UserSession, model_id: str) -> LifecycleView:
        """One model id's standing, registered versions, approvals and loaded versions (for
        Model status). Reading it records nothing, like the model statuses beside it."""
        self._require(session, "view_model_status")
        first = self.bundle(model_id)
        registered = {v.bundle_sha256: v for v in self._lifecycle.versions(model_id)}
        loaded = tuple(
            LoadedVersion(
                bundle_sha256=b.bundle_sha256,
                card_version=b.version,
                folder=b.path.name,
                intended_use=b.card.intended_use,
                population=b.card.validation.dataset,
                registered=registered.get(b.bundle_sha256),
            )
            for b in self._all_versions.all_versions(model_id)
        )
        return LifecycleView(
            model_id=model_id,
            model_name=first.card.name,
            standing=self.model_standing(model_id),
            versions=tuple(registered.values()),
            approvals=tuple(self._lifecycle.approvals(model_id)),
            loaded=loaded,
        )

    def approvals_expiring(
        self, session: UserSession, days: int = EXPIRY_WARNING_DAYS
    ) -> list[Approval]:
        """The approvals in force that end within ``days`` (reviewers, administrators and
        model owners see them on Model status), soonest first."""
        self._require(session, "view_model_status")
        return expiring_approvals(self._standings(), self._clock(), days=days)

    def approval_expiry_check(self, session: UserSession) -> ApprovalExpiries:
        """:meth:`record_approval_expiries` for a person or an operator who may see model
        status (``caselens monitor check`` prints what it finds)."""
        self._require(session, "view_model_status")
        return self.record_approval_expiries()

    def _standings(self) -> list[Standing]:
        """Every registered model id's standing (the models folder may offer fewer)."""
        ids = {v.model_id for v in self._lifecycle.all_versions()}
        return [self.model_standing(m) for m in sorted(ids)]

    # -- acts ---------------------------------------------------------------------------------

    def register_version(
        self, session: UserSession, model_id: str, bundle_sha256: str, reason: str
    ) -> ModelVersion:
        """Register a loaded, unregistered version of ``model_id`` as a candidate, with the
        reason for the change (the change log's text). Recorded as
        ``model_version_registered``; the registrant may never approve it."""
        viewer = self._require(session, "register_model_version")
        bundle = self._loaded(model_id, bundle_sha256)
        existing = self._lifecycle.version(model_id, bundle.bundle_sha256)
        if existing is not None:
            raise WorkflowError(
                f"bundle_sha256: {short_version(existing)} of {model_id} is already "
                f"registered (state: {existing.state}, by {existing.registered_by})."
            )
        text = check_change_reason(reason)
        self._record(
            session,
            "model_version_registered",
            audience="model_owner",
            detail={
                "model_id": model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "card_version": bundle.version,
                "folder": bundle.path.name,
                "reason": text,
            },
        )
        return self._lifecycle.register(
            model_id=model_id,
            bundle_sha256=bundle.bundle_sha256,
            card_version=bundle.version,
            registered_by=viewer.user_id,
            change_reason=text,
            folder=bundle.path.name,
            at=self._clock(),
        )

    def approve_version(
        self,
        session: UserSession,
        model_id: str,
        bundle_sha256: str,
        *,
        expires_on: dt.date | None,
        evidence_entries: list[int],
        scope_confirmed: bool,
    ) -> Approval:
        """Approve a registered version for live use until the end of ``expires_on`` (UTC).

        The approver (a model owner or an administrator) may not be the person who
        registered it; the scope is the card's intended use and population, which the
        approver confirms; the evidence is the version's validation figures and the audit
        entries cited (a promotion needs a shadow comparison of this version against the
        live one, a renewal monitoring evidence newer than the last approval). Recorded as
        ``model_version_approved`` (approval id, kind, scope, evidence, expiry), then
        written: the version becomes live; a promotion retires the previous live version
        and ends its approvals. A refusal by a rule is recorded as ``access_refused``.
        """
        viewer = self._require(session, "approve_model_version")
        bundle = self._loaded(model_id, bundle_sha256)
        version = self._lifecycle.version(model_id, bundle.bundle_sha256)
        if version is None:
            raise WorkflowError(
                f"bundle_sha256: version {bundle.version} ({bundle.bundle_sha256[:12]}) of "
                f"{model_id} is not registered; a model owner registers it first, with the "
                "reason for the change."
            )
        now = self._clock()
        live = next((v for v in self._lifecycle.versions(model_id) if v.state == "live"), None)
        checked, evidence, cited = self._checked_approval(
            session, version, bundle, live, now, expires_on, evidence_entries, scope_confirmed
        )
        approval = Approval(
            approval_id=new_approval_id(),
            model_id=model_id,
            bundle_sha256=bundle.bundle_sha256,
            approved_by=viewer.user_id,
            approver_role=viewer.role,
            approved_at=now,
            expires_at=checked.expires_at,
            intended_use=bundle.card.intended_use[:MAX_TEXT],
            population=bundle.card.validation.dataset[:MAX_TEXT],
            evidence=tuple(c.item for c in evidence),
            renews=checked.renews,
        )
        replaces = live.bundle_sha256 if live is not None and checked.kind == "promotion" else None
        detail = approval_detail(
            approval,
            kind=checked.kind,
            card_version=bundle.version,
            registered_by=version.registered_by,
            cited=[c.item.reference for c in cited],
            expires_on=expires_on,
            replaces_live=replaces,
        )
        entry = self._record(
            session, "model_version_approved", audience="model_owner", detail=detail
        )
        stored = self._lifecycle.add_approval(dataclasses.replace(approval, audit_seq=entry.seq))
        if version.state != "live":
            # Making it live retires the previous live version (the store's invariant); a
            # shadow candidate promoted stops being shadow.
            self._lifecycle.set_state(
                model_id, bundle.bundle_sha256, "live", by=viewer.user_id, at=now
            )
        if checked.kind == "promotion" and live is not None:
            # After the switch, so no moment passes with the old version live and unapproved.
            self._lifecycle.revoke_approvals(model_id, live.bundle_sha256, at=now)
        self._live_view = None  # this server serves the new live version at once
        return stored

    def _checked_approval(
        self,
        session: UserSession,
        version: ModelVersion,
        bundle: ModelBundle,
        live: ModelVersion | None,
        now: dt.datetime,
        expires_on: dt.date | None,
        evidence_entries: list[int],
        scope_confirmed: bool,
    ) -> tuple[ApprovalCheck, list[CitedEvidence], list[CitedEvidence]]:
        """The approval checked against every rule, with its evidence (the version's
        validation figures first, then the entries cited); a refusal is recorded as
        ``access_refused`` (a refused governance act, like a policy refusal), then raised."""
        viewer = self._viewer(session)
        model_id = version.model_id
        try:
            numbers = dict.fromkeys(evidence_entries)  # each entry once, in the order given
            cited = [cited_evidence(self._audit, model_id, seq) for seq in numbers]
            evidence = [CitedEvidence(validation_evidence(bundle, now), model_id), *cited]
            checked = check_approval(
                version,
                approver=viewer.user_id,
                approver_role=viewer.role,
                expires_on=expires_on,
                evidence=evidence,
                scope_confirmed=scope_confirmed,
                live=live,
                approvals=self._lifecycle.approvals(model_id),
                now=now,
            )
        except (ApprovalRefused, WorkflowError) as exc:
            self._record(
                session,
                "access_refused",
                audience=_audience(viewer.role),
                detail={
                    "action": "approve_model_version",
                    "model_id": model_id,
                    "bundle_sha256": bundle.bundle_sha256,
                    "reason": str(exc)[:MAX_TEXT],
                },
            )
            raise WorkflowError(str(exc)) from exc
        return checked, evidence, cited

    def set_shadow(
        self, session: UserSession, model_id: str, bundle_sha256: str, on: bool
    ) -> ModelVersion:
        """Start (``on``) or stop a registered candidate's shadow run: scored beside the
        live version on every case, logged as never shown. At most one shadow per model
        id. Recorded as ``model_version_shadow_started`` / ``model_version_shadow_stopped``."""
        viewer = self._require(session, "set_model_shadow")
        bundle = self._loaded(model_id, bundle_sha256)
        version = self._registered(model_id, bundle)
        if on:
            if version.state != "candidate":
                raise WorkflowError(
                    f"bundle_sha256: only a registered candidate can run in shadow; "
                    f"{short_version(version)} is {version.state}."
                )
            other = next(
                (v for v in self._lifecycle.versions(model_id) if v.state == "shadow"), None
            )
            if other is not None:
                raise WorkflowError(
                    f"bundle_sha256: {short_version(other)} of {model_id} already runs in "
                    "shadow, and a model has at most one shadow candidate. Stop it first."
                )
        elif version.state != "shadow":
            raise WorkflowError(
                f"bundle_sha256: {short_version(version)} is not running in shadow "
                f"(it is {version.state})."
            )
        action = "model_version_shadow_started" if on else "model_version_shadow_stopped"
        self._record(
            session,
            action,
            audience="model_owner",
            detail={
                "model_id": model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "card_version": bundle.version,
            },
        )
        return self._lifecycle.set_state(
            model_id,
            bundle.bundle_sha256,
            "shadow" if on else "candidate",
            by=viewer.user_id,
            at=self._clock(),
        )

    def retirement_consequence(self, model_id: str, bundle_sha256: str) -> str:
        """What retiring this version does, in words, for the page to show before the
        person confirms (empty when it stops nothing that is shown)."""
        bundle = self._loaded(model_id, bundle_sha256)
        version = self._lifecycle.version(model_id, bundle.bundle_sha256)
        if version is None or version.state != "live":
            return ""
        return (
            f"{short_version(version)} is the live version of {bundle.card.name}: retiring "
            "it stops every prediction of this model, for every user, until another version "
            "is approved."
        )

    def retire_version(
        self,
        session: UserSession,
        model_id: str,
        bundle_sha256: str,
        reason: str,
        *,
        stop_confirmed: bool = False,
    ) -> ModelVersion:
        """Retire a registered version, with the reason: it is no longer used (its past
        reports still replay and re-run) and its approvals end. Retiring the live version
        stops the model's predictions, so it needs ``stop_confirmed``. Recorded as
        ``model_version_retired``."""
        viewer = self._require(session, "retire_model_version")
        bundle = self._loaded(model_id, bundle_sha256)
        version = self._registered(model_id, bundle)
        if version.state == "retired":
            raise WorkflowError(f"bundle_sha256: {short_version(version)} is already retired.")
        text = check_change_reason(reason)
        was_live = version.state == "live"
        if was_live and not stop_confirmed:
            raise WorkflowError(
                self.retirement_consequence(model_id, bundle.bundle_sha256)
                + " Confirm that predictions stop to go ahead."
            )
        now = self._clock()
        self._record(
            session,
            "model_version_retired",
            audience="model_owner",
            detail={
                "model_id": model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "card_version": bundle.version,
                "previous_state": version.state,
                "stops_predictions": was_live,
                "reason": text,
            },
        )
        self._lifecycle.revoke_approvals(model_id, bundle.bundle_sha256, at=now)
        retired = self._lifecycle.set_state(
            model_id, bundle.bundle_sha256, "retired", by=viewer.user_id, at=now
        )
        self._live_view = None
        return retired

    # -- expiry ---------------------------------------------------------------------------

    def _on_refused_standing(self, standing: Standing) -> None:
        """A prediction was refused for want of an approval: if the live version's last
        approval has just run out, record its expiry once (for every server)."""
        if standing.live is None:
            return
        try:
            self._record_expiry(standing.model_id, standing.live)
        except (CaseLensError, SQLAlchemyError, OSError):
            # The refusal stands whatever happens here; the next check records the expiry.
            _log.warning("The expiry of %s could not be recorded now", standing.model_id)

    def record_approval_expiries(self) -> ApprovalExpiries:
        """Record, as the system, every live version's approval that has ended without
        renewal and is not yet recorded (``model_approval_expired``, once across servers);
        return those expiring within :data:`EXPIRY_WARNING_DAYS` days and those expired.
        Called by the scheduled monitoring check and ``caselens monitor check``."""
        now = self._clock()
        expiring: list[Approval] = []
        expired: list[Approval] = []
        recorded: list[Approval] = []
        for model_id in sorted({v.model_id for v in self._lifecycle.all_versions()}):
            standing = self.model_standing(model_id)
            if standing.approval is not None:
                expiring += expiring_approvals([standing], now)
                continue
            if standing.live is None:
                continue
            last = last_approval(
                self._lifecycle.approvals(model_id, standing.live.bundle_sha256),
                standing.live.bundle_sha256,
            )
            if last is None or last.revoked_at is not None or last.expires_at > now:
                continue
            expired.append(last)
            written = self._record_expiry(model_id, standing.live)
            if written is not None:
                recorded.append(written)
        return ApprovalExpiries(
            expiring=tuple(sorted(expiring, key=lambda a: a.expires_at)),
            expired=tuple(expired),
            newly_recorded=tuple(recorded),
        )

    def scheduled_expiry_check(self) -> ApprovalExpiries | None:
        """:meth:`record_approval_expiries` for the scheduled monitoring check: a failure is
        logged and left for the next round (the predictions are refused regardless)."""
        try:
            return self.record_approval_expiries()
        except (CaseLensError, SQLAlchemyError, OSError) as exc:
            _log.warning("Scheduled approval expiry check skipped: %s", exc)
            return None

    def _record_expiry(self, model_id: str, live: ModelVersion) -> Approval | None:
        """Record the live version's ended approval once; None when nothing was due or
        another server recorded it first. NotRecorded when the trail refused (released, so
        the next check records it)."""
        now = self._clock()
        approvals = self._lifecycle.approvals(model_id, live.bundle_sha256)
        if any(a.valid_at(now) for a in approvals):
            return None
        last = last_approval(approvals, live.bundle_sha256)
        if last is None or last.revoked_at is not None or last.expires_at > now:
            return None
        if last.expiry_recorded or not self._lifecycle.claim_expiry_record(last.approval_id):
            return None
        try:
            self._record(
                UserSession(viewer=LIFECYCLE_SYSTEM),
                "model_approval_expired",
                audience="system",
                detail={
                    "model_id": model_id,
                    "bundle_sha256": live.bundle_sha256,
                    "card_version": live.card_version,
                    "approval_id": last.approval_id,
                    "approved_by": last.approved_by,
                    "expired_at": _stamp(last.expires_at),
                    "stops_predictions": True,
                },
            )
        except BaseException:
            # Whatever stopped the entry, the claim is given back so a later check records it.
            self._lifecycle.release_expiry_record(last.approval_id)
            raise
        return last

    # -- helpers --------------------------------------------------------------------------

    def _loaded(self, model_id: str, bundle_sha256: str) -> ModelBundle:
        """The loaded version of ``model_id`` by its SHA-256 (or a unique start of at least
        :data:`MIN_SHA_PREFIX` characters)."""
        self.bundle(model_id)
        wanted = (bundle_sha256 or "").strip().lower()
        versions = self._all_versions.all_versions(model_id)
        found = [
            b
            for b in versions
            if b.bundle_sha256 == wanted
            or (len(wanted) >= MIN_SHA_PREFIX and b.bundle_sha256.startswith(wanted))
        ]
        if len(found) == 1:
            return found[0]
        loaded = ", ".join(f"{b.version} ({b.bundle_sha256[:12]})" for b in versions)
        raise WorkflowError(
            f"bundle_sha256: no loaded version of {model_id} has the SHA-256 "
            f"'{wanted[:64]}'; expected the full SHA-256 (or its first {MIN_SHA_PREFIX} or "
            f"more characters) of one of: {loaded}."
        )

    def _registered(self, model_id: str, bundle: ModelBundle) -> ModelVersion:
        version = self._lifecycle.version(model_id, bundle.bundle_sha256)
        if version is None:
            raise WorkflowError(
                f"bundle_sha256: version {bundle.version} ({bundle.bundle_sha256[:12]}) of "
                f"{model_id} is not registered; a model owner registers it first."
            )
        return version


def _audience(role: str) -> str:
    return role if role in {"reviewer", "admin", "model_owner"} else "system"


__all__ = [
    "MAX_APPROVAL_DAYS",
    "MONITORING_EVIDENCE_ACTIONS",
    "SHADOW_COMPARISON_ACTION",
    "ApprovalExpiries",
    "LifecycleView",
    "LoadedVersion",
    "ModelApprovalsMixin",
    "check_change_reason",
]
