"""``caselens monitor check --all``: every model of the models folder judged by its own plan,
one line per model, exit 3 when any alert is open (1 when a model could not be judged)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from caselens.audit import open_trail
from caselens.cli.main import main
from caselens.cli.monitor import EXIT_ALERT
from caselens.explain.cases import validate_inputs
from caselens.model.bundle import load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from monitoring_fixtures import make_workflow, signed_in

BREACHED = "heart-disease"
QUIET = "readmission-30d"


@pytest.fixture()
def models_and_trail(tmp_path: Path, monkeypatch) -> Path:
    """A models folder (heart-disease judged from five predictions, readmission as shipped)
    and a trail in CASELENS_DATA_DIR where the nine heart-disease demo patients were shown to a
    clinician: a live prediction drift (PSI about 0.48) for heart-disease, nothing for
    readmission. Returns the models folder."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("CASELENS_DATA_DIR", str(data))
    for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    models = tmp_path / "models"
    for model in (BREACHED, QUIET):
        shutil.copytree(SAMPLE_MODELS_DIR / model, models / model)
    (models / BREACHED / "monitoring.json").write_text(json.dumps({"min_predictions": 5}))
    bundle = load_bundle(models / BREACHED)
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    with open_trail() as trail:
        workflow = make_workflow(accounts, trail, {BREACHED: bundle})
        doctor = signed_in(workflow, "dr.lee")
        for demo in bundle.demo_cases:
            case = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
            workflow.show_report(doctor, BREACHED, case, patient_ref=demo.case_id)
    return models


def _lines(output: str) -> dict[str, str]:
    return {line.split(":", 1)[0]: line for line in output.splitlines() if line}


def test_every_model_gets_one_line_and_an_alert_anywhere_exits_3(models_and_trail):
    runner = CliRunner()
    args = ["monitor", "check", "--all", "--models-dir", str(models_and_trail)]
    result = runner.invoke(main, args)
    assert result.exit_code == EXIT_ALERT, result.output
    lines = _lines(result.output)
    assert set(lines) == {BREACHED, QUIET}, result.output
    assert lines[BREACHED].startswith(f"{BREACHED}: ALERT ") and "new)" in lines[BREACHED]
    assert "(0 new)" not in lines[BREACHED]
    assert lines[QUIET].startswith(f"{QUIET}: OK  no alert open")
    with open_trail(create=False) as trail:
        raised = trail.entries(action="alert_raised")
    assert raised and {e.detail()["model_id"] for e in raised} == {BREACHED}
    ids = [e.detail()["alert_id"] for e in raised]
    assert all(alert_id in lines[BREACHED] for alert_id in ids)
    # Run again (cron's next run): the same alerts are open, none is recorded twice.
    again = runner.invoke(main, args)
    assert again.exit_code == EXIT_ALERT and "(0 new)" in _lines(again.output)[BREACHED]
    with open_trail(create=False) as trail:
        assert len(trail.entries(action="alert_raised")) == len(raised)


def test_no_alert_anywhere_exits_0_with_a_line_per_model(models_and_trail):
    # Judged by the shipped plan (100 predictions at least), nine displays are too few.
    (models_and_trail / BREACHED / "monitoring.json").unlink()
    result = CliRunner().invoke(
        main, ["monitor", "check", "--all", "--models-dir", str(models_and_trail)]
    )
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert set(lines) == {BREACHED, QUIET}
    assert all(" OK  no alert open" in line for line in lines.values())


def test_a_second_version_folder_of_a_model_adds_no_second_line(models_and_trail):
    # Monitoring is per model id: heart-disease's version 2 folder is the same model.
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease-v2", models_and_trail / "heart-disease-v2")
    (models_and_trail / BREACHED / "monitoring.json").unlink()
    result = CliRunner().invoke(
        main, ["monitor", "check", "--all", "--models-dir", str(models_and_trail)]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line]
    assert sorted(line.split(":", 1)[0] for line in lines) == [BREACHED, QUIET], result.output


def test_a_model_that_cannot_be_judged_is_named_and_fails_the_run(models_and_trail):
    (models_and_trail / BREACHED / "monitoring.json").unlink()
    (models_and_trail / QUIET / "model.skops").write_bytes(b"not a model")
    result = CliRunner().invoke(
        main, ["monitor", "check", "--all", "--models-dir", str(models_and_trail)]
    )
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert lines[QUIET].startswith(f"{QUIET}: NOT CHECKED ")
    assert " OK  no alert open" in lines[BREACHED]


@pytest.mark.parametrize(
    "extra",
    [["--model", BREACHED], ["--simulated", "abc"], ["--plan", "plan.json"]],
)
def test_all_refuses_options_that_name_one_model(extra):
    result = CliRunner().invoke(main, ["monitor", "check", "--all", *extra])
    assert result.exit_code == 2 and "--all judges every model" in result.output


def test_check_needs_a_model_or_all():
    result = CliRunner().invoke(main, ["monitor", "check"])
    assert result.exit_code == 2 and "--model MODEL_ID, or --all" in result.output
