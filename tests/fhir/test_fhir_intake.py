"""The FHIR intake: a synthetic record of a bring-your-own schema read back into its case, and
each problem a record can hold named on its field (never a silent default)."""

from __future__ import annotations

import datetime
import json

import pytest

from caselens.errors import FhirRecordError
from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.intake import USABLE_STATUSES, RecordIntake
from caselens.fhir.synthetic import synthetic_record
from fhir_records import BYO_BY_HAND, BYO_CASE, BYO_SCHEMA, CASE_DATE, LOINC


def _intake(variants=None, *, seed=7, **options) -> RecordIntake:
    data = synthetic_record(
        BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=seed, variants=variants, **options
    )
    return case_from_record(BYO_SCHEMA, read_fhir_bundle(data), case_date=CASE_DATE)


def _bundle_json(**options) -> dict:
    return json.loads(synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, **options))


@pytest.mark.parametrize("bundle_type", ["searchset", "collection", "transaction"])
def test_a_case_written_to_a_record_reads_back_the_same(bundle_type):
    intake = _intake(bundle_type=bundle_type)
    assert intake.values() == BYO_CASE
    assert intake.needs_by_hand() == BYO_BY_HAND
    assert list(intake.fields) == BYO_SCHEMA.names
    assert intake.patient is not None and intake.patient.resource_id == "patient-1"
    cholesterol = intake.fields["cholesterol"]
    assert cholesterol.status == "filled"
    assert cholesterol.sources[0].resource_type == "Observation"
    assert cholesterol.sources[0].version == "1"
    assert cholesterol.sources[0].date.startswith("2024-")
    assert cholesterol.original == "233 mg/dL"
    assert "Observation" in cholesterol.message and cholesterol.sources[0].resource_id in (
        cholesterol.message
    )


def test_every_source_is_a_resource_in_the_record():
    data = _bundle_json(seed=3)
    in_record = {
        (e["resource"]["resourceType"], e["resource"]["id"], e["resource"]["meta"]["versionId"])
        for e in data["entry"]
    }
    intake = case_from_record(
        BYO_SCHEMA, read_fhir_bundle(json.dumps(data).encode()), case_date=CASE_DATE
    )
    used = {(s.resource_type, s.resource_id, s.version) for s in intake.sources}
    assert used and used <= in_record
    # A count names every resource it counted.
    assert len(intake.fields["emergency_visits"].sources) == 2


def test_the_same_seed_writes_the_same_record_and_another_seed_another():
    first = synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=5)
    assert synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=5) == first
    assert synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=6) != first


def test_a_value_only_in_an_allowed_other_unit_is_converted():
    cholesterol = _intake({"cholesterol": "other_unit"}).fields["cholesterol"]
    assert cholesterol.status == "filled"
    assert cholesterol.value == 233
    assert cholesterol.original.endswith("mmol/L")
    assert "recorded as 6.0" in cholesterol.message
    creatinine = _intake({"creatinine": "other_unit"}).fields["creatinine"]
    assert creatinine.value == pytest.approx(1.4) and "umol/L" in creatinine.original


def test_entered_by_hand_and_not_mapped_inputs_are_asked_for():
    intake = _intake()
    frailty, family = intake.fields["frailty_score"], intake.fields["family_history"]
    assert frailty.status == "entered_by_hand" and "judged at the bedside" in frailty.message
    assert family.status == "not_mapped"
    assert frailty.value is None and family.value is None


def test_no_value_in_the_window_asks_by_hand_naming_the_codes_and_window():
    field = _intake({"cholesterol": "missing"}).fields["cholesterol"]
    assert field.status == "no_value" and field.value is None
    assert "LOINC 2093-3" in field.message and "365 days" in field.message
    assert "enter it by hand" in field.message


def test_absence_is_filled_only_by_the_mappings_stated_value_and_says_so():
    intake = _intake({"a1c_result": "missing", "emergency_visits": "missing"})
    a1c = intake.fields["a1c_result"]
    assert (a1c.status, a1c.value) == ("stated_absent", "Not measured")
    assert "state 'Not measured'" in a1c.message and a1c.sources == ()
    visits = intake.fields["emergency_visits"]
    assert (visits.status, visits.value) == ("stated_absent", 0)
    assert intake.values()["a1c_result"] == "Not measured"


def test_a_value_only_before_the_window_is_stale_and_named_with_its_date():
    field = _intake({"systolic_bp": "stale"}).fields["systolic_bp"]
    assert field.status == "stale" and field.value is None
    assert field.original == "148 mm[Hg]"
    assert field.sources[0].date[:10] in field.message
    assert "90-day window" in field.message


def test_a_unit_not_allowed_is_named_with_the_allowed_ones():
    field = _intake({"cholesterol": "wrong_unit"}).fields["cholesterol"]
    assert field.status == "unit_not_allowed" and field.value is None
    assert "[arb'U]" in field.message and "mg/dL, mmol/L" in field.message


def test_a_unit_given_only_as_text_is_not_taken_for_a_ucum_code():
    data = _bundle_json()
    for entry in data["entry"]:
        quantity = entry["resource"].get("valueQuantity")
        if quantity and quantity.get("unit") == "mg/dL":
            del quantity["system"], quantity["code"]
    intake = case_from_record(
        BYO_SCHEMA, read_fhir_bundle(json.dumps(data).encode()), case_date=CASE_DATE
    )
    field = intake.fields["cholesterol"]
    assert field.status == "unit_not_allowed" and "'mg/dL' as text only" in field.message


def test_two_values_on_the_newest_date_are_a_conflict_naming_both():
    field = _intake({"cholesterol": "conflict"}).fields["cholesterol"]
    assert field.status == "conflict" and field.value is None
    assert len(field.sources) == 2
    assert all(s.resource_id in field.message for s in field.sources)
    assert "233 mg/dL" in field.message and "234 mg/dL" in field.message


def test_the_latest_value_wins_over_an_older_one():
    data = _bundle_json()
    older = next(
        e
        for e in data["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "2093-3"
    )
    twin = json.loads(json.dumps(older))
    twin["resource"]["id"] = "older-cholesterol"
    twin["resource"]["effectiveDateTime"] = "2023-09-01"
    twin["resource"]["valueQuantity"]["value"] = 300
    data["entry"].append(twin)
    intake = case_from_record(
        BYO_SCHEMA, read_fhir_bundle(json.dumps(data).encode()), case_date=CASE_DATE
    )
    assert intake.fields["cholesterol"].value == 233


def test_an_unknown_code_is_named():
    intake = _intake({"smoking": "unknown_code", "sex": "unknown_code"})
    smoking, sex = intake.fields["smoking"], intake.fields["sex"]
    assert smoking.status == "unknown_code" and "not-a-known-code" in smoking.message
    assert sex.status == "unknown_code" and "'other'" in sex.message
    assert smoking.value is None and sex.value is None


def test_a_value_the_schema_refuses_is_invalid_with_why():
    intake = _intake({"cholesterol": "invalid_value", "age": "invalid_value"})
    cholesterol, age = intake.fields["cholesterol"], intake.fields["age"]
    assert cholesterol.status == "invalid_value" and "outside the possible range" in (
        cholesterol.message
    )
    assert age.status == "invalid_value" and "after the case date" in age.message


def test_an_entered_in_error_resource_is_never_used():
    intake = _intake({"cholesterol": "entered_in_error", "diabetes": "entered_in_error"})
    cholesterol = intake.fields["cholesterol"]
    assert cholesterol.status == "no_value" and "entered-in-error" in cholesterol.message
    diabetes = intake.fields["diabetes"]
    assert (diabetes.status, diabetes.value) == ("stated_absent", "No")


def test_values_dated_after_the_case_date_are_not_used():
    data = synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=7)
    earlier = CASE_DATE - datetime.timedelta(days=200)
    intake = case_from_record(BYO_SCHEMA, read_fhir_bundle(data), case_date=earlier)
    systolic = intake.fields["systolic_bp"]
    assert systolic.status == "no_value" and "dated after the case date" in systolic.message
    assert intake.fields["age"].value == 66


def test_another_patients_resources_are_ignored_and_counted():
    intake = _intake({"cholesterol": "missing"}, other_patient=True)
    assert intake.fields["cholesterol"].status == "no_value"
    assert intake.other_patients > 0
    assert any("another patient" in note for note in intake.notes)
    assert intake.values() == {k: v for k, v in BYO_CASE.items() if k != "cholesterol"}


def test_several_patients_need_an_id_and_the_id_picks_one():
    data = _bundle_json()
    data["entry"].append(
        {"resource": {"resourceType": "Patient", "id": "p2", "birthDate": "1990-01-01"}}
    )
    record = read_fhir_bundle(json.dumps(data).encode())
    with pytest.raises(FhirRecordError, match="2 Patients"):
        case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    chosen = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE, patient_id="p2")
    assert chosen.fields["age"].value == 34
    assert chosen.fields["cholesterol"].status == "no_value"
    assert chosen.other_patients > 0
    with pytest.raises(FhirRecordError, match="no Patient 'p3'"):
        case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE, patient_id="p3")


def test_a_record_without_a_patient_is_refused_unless_an_id_is_given():
    data = _bundle_json()
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Patient"]
    record = read_fhir_bundle(json.dumps(data).encode())
    with pytest.raises(FhirRecordError, match="no Patient"):
        case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    intake = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE, patient_id="patient-1")
    assert intake.patient is None
    assert intake.fields["age"].status == "no_value"
    assert intake.fields["cholesterol"].value == 233


def test_a_code_path_names_where_the_codes_are():
    mapping = BYO_SCHEMA["cholesterol"].fhir.model_copy(update={"code_path": "code.coding"})
    feature = BYO_SCHEMA["cholesterol"].model_copy(update={"fhir": mapping})
    schema = BYO_SCHEMA.model_copy(update={"features": (feature,)})
    data = synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=7)
    intake = case_from_record(schema, read_fhir_bundle(data), case_date=CASE_DATE)
    assert intake.values() == {"cholesterol": 233}
    assert LOINC  # the mapping's codes are LOINC


def test_a_problem_never_carries_a_value():
    variants = {
        "cholesterol": "wrong_unit",
        "systolic_bp": "stale",
        "creatinine": "conflict",
        "smoking": "unknown_code",
        "age": "invalid_value",
        "length_of_stay": "missing",
    }
    intake = _intake(variants)
    for name, field in intake.fields.items():
        if field.status in USABLE_STATUSES:
            assert field.value is not None, name
        else:
            assert field.value is None and name in intake.needs_by_hand(), name
    assert set(intake.needs_by_hand()) == {*variants, *BYO_BY_HAND}


def test_a_bound_is_not_read_as_a_value():
    data = _bundle_json()
    for entry in data["entry"]:
        quantity = entry["resource"].get("valueQuantity")
        if quantity and quantity.get("unit") == "mg/dL":
            quantity["comparator"] = ">"
    intake = case_from_record(
        BYO_SCHEMA, read_fhir_bundle(json.dumps(data).encode()), case_date=CASE_DATE
    )
    field = intake.fields["cholesterol"]
    assert field.status == "invalid_value" and field.value is None
    assert "a bound ('>233 mg/dL')" in field.message


def test_a_variant_the_mapping_cannot_show_is_refused_not_written_clean():
    for name, variant in [
        ("age", "stale"),
        ("smoking", "wrong_unit"),
        ("cholesterol", "unknown_code"),
        ("emergency_visits", "conflict"),
        ("a1c_result", "invalid_value"),
        ("systolic_bp", "other_unit"),
        ("frailty_score", "missing"),
    ]:
        with pytest.raises(ValueError, match=name):
            synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, variants={name: variant})


@pytest.mark.parametrize(
    ("period", "is_current"),
    [
        ({"start": "2024-05-28", "end": "2024-06-01"}, True),  # ends on the case date
        ({"start": "2024-05-30"}, True),  # begun, not ended
        ({"start": "2024-05-20", "end": "2024-05-25"}, False),  # an earlier visit
    ],
)
def test_a_count_of_earlier_stays_leaves_out_the_stay_being_assessed(period, is_current):
    data = _bundle_json(seed=3)
    data["entry"].append(
        {
            "fullUrl": "urn:uuid:current-stay",
            "resource": {
                "resourceType": "Encounter",
                "id": "current-stay",
                "meta": {"versionId": "1"},
                "status": "in-progress" if "end" not in period else "finished",
                "class": BYO_SCHEMA["emergency_visits"]
                .fhir.codes[0]
                .model_dump(exclude={"display"}),
                "subject": {"reference": "Patient/patient-1"},
                "period": period,
            },
        }
    )
    record = read_fhir_bundle(json.dumps(data).encode())
    counted = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    assert counted.fields["emergency_visits"].value == 3  # two earlier visits and this one
    mapping = BYO_SCHEMA["emergency_visits"].fhir.model_copy(update={"excludes_current_stay": True})
    feature = BYO_SCHEMA["emergency_visits"].model_copy(update={"fhir": mapping})
    schema = BYO_SCHEMA.model_copy(update={"features": (feature,)})
    field = case_from_record(schema, record, case_date=CASE_DATE).fields["emergency_visits"]
    assert field.value == (2 if is_current else 3)
    assert ("the stay being assessed" in field.message) is is_current
    assert ("current-stay" in {s.resource_id for s in field.sources}) is not is_current


def test_only_an_encounter_mapping_may_leave_out_the_current_stay():
    with pytest.raises(ValueError, match="excludes_current_stay is for Encounter"):
        BYO_SCHEMA["cholesterol"].fhir.model_copy(update={"excludes_current_stay": True}).__class__(
            **{**BYO_SCHEMA["cholesterol"].fhir.model_dump(), "excludes_current_stay": True}
        )
