"""The door's shared part: its stores, the policy check and the one recording function."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from caselens.access.accounts import AccountStore
from caselens.access.cds_calls import CdsCallStore
from caselens.access.model_status import ModelStatus, ModelStatusStore
from caselens.access.policy import Viewer, check
from caselens.audit import AuditEntry, AuditError, AuditStore
from caselens.audit.signing_keys import KeyRing, SigningKey
from caselens.errors import CaseLensError
from caselens.explain.report import Audience, CaseExplainer, CaseReport, explainer_for
from caselens.lifecycle.records import Standing
from caselens.lifecycle.standing import model_standing
from caselens.lifecycle.store import LifecycleStore
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
        lifecycle: LifecycleStore | None = None,
    ) -> None:
        self._audit = audit
        self._accounts = accounts
        self._statuses = statuses
        # Every loaded version; ``catalogue`` shows the live one of each model id.
        self._all_versions = catalogue
        self._live_view: tuple[float, dict[str, str], BundleCatalogue] | None = None
        self._explainer = explainer
        # Versions and approvals live beside the model status, in the app database.
        self._lifecycle = lifecycle or LifecycleStore(statuses.engine)
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
        self._after_display(report, entry)

    def _after_display(self, report: CaseReport, entry: AuditEntry) -> None:
        """Hook run once a display's entry is written (the shadow scoring part of the door
        queues the case there); must not raise and must not compute on the click path."""

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
                if viewer.role in {"clinician", "patient", "reviewer", "admin", "model_owner"}
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

    # -- the models offered, and which version of each is live --------------------------

    @property
    def lifecycle(self) -> LifecycleStore:
        """The versions and approvals of every model id (app database)."""
        return self._lifecycle

    #: Hooks this base defines as no-ops for one part of the door to override on purpose
    #: (every other private name is defined once: tests/workflow/test_door_parts.py).
    HOOKS: tuple[str, ...] = ("_after_display", "_on_refused_standing")

    #: How long the live versions read from the database are reused for the catalogue view
    #: (predictions check the standing afresh every time; see :meth:`_active_bundle`).
    LIVE_VIEW_SECONDS = 1.0

    @property
    def catalogue(self) -> BundleCatalogue:
        """The offered models with each model id's **live** version in ``bundles`` (the
        first loaded version when none is live yet), every loaded version in ``versions``."""
        now = time.monotonic()
        cached = self._live_view
        if cached is not None and now - cached[0] < self.LIVE_VIEW_SECONDS:
            return cached[2]
        live = self._lifecycle.live_versions()
        if cached is not None and cached[1] == live:
            view = cached[2]
        else:
            bundles = dict(self._all_versions.bundles)
            for model_id, sha in live.items():
                found = self._all_versions.version(model_id, sha)
                if found is not None:
                    bundles[model_id] = found
            view = dataclasses.replace(self._all_versions, bundles=bundles)
        self._live_view = (now, live, view)
        return view

    def bundle(self, model_id: str) -> ModelBundle:
        """A model's live version (its first loaded version when none is live yet);
        WorkflowError if the model is not offered."""
        bundle = self.catalogue.bundles.get(model_id)
        if bundle is None:
            raise WorkflowError(f"The model '{model_id}' is not available.")
        return bundle

    def _version_explainer(self, bundle: ModelBundle) -> CaseExplainer:
        """The explainer of any loaded version: the workflow's own (warmed) for the version
        it was given, the process cache's for another."""
        first = self._all_versions.bundles.get(bundle.model_id)
        if first is bundle:
            return self._explainer(bundle.model_id)
        return explainer_for(bundle)

    def _live_explainer(self, model_id: str) -> CaseExplainer:
        """The explainer of the model's live version."""
        return self._version_explainer(self.bundle(model_id))

    def model_status(self, model_id: str) -> ModelStatus:
        """Whether the model is active or suspended."""
        return self._statuses.get(model_id)

    def model_standing(self, model_id: str) -> Standing:
        """Whether the model id has a live version with an approval in force now."""
        bundle = self._all_versions.bundles.get(model_id)
        name = bundle.card.name if bundle is not None else model_id
        return model_standing(
            model_id,
            self._lifecycle.versions(model_id),
            self._lifecycle.approvals(model_id),
            self._clock(),
            model_name=name,
        )

    def _stopped_words(self, model_id: str) -> str | None:
        """Why ``model_id`` shows no prediction now (suspended, or no approval of its live
        version in force), or None when it may. For acts on results already shown — writing
        one to the record, exporting it — which stop exactly as predictions do."""
        status = self._statuses.get(model_id)
        if status.suspended:
            return status.message()
        standing = self.model_standing(model_id)
        return None if standing.may_predict else standing.message

    def _active_bundle(self, model_id: str) -> ModelBundle:
        """The live version, when it may show a prediction now: not suspended, and approved
        until a moment still ahead (checked afresh on every call, so an expiry or another
        server's act counts at once). Refused with the words to show otherwise."""
        self.bundle(model_id)
        status = self._statuses.get(model_id)
        if status.suspended:
            raise Refused(status.message())
        standing = self.model_standing(model_id)
        if not standing.may_predict:
            self._on_refused_standing(standing)
            raise Refused(standing.message)
        assert standing.live is not None
        live = self._all_versions.version(model_id, standing.live.bundle_sha256)
        if live is None:
            raise Refused(
                f"The approved version of {model_id} ({standing.live.bundle_sha256[:12]}) is "
                "not in this server's models folder, so it shows no prediction here. The "
                "operator must deploy that bundle folder."
            )
        return live

    def _on_refused_standing(self, standing: Standing) -> None:
        """Hook for the lifecycle part of the door: record an approval's expiry once."""
