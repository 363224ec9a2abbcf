"""Where a case's values came from (a case read from a FHIR record): frozen data on the Case,
carried into the CaseReport only when present, so every other report is exactly as before."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from caselens.explain.cases import (
    MAX_SOURCES_PER_FIELD,
    STATUS_WORDS,
    TO_ENTER_BY_HAND,
    FieldSource,
    RecordSources,
    SourceResourceRef,
    validate_inputs,
)
from caselens.explain.cases.record_sources import MAX_SOURCE_TEXT_CHARS, cut
from caselens.explain.report import CaseExplainer, CaseReport, reproducible_digest

FIXED_NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def heart_explainer(heart_bundle) -> CaseExplainer:
    return CaseExplainer(heart_bundle)


def sources_for(case, schema, *, by_hand: tuple[str, ...] = ()) -> RecordSources:
    """Sources for every input of ``case``: the first from a Patient, the rest from
    Observations, ``by_hand`` ones typed by the clinician after a stale record value."""
    fields = []
    for i, feature in enumerate(schema):
        if feature.name in by_hand:
            fields.append(
                FieldSource(
                    feature=feature.name,
                    status="stale",
                    message=f"{feature.label}: the latest value is older than 365 days.",
                    sources=(
                        SourceResourceRef(
                            resource_type="Observation", resource_id=f"old-{i}", date="2019-01-02"
                        ),
                    ),
                    sources_total=1,
                    original="5.1 mmol/L",
                    value=case.values[feature.name],
                    by_hand=True,
                )
            )
            continue
        kind = "Patient" if i == 0 else "Observation"
        fields.append(
            FieldSource(
                feature=feature.name,
                status="filled",
                message="",
                sources=(
                    SourceResourceRef(
                        resource_type=kind, resource_id=f"r-{i}", version="2", date="2026-11-30"
                    ),
                ),
                sources_total=1,
                original=None if i == 0 else f"{case.values[feature.name]} {feature.unit or ''}",
                value=case.values[feature.name],
            )
        )
    return RecordSources(
        patient_id="p-1",
        patient=SourceResourceRef(resource_type="Patient", resource_id="p-1"),
        case_date="2026-12-07",
        fields=tuple(fields),
    )


def test_a_report_without_record_sources_has_no_such_key_and_keeps_its_id(
    heart_bundle, heart_explainer
):
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id="H-01")
    report = heart_explainer.explain(case, now=FIXED_NOW)
    stored = json.loads(report.to_json())
    # The key is not written at all (not even as null): a typed or uploaded case's JSON and
    # report id are exactly what they were before record sources existed.
    assert "record_sources" not in stored["case"]
    assert reproducible_digest(stored) == report.report_id
    assert CaseReport.from_json(report.to_json()) == report


def test_a_report_carries_the_record_sources_and_they_round_trip_through_its_json(
    heart_bundle, heart_explainer
):
    demo = heart_bundle.demo_cases[0]
    plain = validate_inputs(demo.inputs, heart_bundle.features, source="fhir", case_id="H-01")
    hand = heart_bundle.features.names[-1]
    sources = sources_for(plain, heart_bundle.features, by_hand=(hand,))
    case = dataclasses.replace(plain, record_sources=sources)

    with_sources = heart_explainer.explain(case, now=FIXED_NOW)
    without = heart_explainer.explain(plain, now=FIXED_NOW)

    assert with_sources.case.record_sources == sources
    back = CaseReport.from_json(with_sources.to_json())
    assert back == with_sources
    assert back.case.record_sources.field(hand).by_hand
    assert back.case.record_sources.entered_by_hand() == (hand,)
    # The sources are part of what was shown: they are in the report's id.
    assert with_sources.report_id != without.report_id
    assert with_sources.probability == without.probability


def test_where_a_value_came_from_reads_the_resource_its_date_and_the_record_s_own_value():
    field = FieldSource(
        feature="chol",
        status="filled",
        sources=(
            SourceResourceRef(
                resource_type="Observation",
                resource_id="c1",
                version="3",
                date="2026-11-02T08:30:00Z",
            ),
        ),
        sources_total=1,
        original="5.12 mmol/L",
        value=198.0,
    )
    assert field.from_record
    assert field.status_words() == "From the record"
    assert field.where_from() == (
        "Observation/c1/_history/3 (2026-11-02) · recorded as 5.12 mmol/L"
    )
    typed = field.model_copy(
        update={"status": "unit_not_allowed", "by_hand": True, "message": "'kPa' not allowed"}
    )
    assert not typed.from_record
    assert typed.where_from() == f"Entered by hand · not used from the record: {field.where_from()}"
    assert FieldSource(feature="x", status="not_mapped", by_hand=True).where_from() == (
        "Entered by hand"
    )
    assert typed.status_words() == f"{STATUS_WORDS['unit_not_allowed']}: entered by hand"
    sources = RecordSources(case_date="2026-12-07", fields=(field, typed))
    filled, by_hand = sources.table({"chol": "Cholesterol"}, {"chol": "198 mg/dL"})
    assert filled == {
        "Input": "Cholesterol",
        "Value used": "198 mg/dL",
        "From the record?": "From the record",
        "Where it came from": field.where_from(),
        "Note": "",  # the intake's words would repeat where it came from
    }
    assert by_hand["Note"] == "'kPa' not allowed"
    assert RecordSources(case_date="2026-12-07", fields=(field,)).table({}, {}) == [
        {**filled, "Input": "chol", "Value used": TO_ENTER_BY_HAND}
    ]


def test_a_count_over_many_resources_keeps_them_to_the_bound_and_says_how_many_more():
    many = tuple(
        SourceResourceRef(resource_type="Encounter", resource_id=f"e{i}")
        for i in range(MAX_SOURCES_PER_FIELD)
    )
    field = FieldSource(
        feature="n_inpatient", status="filled", sources=many, sources_total=130, value=130.0
    )
    assert field.where_from().startswith("Encounter/e0; Encounter/e1; ")
    assert field.where_from().endswith(f"Encounter/e{MAX_SOURCES_PER_FIELD - 1}; and 30 more")
    with pytest.raises(ValidationError):
        FieldSource(feature="x", status="filled", sources=(*many, many[0]))


def test_record_text_beyond_its_bound_is_refused_and_cut_marks_a_cut():
    with pytest.raises(ValidationError):
        SourceResourceRef(resource_type="Observation", resource_id="x" * 201)
    assert cut("x" * 500) == "x" * (MAX_SOURCE_TEXT_CHARS - 1) + "…"
    assert cut("short") == "short"
    with pytest.raises(ValidationError):
        FieldSource(feature="x", status="guessed")  # only the intake's own statuses


record_text = st.text(max_size=60)


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(record_text, min_size=1, max_size=4),
    message=record_text,
    original=st.none() | record_text,
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False) | record_text,
)
def test_any_record_text_round_trips_unchanged_through_canonical_json(
    ids, message, original, value
):
    sources = RecordSources(
        patient_id=ids[0],
        case_date="2026-12-07",
        fields=(
            FieldSource(
                feature="f",
                status="conflict",
                message=message,
                sources=tuple(
                    SourceResourceRef(resource_type="Observation", resource_id=i, date=i)
                    for i in ids
                ),
                sources_total=len(ids),
                original=original,
                value=value,
            ),
        ),
    )
    text = sources.model_dump_json()
    assert RecordSources.model_validate_json(text) == sources
