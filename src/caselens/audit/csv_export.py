"""CSV export of entries, for spreadsheets and agency review copies.

Cells are safe to open in a spreadsheet: a text cell that a spreadsheet would read as a
formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed
with a single quote, as OWASP's CSV-injection guidance advises. A user name typed on the
sign-in form is data, never a live ``=HYPERLINK(...)``. The FHIR export keeps strings exact.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from typing import TextIO

from caselens.audit.chain import pseudonym
from caselens.audit.records import AuditEntry

CSV_COLUMNS = (
    "seq",
    "recorded_at",
    "actor_id",
    "actor_name",
    "actor_role",
    "audience",
    "action",
    "patient_ref",
    "model_id",
    "model_version",
    "model_sha256",
    "report_sha256",
    "rendered_digest",
    "session_id",
    "detail_json",
    "prev_hash",
    "entry_hash",
    "hmac",
)


#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A cell value that no spreadsheet will evaluate: formula-like text gets a leading ``'``.

    Numbers are left as they are (a negative number is not a formula).

    Examples
    --------
    >>> neutralise_cell("=1+2")
    "'=1+2"
    >>> neutralise_cell(-3)
    -3
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(
    entries: Iterable[AuditEntry], out: TextIO, *, pseudonymise_key: bytes | None = None
) -> int:
    """Write entries as CSV (header first). The report text is left out; its SHA-256 is in.

    Parameters
    ----------
    entries : iterable of AuditEntry
    out : text stream
    pseudonymise_key : bytes, optional
        When given, patient references are replaced by their keyed pseudonym.

    Returns
    -------
    int
        Rows written.
    """
    # CRLF as RFC 4180 says; it also makes the writer quote any field holding a bare CR,
    # which would otherwise break the row in two.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for e in entries:
        patient = e.patient_ref
        if patient is not None and pseudonymise_key is not None:
            patient = pseudonym(patient, key=pseudonymise_key)
        report_sha = (
            hashlib.sha256(e.report_json.encode("utf-8")).hexdigest() if e.report_json else ""
        )
        row = [getattr(e, c, None) for c in CSV_COLUMNS]
        row[CSV_COLUMNS.index("patient_ref")] = patient
        row[CSV_COLUMNS.index("report_sha256")] = report_sha
        writer.writerow(["" if v is None else neutralise_cell(v) for v in row])
        count += 1
    return count


def to_csv(entries: Iterable[AuditEntry], *, pseudonymise_key: bytes | None = None) -> str:
    """The CSV text of ``write_csv``."""
    buffer = io.StringIO()
    write_csv(entries, buffer, pseudonymise_key=pseudonymise_key)
    return buffer.getvalue()
