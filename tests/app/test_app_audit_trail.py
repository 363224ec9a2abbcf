"""The reviewer's Audit trail page in the real app (AppTest): nothing replayed on landing, an
entry opened by its address (?entry=N) or by a search, verdicts that stay on screen, an entry
without a report shown as verified details, and a malformed address said plainly."""

from __future__ import annotations

import json
import shutil

import pytest
import streamlit as st

from app_helpers import audit_entries, shown, signed_in
from caselens.settings import SAMPLE_MODELS_DIR

pytestmark = pytest.mark.usefixtures("app_env")


def _viewed_seq() -> int:
    clinician = signed_in("dr.lee")
    assert clinician.metric  # the clinician's report was drawn, so recorded
    return [e for e in audit_entries() if e.action == "viewed"][-1].seq


def test_landing_replays_nothing_and_records_no_replay():
    _viewed_seq()
    reviewer = signed_in("rev.kim")
    assert not reviewer.exception and reviewer.title[0].value == "Audit trail"
    assert "No entry is open" in shown(reviewer.info)
    assert not reviewer.header and not reviewer.metric
    assert "replayed" not in [e.action for e in audit_entries()]


def test_an_entry_opens_by_its_address_and_its_verdicts_stay_after_other_clicks():
    seq = _viewed_seq()
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(seq)
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert shown(reviewer.header).startswith("As shown to Dr. Ana Lee (clinician) on")
    assert f"Entry #{seq}" in shown(reviewer.caption)
    assert [e.detail()["seq"] for e in audit_entries() if e.action == "replayed"] == [seq]
    reviewer = reviewer.button(key="audit_rerun").click().run()
    assert shown(reviewer.success).startswith("Reproduces, identical")
    # Another click (verifying the trail) keeps the re-run verdict, and adds its own.
    reviewer = reviewer.button(key="audit_verify").click().run()
    assert "Reproduces, identical" in shown(reviewer.success)
    assert "Intact:" in shown(reviewer.success)
    # And a click that changes nothing about the entry (a filter of the table) too.
    reviewer.selectbox(key="audit_action").select("viewed")
    reviewer = reviewer.run()
    assert "Reproduces, identical" in shown(reviewer.success) and "Intact:" in shown(
        reviewer.success
    )
    assert [e.detail()["seq"] for e in audit_entries() if e.action == "replayed"] == [seq]


def test_a_search_by_entry_number_opens_the_replay():
    seq = _viewed_seq()
    reviewer = signed_in("rev.kim")
    reviewer.text_input(key="audit_find").input(f"#{seq}")
    reviewer = next(b for b in reviewer.button if b.label == "Find").click().run()
    assert not reviewer.exception
    assert reviewer.query_params["entry"] in (str(seq), [str(seq)])
    assert shown(reviewer.header).startswith("As shown to Dr. Ana Lee (clinician)")
    reviewer.text_input(key="audit_find").input("not an id")
    reviewer = next(b for b in reviewer.button if b.label == "Find").click().run()
    assert "neither an entry number" in shown(reviewer.error)
    assert reviewer.title[0].value == "Audit trail" and reviewer.dataframe  # page still usable


def test_the_filters_are_choices_read_from_the_trail():
    _viewed_seq()
    reviewer = signed_in("rev.kim")
    assert {"viewed", "sign_in"} <= set(reviewer.selectbox(key="audit_action").options)
    assert {"heart-disease", "readmission-30d"} <= set(
        reviewer.selectbox(key="audit_model").options
    )
    assert "system" in reviewer.selectbox(key="audit_role").options
    assert not [t for t in reviewer.text_input if t.key in {"audit_action", "audit_model"}]


def test_an_entry_without_a_report_shows_its_verified_details_and_replays_nothing():
    signed_in("dr.lee")
    sign_in = next(e for e in audit_entries() if e.action == "sign_in")
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(sign_in.seq)
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert shown(reviewer.header) == f"Entry #{sign_in.seq}: sign_in"
    assert "displayed no report" in shown(reviewer.caption)
    assert reviewer.code  # the recorded details, as text
    assert "replayed" not in [e.action for e in audit_entries()]


@pytest.mark.parametrize("address", ["abc", "-3", "1e9", "0", "9" * 40])
def test_a_malformed_address_is_said_and_opens_nothing(address):
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = address
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert "an entry number is a whole number" in shown(reviewer.error)
    assert "replayed" not in [e.action for e in audit_entries()]


def test_an_address_for_an_entry_that_does_not_exist_is_said():
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = "987654"
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert "there is no audit entry 987654" in shown(reviewer.error)


def test_a_clinician_with_an_entry_address_is_refused_and_it_is_recorded():
    seq = _viewed_seq()
    clinician = signed_in("dr.lee")
    clinician.query_params["entry"] = str(seq)
    clinician.switch_page("app_pages/audit_trail.py").run()
    assert "may not open the Audit trail page" in shown(clinician.error)
    assert not clinician.header
    assert audit_entries()[-1].action == "access_refused"
    assert "replayed" not in [e.action for e in audit_entries()]


def test_a_report_id_with_several_displays_lists_them_and_opens_the_one_chosen(tmp_path):
    from caselens.audit import AuditStore, default_key_file, default_location, load_key
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR
    from monitoring_fixtures import heart_case, make_workflow
    from monitoring_fixtures import signed_in as engine_signed_in

    signed_in("rev.kim")  # creates the trail and its key
    bundle = load_bundle(SAMPLE_MODELS_DIR / "heart-disease")
    (tmp_path / "accounts").mkdir()
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        engine = make_workflow(tmp_path / "accounts", store, {"heart-disease": bundle})
        doctor = engine_signed_in(engine, "dr.lee")
        report = engine.show_report(doctor, "heart-disease", heart_case(engine), patient_ref="H-01")
        engine.preview_patient_view(doctor, report)  # the same report, shown twice
    viewed, previewed = (e.seq for e in audit_entries() if e.report_json)
    reviewer = signed_in("rev.kim")
    reviewer.text_input(key="audit_find").input(report.report_id[:16] + "…")
    reviewer = next(b for b in reviewer.button if b.label == "Find").click().run()
    assert not reviewer.exception
    choice = reviewer.radio[0]
    assert list(choice.options) == [f"entry #{previewed}", f"entry #{viewed}"]
    assert f"Entry #{previewed}" in shown(reviewer.caption)  # the newest opens first
    reviewer = choice.set_value(viewed).run()
    assert f"Entry #{viewed}" in shown(reviewer.caption)
    assert shown(reviewer.header).startswith("As shown to Dr. Ana Lee (clinician) on")
    replayed = [e.detail()["seq"] for e in audit_entries() if e.action == "replayed"]
    assert replayed == [previewed, viewed]


def test_a_replay_shows_the_card_check_banner_the_case_page_shows(
    monkeypatch, tmp_path, heart_bundle
):
    models = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    card_file = models / "heart-disease" / "card.json"
    card = json.loads(card_file.read_text())
    claimed = round(heart_bundle.card.validation.overall.auroc + 0.05, 4)
    card["validation"]["overall"]["auroc"] = claimed
    card_file.write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    st.cache_resource.clear()  # the catalogue is cached per server process
    banner = "This model's card failed 1 check(s) against its own reference data"
    try:
        seq = _viewed_seq()
        reviewer = signed_in("rev.kim")
        assert banner not in shown(reviewer.error)  # nothing open: no banner of its own
        reviewer.query_params["entry"] = str(seq)
        reviewer = reviewer.run()
        assert not reviewer.exception
        assert sum(banner in e.value for e in reviewer.error) == 1
        reviewer.session_state[f"audit_{seq}_model_problems"] = True
        reviewer = reviewer.run()
        assert f"the card claims {claimed:g}" in shown(reviewer.markdown)
    finally:
        st.cache_resource.clear()


def test_a_replay_of_a_sound_model_has_no_banner():
    seq = _viewed_seq()
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(seq)
    reviewer = reviewer.run()
    assert not reviewer.exception and shown(reviewer.header).startswith("As shown to")
    assert "card failed" not in shown(reviewer.error)
    assert "cannot be checked now" not in shown(reviewer.caption)


def test_a_reviewer_builds_a_recorded_evidence_pack_and_a_backwards_range_is_said():
    import datetime as dt

    reviewer = signed_in("rev.kim")
    assert not reviewer.get("download_button")  # nothing offered before the click
    today = dt.datetime.now(dt.UTC).date()
    reviewer.date_input(key="evidence_to").set_value(today - dt.timedelta(days=30))
    reviewer = reviewer.button(key="evidence_build").click().run()
    assert "The range is backwards" in shown(reviewer.error)
    assert "evidence_exported" not in [e.action for e in audit_entries()]
    reviewer.date_input(key="evidence_to").set_value(today)
    reviewer = reviewer.button(key="evidence_build").click().run()
    assert not reviewer.exception
    recorded = [e for e in audit_entries() if e.action == "evidence_exported"]
    assert len(recorded) == 1 and recorded[0].actor_id == "rev.kim"
    assert recorded[0].detail()["to"] == today.isoformat()
    assert f"recorded as entry #{recorded[0].seq}" in shown(reviewer.success)
    assert recorded[0].detail()["pack_sha256"] in shown(reviewer.success)
    buttons = reviewer.get("download_button")
    assert len(buttons) == 1 and "caselens-evidence-" in str(buttons[0].proto.label)
