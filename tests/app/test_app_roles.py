"""Every role through the real app (AppTest): sign-in, pages, patient isolation, reviewer
replay and re-run, admin suspension — and that each step is recorded."""

from __future__ import annotations

import json

import pytest

from app_helpers import audit_entries, open_app, shown, signed_in
from caselens.access.accounts import DEMO_PASSWORD
from caselens.audit import AuditStore, default_key_file, default_location, load_key
from caselens.numeric_tolerance import NUMERIC_TOLERANCE

pytestmark = pytest.mark.usefixtures("app_env")


def _nav_titles(at) -> list[str]:
    # Page links are not exposed by AppTest; the sidebar names the role.
    return [m.value for m in at.sidebar.markdown]


def test_sign_in_page_lists_demo_accounts_only_in_demo_mode(monkeypatch):
    at = open_app()
    assert not at.exception
    assert any(e.label.startswith("Demo accounts") for e in at.expander)
    monkeypatch.delenv("CASELENS_DEMO")
    at = open_app()
    assert not any(e.label.startswith("Demo accounts") for e in at.expander)


def test_wrong_password_is_refused_and_recorded():
    at = signed_in("dr.lee", password="not the password")
    assert "Sign-in failed" in shown(at.error)
    last = audit_entries()[-1]
    assert (last.action, last.actor_id) == ("sign_in_refused", "dr.lee")


def test_a_password_typed_as_the_user_name_is_not_stored_in_the_trail():
    at = signed_in("my-secret-password", password="x")
    assert "Sign-in failed" in shown(at.error)
    last = audit_entries()[-1]
    assert last.action == "sign_in_refused"
    assert last.actor_id.startswith("unknown:")
    assert all("my-secret-password" not in str(getattr(last, f)) for f in last.__slots__)


@pytest.mark.parametrize(
    ("user", "role", "title"),
    [
        ("dr.lee", "clinician", "Case"),
        ("pat.h03", "patient", "My result"),
        ("rev.kim", "reviewer", "Audit trail"),
        ("admin", "admin", "Users"),
    ],
)
def test_each_demo_account_lands_on_its_own_first_page(user, role, title):
    at = signed_in(user)
    assert not at.exception, at.exception
    assert at.title[0].value == title
    assert any(role in m for m in _nav_titles(at))
    assert any(e.action == "sign_in" and e.actor_id == user for e in audit_entries())


def test_patient_sees_their_own_plain_summary_with_the_icon_array():
    at = signed_in("pat.h03")
    text = " ".join(m.value for m in at.markdown)
    assert "out of 100 people like you" in text
    assert "What this does not mean" in text
    last = audit_entries()[-1]
    assert (last.action, last.audience, last.patient_ref) == ("patient_viewed", "patient", "H-03")
    assert "SHAP" not in text


def test_patient_cannot_reach_another_patients_result_by_url():
    at = signed_in("pat.h03")
    at.query_params["patient"] = "H-04"
    at = at.run()
    assert any("may only see their own result" in e.value for e in at.error)
    assert not any("out of 100 people like you" in m.value for m in at.markdown)
    refused = [e for e in audit_entries() if e.action == "access_refused"]
    assert refused and json.loads(refused[-1].detail_json)["patient_ref"] == "H-04"


def test_clinician_cannot_open_the_audit_trail():
    at = signed_in("dr.lee")
    at.switch_page("app_pages/audit_trail.py").run()
    assert "may not open the Audit trail page" in shown(at.error)
    assert not at.dataframe or all("Entry hash" not in str(d.value.columns) for d in at.dataframe)
    assert audit_entries()[-1].action == "access_refused"


def test_reviewer_replays_exactly_what_the_clinician_saw_and_it_reproduces():
    clinician = signed_in("dr.lee")
    shown_probability = clinician.metric[0].value
    viewed = [e for e in audit_entries() if e.action == "viewed"][-1]
    reviewer = signed_in("rev.kim")
    assert not reviewer.exception
    assert not reviewer.header  # nothing is replayed until the reviewer asks
    reviewer.text_input(key="audit_find").input(str(viewed.seq))
    reviewer = next(b for b in reviewer.button if b.label == "Find").click().run()
    assert shown(reviewer.header).startswith("As shown to Dr. Ana Lee (clinician) on")
    assert reviewer.metric[0].value == shown_probability
    reviewer = reviewer.button(key="audit_rerun").click().run()
    assert shown(reviewer.success).startswith("Reproduces, identical")
    actions = [e.action for e in audit_entries()]
    assert "replayed" in actions and "rerun" in actions
    rerun = json.loads([e for e in audit_entries() if e.action == "rerun"][-1].detail_json)
    assert rerun["outcome"] == "identical" and rerun["seq"] == viewed.seq
    assert rerun["tolerance"] == NUMERIC_TOLERANCE and rerun["differences"] == []
    assert (
        json.loads([e for e in audit_entries() if e.action == "replayed"][-1].detail_json)["seq"]
        == viewed.seq
    )


def test_reviewer_verifies_the_trail_and_the_verification_is_recorded():
    signed_in("dr.lee")
    at = signed_in("rev.kim")
    at = at.button(key="audit_verify").click().run()
    assert any(s.value.startswith("Intact:") for s in at.success)
    assert audit_entries()[-1].action == "verified"


def test_admin_suspends_a_model_and_no_prediction_is_shown_anywhere():
    admin = signed_in("admin")
    admin.switch_page("app_pages/model_status.py").run()
    admin.text_input(key="status_reason_heart-disease").input("Calibration drift under review")
    _submit_status(admin, "heart-disease")
    assert any(e.action == "model_suspended" for e in audit_entries())
    clinician = signed_in("dr.lee")
    assert "suspended, so it shows no prediction" in shown(clinician.error)
    assert not clinician.metric
    patient = signed_in("pat.h03")
    assert not any("out of 100 people like you" in m.value for m in patient.markdown)


def _submit_status(at, model_id):
    for button in at.button:
        if button.key and button.key.startswith(f"FormSubmitter:status_{model_id}"):
            return button.click().run()
    raise AssertionError("no suspend button")


def test_store_written_by_the_app_verifies():
    signed_in("dr.lee")
    signed_in("pat.h03")
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        assert store.verify().ok


def test_an_idle_session_expires_and_asks_to_sign_in_again():
    import datetime as dt

    from caselens.access.accounts import SESSION_IDLE_TIMEOUT

    at = signed_in("dr.lee")
    assert at.title[0].value == "Case"
    at.session_state["caselens_session"].last_activity = (
        dt.datetime.now(dt.UTC).replace(tzinfo=None)
        - SESSION_IDLE_TIMEOUT
        - dt.timedelta(minutes=1)
    )
    at = at.run()
    assert at.title[0].value == "CaseLens"  # the sign-in page
    assert any("session ended" in i.value for i in at.info)
    assert not at.metric


def test_after_sign_out_the_next_clinician_on_the_same_tab_is_recorded_and_inherits_nothing():
    at = signed_in("dr.lee")
    first_session = at.session_state["caselens_session"].session_id
    at = at.button(key="sign_out").click().run()
    assert at.title[0].value == "CaseLens"
    # The same clinician signs in again on this tab: a new session, so a new record.
    at.text_input(key="sign_in_user").input("dr.lee")
    at.text_input(key="sign_in_password").input(DEMO_PASSWORD)
    at = at.button[0].click().run()
    second_session = at.session_state["caselens_session"].session_id
    assert second_session != first_session
    viewed = [e for e in audit_entries() if e.action == "viewed"]
    assert [e.session_id for e in viewed] == [first_session, second_session]
    actions = [e.action for e in audit_entries()]
    assert actions.count("signed_out") == 1


def test_an_export_exists_only_after_its_record_is_written():
    at = signed_in("rev.kim")
    assert not at.get("download_button")
    assert "exported" not in [e.action for e in audit_entries()]
    at = at.button(key="audit_export_prepare").click().run()
    exported = [e for e in audit_entries() if e.action == "exported"]
    assert len(exported) == 1 and exported[0].detail()["format"] == "fhir"
    assert at.get("download_button")  # offered only now, after the record
    at = at.run()  # the next run no longer holds the prepared file
    assert not at.get("download_button")


@pytest.mark.parametrize("user", ["pat.h03", "admin"])
def test_model_facts_are_guarded_and_a_refusal_is_recorded(user):
    at = signed_in(user)
    at.switch_page("app_pages/model_facts.py").run()
    assert "may not open the Model facts page" in shown(at.error)
    assert audit_entries()[-1].action == "access_refused"


def test_an_administrator_unlocks_a_paused_account_from_the_users_page():
    from caselens.access.accounts import AccountStore, SignInRefused
    from caselens.access.app_database import open_app_database
    from caselens.access.sign_in_throttle import FREE_ATTEMPTS
    from caselens.settings import Settings

    signed_in("dr.lee", password="not the password")  # through the app (it seeds the accounts)
    # AppTest sends no cookies, so it has no client identity; a browser's failures (its signed
    # device cookie) pause the account for that browser: made here on the app's own database.
    settings = Settings.from_env()
    store = AccountStore(open_app_database(settings.data_dir, settings.app_db_url))
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            store.sign_in("dr.lee", "not the password", client="device:" + "d" * 32)
    admin = signed_in("admin")
    unlock = admin.selectbox(key="users_unlock_id")
    assert unlock.value == "dr.lee"
    admin = admin.button[[b.label for b in admin.button].index("Unlock")].click().run()
    assert audit_entries()[-1].action == "user_unlocked"
    assert signed_in("dr.lee").title[0].value == "Case"


def test_the_sidebar_names_demonstration_models_and_only_when_one_is_offered(tmp_path, monkeypatch):
    import streamlit as st

    at = signed_in("dr.lee")
    assert "Demonstration models, not for clinical use" in shown(at.sidebar.caption)
    models = tmp_path / "models"
    folder = models / "heart-disease"
    import shutil

    from caselens.settings import SAMPLE_MODELS_DIR

    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    card = json.loads((folder / "card.json").read_text())
    card["demonstration_only"] = False
    (folder / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    st.cache_resource.clear()  # the catalogue is cached per process
    try:
        at = signed_in("dr.lee")
        assert not at.exception
        assert "Demonstration" not in shown(at.sidebar.caption)
    finally:
        st.cache_resource.clear()
