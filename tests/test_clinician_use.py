"""How clinicians used a model, per period: feedback and own estimates against the model's
(the automation-bias record), and the limitations shown — read from the real trail and
prediction log through the workflow."""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
from caselens.monitoring.tables import ready_engine
from caselens.workflow import Refused
from monitoring_fixtures import heart_case, signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below


def _this_month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def test_feedback_and_own_estimates_are_summed_per_period(workflow):
    clinician = signed_in(workflow, "dr.lee")
    reports = []
    for case_id, own, verdict in (("H-01", 90, "I agree"), ("H-02", 5, "I disagree")):
        case = heart_case(workflow, case_id)
        workflow.save_own_estimate(clinician, "heart-disease", case, own)
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
