"""What every page of an exported report carries: which display it records, which model,
when and to whom it was shown, and which CaseLens made the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from caselens.audit import AuditEntry
from caselens.explain.report import CaseReport, library_versions

#: Who a file is written for: the clinician's full report or the patient's plain summary.
ExportAudience = Literal["clinician", "patient"]
EXPORT_AUDIENCES: tuple[ExportAudience, ...] = ("clinician", "patient")
#: The paper sizes a file is laid out for (CSS ``@page size`` names).
PageSize = Literal["A4", "Letter"]
PAGE_SIZES: tuple[PageSize, ...] = ("A4", "Letter")
#: The file formats an export is written in.
FileFormat = Literal["html", "pdf"]
FILE_FORMATS: tuple[FileFormat, ...] = ("html", "pdf")


@dataclass(frozen=True)
class ExportStamp:
    """The facts printed in every page's header and footer.

    Attributes
    ----------
    entry_seq, entry_hash : int, str
        The audit entry that recorded the display holding the report, and its hash.
    report_id : str
    model_name, model_id, model_version, model_sha256 : str
    shown_at : str
        When the display was recorded (UTC, as the trail holds it).
    shown_to : str
        Who it was shown to: their name and role, as the trail holds them.
    exported_by : str
        Who asked for this file (name and role).
    export_seq : int
        The audit entry that recorded this export.
    generated_at : str
        When the file was built (UTC).
    caselens_version : str
        The CaseLens that built the file.
    """

    entry_seq: int
    entry_hash: str
    report_id: str
    model_name: str
    model_id: str
    model_version: str
    model_sha256: str
    shown_at: str
    shown_to: str
    exported_by: str
    export_seq: int
    generated_at: str
    caselens_version: str


def caselens_version() -> str:
    """The version of the CaseLens that is running (the one that builds the file)."""
    return library_versions()["caselens"]


def stamp_for(
    report: CaseReport,
    display: AuditEntry,
    *,
    exported_by: str,
    export_seq: int,
    generated_at: str,
) -> ExportStamp:
    """The page facts of ``report`` as the display entry ``display`` recorded it."""
    return ExportStamp(
        entry_seq=display.seq,
        entry_hash=display.entry_hash,
        report_id=report.report_id,
        model_name=report.model.name,
        model_id=report.model.model_id,
        model_version=report.model.version,
        model_sha256=report.model.sha256,
        # The trail writes UTC with a trailing Z; say "UTC" once either way.
        shown_at=display.recorded_at.removesuffix("Z") + " UTC",
        shown_to=f"{display.actor_name} ({display.actor_role})",
        exported_by=exported_by,
        export_seq=export_seq,
        generated_at=generated_at,
        caselens_version=caselens_version(),
    )
