"""Exported case reports, through the real door: both samples and a bundle CaseLens did not
train, both audiences, HTML parsed and PDF text extracted, hostile strings escaped.

Real stores, real bundles, real WeasyPrint; every file is read back as a reader would.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from html.parser import HTMLParser

import pytest
from pypdf import PdfReader

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.audit.signing_keys import KeyRing, SigningKey
from caselens.explain.cases import validate_inputs
from caselens.explain.interval_text import format_percent
from caselens.explain.next_steps import NO_NEXT_STEPS_TEXT
from caselens.explain.report import CaseReport, explainer_for
from caselens.export import CONTENT_SECURITY_POLICY, REPORT_ATTACHMENT, read_signature
from caselens.model.bundle import BundleCatalogue, load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow import UserSession, Workflow
from hostile_bundles import edit_card
from lifecycle_fixtures import approve_first_versions

#: The server's report key for this module (every exported file is signed with it).
SIGNING_KEY = SigningKey.generate()
KEY = bytes.fromhex("47" * 32)
PASSWORD = "a long enough password"
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_MODEL_ID = "hostile-heart"
USERS = (
    ("dr.lee", f"Dr. {HOSTILE}", "clinician", None, None),
    ("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
)
#: A URL that reaches outside the file: src/href/url() to http(s) or protocol-relative.
EXTERNAL = re.compile(r"""^\s*(https?:|//)""", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?\s*(https?:|//)""", re.IGNORECASE)


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory):
    """The heart sample with hostile strings in its card's free text."""
    folder = tmp_path_factory.mktemp("hostile") / HOSTILE_MODEL_ID
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    edit_card(
        folder,
        model_id=HOSTILE_MODEL_ID,
        name=f"Heart {HOSTILE}",
        intended_use=f"Testing </template><script>alert(2)</script> {HOSTILE}",
        threshold_rationale=f"Rationale {HOSTILE} url(https://evil.example/x)",
    )
    return load_bundle(folder)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, sample_bundles, other_family_bundles, hostile_bundle):
    folder = tmp_path_factory.mktemp("export-door")
    engine = open_app_database(folder)
    accounts = AccountStore(engine)
    for user_id, name, role, ref, model in USERS:
        accounts.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    bundles = {
        **sample_bundles,
        "other": other_family_bundles["calibrated"],
        HOSTILE_MODEL_ID: hostile_bundle,
    }
    bundles = {b.model_id: b for b in bundles.values()}
    audit = AuditStore.open(folder / "audit.sqlite", key=KEY)
    built = Workflow(
        audit=audit,
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=bundles, refused={}),
        explainer=lambda model_id: explainer_for(bundles[model_id]),
        audit_key=KEY,
        signing_key=lambda: SIGNING_KEY,
        key_ring=lambda: KeyRing(current={SIGNING_KEY.key_id: SIGNING_KEY.public_key}),
    )
    approve_first_versions(built)
    built.trail = audit
    yield built
    audit.close()


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def shown(workflow: Workflow, session: UserSession, model_id: str) -> CaseReport:
    bundle = workflow.bundle(model_id)
    demo = bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return workflow.show_report(session, model_id, case, patient_ref="H-01")


class Parsed(HTMLParser):
    """Every tag, attribute, style text and visible text of a file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self.template: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, name, value) for name, value in attrs]
        self._stack.append(tag)

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data):
        where = self._stack[-1] if self._stack else ""
        if where == "style":
            self.styles.append(data)
        elif where == "template":
            self.template.append(data)
        else:
            self.text.append(data)


def parse(data: bytes) -> Parsed:
    parsed = Parsed()
    parsed.feed(data.decode("utf-8"))
    return parsed


def assert_self_contained(parsed: Parsed) -> None:
    assert "script" not in parsed.tags
    assert not [a for a in parsed.attrs if a[1].startswith("on")], "an event handler attribute"
    for tag, name, value in parsed.attrs:
        if name in ("src", "href", "xlink:href", "action", "srcset", "data"):
            assert not EXTERNAL.match(value or ""), (tag, name, value)
        if name == "style":
            assert not CSS_URL.search(value or "")
    for style in parsed.styles:
        assert not CSS_URL.search(style)
    csp = [
        (n, v)
        for t, n, v in parsed.attrs
        if t == "meta" and n == "content" and v == CONTENT_SECURITY_POLICY
    ]
    assert csp, "the CSP meta is missing"


MODELS = ("heart-disease", "readmission-30d", "hf-mortality-rf")


@pytest.mark.parametrize("model_id", MODELS)
def test_clinician_html_carries_the_report_and_nothing_from_outside(workflow, model_id):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session, model_id)
    exported = workflow.export_report(
        session, report, audience="clinician", file_format="html", page_size="A4"
    )
    # the body ends with </html>, then exactly one signature line (the signed-file convention)
    assert read_signature(exported.data).body.endswith(b"</html>\n")
    assert exported.data.endswith(b"-->\n") and exported.mime == "text/html"
    parsed = parse(exported.data)
    assert_self_contained(parsed)
    text = " ".join(" ".join(parsed.text).split())
    display = workflow.trail.get(exported.detail["entry"])
    # The embedded report is the display entry's canonical JSON, byte for byte.
    assert "".join(parsed.template) == display.report_json
    assert CaseReport.from_json("".join(parsed.template)) == report
    assert format_percent(report.confidence.probability) in text
    assert f"Audit entry #{display.seq}" in text
    assert report.report_id in text and report.model.sha256 in text
    assert report.model.name in text
    assert f"Generated by CaseLens {report.provenance.caselens_version}" in text
    for variable in report.attributions.variables:
        assert variable.label in text
    for limitation in report.limitations:
        assert " ".join(limitation.clinician_text.split()) in text
    # The owners' next steps, as the screen shows them, or that none are stated.
    if report.next_steps is None:
        assert NO_NEXT_STEPS_TEXT in text
    else:
        for step in report.next_steps.all_steps():
            assert " ".join(step.text.split()) in text and " ".join(step.source.split()) in text
        assert report.next_steps.attribution in text
    # The charts have their words: a title per SVG.
    assert parsed.tags.count("svg") == parsed.tags.count("title") - 1  # + the page <title>


@pytest.mark.parametrize("model_id", MODELS)
def test_pdf_text_matches_the_report_on_every_page(workflow, model_id):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session, model_id)
    exported = workflow.export_report(
        session, report, audience="clinician", file_format="pdf", page_size="Letter"
    )
    assert exported.data.startswith(b"%PDF-")
    assert read_signature(exported.data).body.endswith(b"%%EOF\n")
    reader = PdfReader(io.BytesIO(exported.data))
    seq = exported.detail["entry"]
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Audit entry #{seq}" in page, f"page {number} has no entry number"
        assert report.model.sha256 in page.replace(" ", "") or report.model.sha256[:16] in page
        assert f"Page {number} of {len(pages)}" in page
    whole = " ".join(pages)
    assert format_percent(report.confidence.probability) in whole
    assert report.model.name.split()[0] in whole
    # Letter paper: 612 × 792 points.
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    attached = reader.attachments[REPORT_ATTACHMENT][0]
    assert attached.decode("utf-8") == workflow.trail.get(seq).report_json


def test_the_patients_file_is_their_summary_in_large_type_with_the_icon_array(workflow):
    session = signed_in(workflow, "pat.h03")
    report = workflow.show_my_result(session)
    exported = workflow.export_report(
        session, report, audience="patient", file_format="html", page_size="A4"
    )
    parsed = parse(exported.data)
    assert_self_contained(parsed)
    text = " ".join(" ".join(parsed.text).split())
    p = report.narrative.patient
    for sentence in (p.headline, p.factors_sentence, *p.does_not_mean):
        assert " ".join(sentence.split()) in text
    assert "svg" in parsed.tags and str(p.out_of_100) in text
    # The owners' steps in the patient's words (the heart sample words them), never the
    # clinician's.
    assert p.next_steps is not None and p.next_steps.steps
    for line in p.next_steps.steps:
        assert " ".join(line.split()) in text
    for step in report.next_steps.all_steps():
        assert " ".join(step.text.split()) not in text
    # The clinician's numbers stay out of the patient's file.
    assert "SHAP" not in text and "LIME" not in text
    assert "font-size: 17pt" in " ".join(parsed.styles)
    pdf = workflow.export_report(
        session, report, audience="patient", file_format="pdf", page_size="A4"
    )
    reader = PdfReader(io.BytesIO(pdf.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    first = " ".join(reader.pages[0].extract_text().split())
    assert p.headline.split()[0] in first and f"#{pdf.detail['entry']}" in first


def test_hostile_card_text_and_user_names_are_escaped(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session, HOSTILE_MODEL_ID)
    for audience in ("clinician", "patient"):
        exported = workflow.export_report(
            session, report, audience=audience, file_format="html", page_size="A4"
        )
        raw = exported.data.decode("utf-8")
        parsed = parse(exported.data)
        assert_self_contained(parsed)
        assert "<img" not in raw and "<script" not in raw
        assert "img" not in parsed.tags
        # The name was shown as text (escaped), not dropped.
        assert html.escape(HOSTILE, quote=False) in raw or "&lt;img src=x" in raw
        assert raw.count("</template>") == 1
        assert CaseReport.from_json("".join(parsed.template)) == report


def test_page_size_and_format_are_checked_before_anything_is_recorded(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session, "heart-disease")
    before = workflow.trail.count()
    with pytest.raises(Exception, match="Page size: expected one of A4, Letter"):
        workflow.export_report(
            session, report, audience="clinician", file_format="html", page_size="A3"
        )
    with pytest.raises(Exception, match="Format: expected one of html, pdf"):
        workflow.export_report(
            session, report, audience="clinician", file_format="docx", page_size="A4"
        )
    assert workflow.trail.count() == before


def test_the_recorded_detail_names_the_display(workflow):
    session = signed_in(workflow, "dr.lee")
    report = shown(workflow, session, "heart-disease")
    exported = workflow.export_report(
        session, report, audience="patient", file_format="html", page_size="Letter"
    )
    record = workflow.trail.get(exported.seq)
    assert record.action == "report_exported" and record.actor_id == "dr.lee"
    assert json.loads(record.detail_json) == exported.detail
    assert exported.detail == {
        "format": "html",
        "audience": "patient",
        "page_size": "Letter",
        "entry": session.display_entries[report.report_id],
        "entry_hash": workflow.trail.get(exported.detail["entry"]).entry_hash,
        "key_id": SIGNING_KEY.key_id,
    }
    assert exported.file_name == f"caselens-report-{exported.detail['entry']}-patient.html"
