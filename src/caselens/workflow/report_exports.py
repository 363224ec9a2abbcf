"""A displayed case report as a file (HTML or PDF), through the door.

The order is the door's: the policy (clinicians, patients and reviewers may; a patient only
their own result and only the patient's file; nobody a what-if as the patient's file), then
the display it comes from (one shown to this viewer in this session, or for a reviewer an
entry replayed in this session, verified), then the audit entry ``report_exported`` naming
that display, and only then the file is built. A refusal is recorded; a trail that cannot
take the entry means no file.
"""

from __future__ import annotations

import hashlib
from typing import Any

from caselens.audit import AuditEntry, AuditError
from caselens.audit.signing_keys import SigningKey
from caselens.explain.report import CaseReport
from caselens.export.html_report import ExportRefused, html_file
from caselens.export.pdf_report import pdf_file
from caselens.export.signature import (
    SignatureError,
    SigningInput,
    read_signature,
    sign_exported_file,
)
from caselens.export.stamp import (
    EXPORT_AUDIENCES,
    FILE_FORMATS,
    PAGE_SIZES,
    ExportAudience,
    FileFormat,
    PageSize,
    stamp_for,
)
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import EntryFailsVerification, Refused, WorkflowError
from caselens.workflow.records import ExportFile, UserSession

#: The downloaded file's name: the display's entry, the audience, the format.
REPORT_FILE = "caselens-report-{seq}-{audience}.{ext}"
#: Media types of the two formats.
MIME_TYPES: dict[str, str] = {"html": "text/html", "pdf": "application/pdf"}


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """A parameter checked against its choices, with an error naming it."""
    if value not in allowed:
        raise WorkflowError(f"{name}: expected one of {', '.join(allowed)}; got {value!r:.40}.")
    return str(value)


class ReportExportsMixin(DoorBase):
    """The door's report files (see the module notes)."""

    def export_report(
        self,
        session: UserSession,
        report: CaseReport | int,
        *,
        audience: ExportAudience,
        file_format: FileFormat,
        page_size: PageSize = "A4",
        care_team: str | None = None,
    ) -> ExportFile:
        """One displayed report as a self-contained HTML file or a PDF, recorded first.

        Parameters
        ----------
        report : CaseReport or int
            A report shown to this viewer in this session, or (for a reviewer) the number
            of a display entry they replayed in this session.
        audience : {"clinician", "patient"}
            The clinician's full report or the patient's plain-language summary.
        file_format : {"html", "pdf"}
        page_size : {"A4", "Letter"}
        care_team : str, optional
            How to reach the care team, in the patient's language, as the page shows it (the
            operator's contact); printed under the report's own care-team sentence.

        Returns
        -------
        ExportFile
            The file, with the number of the ``report_exported`` entry that recorded it.
        """
        viewer = self._viewer(session)
        audience = _choice("Audience", audience, EXPORT_AUDIENCES)  # type: ignore[assignment]
        file_format = _choice("Format", file_format, FILE_FORMATS)  # type: ignore[assignment]
        page_size = _choice("Page size", page_size, PAGE_SIZES)  # type: ignore[assignment]
        self._require(session, "export_report", patient_ref=_patient_ref(report, viewer.role))
        display = self._export_display(session, report)
        assert display.report_json is not None  # _export_display checked it
        try:
            shown = CaseReport.from_json(display.report_json)
        except ValueError as exc:
            raise WorkflowError(
                f"Entry #{display.seq}: its report cannot be read ({exc})."
            ) from exc
        self._check_export(session, display, shown, audience)
        key = self._server_signing_key("Report files")
        detail: dict[str, Any] = {
            "format": file_format,
            "audience": audience,
            "page_size": page_size,
            "entry": display.seq,
            "entry_hash": display.entry_hash,
            "key_id": key.key_id,
        }
        entry = self._record(
            session, "report_exported", audience=audience, report=shown, detail=detail
        )
        body = self._build(shown, display, entry, audience, file_format, page_size, care_team, key)
        # The file's own hashes are known only once it is built: recorded before it returns,
        # so a file in someone's hands can be matched to its export.
        signature = read_signature(body).signed
        self._record(
            session,
            "report_signed",
            audience=audience,
            detail={
                "export_entry": entry.seq,
                "key_id": key.key_id,
                "body_sha256": signature["body_sha256"],
                "file_sha256": hashlib.sha256(body).hexdigest(),
            },
        )
        return ExportFile(
            REPORT_FILE.format(seq=display.seq, audience=audience, ext=file_format),
            MIME_TYPES[file_format],
            body,
            1,
            seq=entry.seq,
            detail=detail,
        )

    # -- which display ---------------------------------------------------------------------

    def _export_display(self, session: UserSession, report: CaseReport | int) -> AuditEntry:
        """The verified display entry the file is made from (a refusal is recorded)."""
        viewer = self._viewer(session)
        if viewer.role == "reviewer":
            if isinstance(report, CaseReport):
                raise WorkflowError(
                    "A reviewer exports a report from its replay: give the entry's number."
                )
            seq = int(report)
            key = (viewer.user_id, session.session_id, f"entry:{seq}", "reviewer", "replayed")
            if key not in session.recorded:
                raise WorkflowError(
                    f"Entry #{seq} has not been replayed in this session; open its replay "
                    "first, so the file is what you checked."
                )
            return self._export_entry(seq)
        if isinstance(report, CaseReport):
            seq = session.display_entries.get(report.report_id)
        else:
            seq = int(report) if int(report) in session.display_entries.values() else None
        if seq is None:
            self._refuse_export(session, "This report was not shown to you in this session.")
        entry = self._export_entry(seq)  # type: ignore[arg-type]
        if entry.actor_id != viewer.user_id:
            self._refuse_export(session, "This report was not shown to you.", entry=entry.seq)
        return entry

    def _export_entry(self, seq: int) -> AuditEntry:
        try:
            entry = self._audit.get(seq)
            problem = self._audit.entry_problem(seq)
        except AuditError as exc:
            raise WorkflowError(str(exc)) from exc
        if problem is not None:
            raise EntryFailsVerification(f"Entry #{seq} fails verification: {problem}.")
        if entry.report_json is None:
            raise WorkflowError(
                f"Entry #{seq} did not display a report (its action is '{entry.action}'), "
                "so there is no report to export."
            )
        return entry

    def _check_export(
        self,
        session: UserSession,
        display: AuditEntry,
        shown: CaseReport,
        audience: str,
    ) -> None:
        """Who may take which file of this display (each refusal recorded)."""
        viewer = self._viewer(session)
        if viewer.role == "patient":
            if audience != "patient":
                self._refuse_export(
                    session, "A patient's file is the patient summary.", entry=display.seq
                )
            if display.patient_ref != viewer.patient_ref:
                self._refuse_export(
                    session, "A patient may only export their own result.", display.seq
                )
        if audience == "patient" and shown.case.hypothetical is not None:
            self._refuse_export(
                session,
                "A what-if result is not the patient's recorded values; it is never the "
                "patient's file.",
                entry=display.seq,
            )
        if viewer.role != "reviewer":
            stopped = self._stopped_words(shown.model.model_id)
            if stopped is not None:
                raise Refused(f"{stopped} Its results are not exported.")

    def _refuse_export(self, session: UserSession, reason: str, entry: int | None = None) -> None:
        viewer = self._viewer(session)
        detail: dict[str, Any] = {"action": "export_report", "reason": reason}
        if entry is not None:
            detail["entry"] = entry
        audience = viewer.role if viewer.role in ("clinician", "patient", "reviewer") else "system"
        self._record(session, "access_refused", audience=audience, detail=detail)
        raise Refused(f"Not allowed: {reason}")

    # -- the file --------------------------------------------------------------------------

    def _build(
        self,
        shown: CaseReport,
        display: AuditEntry,
        entry: AuditEntry,
        audience: ExportAudience,
        file_format: FileFormat,
        page_size: PageSize,
        care_team: str | None,
        key: SigningKey,
    ) -> bytes:
        """The file's bytes, built after its entry was written, signed last."""
        viewer = self._viewer_of(entry)
        stamp = stamp_for(
            shown,
            display,
            exported_by=viewer,
            export_seq=entry.seq,
            generated_at=self._clock().strftime("%Y-%m-%d %H:%M:%S"),
        )
        assert display.report_json is not None
        build = html_file if file_format == "html" else pdf_file
        try:
            body = build(
                shown,
                stamp,
                audience=audience,
                page_size=page_size,
                report_json=display.report_json,
                care_team=care_team,
            )
        except ExportRefused as exc:
            raise Refused(f"Not allowed: {exc}") from exc
        except Exception as exc:  # a layout failure is said, never a traceback
            raise WorkflowError(
                f"The {file_format.upper()} file of entry #{display.seq} could not be built "
                f"({type(exc).__name__}: {str(exc)[:200]}); the attempt is recorded as entry "
                f"#{entry.seq}."
            ) from exc
        signing = SigningInput(file_format, audience, stamp, display.report_json, shown, display)
        try:
            return sign_exported_file(body, signing, key=key)
        except SignatureError as exc:  # the built file does not hold the report: never sent
            raise WorkflowError(
                f"The {file_format.upper()} file of entry #{display.seq} could not be signed "
                f"({exc}); the attempt is recorded as entry #{entry.seq}."
            ) from exc

    @staticmethod
    def _viewer_of(entry: AuditEntry) -> str:
        return f"{entry.actor_name} ({entry.actor_role})"


def _patient_ref(report: CaseReport | int, role: str) -> str | None:
    """The patient a patient's export is about, for the policy (None: checked later)."""
    if role == "patient" and isinstance(report, CaseReport):
        return report.case.case_id
    return None
