"""``caselens report export ENTRY --format … --audience … --out FILE``: through the door."""

from __future__ import annotations

import getpass
import io

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from caselens.access.policy import Viewer
from caselens.audit import open_trail
from caselens.audit.signing_keys import load_signing_key
from caselens.cli.main import main
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.workflow import record_display

OPERATOR = f"operator:{getpass.getuser()}"


@pytest.fixture
def displayed(tmp_path, monkeypatch, heart_bundle) -> int:
    """A fresh data folder whose trail holds one report shown to a clinician; its number."""
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CASELENS_SIGNING_KEY_FILE", raising=False)
    # The operator's report key (as `openssl genpkey -algorithm ed25519` would write it).
    load_signing_key(tmp_path / "signing.key.pem", create=True)
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id=demo.case_id)
    report = explainer_for(heart_bundle).explain(case)
    with open_trail() as trail:
        entry = record_display(
            trail, report, Viewer("dr.lee", "Dr. Ana Lee", "clinician"), audience="clinician"
        )
    return entry.seq


def _entries():
    with open_trail(create=False) as trail:
        return trail.entries()


def test_report_export_replays_records_then_writes_the_pdf(displayed, tmp_path):
    out = tmp_path / "case.pdf"
    result = CliRunner().invoke(
        main,
        ["report", "export", str(displayed), "--format", "pdf", "--audience", "patient",
         "--page-size", "Letter", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    replayed, exported, signed = _entries()[-3:]
    assert (replayed.action, exported.action) == ("replayed", "report_exported")
    assert signed.action == "report_signed" and signed.detail()["export_entry"] == exported.seq
    assert exported.actor_id == OPERATOR and exported.detail()["entry"] == displayed
    assert f"recorded as entry #{exported.seq}" in result.output
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    assert f"#{displayed}" in reader.pages[0].extract_text()
    assert round(float(reader.pages[0].mediabox.width)) == 612  # Letter
    # The file verifies as genuine against this trail, by the same command line.
    checked = CliRunner().invoke(main, ["report", "verify", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "Genuine: this PDF (patient version)" in checked.output
    assert f"entry #{displayed} of this trail" in checked.output


def test_report_export_without_a_signing_key_writes_nothing(displayed, tmp_path):
    (tmp_path / "signing.key.pem").unlink()
    out = tmp_path / "case.html"
    result = CliRunner().invoke(
        main, ["report", "export", str(displayed), "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 1 and "no signing key file at" in result.output
    assert not out.exists()


def test_report_export_as_an_admin_is_refused_recorded_and_writes_nothing(displayed, tmp_path):
    out = tmp_path / "case.html"
    result = CliRunner().invoke(
        main,
        ["report", "export", str(displayed), "--format", "html", "--out", str(out),
         "--as", "admin"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "may not replay entry" in result.output
    assert not out.exists()
    assert _entries()[-1].action == "access_refused"
