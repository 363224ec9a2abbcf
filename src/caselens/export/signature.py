"""Where an exported file gets its signature (issue 26, item 2).

Every exported file passes through :func:`sign_exported_file` just before it is returned, so
the signing step has exactly one place. Until signing is implemented (branch ``report-verify``)
it returns the body unchanged: the file is unsigned and says nothing about a signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from caselens.export.stamp import ExportAudience, ExportStamp, FileFormat


@dataclass(frozen=True)
class SigningInput:
    """What a signature covers besides the body (see the signed-file convention)."""

    file_kind: FileFormat
    audience: ExportAudience
    stamp: ExportStamp
    report_json: str


def sign_exported_file(body: bytes, what: SigningInput) -> bytes:
    """The file as it leaves CaseLens: ``body`` followed by its signature line (today: the
    body alone, unsigned)."""
    return body
