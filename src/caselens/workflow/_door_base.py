"""The door's shared part: its stores, the policy check and the one recording function."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from caselens.access.accounts import AccountStore
from caselens.access.cds_calls import CdsCallStore
from caselens.access.model_status import ModelStatus, ModelStatusStore
from caselens.access.policy import Viewer, check
from caselens.audit import AuditEntry, AuditError, AuditStore
from caselens.audit.signing_keys import KeyRing, SigningKey
from caselens.errors import CaseLensError
from caselens.explain.report import Audience, CaseExplainer, CaseReport
from caselens.model.bundle import BundleCatalogue, ModelBundle
from caselens.workflow.checks import HYPOTHETICAL_NOT_FOR_PATIENTS
from caselens.workflow.display import NOT_RECORDED_MESSAGE, record_display, record_event
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from caselens.workflow.records import UserSession

#: What a person sees when the trail cannot take the entry.
NOT_RECORDED = NOT_RECORDED_MESSAGE


def estimate_first_for_clinicians(user_id: str, role: str) -> bool:
    """The built-in estimate-first policy: on for every clinician (``Settings`` overrides)."""
    return role == "clinician"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DoorBase:
    """What every part of the door shares: the stores it reads and writes, and the one way
    it checks the policy and records an entry (see :class:`caselens.workflow.Workflow`)."""

    def __init__(
        self,
        *,
        audit: AuditStore,
        accounts: AccountStore,
        statuses: ModelStatusStore,
        catalogue: BundleCatalogue,
        explainer: Callable[[str], CaseExplainer],
        audit_key: bytes,
        clock: Callable[[], dt.datetime] = _utcnow,
        estimate_first: Callable[[str, str], bool] = estimate_first_for_clinicians,
        cds_calls: CdsCallStore | None = None,
        signing_key: Callable[[], SigningKey] | None = None,
        key_ring: Callable[[], KeyRing] | None = None,
    ) -> None:
        self._audit = audit
        self._accounts = accounts
        self._statuses = statuses
        self.catalogue = catalogue
        self._explainer = explainer
        self._audit_key = audit_key
        self._clock = clock
        # One check records alerts at a time in this process (click or schedule).
        self._alert_lock = threading.Lock()
        self._scheduler: Any = None
        self._estimate_first = estimate_first
        # The CDS Hooks service's cards, for feedback (None: no CDS service in this process).
        self._cds_calls = cds_calls
        # The server's Ed25519 key for exported files and the keys a report file may be
        # signed by; asked for when a file is signed or checked, so a server without a key
        # still starts (and says so when a file is exported).
        self._signing_key = signing_key
        self._key_ring = key_ring

    def _server_signing_key(self, what: str) -> SigningKey:
        """The server's Ed25519 key for ``what`` (e.g. 'Report files'); without one nothing
        leaves, and the words say so (never a traceback)."""
        if self._signing_key is None:
            raise WorkflowError(
                f"{what} cannot be signed here: no signing key is set up "
                "(CASELENS_SIGNING_KEY_FILE)."
            )
        try:
            return self._signing_key()
        except (CaseLensError, OSError) as exc:
            raise WorkflowError(
                f"{what} cannot be signed: the signing key could not be read: {exc}"
            ) from exc

    def _server_key_ring(self) -> KeyRing:
        """The server's current and retired public keys (empty without a key set up)."""
        if self._key_ring is None:
            return KeyRing()
        try:
            return self._key_ring()
        except (CaseLensError, OSError) as exc:
            raise WorkflowError(f"The signing keys could not be read: {exc}") from exc

    # -- recording -------------------------------------------------------------------------

    def _record(
        self,
        session: UserSession,
        action: str,
        *,
        audience: str,
        viewer: Viewer | None = None,
        **fields: Any,
    ) -> AuditEntry:
        who = viewer or session.viewer
        if who is None:
            raise WorkflowError("Please sign in again.")
        try:
            return record_event(
                self._audit,
                who,
                action=action,
                audience=audience,
                session_id=session.session_id,
                **fields,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc

    def _record_display(
        self,
        session: UserSession,
        report: CaseReport,
        *,
        audience: Audience,
        action: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        viewer = self._viewer(session)
        if audience == "patient":
            self._refuse_hypothetical_for_patient(session, report, action)
        key = (viewer.user_id, session.session_id, report.report_id, audience, action)
        if key in session.recorded:
            return  # this very display is already in the trail for this viewer and session
        try:
            entry = record_display(
                self._audit,
                report,
                viewer,
                audience=audience,
                action=action,
                session_id=session.session_id,
                detail=detail,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        session.recorded.add(key)
        session.display_entries.setdefault(report.report_id, entry.seq)

    def _refuse_hypothetical_for_patient(
        self, session: UserSession, report: CaseReport, action: str
    ) -> None:
        """The engine's policy: a hypothetical report never reaches a patient's screen (a
        patient's own view or a clinician's preview of it). The refusal is recorded."""
        if report.case.hypothetical is None:
            return
        viewer = self._viewer(session)
        self._record(
            session,
            "access_refused",
            audience=viewer.role if viewer.role in {"clinician", "patient"} else "system",
            detail={
                "action": action,
                "reason": HYPOTHETICAL_NOT_FOR_PATIENTS,
                "report_id": report.report_id,
            },
        )
        raise Refused(f"Not allowed: {HYPOTHETICAL_NOT_FOR_PATIENTS}.")

    def _require(
        self,
        session: UserSession,
        action: str,
        *,
        page: str | None = None,
        patient_ref: str | None = None,
    ) -> Viewer:
        viewer = self._viewer(session)
        decision = check(viewer, action, page=page, patient_ref=patient_ref)
        if not decision.allowed:
            audience = (
                viewer.role
                if viewer.role in {"clinician", "patient", "reviewer", "admin"}
                else "system"
            )
            detail = {"page": page, "action": action, "reason": decision.reason}
            if patient_ref is not None:
                detail["patient_ref"] = patient_ref
            self._record(session, "access_refused", audience=audience, detail=detail)
            raise Refused(f"Not allowed: {decision.reason}")
        return viewer

    def _viewer(self, session: UserSession) -> Viewer:
        if session.viewer is None:
            raise WorkflowError("Please sign in again.")
        return session.viewer

    def bundle(self, model_id: str) -> ModelBundle:
        """A loaded bundle by id (WorkflowError if it is not offered)."""
        bundle = self.catalogue.bundles.get(model_id)
        if bundle is None:
            raise WorkflowError(f"The model '{model_id}' is not available.")
        return bundle

    def model_status(self, model_id: str) -> ModelStatus:
        """Whether the model is active or suspended."""
        return self._statuses.get(model_id)

    def _active_bundle(self, model_id: str) -> ModelBundle:
        bundle = self.bundle(model_id)
        status = self._statuses.get(model_id)
        if status.suspended:
            raise Refused(status.message())
        return bundle
