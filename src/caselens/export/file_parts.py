"""The checkable parts of an exported case report file (HTML or PDF), read from its body.

A signature names each part by its SHA-256, so a verifier can say *which* part of a file was
changed: the embedded report data, the visible text, a figure, or (PDF) a page's drawing.
Every reader here takes untrusted bytes: a part that cannot be read gets a fixed marker
digest (never a traceback), so it simply differs from the signed one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Literal

from caselens.export.pdf_report import REPORT_ATTACHMENT

FileKind = Literal["html", "pdf"]

#: The id of the ``<template>`` that carries the canonical report JSON in an HTML export.
REPORT_TEMPLATE_ID = "caselens-report"
#: What each part is called in a sentence to a reviewer.
PART_WORDS = {
    "report": "the embedded report data",
    "text": "the visible text",
    "figures": "a figure or image",
    "pages": "the drawing of a page (layout, lines or a chart)",
}
#: Digest of a part that could not be read at all (never equal to a real part's digest).
UNREADABLE = "unreadable"

# Elements whose content is not visible text: the embedded report, style, scripts, and the
# figures (counted as figures, so a changed chart is named as a figure, not as text).
_HIDDEN = frozenset({"template", "style", "script", "svg", "head"})
_SVG_RE = re.compile(rb"<svg\b.*?</svg\s*>", re.DOTALL | re.IGNORECASE)
_IMG_RE = re.compile(rb"<img\b[^>]*>", re.DOTALL | re.IGNORECASE)


def sha256_hex(data: bytes) -> str:
    """SHA-256 hex of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _digest_of_many(items: Iterable[bytes]) -> str:
    """One digest over a sequence of items (each hashed, so boundaries count)."""
    outer = hashlib.sha256()
    for item in items:
        outer.update(hashlib.sha256(item).digest())
    return outer.hexdigest()


def _words(text: str) -> bytes:
    """Visible text with runs of white space made one space (layout is not content)."""
    return " ".join(text.split()).encode("utf-8")


class _HtmlParts(HTMLParser):
    """Collects the report template's text and the visible text outside hidden elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.report: list[str] = []
        self.reports_found = 0
        self.text: list[str] = []
        self._hidden: list[str] = []
        self._in_report = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden.append(tag)
            if tag == "template" and dict(attrs).get("id") == REPORT_TEMPLATE_ID:
                self._in_report = True
                self.reports_found += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and tag in self._hidden:
            while self._hidden:
                if self._hidden.pop() == tag:
                    break
            if tag == "template":
                self._in_report = False

    def handle_data(self, data: str) -> None:
        if self._in_report:
            self.report.append(data)
        elif not self._hidden:
            self.text.append(data)


def html_report_text(body: bytes) -> str | None:
    """The report JSON text embedded in an HTML export (None when there is not exactly one)."""
    parser = _HtmlParts()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    return "".join(parser.report) if parser.reports_found == 1 else None


def html_parts(body: bytes) -> dict[str, str]:
    """The parts of an HTML export: report (the template's text), text, figures."""
    parser = _HtmlParts()
    try:
        parser.feed(body.decode("utf-8", errors="replace"))
        parser.close()
        report = (
            sha256_hex("".join(parser.report).encode("utf-8"))
            if parser.reports_found == 1
            else UNREADABLE
        )
        text = sha256_hex(_words("".join(parser.text)))
    except Exception:
        report = text = UNREADABLE
    figures = _digest_of_many([*_SVG_RE.findall(body), *_IMG_RE.findall(body)])
    return {"report": report, "text": text, "figures": figures}


def _quiet_pdf_reader(body: bytes):
    from pypdf import PdfReader

    # pypdf warns on every oddity of a damaged file; the verdict says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return PdfReader(io.BytesIO(body), strict=False)


def pdf_report_text(body: bytes) -> str | None:
    """The report JSON embedded as the PDF attachment (None when absent or unreadable)."""
    try:
        found = _quiet_pdf_reader(body).attachments.get(REPORT_ATTACHMENT)
        return found[0].decode("utf-8") if found and len(found) == 1 else None
    except Exception:
        return None


def _xobjects(resources) -> Iterable[bytes]:
    """The decoded data of every image and form XObject in ``resources`` (forms recursed)."""
    if resources is None or "/XObject" not in resources:
        return
    objects = resources["/XObject"].get_object()
    for name in sorted(objects):
        obj = objects[name].get_object()
        yield name.encode("utf-8") + b"\x00" + obj.get_data()
        if obj.get("/Subtype") == "/Form":
            yield from _xobjects(obj.get("/Resources"))


#: A text object of a PDF content stream (``BT`` … ``ET``): what a page writes as text.
_PDF_TEXT_RE = re.compile(rb"(?<![A-Za-z])BT(?![A-Za-z]).*?(?<![A-Za-z])ET(?![A-Za-z])", re.DOTALL)


def _page_drawing(page) -> bytes:
    """A page's decoded drawing instructions (empty for a blank page)."""
    contents = page.get_contents()  # a stream that may be empty, so compared with None
    return b"" if contents is None else contents.get_data()


def pdf_parts(body: bytes) -> dict[str, str]:
    """The parts of a PDF export: report (attachment), text (each page's text objects, the
    ``BT`` … ``ET`` instructions that write its words and numbers), figures (images and drawn
    forms), pages (each page's other drawing instructions: lines, bars, layout).

    The text is taken from the instructions rather than extracted as words: extraction costs
    over a second per report, and a changed glyph changes its instruction just the same.
    """
    parts = {"report": UNREADABLE, "text": UNREADABLE, "figures": UNREADABLE}
    parts["pages"] = UNREADABLE
    try:
        reader = _quiet_pdf_reader(body)
        pages = list(reader.pages)
    except Exception:
        return parts
    report = pdf_report_text(body)
    if report is not None:
        parts["report"] = sha256_hex(report.encode("utf-8"))
    try:
        drawings = [_page_drawing(p) for p in pages]
    except Exception:
        drawings = None
    if drawings is not None:
        parts["text"] = _digest_of_many(t for d in drawings for t in _PDF_TEXT_RE.findall(d))
        parts["pages"] = _digest_of_many(_PDF_TEXT_RE.sub(b"BT ET", d) for d in drawings)
    try:
        figures = [x for p in pages for x in _xobjects(p.get("/Resources"))]
        parts["figures"] = _digest_of_many(figures)
    except Exception:
        pass
    return parts


def file_parts(body: bytes, file_kind: FileKind) -> dict[str, str]:
    """The named parts of an export's body (see :data:`PART_WORDS`)."""
    return html_parts(body) if file_kind == "html" else pdf_parts(body)


def embedded_report_text(body: bytes, file_kind: FileKind) -> str | None:
    """The canonical report JSON a body embeds, or None."""
    try:
        return html_report_text(body) if file_kind == "html" else pdf_report_text(body)
    except Exception:
        return None
