"""Files that leave CaseLens: exported case reports (HTML, PDF), signed and verifiable.

The names below load lazily (:mod:`caselens._lazy`).
"""

from caselens._lazy import lazy_face

__all__ = [
    "FileSignature",
    "ReportVerdict",
    "SignatureError",
    "read_signature",
    "sign_report_file",
    "verify_report_file",
]

_PARTS = {
    "FileSignature": "signature",
    "ReportVerdict": "signature",
    "SignatureError": "signature",
    "read_signature": "signature",
    "sign_report_file": "signature",
    "verify_report_file": "signature",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
