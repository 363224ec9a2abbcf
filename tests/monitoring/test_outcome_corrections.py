"""Correcting an outcome already imported: its own recorded step (reason and each change in
the trail), all or nothing, the imported row kept, and the corrected value used from then on
by linking and by later imports."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from caselens.audit import AuditStore
from caselens.cli.main import main
from caselens.monitoring.corrections import (
    CORRECTED_ACTION,
    OutcomeCorrectionError,
    correct_outcomes,
)
from caselens.monitoring.figures import link_outcomes
from caselens.monitoring.outcomes import OutcomeImportError, import_outcomes
from caselens.monitoring.tables import outcome_correction_table, outcome_table, ready_engine

KEY = bytes.fromhex("77" * 32)
TODAY = dt.date(2026, 6, 30)
MODELS = ("readmission-30d", "heart-disease")
HEADER = b"patient_ref,model_id,outcome,known_on\n"
GOOD = (
    HEADER + b"MRN-1,readmission-30d,1,2026-05-02\n"
    b"MRN-2,readmission-30d,0,2026-05-31\n"
    b"H-03,heart-disease,1,2026-04-01\n"
)
FIX = HEADER + b"MRN-2,readmission-30d,1,2026-05-31\n"
REASON = "Readmission to another hospital found on chart review"


@pytest.fixture()
def store(tmp_path):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2) as opened:
        import_outcomes(opened, GOOD, known_models=MODELS, today=TODAY)
        yield opened


def _correct(store, data: bytes, reason: str = REASON):
    return correct_outcomes(store, data, reason=reason, known_models=MODELS, today=TODAY)


def _counts(store) -> tuple[int, int]:
    with ready_engine(store).connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (outcome_table, outcome_correction_table)
        )


def _linked(store, ref: str, day: str) -> float:
    rows = pd.DataFrame({"patient_ref": [ref], "recorded_on": [day]})
    with ready_engine(store).connect() as conn:
        return float(
            link_outcomes(conn, "readmission-30d", rows, window_days=30, simulated=False)[0]
        )


def test_a_correction_is_recorded_with_its_reason_and_each_change(store):
    assert _linked(store, "MRN-2", "2026-05-10") == 0.0
    result = _correct(store, FIX)
    assert result.corrected == 1
    assert _counts(store) == (3, 1)  # the imported row is kept; the correction is a new row
    [entry] = [e for e in store.entries() if e.action == CORRECTED_ACTION]
    assert entry.seq == result.seq
    detail = entry.detail()
    assert detail["reason"] == REASON and detail["corrected"] == 1
    assert detail["changes"] == [
        {
            "patient_ref": "MRN-2",
            "model_id": "readmission-30d",
            "known_on": "2026-05-31",
            "from": 0,
            "to": 1,
        }
    ]
    assert store.verify().ok


def test_the_corrected_value_is_what_linking_and_later_imports_see(store):
    _correct(store, FIX)
    assert _linked(store, "MRN-2", "2026-05-10") == 1.0
    again = import_outcomes(store, FIX, known_models=MODELS, today=TODAY)
    assert (again.new, again.unchanged) == (0, 1)
    with pytest.raises(OutcomeImportError, match="contradicts the outcome 1 already held"):
        import_outcomes(store, GOOD, known_models=MODELS, today=TODAY)
    back = HEADER + b"MRN-2,readmission-30d,0,2026-05-31\n"
    _correct(store, back, reason="The chart review matched another patient")
    assert _linked(store, "MRN-2", "2026-05-10") == 0.0  # the newest correction counts
    assert _counts(store) == (3, 2)


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (
            b"MRN-9,readmission-30d,1,2026-05-31\n",
            "row 3, known_on: no outcome is held for patient MRN-9",
        ),
        (
            b"MRN-1,readmission-30d,1,2026-05-02\n",
            "row 3, outcome: the outcome held is already 1; nothing to correct",
        ),
        (b"MRN-2,readmission-30d,yes,2026-05-31\n", "row 3, outcome: 'yes' is not 0 or 1"),
        (b"H-03,heart-disease,0,2026-04-01,extra\n", "row 3, row: more values than the header"),
    ],
)
def test_one_bad_correction_row_is_named_and_nothing_is_written(store, bad_row, message):
    before = len(store.entries())
    with pytest.raises(OutcomeCorrectionError) as refused:
        _correct(store, FIX + bad_row)  # a sound first row, then the bad one
    assert any(message in p for p in refused.value.problems), refused.value.problems
    assert "were not corrected" in str(refused.value)
    assert _counts(store) == (3, 0) and len(store.entries()) == before


def test_a_file_without_the_columns_is_refused(store):
    with pytest.raises(OutcomeCorrectionError, match="missing column"):
        _correct(store, b"patient_ref,model_id,outcome\nMRN-2,readmission-30d,1\n")


def test_a_correction_needs_a_reason(store):
    for reason in ("", "   \n"):
        with pytest.raises(OutcomeCorrectionError, match="reason: say why"):
            _correct(store, FIX, reason=reason)
    with pytest.raises(OutcomeCorrectionError, match="at most 1000"):
        _correct(store, FIX, reason="x" * 1001)
    assert _counts(store) == (3, 0)


def test_the_command_corrects_and_refuses(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "outcomes.csv").write_bytes(GOOD.replace(b"2026-", b"2025-"))
    (tmp_path / "fix.csv").write_bytes(FIX.replace(b"2026-", b"2025-"))
    runner = CliRunner()
    imported = runner.invoke(main, ["outcomes", "import", str(tmp_path / "outcomes.csv")])
    assert imported.exit_code == 0, imported.output
    fix = ["outcomes", "correct", str(tmp_path / "fix.csv")]
    assert runner.invoke(main, fix).exit_code == 2  # --reason is required
    done = runner.invoke(main, [*fix, "--reason", REASON])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Corrected 1 outcome(s) from fix.csv")
    twice = runner.invoke(main, [*fix, "--reason", REASON])
    assert twice.exit_code == 1 and "nothing to correct" in twice.output


def test_simulated_outcomes_are_not_corrected(tmp_path, sample_bundles):
    from caselens.model.monitoring_plan import MonitoringPlan
    from caselens.monitoring.simulate import simulate_months, write_simulation

    bundle = sample_bundles["heart-disease"]
    sim = simulate_months(bundle, months=1, per_month=20, shifts=[], seed=3)
    with AuditStore.open(tmp_path / "sim.sqlite", key=KEY) as store:
        write_simulation(store, bundle, sim, plan=MonitoringPlan(), shifts=[], seed=3)
        with ready_engine(store).connect() as conn:
            ref, known_on, value = conn.execute(
                select(
                    outcome_table.c.patient_ref, outcome_table.c.known_on, outcome_table.c.outcome
                )
            ).first()
        row = f"{ref},heart-disease,{1 - value},{known_on}\n".encode()
        with pytest.raises(OutcomeCorrectionError, match="no outcome is held"):
            correct_outcomes(store, HEADER + row, reason=REASON, known_models=MODELS)
