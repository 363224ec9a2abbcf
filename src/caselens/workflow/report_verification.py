""" "Is this report file genuine?": a reviewer checks an exported case report someone handed
over, against this trail and this server's keys; the check and its verdict are recorded.
"""

from __future__ import annotations

from caselens.audit.signing_keys import KeyRing
from caselens.errors import CaseLensError
from caselens.export.signature import ReportVerdict, verify_report_file
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession

#: Longest file name kept in the record (a name is only a hint; the hash identifies the file).
MAX_FILE_NAME_CHARS = 120


class ReportVerificationMixin(DoorBase):
    """Verifying an exported report file (see the module notes)."""

    def verify_report_file(
        self, session: UserSession, data: bytes, *, file_name: str | None = None
    ) -> ReportVerdict:
        """Whether ``data`` is a genuine report file of this trail, recorded
        (``report_verified``: the verdict and the file's SHA-256) before it returns.

        Never raises on the file's content: every outcome is a verdict with its sentence.
        """
        self._require(session, "verify_report_file")
        verdict = verify_report_file(bytes(data), trail=self._audit, ring=self._report_ring())
        detail = verdict.record_detail()
        if file_name:
            detail["file_name"] = str(file_name)[:MAX_FILE_NAME_CHARS]
        self._record(session, "report_verified", audience="reviewer", detail=detail)
        return verdict

    def _report_ring(self) -> KeyRing:
        """The keys a report file may be signed by (none set up: an empty ring, so every
        file is "signed by an unknown key")."""
        if self._key_ring is None:
            return KeyRing()
        try:
            return self._key_ring()
        except (CaseLensError, OSError) as exc:
            raise WorkflowError(f"The server's report keys cannot be read: {exc}") from exc
