"""The case report as a PDF (WeasyPrint): the same HTML as the HTML file, laid out on A4 or
Letter with the page stamp in every page's header and footer, and the canonical report JSON
attached as ``caselens-report.json``.

WeasyPrint is given a fetcher that refuses every address, so nothing in a report (a URL in a
card field, say) can make the server reach out while the file is built.
"""

from __future__ import annotations

from typing import Any

from caselens.explain.report import CaseReport
from caselens.export.html_report import render_html
from caselens.export.stamp import ExportAudience, ExportStamp, PageSize

#: The name of the canonical report JSON attached to every PDF (the signed-file convention).
REPORT_ATTACHMENT = "caselens-report.json"
#: How every PDF ends, before any signature line (the signed-file convention).
PDF_END = b"%%EOF\n"


def _refuse_every_url(url: str, *args: Any, **kwargs: Any) -> Any:
    """WeasyPrint's fetcher for an exported report: nothing is fetched, ever."""
    from weasyprint.urls import FatalURLFetchingError

    raise FatalURLFetchingError(f"An exported report loads nothing from outside ({url[:80]}).")


def pdf_file(
    report: CaseReport,
    stamp: ExportStamp,
    *,
    audience: ExportAudience,
    page_size: PageSize,
    report_json: str,
    care_team: str | None = None,
) -> bytes:
    """The PDF's bytes, unsigned, ending with ``%%EOF\\n``."""
    import weasyprint  # a large import: only when a PDF is asked for

    html = render_html(
        report,
        stamp,
        audience=audience,
        page_size=page_size,
        report_json=report_json,
        for_pdf=True,
        care_team=care_team,
    )
    attachment = weasyprint.Attachment(
        string=report_json,
        name=REPORT_ATTACHMENT,
        description="The canonical CaseLens report JSON of this display",
        url_fetcher=_refuse_every_url,
    )
    document = weasyprint.HTML(string=html, url_fetcher=_refuse_every_url)
    data = document.write_pdf(attachments=[attachment], uncompressed_pdf=False)
    assert data is not None  # write_pdf returns the bytes when given no target
    return data.rstrip() + b"\n" if data.rstrip().endswith(b"%%EOF") else data + b"\n" + PDF_END
