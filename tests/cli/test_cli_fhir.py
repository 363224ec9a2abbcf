"""``caselens fhir synthetic``: a demo case's synthetic record reads back into that case, with
the problems asked for; bad options are messages, not tracebacks."""

from __future__ import annotations

import datetime
import json

from click.testing import CliRunner

from caselens.cli.main import main
from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.model.bundle import load_feature_schema
from caselens.settings import SAMPLE_MODELS_DIR

DAY = "2024-06-01"


def test_a_demo_cases_record_reads_back_with_the_problem_asked_for(tmp_path):
    out = tmp_path / "h03.json"
    result = CliRunner().invoke(
        main,
        ["fhir", "synthetic", "--case", "H-03", "--case-date", DAY, "--out", str(out),
         "--variant", "cholesterol=stale", "--bundle-type", "transaction"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "inputs from the record" in result.output
    schema = load_feature_schema(SAMPLE_MODELS_DIR / "heart-disease" / "features.json")
    cases = json.loads((SAMPLE_MODELS_DIR / "heart-disease" / "demo_cases.json").read_text())
    h03 = next(c for c in cases if c["case_id"] == "H-03")["inputs"]
    record = read_fhir_bundle(out.read_bytes())
    assert record.bundle_type == "transaction"
    intake = case_from_record(schema, record, case_date=datetime.date.fromisoformat(DAY))
    assert intake.fields["cholesterol"].status == "stale"
    assert intake.values()["age"] == h03["age"] and intake.values()["sex"] == h03["sex"]
    assert intake.patient.resource_id == "synthetic-h-03"


def test_the_same_seed_prints_the_same_record():
    args = ["fhir", "synthetic", "--model", "readmission-30d", "--case-date", DAY, "--seed", "3"]
    first, second = CliRunner().invoke(main, args), CliRunner().invoke(main, args)
    assert first.exit_code == 0 and first.output == second.output
    assert json.loads(first.output)["resourceType"] == "Bundle"


def test_bad_options_are_messages():
    runner = CliRunner()
    variant = runner.invoke(main, ["fhir", "synthetic", "--variant", "cholesterol=broken"])
    assert variant.exit_code == 2 and "one of missing, stale" in variant.output
    case = runner.invoke(main, ["fhir", "synthetic", "--case", "Z-99"])
    assert case.exit_code == 1 and "No demo case 'Z-99'" in case.output
    model = runner.invoke(main, ["fhir", "synthetic", "--model", "no-such-model"])
    assert model.exit_code == 1 and "No readable bundle 'no-such-model'" in model.output
    stale = runner.invoke(main, ["fhir", "synthetic", "--variant", "age=stale"])
    assert stale.exit_code == 1 and "'stale' does not apply" in stale.output
