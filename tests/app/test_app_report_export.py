""" "Download report (HTML)" / "(PDF)" on the clinician's report, My result and the reviewer's
replay, headless (AppTest) on the real app: recorded before the file is offered."""

from __future__ import annotations

import pytest

from app_helpers import audit_entries, signed_in

pytestmark = pytest.mark.usefixtures("app_env")


def _clinician_on_a_report():
    at = signed_in("dr.lee")
    box = at.selectbox(key="case_model")
    at = box.select(next(o for o in box.options if "(heart-disease " in o)).run()
    demo = at.selectbox(key="case_heart-disease_demo")
    return demo.select(next(o for o in demo.options if o.startswith("H-03"))).run()


def test_the_clinicians_file_is_recorded_before_it_is_offered():
    at = _clinician_on_a_report()
    assert not at.exception
    assert at.get("download_button") == []  # nothing is offered before the click
    at.radio(key="case_heart-disease_export_audience").set_value("patient")
    at = at.button(key="case_heart-disease_export_html").click().run()
    assert not at.exception
    entries = audit_entries()
    viewed = [e for e in entries if e.action == "viewed"][-1]
    exported, signed = entries[-2:]  # the export, then the signed file's hashes
    assert (exported.action, exported.actor_id) == ("report_exported", "dr.lee")
    assert (signed.action, signed.detail()["export_entry"]) == ("report_signed", exported.seq)
    assert exported.detail()["entry"] == viewed.seq
    assert exported.detail()["audience"] == "patient" and exported.detail()["format"] == "html"
    assert len(at.get("download_button")) == 1


def test_the_patient_takes_their_summary_and_the_reviewer_a_replay():
    patient = signed_in("pat.h03")
    assert not patient.exception
    # A patient has no choice of audience: their file is their summary.
    assert not [r for r in patient.radio if r.key == "my_result_export_audience"]
    patient = patient.button(key="my_result_export_pdf").click().run()
    assert not patient.exception
    exported = audit_entries()[-2]  # then report_signed
    assert (exported.action, exported.actor_id) == ("report_exported", "pat.h03")
    assert exported.detail()["audience"] == "patient"
    assert len(patient.get("download_button")) == 1
    _clinician_on_a_report()
    seq = [e for e in audit_entries() if e.action == "viewed"][-1].seq
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(seq)
    reviewer = reviewer.run()
    reviewer = reviewer.button(key=f"audit_{seq}_export_html").click().run()
    assert not reviewer.exception
    exported = audit_entries()[-2]  # then report_signed
    assert (exported.action, exported.actor_id) == ("report_exported", "rev.kim")
    assert exported.detail()["entry"] == seq
