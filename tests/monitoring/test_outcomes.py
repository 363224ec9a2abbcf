"""Outcome import: every bad row named by row and field, all or nothing, idempotent,
recorded in the trail; outcome windows from the card or the plan."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from caselens.audit import AuditStore, AuditWriteError
from caselens.cli.main import main
from caselens.model.monitoring_plan import (
    DEFAULT_OUTCOME_WINDOW_DAYS,
    MonitoringPlan,
    PlanError,
    parse_plan,
    window_days_from_text,
)
from caselens.monitoring.outcomes import (
    COLUMNS,
    PATIENT_REF_PATTERN,
    OutcomeImportError,
    header_problems,
    import_outcomes,
)
from caselens.monitoring.tables import outcome_table, ready_engine
from caselens.workflow.checks import PATIENT_REF_PATTERN as WORKFLOW_PATTERN

KEY = bytes.fromhex("66" * 32)
TODAY = dt.date(2026, 6, 30)
MODELS = ("readmission-30d", "heart-disease")
GOOD = (
    b"patient_ref,model_id,outcome,known_on\n"
    b"MRN-1,readmission-30d,1,2026-05-02\n"
    b"MRN-2,readmission-30d,0,2026-05-31\n"
    b"H-03,heart-disease,1,2026-04-01\n"
)


@pytest.fixture()
def store(tmp_path):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2) as opened:
        yield opened


def held(store: AuditStore) -> int:
    with ready_engine(store).connect() as conn:
        return conn.execute(select(func.count()).select_from(outcome_table)).scalar_one()


def run_import(store, data: bytes):
    return import_outcomes(store, data, known_models=MODELS, today=TODAY)


def test_a_sound_file_is_imported_once_and_each_import_is_recorded(store):
    first = run_import(store, GOOD)
    assert (first.rows, first.new, first.unchanged) == (3, 3, 0)
    again = run_import(store, GOOD)
    assert (again.rows, again.new, again.unchanged) == (3, 0, 3)
    assert held(store) == 3
    entries = [e for e in store.entries() if e.action == "outcomes_imported"]
    assert [e.seq for e in entries] == [first.seq, again.seq]
    detail = entries[0].detail()
    assert detail["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert (detail["rows"], detail["new"], detail["unchanged"]) == (3, 3, 0)
    assert store.verify().ok


BAD_ROWS = [
    ("bad ref!,readmission-30d,1,2026-05-02", "row 2, patient_ref"),
    (",readmission-30d,1,2026-05-02", "row 2, patient_ref: an empty value"),
    ("MRN-1,no-such-model,1,2026-05-02", "row 2, model_id: 'no-such-model' is not a model"),
    ("MRN-1,Readmission,1,2026-05-02", "row 2, model_id: 'Readmission' is not a model id"),
    ("MRN-1,readmission-30d,2,2026-05-02", "row 2, outcome: '2' is not 0 or 1"),
    ("MRN-1,readmission-30d,yes,2026-05-02", "row 2, outcome: 'yes' is not 0 or 1"),
    ("MRN-1,readmission-30d,1,02/05/2026", "row 2, known_on: '02/05/2026' is not a date"),
    ("MRN-1,readmission-30d,1,2026-02-30", "row 2, known_on: '2026-02-30' is not a date"),
    ("MRN-1,readmission-30d,1,2026-07-01", "row 2, known_on: 2026-07-01 is after today"),
    ("MRN-1,readmission-30d,1,1999-12-31", "row 2, known_on: 1999-12-31 is before 2000"),
    ("MRN-1,readmission-30d,1,2026-05-02,extra", "row 2, row: more values than the header"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_a_bad_row_is_named_by_row_and_field_and_nothing_is_written(store, row, message):
    data = (
        b"patient_ref,model_id,outcome,known_on\n" + row.encode() + b"\n" + GOOD.split(b"\n", 1)[1]
    )
    with pytest.raises(OutcomeImportError) as refused:
        run_import(store, data)
    assert any(message in p for p in refused.value.problems), refused.value.problems
    assert "nothing was written" in str(refused.value)
    assert held(store) == 0 and store.entries() == []


def test_every_problem_is_listed_with_its_line(store):
    data = GOOD + b"MRN-9,readmission-30d,3,2026-05-02\nMRN-10,readmission-30d,1,never\n"
    with pytest.raises(OutcomeImportError) as refused:
        run_import(store, data)
    assert refused.value.total == 2
    assert refused.value.problems[0].startswith("row 5, outcome")
    assert refused.value.problems[1].startswith("row 6, known_on")


def test_a_missing_column_an_empty_file_and_a_contradiction_in_the_file_are_refused(store):
    with pytest.raises(OutcomeImportError, match="missing column"):
        run_import(store, b"patient_ref,model_id,outcome\nMRN-1,readmission-30d,1\n")
    with pytest.raises(OutcomeImportError, match="no outcome rows"):
        run_import(store, b"patient_ref,model_id,outcome,known_on\n")
    with pytest.raises(OutcomeImportError, match="row 5, outcome: 0 contradicts row 2"):
        run_import(store, GOOD + b"MRN-1,readmission-30d,0,2026-05-02\n")
    assert held(store) == 0 and store.entries() == []


def test_an_outcome_that_contradicts_one_already_held_is_refused(store):
    run_import(store, GOOD)
    changed = GOOD.replace(b"MRN-2,readmission-30d,0", b"MRN-2,readmission-30d,1")
    with pytest.raises(OutcomeImportError, match="contradicts the outcome 0 already held"):
        run_import(store, changed + b"MRN-77,readmission-30d,1,2026-05-02\n")
    assert held(store) == 3  # MRN-77 was not written either
    assert [e.action for e in store.entries()] == ["outcomes_imported"]


def test_a_failure_part_way_through_writes_no_row_and_no_entry(store, tmp_path):
    run_import(store, b"patient_ref,model_id,outcome,known_on\nX-0,heart-disease,1,2026-01-01\n")
    raw = sqlite3.connect(tmp_path / "audit.sqlite")
    raw.execute(
        "CREATE TRIGGER third_row BEFORE INSERT ON monitoring_outcome "
        "WHEN NEW.patient_ref = 'MRN-2' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    raw.commit()
    raw.close()
    with pytest.raises(AuditWriteError, match="disk full"):
        run_import(store, GOOD)
    assert held(store) == 1
    assert [e.action for e in store.entries()] == ["outcomes_imported"]
    assert store.verify().ok


def test_the_command_imports_and_refuses_with_the_row_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD.replace(b"2026-", b"2025-"))
    runner = CliRunner()
    result = runner.invoke(main, ["outcomes", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 rows, 3 new, 0 already held" in result.output
    result = runner.invoke(main, ["outcomes", "import", str(good)])
    assert "3 rows, 0 new, 3 already held" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"patient_ref,model_id,outcome,known_on\nMRN-1,nope,1,2025-01-01\n")
    result = runner.invoke(main, ["outcomes", "import", str(bad)])
    assert result.exit_code == 1
    assert "row 2, model_id: 'nope' is not a model CaseLens offers" in result.output


def test_the_import_uses_the_workflows_patient_reference_rule():
    assert PATIENT_REF_PATTERN.pattern == WORKFLOW_PATTERN.pattern


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("within 30 days of discharge", 30),
        ("within one year", 365),
        ("within 6 months", 180),
        ("2-week mortality", 14),
        ("at the time of the angiography", None),
    ],
)
def test_outcome_windows_are_read_from_the_card(text, days):
    assert window_days_from_text(text) == days
    plan = MonitoringPlan()
    assert plan.window_days(text) == (days or DEFAULT_OUTCOME_WINDOW_DAYS)
    assert MonitoringPlan(outcome_window_days=90).window_days(text) == 90


def test_a_plan_is_validated_naming_the_field():
    assert parse_plan(b'{"psi_threshold": 0.25}', source="plan").psi_threshold == 0.25
    with pytest.raises(PlanError, match="psi_threshold"):
        parse_plan(b'{"psi_threshold": -1}', source="plan")
    with pytest.raises(PlanError, match="unknown_field"):
        parse_plan(b'{"unknown_field": 1}', source="plan")
    with pytest.raises(PlanError, match="calibration_slope_low"):
        parse_plan(b'{"calibration_slope_low": 2}', source="plan")


HEADER_CASES = [
    (
        # The second 'outcome' column is the one a CSV reader would keep: patient MRN-1's
        # outcome would be read as 0 from the wrong column.
        b"patient_ref,model_id,outcome,known_on,outcome\nMRN-1,readmission-30d,1,2026-05-02,0\n",
        "row 1, header: column 'outcome' appears 2 times; keep one",
    ),
    (
        b"patient_ref,model_id,outcome,patient_ref,known_on\nMRN-1,readmission-30d,1,MRN-2,"
        b"2026-05-02\n",
        "row 1, header: column 'patient_ref' appears 2 times; keep one",
    ),
    (
        b"patient_ref,model_id,known_on\nMRN-1,readmission-30d,2026-05-02\n",
        "row 1, header: missing column(s) outcome; expected patient_ref, model_id, outcome, "
        "known_on",
    ),
    (
        b"patient_ref,model_id,outcome,known_on,note\nMRN-1,readmission-30d,1,2026-05-02,x\n",
        "row 1, header: unknown column 'note'; expected only patient_ref, model_id, outcome, "
        "known_on",
    ),
    (
        b"patient_ref,model_id,outcome,known_on,\nMRN-1,readmission-30d,1,2026-05-02,\n",
        "row 1, header: unknown column with no name (an empty header cell); expected only "
        "patient_ref, model_id, outcome, known_on",
    ),
]


@pytest.mark.parametrize(("data", "message"), HEADER_CASES)
def test_a_duplicated_missing_or_unknown_column_is_refused_by_name(store, data, message):
    with pytest.raises(OutcomeImportError) as refused:
        run_import(store, data)
    assert message in refused.value.problems, refused.value.problems
    assert held(store) == 0 and store.entries() == []


def test_every_header_problem_is_listed_at_once(store):
    data = b"patient_ref,outcome,outcome,Known_on,x\nMRN-1,1,0,2026-05-02,y\n"
    with pytest.raises(OutcomeImportError) as refused:
        run_import(store, data)
    assert refused.value.problems == (
        "row 1, header: column 'outcome' appears 2 times; keep one",
        "row 1, header: missing column(s) model_id, known_on; expected patient_ref, model_id, "
        "outcome, known_on",
        "row 1, header: unknown column 'Known_on'; expected only patient_ref, model_id, "
        "outcome, known_on",
        "row 1, header: unknown column 'x'; expected only patient_ref, model_id, outcome, known_on",
    )


def test_the_command_refuses_a_duplicated_outcome_column_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    runner = CliRunner()
    for data, message in HEADER_CASES:
        file = tmp_path / "outcomes.csv"
        file.write_bytes(data.replace(b"2026-", b"2025-"))
        result = runner.invoke(main, ["outcomes", "import", str(file)])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "nothing was written" in result.output
        assert "Traceback" not in result.output
    # Nothing was imported by any of them: a sound file afterwards is all new.
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD.replace(b"2026-", b"2025-"))
    result = runner.invoke(main, ["outcomes", "import", str(good)])
    assert "3 rows, 3 new, 0 already held" in result.output


@settings(max_examples=150, deadline=None)
@given(
    header=st.lists(
        st.sampled_from([*COLUMNS, "outcome2", "Outcome", "", "notes"]), min_size=0, max_size=8
    )
)
def test_any_header_is_accepted_only_when_it_is_the_four_columns_once(header):
    problems = header_problems(header)
    if sorted(header) == sorted(COLUMNS):
        assert problems == []
        return
    assert problems
    joined = "\n".join(problems)
    for name in set(header):
        if header.count(name) > 1:
            assert f"column {name!r} appears {header.count(name)} times" in joined or not name
        if name not in COLUMNS and name:
            assert f"unknown column {name!r}" in joined
    absent = [c for c in COLUMNS if c not in header]
    if absent:
        assert f"missing column(s) {', '.join(absent)};" in joined


def test_a_correction_file_with_a_duplicated_outcome_column_is_refused_by_name(store):
    from caselens.monitoring.corrections import OutcomeCorrectionError, correct_outcomes

    run_import(store, GOOD)
    before = store.entries()
    with pytest.raises(OutcomeCorrectionError) as refused:
        correct_outcomes(
            store,
            b"patient_ref,model_id,outcome,known_on,outcome\nMRN-1,readmission-30d,0,"
            b"2026-05-02,1\n",
            reason="Chart review",
            known_models=MODELS,
            today=TODAY,
        )
    assert "row 1, header: column 'outcome' appears 2 times; keep one" in refused.value.problems
    assert store.entries() == before
