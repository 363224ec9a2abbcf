"""Case context on the real sample bundles: variable flags, novelty, subgroup performance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from caselens.explain.cases import validate_inputs
from caselens.explain.context import (
    NOVELTY_SAMPLE_SIZE,
    SUBGROUP_RULE,
    CaseContext,
    ContextModel,
    subgroup_status,
    variable_flags,
)
from caselens.model.card import SubgroupPerformance
from caselens.model.features import FeatureSchema


@pytest.fixture(scope="module")
def readmission_context(readmission):
    return ContextModel.from_bundle(readmission)


@pytest.fixture(scope="module")
def heart_context(heart):
    return ContextModel.from_bundle(heart)


def demo(bundle, case_id, **changes):
    inputs = {**bundle.demo_case(case_id).inputs, **changes}
    return validate_inputs(inputs, bundle.features, source="demo", case_id=case_id)


def row_case(bundle, row):
    # Reference rows hold NaN for "not recorded"; a case holds None.
    inputs = {
        name: (None if isinstance(v, float) and math.isnan(v) else v)
        for name, v in row[bundle.features.names].items()
    }
    return validate_inputs(inputs, bundle.features, source="json")


@pytest.mark.parametrize(
    ("bundle_name", "case_id", "field", "value_text"),
    [
        ("readmission", "R-10", "time_in_hospital", "21 days"),
        ("heart", "H-09", "cholesterol", "650 mg/dL"),
    ],
)
def test_out_of_range_demo_case_is_flagged_with_its_value(
    request, bundle_name, case_id, field, value_text
):
    bundle = request.getfixturevalue(bundle_name)
    flags = variable_flags(demo(bundle, case_id), bundle.features)
    assert [(f.name, f.kind, f.value_text) for f in flags] == [
        (field, "outside_training_range", value_text)
    ]
    assert "outside the range the model was trained on" in flags[0].message
    assert flags[0].label == bundle.features[field].label


@pytest.mark.parametrize(("bundle_name", "case_id"), [("readmission", "R-01"), ("heart", "H-01")])
def test_plain_in_range_case_has_no_flags(request, bundle_name, case_id):
    bundle = request.getfixturevalue(bundle_name)
    assert variable_flags(demo(bundle, case_id), bundle.features) == ()


def test_a_category_seen_only_three_times_in_training_is_flagged_rare(heart):
    case = demo(heart, "H-01", resting_ecg="ST-T wave abnormality")
    (flag,) = variable_flags(case, heart.features)
    assert (flag.name, flag.kind, flag.value_text) == (
        "resting_ecg",
        "rare_category",
        "ST-T wave abnormality",
    )


def test_a_category_never_seen_in_training_is_flagged_unseen(heart):
    specs = [
        f.model_copy(update={"training_counts": {**f.training_counts, "ST-T wave abnormality": 0}})
        if f.name == "resting_ecg"
        else f
        for f in heart.features
    ]
    schema = FeatureSchema(features=tuple(specs))
    inputs = {**heart.demo_case("H-01").inputs, "resting_ecg": "ST-T wave abnormality"}
    (flag,) = variable_flags(validate_inputs(inputs, schema), schema)
    assert flag.kind == "unseen_category"
    assert "never seen" in flag.message


def test_missing_is_flagged_only_where_training_rarely_had_it_missing(readmission):
    # Race was missing for 2.3% of training patients, payer for 39%.
    case = demo(readmission, "R-01", race=None, payer=None)
    flags = variable_flags(case, readmission.features)
    assert [(f.name, f.kind, f.value_text) for f in flags] == [
        ("race", "missing_value", "not recorded")
    ]


def test_an_absurd_but_valid_patient_is_very_unusual(readmission, readmission_context):
    case = demo(
        readmission,
        "R-01",
        age_band="0-9",
        time_in_hospital=300,
        num_lab_procedures=450,
        num_procedures=90,
        num_medications=190,
        number_outpatient=300,
        number_emergency=300,
        number_inpatient=90,
        number_diagnoses=45,
        admission_type="Newborn",
        admission_source="Other",
        discharge_to="Other",
        metformin="Dose decreased",
    )
    novelty = readmission_context.assess(case).novelty
    assert novelty.percentile >= 99
    assert novelty.reading == "very unusual"
    assert novelty.statement.startswith("Very unusual: more unusual than 100% of patients")


def test_the_out_of_range_heart_demo_case_is_more_unusual_than_its_plain_version(
    heart, heart_context
):
    plain = heart_context.novelty(demo(heart, "H-09", cholesterol=250))
    modified = heart_context.novelty(demo(heart, "H-09"))
    assert modified.score > plain.score
    assert modified.percentile >= 90


def test_test_patients_outside_the_sample_are_moderately_unusual_on_average(
    readmission, readmission_context
):
    # Patients drawn like the reference ones should land roughly uniformly on the percentile
    # scale, so their mean sits near 50.
    unsampled = readmission.reference.drop(index=readmission_context.sample_index)
    rows = unsampled.sample(n=200, random_state=1)
    percentiles = [
        readmission_context.novelty(row_case(readmission, row)).percentile
        for _, row in rows.iterrows()
    ]
    assert 35 <= np.mean(percentiles) <= 65
    assert np.median(percentiles) < 90


def test_novelty_sample_is_capped_and_fixed_by_its_seed(readmission, readmission_context):
    assert len(readmission_context.sample_index) == NOVELTY_SAMPLE_SIZE
    again = ContextModel.from_bundle(readmission)
    assert list(again.sample_index) == list(readmission_context.sample_index)
    np.testing.assert_array_equal(again.reference_scores, readmission_context.reference_scores)


def test_every_heart_subgroup_is_too_small_to_judge(heart):
    statuses = subgroup_status(demo(heart, "H-01"), heart.features, heart.card)
    assert [(s.variable, s.group, s.status) for s in statuses] == [
        ("age", "under 55", "too_small"),
        ("sex", "Female", "too_small"),
    ]
    assert statuses[1].n == 19
    assert "Too few patients to judge (under 100 patients or 10 events)" in statuses[1].note


def test_a_subgroup_with_low_auroc_on_the_card_is_worse(readmission):
    overall = readmission.card.validation.overall
    crafted = tuple(
        s.model_copy(
            update={
                "figures": s.figures.model_copy(update={"auroc": round(overall.auroc - 0.08, 4)})
            }
        )
        if (s.variable, s.group) == ("sex", "Female")
        else s
        for s in readmission.card.validation.subgroups
    )
    card = readmission.card.model_copy(
        update={"validation": readmission.card.validation.model_copy(update={"subgroups": crafted})}
    )
    statuses = {
        s.variable: s
        for s in subgroup_status(demo(readmission, "R-01"), readmission.features, card)
    }
    assert statuses["sex"].status == "worse"
    assert "AUROC 0.08 lower" in statuses["sex"].note
    assert SUBGROUP_RULE in statuses["sex"].note
    assert statuses["race"].status == "ok"


def test_a_missing_subgroup_value_is_not_recorded_with_the_cards_figures(readmission):
    statuses = {
        s.variable: s
        for s in subgroup_status(demo(readmission, "R-08"), readmission.features, readmission.card)
    }
    race = statuses["race"]
    assert (race.group, race.status, race.n) == ("not recorded", "not_recorded", 438)
    assert race.note.startswith("Race not recorded for this patient")


def test_a_group_the_card_has_no_figures_for_says_so(heart):
    card = heart.card.model_copy(
        update={
            "validation": heart.card.validation.model_copy(
                update={
                    "subgroups": (
                        SubgroupPerformance(
                            variable="age",
                            group="under 55",
                            figures=heart.card.validation.overall.model_copy(
                                update={"n": 500, "events": 200}
                            ),
                        ),
                    )
                }
            )
        }
    )
    statuses = subgroup_status(demo(heart, "H-01"), heart.features, card)
    assert [s.status for s in statuses] == ["ok", "no_figures"]
    assert statuses[1].n is None
    assert "no performance figures for Sex 'Female'" in statuses[1].note


@pytest.mark.parametrize(
    ("bundle_name", "context_name"),
    [("readmission", "readmission_context"), ("heart", "heart_context")],
)
def test_every_demo_context_round_trips_through_json(request, bundle_name, context_name):
    bundle = request.getfixturevalue(bundle_name)
    model = request.getfixturevalue(context_name)
    for demo_case in bundle.demo_cases:
        context = model.assess(demo(bundle, demo_case.case_id))
        assert CaseContext.model_validate(context.model_dump(mode="json")) == context
        assert CaseContext.model_validate_json(context.model_dump_json()) == context
