"""How clinicians used a model, per period: feedback and own estimates against the model's
(the automation-bias record), and the limitations shown — read from the real trail and
prediction log through the workflow."""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
from caselens.monitoring.tables import ready_engine
from caselens.workflow.errors import Refused
from monitoring_fixtures import heart_case, signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below


def _this_month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def test_feedback_and_own_estimates_are_summed_per_period(workflow):
    clinician = signed_in(workflow, "dr.lee")
    reports = []
    for case_id, own, verdict in (("H-01", 90, "I agree"), ("H-02", 5, "I disagree")):
        case = heart_case(workflow, case_id)
        workflow.save_own_estimate(clinician, "heart-disease", case, own, patient_ref=case_id)
        report = workflow.show_report(clinician, "heart-disease", case, patient_ref=case_id)
        workflow.give_feedback(
            clinician,
            report,
            verdict=verdict,
            own_estimate_out_of_100=workflow.own_estimate(clinician, "heart-disease", case),
        )
        reports.append((report, own))
    workflow.give_feedback(clinician, reports[0][0], verdict="Not useful")  # no estimate
    reviewer = signed_in(workflow, "rev.kim")
    use = workflow.clinician_use(reviewer, "heart-disease")
    [month] = use.feedback
    assert month.period == _this_month()
    assert (month.feedback, month.agree, month.disagree, month.not_useful) == (3, 1, 1, 1)
    assert month.agreement.value == pytest.approx(0.5) and month.agreement.n == 2
    assert month.agreement.low < 0.5 < month.agreement.high
    gaps = [abs(own - 100 * report.probability) for report, own in reports]
    assert month.with_own_estimate == 2
    assert month.mean_gap_points == pytest.approx(sum(gaps) / 2)
    threshold = reports[0][0].confidence.threshold
    across = sum(
        (own / 100 >= threshold) != (report.probability >= threshold) for report, own in reports
    )
    assert month.other_side.value == pytest.approx(across / 2)
    # The same figures straight from the engine, by week.
    weekly = feedback_by_period(ready_engine(workflow.trail), "heart-disease", period="week")
    assert sum(w.feedback for w in weekly) == 3


def test_limitations_shown_are_counted_per_display(workflow):
    clinician = signed_in(workflow, "dr.lee")
    shown_codes = []
    for case_id in ("H-01", "H-04"):
        report = workflow.show_report(
            clinician, "heart-disease", heart_case(workflow, case_id), patient_ref=case_id
        )
        shown_codes.append({lim.code for lim in report.limitations})
    workflow.preview_patient_view(clinician, report)  # a second display of the last report
    shown_codes.append(shown_codes[-1])
    [month] = limitations_by_period(ready_engine(workflow.trail), "heart-disease")
    assert month.displays == 3
    for code in set().union(*shown_codes):
        assert month.shown[code] == sum(code in codes for codes in shown_codes)
        assert month.rate(code) == pytest.approx(month.shown[code] / 3)
    use = workflow.clinician_use(signed_in(workflow, "rev.kim"), "heart-disease")
    assert use.limitations == (month,) and use.feedback == ()


def test_only_reviewers_and_admins_see_it(workflow):
    with pytest.raises(Refused):
        workflow.clinician_use(signed_in(workflow, "dr.lee"), "heart-disease")
    assert workflow.clinician_use(signed_in(workflow, "admin"), "heart-disease").feedback == ()


# -- estimate-first and feedback: the workflow's own rules ---------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from caselens.settings import Settings, SettingsError, parse_estimate_first_users  # noqa: E402
from caselens.workflow.checks import check_own_estimate  # noqa: E402
from caselens.workflow.errors import WorkflowError  # noqa: E402
from monitoring_fixtures import make_workflow  # noqa: E402


def test_estimate_first_holds_the_report_until_a_saved_estimate_or_a_recorded_skip(workflow):
    clinician = signed_in(workflow, "dr.lee")
    assert workflow.estimate_first(clinician)  # the built-in default for clinicians
    h01, h02 = heart_case(workflow, "H-01"), heart_case(workflow, "H-02")
    assert workflow.awaiting_own_estimate(clinician, "heart-disease", h01)
    workflow.save_own_estimate(clinician, "heart-disease", h01, 12, patient_ref="MRN-1")
    assert not workflow.awaiting_own_estimate(clinician, "heart-disease", h01)
    # Another patient is another estimate; a bad reference records nothing.
    assert workflow.awaiting_own_estimate(clinician, "heart-disease", h02)
    before = len(workflow.trail.entries())
    with pytest.raises(WorkflowError, match="Patient reference"):
        workflow.skip_own_estimate(clinician, "heart-disease", h02, patient_ref="no spaces!")
    assert len(workflow.trail.entries()) == before
    workflow.skip_own_estimate(clinician, "heart-disease", h02, patient_ref="MRN-2")
    assert not workflow.awaiting_own_estimate(clinician, "heart-disease", h02)
    skipped = workflow.trail.entries()[-1]
    assert (skipped.action, skipped.actor_id, skipped.patient_ref) == (
        "own_estimate_skipped",
        "dr.lee",
        "MRN-2",
    )
    assert skipped.detail() == {"model_id": "heart-disease"}
    # A new session (sign out and in) starts again: nothing is carried over.
    fresh = signed_in(workflow, "dr.lee")
    assert workflow.awaiting_own_estimate(fresh, "heart-disease", h02)


def test_only_clinicians_get_the_estimate_step_and_a_patient_cannot_skip_it(workflow):
    patient = signed_in(workflow, "pat.h03")
    assert not workflow.estimate_first(patient)
    assert not workflow.estimate_first(signed_in(workflow, "rev.kim"))
    with pytest.raises(Refused):
        workflow.skip_own_estimate(
            patient, "heart-disease", heart_case(workflow), patient_ref="H-03"
        )
    assert workflow.trail.entries()[-1].action == "access_refused"


def test_the_sites_and_the_users_setting_decide_estimate_first(tmp_path, sample_bundles):
    from caselens.audit import AuditStore
    from monitoring_fixtures import KEY

    settings = Settings(
        data_dir=tmp_path,
        models_dir=tmp_path,
        allow_pickle=False,
        estimate_first=False,
        estimate_first_users={"dr.lee": True},
    )
    data = tmp_path / "data"
    data.mkdir()
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as audit:
        built = make_workflow(data, audit, sample_bundles)
        built._estimate_first = settings.estimate_first_for
        assert built.estimate_first(signed_in(built, "dr.lee"))  # the user's own: on
    assert not settings.estimate_first_for("dr.ng", "clinician")  # the site's: off
    assert not settings.estimate_first_for("dr.lee", "reviewer")  # never another role


def test_feedback_without_one_of_its_answers_is_refused_and_not_recorded(workflow):
    clinician = signed_in(workflow, "dr.lee")
    case = heart_case(workflow)
    report = workflow.show_report(clinician, "heart-disease", case, patient_ref="H-01")
    before = len(workflow.trail.entries())
    for verdict in (None, "", "I AGREE", "Yes"):
        with pytest.raises(WorkflowError, match="choose one answer"):
            workflow.give_feedback(clinician, report, verdict=verdict)  # type: ignore[arg-type]
    assert len(workflow.trail.entries()) == before


def test_model_warnings_are_the_card_checks_model_facts_shows(workflow):
    clinician = signed_in(workflow, "dr.lee")
    assert workflow.model_warnings(clinician, "heart-disease") == ()
    with pytest.raises(Refused):
        workflow.model_warnings(signed_in(workflow, "pat.h03"), "heart-disease")


def test_a_replay_is_checked_against_the_card_of_its_own_model_version(workflow):
    report = workflow.show_report(
        signed_in(workflow, "dr.lee"), "heart-disease", heart_case(workflow), patient_ref="H-01"
    )
    reviewer = signed_in(workflow, "rev.kim")
    assert workflow.replayed_model_warnings(reviewer, report) == ()
    # A version no longer loaded (another model file): its card cannot be checked now.
    other = report.model_copy(
        update={"model": report.model.model_copy(update={"sha256": "0" * 64})}
    )
    assert workflow.replayed_model_warnings(reviewer, other) is None
    with pytest.raises(Refused):
        workflow.replayed_model_warnings(signed_in(workflow, "pat.h03"), report)


def test_settings_read_from_the_environment_and_name_the_variable_when_wrong(monkeypatch):
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "OFF")
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST_USERS", " dr.lee = on ,, dr.ng=off ")
    settings = Settings.from_env()
    assert settings.estimate_first is False
    assert dict(settings.estimate_first_users) == {"dr.lee": True, "dr.ng": False}
    # A wrong value does not stop the app (other settings read); a clinician's Case page
    # gets the reason, naming the variable.
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "sometimes")
    settings = Settings.from_env()
    assert not settings.estimate_first_for("rev.kim", "reviewer")
    with pytest.raises(SettingsError, match=r"^CASELENS_ESTIMATE_FIRST: expected on or off"):
        settings.estimate_first_for("dr.lee", "clinician")
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "on")
    for bad in ("dr.lee", "=on", "dr.lee=maybe"):
        monkeypatch.setenv("CASELENS_ESTIMATE_FIRST_USERS", bad)
        with pytest.raises(SettingsError, match=r"^CASELENS_ESTIMATE_FIRST_USERS"):
            Settings.from_env().estimate_first_for("dr.lee", "clinician")


_user = st.text(
    alphabet=st.characters(blacklist_characters=",=", blacklist_categories=("Cs", "Z", "Cc")),
    min_size=1,
    max_size=20,
)


@given(st.dictionaries(_user, st.booleans(), max_size=8))
def test_a_users_list_reads_back_what_was_written(users):
    text = ",".join(f"{u}={'on' if v else 'off'}" for u, v in users.items())
    assert parse_estimate_first_users(text) == users


@given(st.text(max_size=60))
def test_any_users_text_is_read_or_refused_with_the_variable_named(text):
    try:
        parsed = parse_estimate_first_users(text)
    except SettingsError as exc:
        assert str(exc).startswith("CASELENS_ESTIMATE_FIRST_USERS")
    else:
        assert all(isinstance(v, bool) and k == k.strip() and k for k, v in parsed.items())


def test_a_saved_estimate_is_its_own_entry_written_before_the_report_is_shown(workflow):
    clinician = signed_in(workflow, "dr.lee")
    case = heart_case(workflow, "H-01")
    workflow.save_own_estimate(clinician, "heart-disease", case, 40, patient_ref="MRN-7")
    [saved] = [e for e in workflow.trail.entries() if e.action == "estimate_recorded"]
    assert not [e for e in workflow.trail.entries() if e.action == "viewed"]
    assert not saved.report_json  # the model's number is not in the estimate's entry
    report = workflow.show_report(clinician, "heart-disease", case, patient_ref="MRN-7")
    actions = [e.action for e in workflow.trail.entries()]
    assert actions.index("estimate_recorded") < actions.index("viewed")
    assert (saved.actor_id, saved.patient_ref, saved.model_id) == (
        "dr.lee",
        "MRN-7",
        report.model.model_id,
    )
    assert saved.detail() == {
        "model_id": "heart-disease",
        "report_id": report.report_id,
        "own_estimate_out_of_100": 40,
    }


def test_a_bad_estimate_is_refused_by_name_and_nothing_is_recorded(workflow):
    clinician = signed_in(workflow, "dr.lee")
    case = heart_case(workflow)
    before = len(workflow.trail.entries())
    for bad in (-1, 101, 12.5, float("nan"), "30", None, True):
        with pytest.raises(WorkflowError, match=r"^Your estimate: expected a whole number"):
            workflow.save_own_estimate(clinician, "heart-disease", case, bad, patient_ref="MRN-1")  # type: ignore[arg-type]
    assert len(workflow.trail.entries()) == before
    assert workflow.awaiting_own_estimate(clinician, "heart-disease", case)


@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.none(),
        st.booleans(),
    )
)
def test_an_estimate_is_taken_only_as_a_whole_number_from_0_to_100(value):
    whole = (
        not isinstance(value, bool | str)
        and value is not None
        and value == value
        and abs(value) != float("inf")
        and value == int(value)
        and 0 <= value <= 100
    )
    if whole:
        assert check_own_estimate(value) == int(value)
    else:
        with pytest.raises(WorkflowError, match=r"^Your estimate: expected a whole number"):
            check_own_estimate(value)
