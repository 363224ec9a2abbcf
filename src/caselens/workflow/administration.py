"""Model facts, model status and users: reading a model's card, suspending or reinstating
it, managing accounts."""

from __future__ import annotations

from caselens.access.accounts import Account
from caselens.access.model_status import ModelStatus, check_reason
from caselens.errors import CaseLensError
from caselens.explain.patient_language import DEFAULT_LANGUAGE
from caselens.model.leakage import auroc_flags
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import ModelFacts, UserSession


class AdministrationMixin(DoorBase):
    """The door's methods for model facts, model status (the kill switch) and accounts."""

    def model_facts(self, session: UserSession, model_id: str) -> ModelFacts:
        """A model's card and measured figures, for those who may read model facts."""
        self._require(session, "view_model_facts")
        bundle = self.bundle(model_id)
        explainer = self._live_explainer(model_id)
        return ModelFacts(
            bundle=bundle,
            reliability_curve=explainer.confidence_model.reliability_curve,
            validation=bundle.measured_validation or bundle.card.validation,
            warnings=bundle.warnings,
            standing_limitations=tuple(explainer.limitation_rules.standing),
            leakage_flags=auroc_flags(bundle.measured_validation),
            signature=bundle.signature,
        )

    def model_statuses(self, session: UserSession) -> dict[str, ModelStatus]:
        """Every offered model's status."""
        self._require(session, "view_model_status")
        return {m: self._statuses.get(m) for m in self.catalogue.bundles}

    def set_model_status(
        self, session: UserSession, model_id: str, *, suspend: bool, reason: str
    ) -> ModelStatus:
        """Suspend or reinstate a model: checked, recorded with its reason, then done."""
        viewer = self._require(session, "suspend_model")
        self.bundle(model_id)
        checked = check_reason(reason)
        action = "model_suspended" if suspend else "model_reinstated"
        self._record(
            session, action, audience="admin", detail={"model_id": model_id, "reason": checked}
        )
        return self._statuses.set(model_id, suspended=suspend, reason=checked, by=viewer.user_id)

    # -- users -----------------------------------------------------------------------------

    def list_users(self, session: UserSession) -> list[Account]:
        """Every local account."""
        self._require(session, "manage_users")
        return self._accounts.list()

    def add_user(
        self,
        session: UserSession,
        user_id: str,
        *,
        name: str,
        role: str,
        password: str,
        patient_ref: str | None = None,
        patient_model_id: str | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> Account:
        """Create an account: fields checked, the addition recorded, then the account made
        (``language``: of the account's patient page)."""
        self._require(session, "manage_users")
        try:
            self._accounts.check_new_account(
                user_id,
                role=role,
                password=password,
                patient_ref=patient_ref,
                name=name,
                language=language,
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(
            session,
            "user_added",
            audience="admin",
            detail={
                "user_id": user_id,
                "role": role,
                "patient_ref": patient_ref,
                "language": language,
            },
        )
        return self._accounts.add(
            user_id,
            name=name or user_id,
            role=role,
            password=password,
            patient_ref=patient_ref,
            patient_model_id=patient_model_id,
            language=language,
        )

    def unlock_user(self, session: UserSession, user_id: str) -> Account:
        """Clear an account's sign-in back-off: checked, recorded, then done."""
        self._require(session, "manage_users")
        try:
            self._accounts.get(user_id)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(session, "user_unlocked", audience="admin", detail={"user_id": user_id})
        return self._accounts.unlock(user_id)

    def suspend_from_alert(self, session: UserSession, alert_id: str) -> ModelStatus:
        """Suspend the model an alert is about, with the alert as the recorded reason.

        The kill switch is :meth:`set_model_status` (checked, recorded, then done); this
        finds the raised alert and words the reason from it. An alert on simulated data
        never suspends a model.
        """
        from caselens.access.model_status import MAX_REASON_LENGTH
        from caselens.monitoring.alerts import get_alert

        self._require(session, "suspend_model")
        try:
            alert = get_alert(self._audit, alert_id.strip())
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        if alert.simulated:
            raise WorkflowError(
                f"Alert {alert.alert_id} is about simulated data: a simulation never "
                "suspends a model."
            )
        reason = f"Monitoring alert {alert.alert_id}: {alert.message}"
        return self.set_model_status(
            session, alert.model_id, suspend=True, reason=reason[:MAX_REASON_LENGTH]
        )
