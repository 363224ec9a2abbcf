"""The owners' next steps a report carries: the side's and the band's, with source and link;
the patient's only in the owners' patient wording; nothing written when the card states none."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from caselens.explain.cases import validate_inputs
from caselens.explain.next_steps import (
    OWNERS_WORDS_NOTE,
    PATIENT_NEXT_STEPS_HEADING,
    ReportNextSteps,
    StatedStep,
    clinician_lines,
    patient_next_steps,
    report_next_steps,
)
from caselens.explain.report import (
    CaseExplainer,
    CaseReport,
    displayed_text,
    in_patient_language,
)
from caselens.model.next_steps import NO_NEXT_STEPS_TEXT, NextSteps

FIXED_NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)

#: A card's statement with both sides, a band, and steps with and without patient wording.
STATED = NextSteps.model_validate(
    {
        "at_or_above_threshold": [
            {
                "text": "Refer to the rapid-access clinic.",
                "source": "Local pathway v2",
                "link": "https://example.org/pathway",
                "patient_text": "Your team may send you to a clinic soon.",
            },
            {"text": "Repeat the test in a week.", "source": "Local pathway v2"},
        ],
        "below_threshold": [{"text": "Usual care.", "source": "Local pathway v2"}],
        "bands": [
            {
                "label": "Very high",
                "from_probability": 0.8,
                "to_probability": 1.0,
                "steps": [
                    {
                        "text": "Same-day review.",
                        "source": "Local pathway v2, section 4",
                        "patient_text": "Your team may want to see you today.",
                    }
                ],
            }
        ],
    }
)


def test_the_side_at_or_above_the_threshold_gets_its_steps_and_the_threshold_is_positive():
    shown = report_next_steps(STATED, 0.3, 0.3)
    assert shown is not None and shown.side == "at_or_above_threshold"
    assert [s.text for s in shown.steps] == [
        "Refer to the rapid-access clinic.",
        "Repeat the test in a week.",
    ]
    assert shown.steps[0].link == "https://example.org/pathway"
    assert shown.steps[1].link is None
    assert shown.band is None and shown.none_stated is None
    assert "at or above the threshold (30%)" in shown.heading
    assert shown.attribution == OWNERS_WORDS_NOTE
    below = report_next_steps(STATED, 0.2999, 0.3)
    assert below is not None and below.side == "below_threshold"
    assert [s.text for s in below.steps] == ["Usual care."]


def test_a_band_adds_its_steps_after_the_sides():
    shown = report_next_steps(STATED, 0.85, 0.3)
    assert shown is not None and shown.band is not None
    assert shown.band.label == "Very high"
    assert "'Very high' (80% to 100%)" in shown.band.heading
    assert [s.text for s in shown.all_steps()][-1] == "Same-day review."
    # The top band includes a probability of exactly 1.
    top = report_next_steps(STATED, 1.0, 0.3)
    assert top is not None and top.band is not None


def test_a_side_with_no_steps_says_so_in_the_owners_terms():
    only_above = NextSteps(at_or_above_threshold=STATED.at_or_above_threshold)
    shown = report_next_steps(only_above, 0.1, 0.3)
    assert shown is not None and shown.steps == () and shown.band is None
    assert shown.none_stated == (
        "The model's owners state no next steps for results below the threshold."
    )
    assert shown.none_stated in clinician_lines(shown)


def test_no_statement_gives_no_part_and_the_clinician_text_says_so():
    assert report_next_steps(None, 0.9, 0.3) is None
    assert patient_next_steps(None, 0.9, 0.3) is None
    assert clinician_lines(None) == [NO_NEXT_STEPS_TEXT]


def test_the_patient_gets_only_the_owners_patient_wording():
    above = patient_next_steps(STATED, 0.85, 0.3)
    assert above is not None and above.heading == PATIENT_NEXT_STEPS_HEADING
    assert above.steps == (
        "Your team may send you to a clinic soon.",
        "Your team may want to see you today.",
    )
    # Below the threshold no step has patient wording: no section, never the clinician's text.
    assert patient_next_steps(STATED, 0.1, 0.3) is None


@settings(max_examples=60, deadline=None)
@given(
    probability=st.floats(min_value=0, max_value=1),
    threshold=st.floats(min_value=0.01, max_value=0.99),
)
def test_the_side_and_band_follow_the_probability_for_any_threshold(probability, threshold):
    shown = report_next_steps(STATED, probability, threshold)
    assert shown is not None
    assert (shown.side == "at_or_above_threshold") == (probability >= threshold)
    expected_side = (
        STATED.at_or_above_threshold if probability >= threshold else STATED.below_threshold
    )
    assert [s.text for s in shown.steps] == [s.text for s in expected_side]
    assert (shown.band is not None) == (0.8 <= probability <= 1.0)
    # What the clinician reads names every step with its source.
    lines = "\n".join(clinician_lines(shown))
    for step in shown.all_steps():
        assert step.text in lines and step.source in lines


def test_a_stored_link_that_is_not_https_is_refused():
    with pytest.raises(ValidationError, match="https"):
        StatedStep(text="x", source="y", link="javascript:alert(1)")


# -- on the sample bundles' reports ---------------------------------------------------------


@pytest.fixture(scope="module")
def heart_explainer(heart_bundle):
    return CaseExplainer(heart_bundle)


def _reports(explainer, bundle):
    return [
        explainer.explain(
            validate_inputs(d.inputs, bundle.features, source="demo", case_id=d.case_id),
            now=FIXED_NOW,
        )
        for d in bundle.demo_cases
    ]


@pytest.fixture(scope="module")
def heart_reports(heart_explainer, heart_bundle):
    return _reports(heart_explainer, heart_bundle)


def _expected(bundle, report) -> ReportNextSteps | None:
    return report_next_steps(
        bundle.card.next_steps, report.probability, bundle.card.decision_threshold
    )


def test_heart_reports_carry_the_steps_of_their_side_with_source_and_link(
    heart_reports, heart_bundle
):
    sides = set()
    for report in heart_reports:
        shown = report.next_steps
        assert shown is not None and shown == _expected(heart_bundle, report)
        sides.add(shown.side)
        stated = heart_bundle.card.next_steps
        expected = (
            stated.at_or_above_threshold
            if report.probability >= report.model.threshold
            else stated.below_threshold
        )
        assert [s.text for s in shown.steps] == [s.text for s in expected]
        assert all(s.link == "https://www.nice.org.uk/guidance/cg95" for s in shown.steps)
        assert all("Demonstration wording" in s.source for s in shown.steps)
        # Recorded with the display: in the report's JSON and in the words whose digest is kept.
        assert json.loads(report.to_json())["next_steps"]["side"] == shown.side
        assert CaseReport.from_json(report.to_json()) == report
        assert shown.steps[0].text in displayed_text(report, "clinician")
        # The patient reads the owners' patient wording, in the measured text.
        patient = report.narrative.patient
        assert patient.next_steps is not None
        assert list(patient.next_steps.steps) == [s.patient_text for s in expected]
        assert patient.next_steps.steps[0] in displayed_text(report, "patient")
        assert shown.steps[0].text not in displayed_text(report, "patient")
    assert sides == {"at_or_above_threshold", "below_threshold"}


def test_readmission_reports_add_the_band_and_show_the_patient_nothing(readmission_bundle):
    explainer = CaseExplainer(readmission_bundle)
    reports = _reports(explainer, readmission_bundle)
    banded = [r for r in reports if r.probability >= 0.4]
    assert banded, "a readmission demo case is in the 'Highest estimates' band"
    for report in reports:
        shown = report.next_steps
        assert shown is not None and shown == _expected(readmission_bundle, report)
        assert (shown.band is not None) == (report.probability >= 0.4)
        if shown.band is not None:
            assert shown.band.steps[0].text.startswith("Arrange contact with the patient")
            assert shown.band.heading in displayed_text(report, "clinician")
        # No step has patient wording: no patient section at all.
        assert report.narrative.patient.next_steps is None
        assert "next_steps" not in json.loads(report.to_json())["narrative"]["patient"]


def test_a_card_without_next_steps_writes_no_part_and_says_none_are_stated(
    heart_bundle, heart_reports
):
    card = heart_bundle.card.model_copy(update={"next_steps": None})
    bare = dataclasses.replace(heart_bundle, card=card)
    report = _reports(CaseExplainer(bare), bare)[0]
    data = json.loads(report.to_json())
    assert "next_steps" not in data
    assert "next_steps" not in data["narrative"]["patient"]
    assert report.next_steps is None and report.narrative.patient.next_steps is None
    assert NO_NEXT_STEPS_TEXT in displayed_text(report, "clinician")
    # Everything else is the report the card with next steps gives, less those parts.
    full = heart_reports[0].model_dump(mode="json")
    full.pop("next_steps")
    del full["narrative"]["patient"]["next_steps"]
    for name in ("reading_grade", "reading"):  # the steps are part of the measured text
        full["narrative"]["patient"].pop(name)
        data["narrative"]["patient"].pop(name)
    for name in ("report_id", "provenance"):  # the id; the timings of the computation
        data.pop(name), full.pop(name)
    assert data == full


def test_a_patient_summary_in_another_language_has_no_english_steps(heart_reports, heart_bundle):
    spanish = in_patient_language(heart_reports[0], heart_bundle, "es")
    assert spanish.narrative.patient.language == "es"
    assert spanish.narrative.patient.next_steps is None
    # The clinician's part is unchanged.
    assert spanish.next_steps == heart_reports[0].next_steps
