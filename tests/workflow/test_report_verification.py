"""Signed exports and "is this report genuine?" through the door: every exported file is
signed by the runtime's key and its hashes recorded; a reviewer's check is recorded with its
verdict; others may not check. Real stores, real sample bundles, real keys."""

from __future__ import annotations

import hashlib
import json

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.audit.signing_keys import KeyRing, SigningKey
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.export import read_signature
from caselens.model.bundle import BundleCatalogue
from caselens.workflow import Refused, UserSession, Workflow, WorkflowError
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("48" * 32)
SIGNING_KEY = SigningKey.generate()
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
)


def _workflow(folder, bundles, *, signing=True) -> Workflow:
    engine = open_app_database(folder)
    accounts = AccountStore(engine)
    for user_id, name, role, ref, model in USERS:
        accounts.add(
            user_id, name=name, role=role, password=PASSWORD, patient_ref=ref,
            patient_model_id=model,
        )  # fmt: skip
    built = Workflow(
        audit=AuditStore.open(folder / "audit.sqlite", key=KEY),
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(bundles), refused={}),
        explainer=lambda model_id: explainer_for(bundles[model_id]),
        audit_key=KEY,
        signing_key=(lambda: SIGNING_KEY) if signing else None,
        key_ring=lambda: KeyRing(current={SIGNING_KEY.key_id: SIGNING_KEY.public_key}),
    )
    approve_first_versions(built)
    return built


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, sample_bundles) -> Workflow:
    return _workflow(tmp_path_factory.mktemp("verify-door"), sample_bundles)


def _signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def _shown(workflow: Workflow, session: UserSession):
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return workflow.show_report(session, "heart-disease", case, patient_ref="H-01")


def _trail(workflow: Workflow) -> AuditStore:
    return workflow._audit  # the store the door writes; read back as a reviewer would


@pytest.fixture(scope="module")
def exported(workflow):
    session = _signed_in(workflow, "dr.lee")
    report = _shown(workflow, session)
    files = {
        fmt: workflow.export_report(
            session, report, audience="clinician", file_format=fmt, page_size="A4"
        )
        for fmt in ("html", "pdf")
    }
    return report, files


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_an_export_is_signed_over_its_display_and_its_hashes_recorded(workflow, exported, fmt):
    report, files = exported
    exported_file = files[fmt]
    signature = read_signature(exported_file.data)
    display = _trail(workflow).get(exported_file.detail["entry"])
    assert signature.key_id == SIGNING_KEY.key_id == exported_file.detail["key_id"]
    assert signature.signed["entry_seq"] == display.seq and display.action == "viewed"
    assert signature.signed["entry_hash"] == display.entry_hash
    assert signature.signed["report_id"] == report.report_id
    signed_record = _trail(workflow).get(exported_file.seq + 1)
    assert signed_record.action == "report_signed"
    assert json.loads(signed_record.detail_json) == {
        "export_entry": exported_file.seq,
        "key_id": SIGNING_KEY.key_id,
        "body_sha256": signature.signed["body_sha256"],
        "file_sha256": hashlib.sha256(exported_file.data).hexdigest(),
    }


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_a_reviewer_checks_an_export_and_the_check_is_recorded(workflow, exported, fmt):
    _, files = exported
    session = _signed_in(workflow, "rev.kim")
    data = files[fmt].data
    verdict = workflow.verify_report_file(session, data, file_name=f"report.{fmt}")
    assert verdict.genuine, verdict.sentence
    assert verdict.entry_seq == files[fmt].detail["entry"]
    record = _trail(workflow).entries()[-1]
    assert (record.action, record.actor_id, record.audience) == (
        "report_verified",
        "rev.kim",
        "reviewer",
    )
    detail = json.loads(record.detail_json)
    assert detail["verdict"] == "genuine" and detail["file_name"] == f"report.{fmt}"
    assert detail["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert detail["entry_seq"] == verdict.entry_seq


def test_an_altered_export_is_named_and_recorded(workflow, exported):
    _, files = exported
    data = files["html"].data
    tampered = data.replace(b"</h1>", b" </h1>", 1).replace(b"<h1", b"<h1 ", 1)
    session = _signed_in(workflow, "rev.kim")
    verdict = workflow.verify_report_file(session, tampered)
    assert verdict.outcome == "altered"
    detail = json.loads(_trail(workflow).entries()[-1].detail_json)
    assert detail["verdict"] == "altered" and detail["altered_parts"] == ["outside"]


def test_a_clinician_may_not_check_files_and_the_refusal_is_recorded(workflow, exported):
    _, files = exported
    session = _signed_in(workflow, "dr.lee")
    with pytest.raises(Refused):
        workflow.verify_report_file(session, files["html"].data)
    record = _trail(workflow).entries()[-1]
    assert record.action == "access_refused"
    assert json.loads(record.detail_json)["action"] == "verify_report_file"


def test_without_a_signing_key_no_file_leaves(tmp_path, sample_bundles):
    workflow = _workflow(tmp_path, sample_bundles, signing=False)
    session = _signed_in(workflow, "dr.lee")
    report = _shown(workflow, session)
    before = _trail(workflow).count()
    with pytest.raises(WorkflowError, match="no signing key"):
        workflow.export_report(
            session, report, audience="clinician", file_format="html", page_size="A4"
        )
    assert _trail(workflow).count() == before


def _first_digit_after(data: bytes, marker: bytes) -> int:
    start = data.index(marker) + len(marker)
    return next(i for i in range(start, len(data)) if data[i : i + 1].isdigit())


def _flip_digit(data: bytes, at: int) -> bytes:
    digit = b"7" if data[at : at + 1] != b"7" else b"8"
    return data[:at] + digit + data[at + 1 :]


@pytest.mark.parametrize(
    ("marker", "part"),
    [
        (b'<template id="caselens-report">', "report"),  # a number in the embedded report
        (b"<svg", "figures"),  # a number of a chart
        (b"Generated by CaseLens", "text"),  # the version printed on the page
    ],
)
def test_one_changed_number_of_a_real_export_is_named(workflow, exported, marker, part):
    _, files = exported
    data = files["html"].data
    assert marker in data
    session = _signed_in(workflow, "rev.kim")
    verdict = workflow.verify_report_file(
        session, _flip_digit(data, _first_digit_after(data, marker))
    )
    assert verdict.outcome == "altered" and verdict.altered_parts == (part,), verdict.sentence


def test_one_changed_byte_anywhere_in_a_real_pdf_is_never_genuine(workflow, exported):
    _, files = exported
    data = files["pdf"].data
    session = _signed_in(workflow, "rev.kim")
    for at in range(0, len(data), max(1, len(data) // 7)):
        flipped = data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]
        verdict = workflow.verify_report_file(session, flipped)
        assert not verdict.genuine and verdict.sentence
