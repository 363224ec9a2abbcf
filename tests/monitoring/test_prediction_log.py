"""The prediction log: one row per display, written with its audit entry, checked against
the trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import delete, select, update

from caselens.audit import AuditStore
from caselens.monitoring.prediction_log import (
    MAX_INPUT_TEXT,
    bounded_inputs,
    verify_prediction_log,
)
from caselens.monitoring.tables import engine_of, prediction_log
from caselens.workflow.errors import NotRecorded
from monitoring_fixtures import KEY, heart_case, make_workflow, signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below


def log_rows(store: AuditStore) -> list[dict]:
    with engine_of(store).connect() as conn:
        rows = conn.execute(select(prediction_log).order_by(prediction_log.c.id)).mappings()
        return [dict(r) for r in rows]


def test_each_display_writes_one_row_with_its_entry(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = workflow.show_report(
        clinician, "heart-disease", heart_case(workflow), patient_ref="MRN-1"
    )
    workflow.show_report(clinician, "heart-disease", heart_case(workflow), patient_ref="MRN-1")
    workflow.preview_patient_view(clinician, report)
    patient = signed_in(workflow, "pat.h03")
    mine = workflow.show_my_result(patient)
    entries = {e.seq: e for e in workflow.trail.entries()}
    rows = log_rows(workflow.trail)
    # The same display twice in one session is recorded once, so it has one row.
    assert [r["action"] for r in rows] == ["viewed", "previewed", "patient_viewed"]
    for row in rows:
        entry = entries[row["entry_seq"]]
        assert entry.action == row["action"] and entry.recorded_at == row["recorded_at"]
        assert row["simulated"] is False and row["source_seq"] is None
        shown = json.loads(entry.report_json)
        assert row["probability"] == shown["confidence"]["probability"]
        assert row["report_id"] == shown["report_id"]
        assert json.loads(row["limitation_codes"]) == [x["code"] for x in shown["limitations"]]
        assert json.loads(row["conformal_set"]) == shown["confidence"]["conformal"]["labels"]
        assert json.loads(row["inputs_json"]) == {
            i["name"]: i["value"] for i in shown["case"]["inputs"]
        }
    assert rows[0]["patient_ref"] == rows[1]["patient_ref"] == "MRN-1"
    assert rows[2]["patient_ref"] == mine.case.case_id == "H-03"
    assert rows[0]["model_version"] == report.model.version
    check = verify_prediction_log(workflow.trail)
    assert check.ok and check.displays == check.rows == 3, check.problems


def test_a_display_the_log_cannot_take_is_not_recorded_and_not_shown(workflow, trail_path):
    clinician = signed_in(workflow, "dr.lee")
    workflow.show_report(clinician, "heart-disease", heart_case(workflow), patient_ref="M-1")
    raw = sqlite3.connect(trail_path)
    raw.execute(
        "CREATE TRIGGER refuse_log BEFORE INSERT ON monitoring_prediction "
        "BEGIN SELECT RAISE(ABORT, 'log refused'); END"
    )
    raw.commit()
    with pytest.raises(NotRecorded):
        workflow.show_report(
            clinician, "heart-disease", heart_case(workflow, "H-02"), patient_ref="M-2"
        )
    # Entry and row are one transaction: the refused row took its entry with it.
    assert [e.action for e in workflow.trail.entries()] == ["sign_in", "viewed"]
    assert workflow.trail.verify().ok
    raw.execute("DROP TRIGGER refuse_log")
    raw.commit()
    raw.close()
    workflow.show_report(
        clinician, "heart-disease", heart_case(workflow, "H-02"), patient_ref="M-2"
    )
    assert verify_prediction_log(workflow.trail).ok
    assert len(log_rows(workflow.trail)) == 2


def test_verify_names_a_missing_row_an_orphan_row_and_a_changed_probability(workflow):
    clinician = signed_in(workflow, "dr.lee")
    for n, case_id in enumerate(("H-01", "H-02", "H-03")):
        workflow.show_report(
            clinician, "heart-disease", heart_case(workflow, case_id), patient_ref=f"M-{n}"
        )
    rows = log_rows(workflow.trail)
    engine = engine_of(workflow.trail)
    with engine.begin() as conn:
        conn.execute(delete(prediction_log).where(prediction_log.c.id == rows[0]["id"]))
        conn.execute(
            update(prediction_log)
            .where(prediction_log.c.id == rows[1]["id"])
            .values(probability=0.99)
        )
        orphan = {k: v for k, v in rows[2].items() if k != "id"}
        conn.execute(prediction_log.insert().values(**{**orphan, "entry_seq": 999}))
    check = verify_prediction_log(workflow.trail)
    assert not check.ok and check.problem_count == 3
    text = "\n".join(check.problems)
    assert f"display entry {rows[0]['entry_seq']} has no row" in text
    assert f"entry {rows[1]['entry_seq']}: the log says probability 0.99" in text
    assert "log row for entry 999 has no display entry" in text


def test_inputs_are_bounded():
    text = bounded_inputs({"a": "x" * 5000, "b": float("nan"), "c": 3, "d": None})
    values = json.loads(text)
    assert len(values["a"]) == MAX_INPUT_TEXT and values["b"] is None and values["c"] == 3
    assert bounded_inputs({f"v{i}": "y" * 200 for i in range(1000)}) == "{}"


def test_the_prediction_log_is_written_and_verified_on_postgresql(
    tmp_path, new_pg_database, sample_bundles
):
    url = new_pg_database("predlog")
    data = tmp_path / "data"
    data.mkdir()
    with AuditStore.open(url, key=KEY) as audit:
        flow = make_workflow(data, audit, sample_bundles)
        clinician = signed_in(flow, "dr.lee")
        report = flow.show_report(clinician, "heart-disease", heart_case(flow), patient_ref="PG-1")
        flow.preview_patient_view(clinician, report)
        rows = log_rows(audit)
        assert [r["action"] for r in rows] == ["viewed", "previewed"]
        assert rows[0]["probability"] == report.probability
        check = verify_prediction_log(audit)
        assert check.ok and check.rows == 2, check.problems
