"""Case reports that leave CaseLens: a self-contained HTML file and a PDF of one recorded
display, for the clinician (everything the screen shows) or the patient (the plain summary),
each page stamped with the audit entry, the report, the model and who was shown it.

The engine part only: the door (:mod:`caselens.workflow.report_exports`) checks and records
the export before anything here runs; :mod:`.signature` signs each file and says whether a
file is genuine. docs/report-export.md describes the files.
"""

from caselens._lazy import lazy_face

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "EXPORT_AUDIENCES",
    "FILE_FORMATS",
    "PAGE_SIZES",
    "REPORT_ATTACHMENT",
    "ExportAudience",
    "ExportRefused",
    "ExportStamp",
    "FileFormat",
    "FileSignature",
    "PageSize",
    "ReportVerdict",
    "SignatureError",
    "SigningInput",
    "html_file",
    "pdf_file",
    "read_signature",
    "render_html",
    "sign_exported_file",
    "sign_report_file",
    "stamp_for",
    "verify_report_file",
]

_PARTS: dict[str, str] = {
    "CONTENT_SECURITY_POLICY": "html_report",
    "EXPORT_AUDIENCES": "stamp",
    "FILE_FORMATS": "stamp",
    "PAGE_SIZES": "stamp",
    "REPORT_ATTACHMENT": "pdf_report",
    "ExportAudience": "stamp",
    "ExportRefused": "html_report",
    "ExportStamp": "stamp",
    "FileSignature": "signature",
    "FileFormat": "stamp",
    "PageSize": "stamp",
    "ReportVerdict": "signature",
    "SignatureError": "signature",
    "SigningInput": "signature",
    "html_file": "html_report",
    "pdf_file": "pdf_report",
    "read_signature": "signature",
    "render_html": "html_report",
    "sign_exported_file": "signature",
    "sign_report_file": "signature",
    "stamp_for": "stamp",
    "verify_report_file": "signature",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
