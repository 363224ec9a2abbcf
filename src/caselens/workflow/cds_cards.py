"""The door for the EHR: a CDS Hooks card, and the clinician's feedback on it.

An EHR's call is a display like any other: the EHR user acts as a clinician (their hook
``userId`` is the viewer, the verified issuer is the client), the model's status is checked,
and what the card will say is recorded in the audit trail before it is returned. A card
that gives a probability is the report's display (action ``viewed``, with the prediction log
row); a card that gives none (the model is suspended, or an input is missing) is recorded as
``cds_card_withheld`` with why. A recording failure raises :class:`NotRecorded`: no card.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from caselens.access.cds_calls import CardRecord, CdsCallStore
from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditError
from caselens.errors import CaseLensError
from caselens.explain.cases import FROM_RECORD, Case, RecordSources, validate_inputs
from caselens.explain.report import CaseReport
from caselens.model.bundle import ModelBundle
from caselens.workflow._door_base import DoorBase
from caselens.workflow.checks import check_patient_ref
from caselens.workflow.display import NOT_RECORDED_MESSAGE, record_display
from caselens.workflow.errors import NotRecorded, WorkflowError
from caselens.workflow.records import UserSession

#: The outcomes CDS Hooks 2.0 feedback may report for a card.
CDS_OUTCOMES = ("accepted", "overridden")
#: Longest text kept from the EHR for one field (a user id, a reason's display or comment).
MAX_EHR_TEXT = 500
#: Most missing inputs named in one trail entry (a schema has at most a few hundred).
MAX_MISSING_RECORDED = 300

CardKind = Literal["prediction", "inputs_missing", "model_suspended"]


@dataclass(frozen=True)
class HookCall:
    """One verified CDS Hooks call: which model, from which EHR (issuer), for whom."""

    model_id: str
    issuer: str
    #: The hook context's ``userId``, e.g. ``Practitioner/123``.
    user_id: str
    #: The hook context's ``patientId`` (a FHIR id).
    patient_id: str
    hook_instance: str


@dataclass(frozen=True)
class InputsFromRecord:
    """What the patient's record gave for each model input: the intake's
    :class:`RecordSources` (None when the record was not read), which the report keeps, so
    replay and the FHIR result name the resources; the rest is read off it."""

    record_sources: RecordSources | None = None

    @property
    def values(self) -> dict[str, float | str]:
        """Input name → value in the schema's unit or category (only the ones the record gave)."""
        fields = self.record_sources.fields if self.record_sources is not None else ()
        return {f.feature: f.value for f in fields if f.status in FROM_RECORD}

    @property
    def missing(self) -> dict[str, str]:
        """Input name → why the record did not give it, in a clinician's words."""
        fields = self.record_sources.fields if self.record_sources is not None else ()
        return {f.feature: f.message for f in fields if f.status not in FROM_RECORD}

    @property
    def sources(self) -> dict[str, tuple[str, ...]]:
        """Input name → the resources its value came from (``Observation/abc``), recorded."""
        fields = self.record_sources.fields if self.record_sources is not None else ()
        return {
            f.feature: tuple(f"{s.resource_type}/{s.resource_id}" for s in f.sources)
            for f in fields
            if f.sources
        }


@dataclass(frozen=True)
class CardDecision:
    """What the card may say, recorded: a prediction (with its report and entry), or why
    there is none (inputs missing, model suspended)."""

    kind: CardKind
    model_id: str
    entry_seq: int
    report: CaseReport | None = None
    #: Set for a prediction card only: the id feedback names (kept with the entry).
    card_uuid: str | None = None
    #: (input label, why it is missing), in schema order.
    missing: tuple[tuple[str, str], ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class CardFeedback:
    """One feedback item on a card, as CDS Hooks 2.0 sends it."""

    card_uuid: str
    outcome: str
    issuer: str
    #: The JWT's ``sub``: the EHR's client id.
    client_id: str
    override_code: str | None = None
    override_display: str | None = None
    user_comment: str | None = None
    outcome_timestamp: str | None = None


def _bounded(text: object) -> str | None:
    if text is None:
        return None
    return str(text)[:MAX_EHR_TEXT]


class CdsCardsMixin(DoorBase):
    """The door's CDS Hooks methods: a card for ``patient-view``, and feedback on a card."""

    _cds_calls: CdsCallStore | None

    def _cds_store(self) -> CdsCallStore:
        if self._cds_calls is None:
            raise WorkflowError("The CDS Hooks service has no app database to keep its cards.")
        return self._cds_calls

    @staticmethod
    def _ehr_viewer(call: HookCall) -> Viewer:
        # The EHR user acts as a clinician; the name says through which EHR.
        user = _bounded(call.user_id) or "unknown EHR user"
        return Viewer(user_id=user, name=f"{user} (via {_bounded(call.issuer)})", role="clinician")

    def cds_card(self, call: HookCall, inputs: InputsFromRecord) -> CardDecision:
        """The card for a ``patient-view`` call: policy, model status, the case from the
        record; the report computed by the same engine as the app's; recorded, then returned.

        Raises
        ------
        WorkflowError
            An unknown model or patient id (nothing recorded); :class:`Refused` when the
            policy refuses (recorded) or the model gives no usable answer (recorded);
            :class:`NotRecorded` when the trail or the card index cannot take the entry.
        """
        session = UserSession(viewer=self._ehr_viewer(call))
        self._require(session, "view_report")
        ref = check_patient_ref(call.patient_id)
        bundle = self.bundle(call.model_id)
        base = {
            "channel": "cds-hooks",
            "client": _bounded(call.issuer),
            "hook_instance": _bounded(call.hook_instance),
            "model_id": call.model_id,
        }
        status = self._statuses.get(call.model_id)
        if status.suspended:
            entry = self._withhold(session, ref, {**base, "reason": "model suspended"})
            return CardDecision("model_suspended", call.model_id, entry.seq, reason=status.reason)
        case, missing = _case_or_missing(bundle, inputs, ref)
        if case is None:
            names = [name for name, _, _ in missing[:MAX_MISSING_RECORDED]]
            entry = self._withhold(
                session, ref, {**base, "reason": "inputs missing", "missing": names}
            )
            missed = tuple((label, why) for _, label, why in missing)
            return CardDecision("inputs_missing", call.model_id, entry.seq, missing=missed)
        report = self._report(session, call.model_id, case, audience="clinician")
        card_uuid = str(uuid.uuid4())
        detail = {
            **base,
            "card_uuid": card_uuid,
            "sources": {k: list(v) for k, v in sorted(inputs.sources.items())},
        }
        entry = self._record_card(session, report, detail)
        ids = (card_uuid, entry.seq, call.model_id, report.report_id, call.issuer)
        self._index_card(CardRecord(*ids, created_at=self._clock()))
        self._after_display(report, entry)  # a card is a display: its shadow is queued
        return CardDecision("prediction", call.model_id, entry.seq, report, card_uuid)

    def _withhold(self, session: UserSession, ref: str, detail: dict[str, Any]) -> AuditEntry:
        """Record a card that gives no probability (``cds_card_withheld``, with why)."""
        return self._record(
            session, "cds_card_withheld", audience="clinician", patient_ref=ref, detail=detail
        )

    def _index_card(self, card: CardRecord) -> None:
        # After the entry: a card whose index row fails is recorded but never returned.
        try:
            self._cds_store().add_card(card)
        except SQLAlchemyError as exc:
            raise NotRecorded(NOT_RECORDED_MESSAGE) from exc

    def _record_card(
        self, session: UserSession, report: CaseReport, detail: dict[str, Any]
    ) -> AuditEntry:
        try:
            return record_display(
                self._audit,
                report,
                self._viewer(session),
                audience="clinician",
                action="viewed",
                session_id=session.session_id,
                detail=detail,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED_MESSAGE) from exc

    def cds_feedback(self, feedback: CardFeedback, *, model_id: str) -> AuditEntry:
        """Record the EHR's feedback on one of its cards of ``model_id`` against the card's
        entry.

        Raises
        ------
        WorkflowError
            The outcome is not one CDS Hooks defines, or no card with that id was returned
            to this issuer (nothing recorded); :class:`NotRecorded` when the trail fails.
        """
        if feedback.outcome not in CDS_OUTCOMES:
            raise WorkflowError(
                f"outcome: expected one of {', '.join(CDS_OUTCOMES)}, got "
                f"{str(feedback.outcome)[:40]!r}."
            )
        card = self._cds_store().card(feedback.card_uuid)
        if card is None or card.issuer != feedback.issuer or card.model_id != model_id:
            raise WorkflowError("card: no card with this id was returned to this EHR.")
        entry = self._audit.get(card.entry_seq)
        report = CaseReport.from_json(entry.report_json or "")
        client = _bounded(feedback.client_id) or _bounded(feedback.issuer) or "EHR"
        viewer = Viewer(
            user_id=client, name=f"{client} (via {_bounded(feedback.issuer)})", role="clinician"
        )
        session = UserSession(viewer=viewer)
        self._require(session, "give_feedback")
        return self._record(
            session,
            "feedback",
            audience="clinician",
            report=report,
            detail={
                "channel": "cds-hooks",
                "client": _bounded(feedback.issuer),
                "card_uuid": card.card_uuid,
                "entry_seq": card.entry_seq,
                "report_id": card.report_id,
                "cds_outcome": feedback.outcome,
                "override_reason": _bounded(feedback.override_code),
                "override_display": _bounded(feedback.override_display),
                "comment": _bounded(feedback.user_comment) or "",
                "outcome_timestamp": _bounded(feedback.outcome_timestamp),
                "verdict": None,
                "own_estimate_out_of_100": None,
            },
        )


def _case_or_missing(
    bundle: ModelBundle, inputs: InputsFromRecord, ref: str
) -> tuple[Case | None, list[tuple[str, str, str]]]:
    """The case when the record gave every input and the schema accepts them; else None and
    the (name, label, why) of each input it lacks, in schema order."""
    missing = [
        (spec.name, spec.label, inputs.missing.get(spec.name, "not in the record"))
        for spec in bundle.features
        if spec.name not in inputs.values
    ]
    if missing:
        return None, missing
    try:
        case = validate_inputs(dict(inputs.values), bundle.features, source="fhir", case_id=ref)
    except CaseLensError as exc:  # a value the intake let through that the schema refuses
        return None, [("(record)", "Values from the record", str(exc)[:MAX_EHR_TEXT])]
    if inputs.record_sources is not None:
        case = dataclasses.replace(case, record_sources=inputs.record_sources)
    return case, []
