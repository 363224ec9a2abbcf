"""Any text from outside — a card's model name, a case id, an input's label and value, a user
name — reaches the exported HTML as text: the parsed file has exactly our own tags, and each
string reads back unchanged. Hypothesis draws the strings (markup, quotes, entities, </template>,
control-free Unicode)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseReport, explainer_for
from caselens.export import ExportStamp, html_file

OUTSIDE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() == s and "  " not in s)
HOSTILE = st.sampled_from(
    [
        "<img src=x onerror=alert(1)>",
        "</template><script>alert(1)</script>",
        '"><svg onload=alert(1)>',
        "&lt;b&gt; &amp; ]]> <!-- -->",
        "url(https://evil.example/x)",
    ]
)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if not self._in or self._in[-1] not in ("style", "template"):
            self.text.append(data)


@pytest.fixture(scope="module")
def report(heart_bundle) -> CaseReport:
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id=demo.case_id)
    return explainer_for(heart_bundle).explain(case)


def _stamp(report: CaseReport, who: str) -> ExportStamp:
    return ExportStamp(
        entry_seq=7,
        entry_hash="ab" * 32,
        report_id=report.report_id,
        model_name=report.model.name,
        model_id=report.model.model_id,
        model_version=report.model.version,
        model_sha256=report.model.sha256,
        shown_at="2026-12-07 06:00:00 UTC",
        shown_to=f"{who} (clinician)",
        exported_by=f"{who} (clinician)",
        export_seq=8,
        generated_at="2026-12-07 06:01:00",
        caselens_version="test",
    )


def _tags_of(report: CaseReport, audience: str, who: str) -> tuple[list[str], str]:
    data = html_file(
        report, _stamp(report, who), audience=audience, page_size="A4",
        report_json=report.to_json(),
    )  # fmt: skip
    parser = Tags()
    parser.feed(data.decode("utf-8"))
    return parser.tags, " ".join(" ".join(parser.text).split())


@settings(max_examples=15, deadline=None)
@given(text=st.one_of(HOSTILE, OUTSIDE_TEXT), audience=st.sampled_from(["clinician", "patient"]))
def test_outside_text_is_text_in_the_file(report, text, audience):
    baseline, _ = _tags_of(report, audience, "Dr. Ana Lee")
    first = report.case.inputs[0]
    altered = report.model_copy(
        update={
            "model": report.model.model_copy(update={"name": text}),
            "case": report.case.model_copy(
                update={
                    "case_id": text,
                    "inputs": (
                        first.model_copy(update={"label": text, "value_text": text}),
                        *report.case.inputs[1:],
                    ),
                }
            ),
        }
    )
    tags, words = _tags_of(altered, audience, text)
    assert tags == baseline  # no tag came from the text
    assert " ".join(text.split()) in words  # and it is printed, as written
