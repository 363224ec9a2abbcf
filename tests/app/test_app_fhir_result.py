"""The "Download as FHIR (RiskAssessment)" button on the clinician's report and the reviewer's
replay, headless (AppTest) on the real app: recorded before the file is offered."""

from __future__ import annotations

import pytest

from app_helpers import audit_entries, shown, signed_in
from fhir_test_server import fhir_test_server

pytestmark = pytest.mark.usefixtures("app_env")


def _clinician_on_a_report():
    at = signed_in("dr.lee")
    box = at.selectbox(key="case_model")
    at = box.select(next(o for o in box.options if "(heart-disease " in o)).run()
    demo = at.selectbox(key="case_heart-disease_demo")
    return demo.select(next(o for o in demo.options if o.startswith("H-03"))).run()


def _downloads(at) -> list:
    return [e for e in at.get("download_button")]


def test_the_clinicians_download_is_recorded_before_it_is_offered():
    at = _clinician_on_a_report()
    assert not at.exception
    assert _downloads(at) == []  # nothing is offered before the click
    at = at.button(key="case_heart-disease_fhir_prepare").click().run()
    assert not at.exception
    entries = audit_entries()
    viewed = [e for e in entries if e.action == "viewed"][-1]
    exported = entries[-1]
    assert exported.action == "exported_fhir" and exported.actor_id == "dr.lee"
    assert exported.detail()["entry"] == viewed.seq
    assert len(_downloads(at)) == 1
    # No FHIR server is configured here: there is no send button.
    assert not [b for b in at.button if b.key == "case_heart-disease_fhir_send"]


def test_the_reviewer_downloads_a_replayed_result_and_patients_never_see_the_button():
    _clinician_on_a_report()
    seq = [e for e in audit_entries() if e.action == "viewed"][-1].seq
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(seq)
    reviewer = reviewer.run()
    reviewer = reviewer.button(key=f"audit_{seq}_fhir_prepare").click().run()
    assert not reviewer.exception
    exported = audit_entries()[-1]
    assert (exported.action, exported.actor_id) == ("exported_fhir", "rev.kim")
    assert exported.detail()["entry"] == seq
    assert len(_downloads(reviewer)) == 1
    patient = signed_in("pat.h03")
    assert not [b for b in patient.button if "fhir" in (b.key or "")]


@pytest.fixture(scope="module")
def fhir_server():
    with fhir_test_server() as running:
        yield running


@pytest.mark.parametrize(("mode", "ok"), [("ok", True), ("fail", False)])
def test_sending_shows_where_it_was_filed_or_why_not(fhir_server, monkeypatch, mode, ok):
    monkeypatch.setenv("CASELENS_FHIR_URL", fhir_server.base(mode))
    at = _clinician_on_a_report()
    at = at.button(key="case_heart-disease_fhir_send").click().run()
    assert not at.exception
    if ok:
        assert "Sent to" in shown(at.success) and "RiskAssessment/" in shown(at.success)
        assert audit_entries()[-1].action == "fhir_sent"
    else:
        assert "Not sent" in shown(at.error) and "500" in shown(at.error)
        assert audit_entries()[-1].action == "fhir_send_failed"
