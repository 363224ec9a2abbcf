"""The monitoring plan of a bundle: from its card's monitoring section, from monitoring.json
beside the card (never both), from an operator's --plan file, else the stated defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from caselens.errors import CaseLensError
from caselens.model.bundle import load_bundle
from caselens.model.monitoring_plan import PLAN_FILE, MonitoringPlan, PlanError, plan_for

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"


def _copy(tmp_path: Path, monitoring: dict | None = None) -> Path:
    folder = tmp_path / "heart-disease"
    shutil.copytree(SAMPLES / "heart-disease", folder)
    if monitoring is not None:
        card = json.loads((folder / "card.json").read_text())
        card["monitoring"] = monitoring
        (folder / "card.json").write_text(json.dumps(card))
    return folder


def test_a_bundle_that_states_no_plan_gets_the_defaults(tmp_path):
    bundle = load_bundle(_copy(tmp_path))
    assert bundle.card.monitoring is None
    assert plan_for(bundle) == MonitoringPlan()


def test_the_cards_monitoring_section_is_the_plan(tmp_path):
    bundle = load_bundle(_copy(tmp_path, {"calibration_slope_low": 0.7, "period": "week"}))
    plan = plan_for(bundle)
    assert (plan.calibration_slope_low, plan.period) == (0.7, "week")
    assert plan.calibration_slope_high == MonitoringPlan().calibration_slope_high


def test_a_card_with_an_invalid_plan_is_refused_naming_the_field(tmp_path):
    folder = _copy(tmp_path, {"calibration_slope_low": 2.0})  # above the high end (1.25)
    with pytest.raises(CaseLensError, match="monitoring"):
        load_bundle(folder)


def test_a_plan_in_both_the_card_and_monitoring_json_is_refused(tmp_path):
    folder = _copy(tmp_path, {"psi_threshold": 0.3})
    (folder / PLAN_FILE).write_text('{"psi_threshold": 0.1}')
    with pytest.raises(PlanError, match="both in its card's monitoring section and in"):
        plan_for(load_bundle(folder))


def test_monitoring_json_alone_still_counts(tmp_path):
    folder = _copy(tmp_path)
    (folder / PLAN_FILE).write_text('{"psi_threshold": 0.1}')
    assert plan_for(load_bundle(folder)).psi_threshold == 0.1


def test_an_operators_plan_file_counts_alone(tmp_path):
    bundle = load_bundle(_copy(tmp_path, {"psi_threshold": 0.3, "period": "week"}))
    operator = tmp_path / "operator-plan.json"
    operator.write_text('{"psi_threshold": 0.15}')
    plan = plan_for(bundle, operator)
    assert (plan.psi_threshold, plan.period) == (0.15, "month")
    with pytest.raises(PlanError, match="There is no monitoring plan at"):
        plan_for(bundle, tmp_path / "missing.json")
