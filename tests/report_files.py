"""Exported report files built the way the convention says, for signing and verifying tests.

A minimal HTML export (visible text, an inline SVG figure, the canonical report in a
``<template id="caselens-report">``) and a PDF of it by WeasyPrint with the report attached.
"""

from __future__ import annotations

import html

from caselens.explain.report import CaseReport


def report_html(report: CaseReport, audience: str) -> bytes:
    """A small, valid HTML export of ``report`` for ``audience``."""
    percent = f"{report.probability * 100:.1f}%"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Case report {html.escape(report.report_id[:12])}</title>"
        "<style>body{font-family:sans-serif}</style></head>\n<body>"
        f"<h1>{html.escape(report.model.name)} ({audience} version)</h1>"
        f'<p id="probability">Estimated risk: {percent}</p>'
        f"<p>Model version {html.escape(report.model.version)}</p>"
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="20" role="img">'
        f"<title>Risk bar at {percent}</title>"
        f'<rect x="0" y="0" width="{report.probability * 200:.1f}" height="20" '
        'fill="#b03030"/></svg>'
        f'<template id="caselens-report">{html.escape(report.to_json(), quote=False)}</template>'
        "</body></html>\n"
    ).encode()


def report_pdf(report: CaseReport, audience: str) -> bytes:
    """A PDF of :func:`report_html` (WeasyPrint), the report JSON attached as the convention
    says; uncompressed so a test can change one byte of a known part."""
    from weasyprint import HTML, Attachment

    attachment = Attachment(string=report.to_json(), name="caselens-report.json")
    return HTML(string=report_html(report, audience).decode("utf-8")).write_pdf(
        attachments=[attachment], uncompressed_pdf=True
    )
