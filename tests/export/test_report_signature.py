"""Signed report files: genuine ones pass, every alteration is caught and named, foreign keys
and foreign trails are said, and no input (random bytes, mutations) raises.

Real Ed25519 keys on disk, real SQLite trails, a real sample report, real WeasyPrint PDFs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.access.policy import Viewer
from caselens.audit import AuditStore
from caselens.audit.signing_keys import (
    KeyRing,
    SigningKey,
    load_signing_key,
    retire_and_replace_signing_key,
)
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseReport, explainer_for
from caselens.export import SignatureError, read_signature, sign_report_file, verify_report_file
from caselens.workflow import record_display
from report_files import report_html, report_pdf

KEY = bytes.fromhex("5a" * 32)
CLINICIAN = Viewer("dr.lee", "Dr. Ana Lee", "clinician")


@pytest.fixture(scope="module")
def report(heart_bundle) -> CaseReport:
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id=demo.case_id)
    return explainer_for(heart_bundle).explain(case)


@pytest.fixture(scope="module")
def world(tmp_path_factory, report):
    """A trail holding the report's display (entry #2), the server's key file and its ring."""
    folder = tmp_path_factory.mktemp("signed")
    trail = AuditStore.open(folder / "audit.sqlite", key=KEY)
    record_display(trail, report, Viewer("pat.h03", "Sam Patel", "patient"), audience="patient")
    entry = record_display(trail, report, CLINICIAN, audience="clinician")
    key_file = folder / "signing.key.pem"
    key = load_signing_key(key_file, create=True)
    return {"trail": trail, "entry": entry, "key": key, "key_file": key_file, "folder": folder}


@pytest.fixture(scope="module")
def pdf_bodies(report) -> dict[str, bytes]:
    return {audience: report_pdf(report, audience) for audience in ("clinician", "patient")}


def _body(kind: str, audience: str, report: CaseReport, pdf_bodies) -> bytes:
    return report_html(report, audience) if kind == "html" else pdf_bodies[audience]


def _signed(world, report, kind="html", audience="clinician", pdf_bodies=None, key=None) -> bytes:
    body = _body(kind, audience, report, pdf_bodies)
    return sign_report_file(
        body,
        file_kind=kind,
        audience=audience,
        report=report,
        entry=world["entry"],
        key=key or world["key"],
    )


def _verify(world, data: bytes):
    return verify_report_file(
        data, trail=world["trail"], ring=KeyRing.for_server(world["key_file"])
    )


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, old
    return data.replace(old, new, 1)


@pytest.mark.parametrize("kind", ["html", "pdf"])
@pytest.mark.parametrize("audience", ["clinician", "patient"])
def test_a_genuine_file_is_genuine_and_names_its_entry(world, report, pdf_bodies, kind, audience):
    data = _signed(world, report, kind, audience, pdf_bodies)
    verdict = _verify(world, data)
    assert verdict.genuine, verdict.sentence
    assert verdict.entry_seq == world["entry"].seq == 2
    assert verdict.key_standing == "current"
    assert f"entry #{world['entry'].seq} of this trail" in verdict.sentence
    assert f"{kind.upper()} ({audience} version)" in verdict.sentence
    sig = read_signature(data)
    assert sig.signed["entry_hash"] == world["entry"].entry_hash
    assert sig.signed["report_id"] == report.report_id
    assert sig.signed["model_sha256"] == report.model.sha256
    assert set(sig.signed["parts"]) >= {"report", "text", "figures"}


def test_the_signature_line_follows_the_convention(world, report, pdf_bodies):
    html = _signed(world, report)
    body, line = html[: html.rindex(b"\n", 0, -1) + 1], html[html.rindex(b"\n", 0, -1) + 1 :]
    assert body.endswith(b"</html>\n") and line.startswith(b"<!--caselens-signature:v1 ")
    assert line.endswith(b"-->\n") and line.count(b"\n") == 1
    block = json.loads(base64.urlsafe_b64decode(line[26:-4] + b"=" * (-len(line[26:-4]) % 4)))
    assert (block["v"], block["alg"], block["key_id"]) == (1, "Ed25519", world["key"].key_id)
    pdf = _signed(world, report, "pdf", pdf_bodies=pdf_bodies)
    assert b"%%EOF\n%caselens-signature:v1 " in pdf[-4000:] and pdf.endswith(b"\n")


HTML_CHANGES = {
    # one byte of the visible text (a letter of the model name heading)
    "text": (b"version)</h1>", b"versioN)</h1>", ("text",)),
    # a number the reader sees
    "number": (b"Estimated risk: ", b"Estimated risk: 1", ("text",)),
    # the figure's bar length
    "figure": (b'<rect x="0"', b'<rect x="1"', ("figures",)),
    # the embedded report: its probability field
    "report": (b'"probability":', b'"probability":1', ("report",)),
    # the stylesheet, which is no named part
    "outside": (b"font-family:sans-serif", b"font-family:serif", ("outside",)),
}


@pytest.mark.parametrize("change", sorted(HTML_CHANGES))
def test_one_changed_html_part_is_caught_and_named(world, report, change):
    old, new, parts = HTML_CHANGES[change]
    verdict = _verify(world, _replace_once(_signed(world, report), old, new))
    assert verdict.outcome == "altered"
    assert verdict.altered_parts == parts
    words = {"text": "visible text", "figures": "figure", "report": "report data"}
    assert words.get(parts[0], "outside any named part") in verdict.sentence


def test_a_changed_number_in_the_report_data_is_named(world, report):
    data = _signed(world, report)
    shown = f'"probability":{report.probability!r}'.encode()
    assert shown in data
    verdict = _verify(world, data.replace(shown, shown[:-1] + b"9", 1))
    assert verdict.altered_parts == ("report",)


def test_a_changed_signature_block_is_named(world, report, pdf_bodies):
    for kind in ("html", "pdf"):
        data = _signed(world, report, kind, pdf_bodies=pdf_bodies)
        start = data.rindex(b"\n", 0, -1) + 1
        sig = read_signature(data)
        # the claim changed inside a well-formed block: the key's signature no longer holds
        block = {
            "v": 1,
            "alg": "Ed25519",
            "key_id": sig.key_id,
            "signature": base64.urlsafe_b64encode(sig.signature).rstrip(b"=").decode(),
            "signed": {**sig.signed, "audience": "patient" if kind == "html" else "reviewer"},
        }
        token = base64.urlsafe_b64encode(json.dumps(block).encode()).rstrip(b"=")
        prefix = data[start : data.index(b" ", start) + 1]
        tail = b"-->\n" if kind == "html" else b"\n"
        verdict = _verify(world, data[:start] + prefix + token + tail)
        assert verdict.outcome == "altered" and verdict.altered_parts == ("signature",)
        assert "signature block itself" in verdict.sentence
        # one byte of the encoded line flipped: not decodable, or not the signed claim
        flipped = bytearray(data)
        flipped[start + 40] ^= 0x01
        verdict = _verify(world, bytes(flipped))
        assert verdict.outcome == "altered" and verdict.altered_parts == ("signature",)
        # removed
        verdict = _verify(world, data[:start])
        assert verdict.altered_parts == ("signature",)
        assert "never signed, or the signature block was removed" in verdict.sentence


def test_a_pdf_whose_report_or_drawing_changed_is_named(world, report, pdf_bodies):
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    data = _signed(world, report, "pdf", pdf_bodies=pdf_bodies)
    body = read_signature(data).body
    # the attachment's JSON rewritten by a PDF tool, the pages left as they were
    writer = PdfWriter(clone_from=PdfReader(BytesIO(body)))
    writer.attachments  # noqa: B018 - touch: the name tree is cloned
    changed = report.to_json().replace('"probability":', '"probability":1', 1)
    writer.add_attachment("caselens-report.json", changed.encode())
    out = BytesIO()
    writer.write(out)
    tampered = out.getvalue()
    verdict = _verify(world, tampered + data[len(body) :])
    assert verdict.outcome == "altered"
    assert "report" in verdict.altered_parts, verdict.sentence
    # one byte of a glyph the page shows (uncompressed content stream): the text changed
    glyph = data.index(b"[<002b>")
    verdict = _verify(world, data[:glyph] + b"[<002c>" + data[glyph + 7 :])
    assert verdict.outcome == "altered" and "text" in verdict.altered_parts, verdict.sentence
    assert "visible text" in verdict.sentence
    # one digit of the drawn risk bar (the SVG's rectangle, drawn on the page): not text
    bar = data.index(b" re\n", data.index(b"BT\n"))
    digit = data.rindex(b".", 0, bar) + 1
    redrawn = bytearray(data)
    redrawn[digit] = ord("7") if redrawn[digit] != ord("7") else ord("8")
    verdict = _verify(world, bytes(redrawn))
    assert verdict.outcome == "altered" and verdict.altered_parts == ("pages",), verdict.sentence
    assert "drawing of a page" in verdict.sentence


def test_an_unknown_key_is_said(world, report):
    stranger = SigningKey.generate()
    verdict = _verify(world, _signed(world, report, key=stranger))
    assert verdict.outcome == "unknown_key"
    assert stranger.key_id in verdict.sentence and "not a report key of this CaseLens" in (
        verdict.sentence
    )


def test_a_revoked_key_is_said(world, report):
    data = _signed(world, report)
    ring = KeyRing.for_server(world["key_file"], revoked=[world["key"].key_id])
    verdict = verify_report_file(data, trail=world["trail"], ring=ring)
    assert verdict.outcome == "revoked_key" and "revoked" in verdict.sentence


def test_a_file_signed_before_a_rotation_is_genuine_and_says_retired(tmp_path, world, report):
    key_file = tmp_path / "signing.key.pem"
    old = load_signing_key(key_file, create=True)
    data = _signed(world, report, key=old)
    new = retire_and_replace_signing_key(key_file)
    assert new.key_id != old.key_id
    verdict = verify_report_file(data, trail=world["trail"], ring=KeyRing.for_server(key_file))
    assert verdict.genuine, verdict.sentence
    assert verdict.key_standing == "retired" and "retired key" in verdict.sentence


def test_a_file_from_another_trail_is_not_in_this_trail(tmp_path, world, report):
    data = _signed(world, report)
    other = AuditStore.open(tmp_path / "other.sqlite", key=KEY)
    verdict = verify_report_file(data, trail=other, ring=KeyRing.for_server(world["key_file"]))
    assert verdict.outcome == "not_in_trail"
    assert "this trail has no entry #2" in verdict.sentence
    # a trail whose entry #2 is another display: same number, another hash
    record_display(other, report, CLINICIAN, audience="clinician")
    record_display(other, report, CLINICIAN, audience="clinician")
    verdict = verify_report_file(data, trail=other, ring=KeyRing.for_server(world["key_file"]))
    assert verdict.outcome == "not_in_trail"
    assert "entry #2 of this trail is a different display" in verdict.sentence


def test_signing_refuses_a_body_that_does_not_embed_the_report(world, report):
    with pytest.raises(SignatureError, match="does not embed this report"):
        sign_report_file(
            b"<html><body>no report</body></html>\n",
            file_kind="html",
            audience="clinician",
            report=report,
            entry=world["entry"],
            key=world["key"],
        )
    with pytest.raises(SignatureError, match="must end with"):
        sign_report_file(
            b"<html>", file_kind="html", audience="x", report=report, entry=world["entry"],
            key=world["key"],
        )  # fmt: skip


def test_an_oversized_or_empty_file_is_refused_without_reading_it(world, tmp_path):
    from caselens.export.signature import MAX_REPORT_FILE_BYTES

    assert _verify(world, b"").outcome == "unreadable"
    verdict = _verify(world, b"x" * (MAX_REPORT_FILE_BYTES + 1))
    assert verdict.outcome == "unreadable" and "not one" in verdict.sentence


_FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FAST
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise_and_are_never_genuine(world, data):
    verdict = _verify(world, data)
    assert not verdict.genuine and verdict.sentence


@_FAST
@given(st.data())
def test_any_mutation_of_a_genuine_file_is_caught(world, report, pdf_bodies, data):
    kind = data.draw(st.sampled_from(["html", "pdf"]))
    genuine = _signed(world, report, kind, pdf_bodies=pdf_bodies)
    at = data.draw(st.integers(0, len(genuine) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != genuine[at]))
    mutated = genuine[:at] + bytes([byte]) + genuine[at + 1 :]
    verdict = _verify(world, mutated)
    assert not verdict.genuine and verdict.sentence


@_FAST
@given(st.data())
def test_cut_or_spliced_files_never_raise(world, report, data):
    genuine = _signed(world, report)
    cut = data.draw(st.integers(0, len(genuine)))
    junk = data.draw(st.binary(max_size=200))
    verdict = _verify(world, genuine[:cut] + junk)
    assert verdict.genuine == (cut == len(genuine) and junk == b"")


def test_a_report_file_path_is_not_needed(world, report):
    # the verifier takes bytes: a file name or a path never changes the verdict
    data = _signed(world, report)
    path = Path(world["folder"]) / "copy.html"
    path.write_bytes(data)
    assert _verify(world, path.read_bytes()).genuine
