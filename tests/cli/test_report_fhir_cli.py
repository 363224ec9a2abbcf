"""``caselens report fhir --entry N [--out FILE] [--send]``: through the door, as an operator."""

from __future__ import annotations

import getpass
import json

import pytest
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle

from caselens.access.app_database import open_app_database
from caselens.access.policy import Viewer
from caselens.audit import open_trail
from caselens.cli.main import main
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.lifecycle.seed import seed_first_versions
from caselens.lifecycle.store import LifecycleStore
from caselens.workflow import record_display
from fhir_test_server import fhir_test_server

OPERATOR = f"operator:{getpass.getuser()}"


@pytest.fixture(scope="module")
def server():
    with fhir_test_server() as running:
        yield running


@pytest.fixture
def displayed(tmp_path, monkeypatch, heart_bundle) -> int:
    """A fresh data folder whose trail holds one report shown to a clinician; its number."""
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CASELENS_FHIR_URL", raising=False)
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id=demo.case_id)
    report = explainer_for(heart_bundle).explain(case)
    with open_trail() as trail:
        entry = record_display(
            trail, report, Viewer("dr.lee", "Dr. Ana Lee", "clinician"), audience="clinician"
        )
    # The model's version is approved, as it was when the result was shown (a result of a
    # model without an approval in force is not written to the record).
    store = LifecycleStore(open_app_database(tmp_path))
    seed_first_versions(store, [heart_bundle], registered_by="owner.ng", approved_by="admin")
    return entry.seq


def _entries():
    with open_trail(create=False) as trail:
        return trail.entries()


def test_report_fhir_writes_the_bundle_after_recording_it(displayed, tmp_path):
    out = tmp_path / "result.fhir.json"
    result = CliRunner().invoke(
        main, ["report", "fhir", "--entry", str(displayed), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    record = _entries()[-1]
    assert (record.action, record.actor_id, record.actor_role) == (
        "exported_fhir",
        OPERATOR,
        "reviewer",
    )
    assert record.detail()["entry"] == displayed
    assert f"#{record.seq}" in result.output


def test_report_fhir_as_a_patient_is_refused_and_recorded(displayed, tmp_path):
    out = tmp_path / "result.fhir.json"
    result = CliRunner().invoke(
        main, ["report", "fhir", "--entry", str(displayed), "--out", str(out), "--as", "patient"]
    )
    assert result.exit_code == 1
    assert "may not export fhir result" in result.output
    assert not out.exists()
    assert _entries()[-1].action == "access_refused"


def test_report_fhir_send_records_the_answer_and_a_failure_ends_with_status_1(
    displayed, server, monkeypatch
):
    monkeypatch.setenv("CASELENS_FHIR_URL", server.base("ok"))
    result = CliRunner().invoke(main, ["report", "fhir", "--entry", str(displayed), "--send"])
    assert result.exit_code == 0, result.output
    assert "Sent to" in result.output
    assert [e.action for e in _entries()[-3:]] == ["exported_fhir", "exported_fhir", "fhir_sent"]
    monkeypatch.setenv("CASELENS_FHIR_URL", server.base("fail"))
    result = CliRunner().invoke(main, ["report", "fhir", "--entry", str(displayed), "--send"])
    assert result.exit_code == 1
    assert "Not sent" in result.output and "500" in result.output
    assert _entries()[-1].action == "fhir_send_failed"
