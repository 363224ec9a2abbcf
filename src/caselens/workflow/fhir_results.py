"""A displayed result back to the record: the FHIR RiskAssessment download and sending it.

Both go through the door like every other action: the policy (clinicians and reviewers may,
patients may not; a clinician only for a result they were shown; nothing from a model that is
suspended now), then the audit entry
(``exported_fhir``, naming the display entry), and only then the file or the send. Sending
records a second entry with the server's answer (``fhir_sent``) or the failure in words
(``fhir_send_failed``), so the trail says what reached the record and what did not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from caselens.audit import AuditEntry, AuditError
from caselens.errors import CaseLensError
from caselens.explain.cases import FROM_RECORD, SourceResourceRef
from caselens.explain.report import CaseReport
from caselens.fhir.risk_assessment import (
    BundleType,
    RiskAssessmentError,
    risk_assessment_bundle,
)
from caselens.fhir.risk_send import FhirServer, SendOutcome, send_transaction
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import EntryFailsVerification, Refused, WorkflowError
from caselens.workflow.records import ExportFile, UserSession

#: Displays whose result may be written back: a report shown to a clinician. (A patient's
#: view, a preview or a replay is not a clinical result of its own.)
RESULT_ACTIONS = frozenset({"viewed"})
#: Why a what-if or counterfactual report never goes to the record as a RiskAssessment.
HYPOTHETICAL_NOT_IN_RECORD = (
    "a what-if or counterfactual result is not this patient's result (its values are not "
    "their recorded values), so it is never written to the patient's record."
)
#: The file name of the download.
FHIR_RESULT_FILE = "caselens-risk-assessment-{seq}.fhir.json"


@dataclass(frozen=True)
class FhirSent:
    """What sending a result came to, recorded before it is returned.

    Attributes
    ----------
    ok : bool
        True when the server accepted every resource.
    message : str
        One sentence to show: where it was filed, or why it was not.
    outcome : SendOutcome
        The server's status and locations, or the problem.
    export_seq, answer_seq : int
        The entries that recorded the attempt (before sending) and the answer.
    """

    ok: bool
    message: str
    outcome: SendOutcome
    export_seq: int
    answer_seq: int


class FhirResultsMixin(DoorBase):
    """The door's FHIR result methods (see the module notes)."""

    #: The FHIR server results are sent to; None when none is configured.
    fhir_server: FhirServer | None = None

    def configure_fhir_server(self, server: FhirServer | None) -> None:
        """Send results to ``server`` (``CASELENS_FHIR_URL``), or to none."""
        self.fhir_server = server

    def risk_assessment(
        self,
        session: UserSession,
        source: int | CaseReport,
    ) -> ExportFile:
        """The FHIR RiskAssessment Bundle of one displayed result, recorded before it returns.

        Parameters
        ----------
        source : int or CaseReport
            The number of the audit entry that displayed the report, or the report itself
            (its latest display to this viewer is then the entry).

        Returns
        -------
        ExportFile
            The ``collection`` Bundle as JSON, with the number of the ``exported_fhir`` entry.
        """
        viewer = self._require(session, "export_fhir_result")
        shown, report = self._shown_result(session, source)
        bundle = self._fhir_bundle(report, shown, "collection")
        detail = _export_detail(shown, bundle, destination="download")
        entry = self._record(
            session, "exported_fhir", audience=_audience(viewer.role), report=report, detail=detail
        )
        data = json.dumps(bundle, indent=1, ensure_ascii=False).encode("utf-8")
        return ExportFile(
            FHIR_RESULT_FILE.format(seq=shown.seq),
            "application/fhir+json",
            data,
            len(bundle["entry"]),
            seq=entry.seq,
            detail=detail,
        )

    def send_risk_assessment(
        self,
        session: UserSession,
        source: int | CaseReport,
    ) -> FhirSent:
        """Send one displayed result to the configured FHIR server as a transaction.

        The attempt is recorded (``exported_fhir`` with the destination) before anything is
        sent, and the answer after (``fhir_sent`` with the locations, or ``fhir_send_failed``
        with the reason); a failure is returned, not raised, so it can be shown plainly.
        """
        viewer = self._require(session, "export_fhir_result")
        server = self.fhir_server
        if server is None:
            raise WorkflowError(
                "No FHIR server is configured (CASELENS_FHIR_URL), so nothing was sent."
            )
        shown, report = self._shown_result(session, source)
        bundle = self._fhir_bundle(report, shown, "transaction")
        audience = _audience(viewer.role)
        detail = _export_detail(shown, bundle, destination=server.base_url)
        attempt = self._record(
            session, "exported_fhir", audience=audience, report=report, detail=detail
        )
        outcome = send_transaction(server, bundle)
        answer = self._record(
            session,
            "fhir_sent" if outcome.ok else "fhir_send_failed",
            audience=audience,
            report=report,
            detail={"export_seq": attempt.seq, "entry": shown.seq, **outcome.detail()},
        )
        if outcome.ok:
            message = (
                f"Sent to {server.base_url}: the server filed "
                + ", ".join(outcome.locations)
                + f" (entries #{attempt.seq} and #{answer.seq})."
            )
        else:
            message = (
                f"Not sent to {server.base_url}: {outcome.problem}. The attempt and the "
                f"failure are recorded (entries #{attempt.seq} and #{answer.seq})."
            )
        return FhirSent(outcome.ok, message, outcome, attempt.seq, answer.seq)

    # -- the shown result ------------------------------------------------------------------

    def _shown_result(
        self, session: UserSession, source: int | CaseReport
    ) -> tuple[AuditEntry, CaseReport]:
        """The display entry and its report, verified; a clinician's own displays only."""
        viewer = self._viewer(session)
        if isinstance(source, CaseReport) and source.case.hypothetical is not None:
            self._refuse_hypothetical_result(session, report_id=source.report_id)
        if isinstance(source, CaseReport):
            entry = self._latest_display(session, source)
        else:
            entry = self._display_entry(int(source), session)
        if viewer.role == "clinician" and entry.actor_id != viewer.user_id:
            reason = "A clinician may only write back a result they were shown."
            self._record(
                session,
                "access_refused",
                audience="clinician",
                detail={"action": "export_fhir_result", "reason": reason, "entry": entry.seq},
            )
            raise Refused(f"Not allowed: {reason}")
        assert entry.report_json is not None  # _display_entry checked it
        try:
            report = CaseReport.from_json(entry.report_json)
        except ValueError as exc:
            raise WorkflowError(f"Entry #{entry.seq}: its report cannot be read ({exc}).") from exc
        if report.case.hypothetical is not None:
            self._refuse_hypothetical_result(session, entry=entry.seq)
        stopped = self._stopped_words(report.model.model_id)
        if stopped is not None:
            # A stopped model's results (suspended, or its approval ended) do not reach the
            # record, however recently shown.
            raise Refused(f"{stopped} Its results are not written to the patient's record.")
        return entry, report

    def _refuse_hypothetical_result(self, session: UserSession, **about: Any) -> NoReturn:
        """Record that a what-if (or counterfactual) was refused as the patient's result,
        then raise the refusal."""
        viewer = self._viewer(session)
        self._record(
            session,
            "access_refused",
            audience=_audience(viewer.role),
            detail={"action": "export_fhir_result", "reason": HYPOTHETICAL_NOT_IN_RECORD, **about},
        )
        raise Refused(f"Not allowed: {HYPOTHETICAL_NOT_IN_RECORD}")

    def _display_entry(self, seq: int, session: UserSession | None = None) -> AuditEntry:
        try:
            entry = self._audit.get(seq)
            problem = self._audit.entry_problem(seq)
        except AuditError as exc:
            raise WorkflowError(str(exc)) from exc
        if problem is not None:
            raise EntryFailsVerification(f"Entry #{seq} fails verification: {problem}.")
        if entry.action == "what_if_viewed":
            if session is not None:
                self._refuse_hypothetical_result(session, entry=seq)
            raise Refused(f"Not allowed: {HYPOTHETICAL_NOT_IN_RECORD}")
        if entry.action not in RESULT_ACTIONS or entry.report_json is None:
            raise WorkflowError(
                f"Entry #{seq} is not a report shown to a clinician (its action is "
                f"'{entry.action}'); only such a result can be written back as FHIR."
            )
        return entry

    def _latest_display(self, session: UserSession, report: CaseReport) -> AuditEntry:
        """The newest display of ``report`` to this viewer (found by the report's id)."""
        from caselens.workflow.trail_search import displays_of_report

        viewer = self._viewer(session)
        try:
            seqs = displays_of_report(self._audit.engine, report.report_id)
        except Exception as exc:  # a database that cannot be read: said, never a traceback
            raise WorkflowError(f"The audit trail could not be read: {exc}") from exc
        for seq in seqs:
            try:
                entry = self._audit.get(seq)
            except AuditError:
                continue
            if (
                entry.action in RESULT_ACTIONS
                and entry.actor_id == viewer.user_id
                and entry.report_json is not None
            ):
                return self._display_entry(seq)
        raise WorkflowError(
            "This report has not been recorded as shown to you, so it cannot be written back."
        )

    def _fhir_bundle(
        self,
        report: CaseReport,
        entry: AuditEntry,
        bundle_type: BundleType,
    ) -> dict[str, Any]:
        try:
            return risk_assessment_bundle(
                report, entry, report_basis(report), bundle_type=bundle_type
            )
        except (RiskAssessmentError, CaseLensError) as exc:
            raise WorkflowError(f"No FHIR result for entry #{entry.seq}: {exc}") from exc


def _audience(role: str) -> str:
    return role if role in ("clinician", "reviewer") else "system"


def _export_detail(entry: AuditEntry, bundle: dict[str, Any], *, destination: str) -> dict:
    """What the ``exported_fhir`` entry says: which display, which resources, where to."""
    return {
        "entry": entry.seq,
        "entry_hash": entry.entry_hash,
        "bundle_type": bundle["type"],
        "resources": [
            f"{item['resource']['resourceType']}/{item['resource']['id']}"
            for item in bundle["entry"]
        ],
        "destination": destination,
    }


def report_basis(report: CaseReport) -> tuple[SourceResourceRef, ...]:
    """The resources of the patient's record the shown case was taken from, as the stored
    report keeps them (the Patient first, then each used value's sources once, in schema
    order); empty for a case typed by hand. Taken from the report, never from the caller, so
    the written basis is what the screen showed."""
    sources = report.case.record_sources
    if sources is None:
        return ()
    used = [sources.patient] if sources.patient is not None else []
    for field in sources.fields:
        if field.status in FROM_RECORD:
            used.extend(field.sources)
    return tuple({source.reference(): source for source in used}.values())
