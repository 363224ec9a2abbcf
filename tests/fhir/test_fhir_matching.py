"""Which resources hold an input: statuses that exclude, dates (partial, undated, after the case
date), earliest/min combines, a FHIRPath that fails on the record's data, and band edges."""

from __future__ import annotations

import datetime
import json

from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.matching import day_of
from caselens.fhir.synthetic import synthetic_record
from caselens.model.features import FeatureSchema
from fhir_records import BYO_CASE, BYO_SCHEMA, CASE_DATE, SNOMED


def _record(**options) -> dict:
    return json.loads(synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, **options))


def _read(data: dict, schema: FeatureSchema = BYO_SCHEMA):
    return case_from_record(
        schema, read_fhir_bundle(json.dumps(data).encode()), case_date=CASE_DATE
    )


def _resources(data: dict, code: str) -> list[dict]:
    return [e["resource"] for e in data["entry"] if code in json.dumps(e["resource"])]


def _only(feature: str, **mapping_changes) -> FeatureSchema:
    spec = BYO_SCHEMA[feature]
    mapping = spec.fhir.model_copy(update=mapping_changes)
    return FeatureSchema(features=(spec.model_copy(update={"fhir": mapping}),))


def test_a_refuted_condition_is_not_a_diagnosis():
    data = _record()
    for condition in _resources(data, "44054006"):
        condition["verificationStatus"] = {"coding": [{"code": "refuted"}]}
    diabetes = _read(data).fields["diabetes"]
    assert (diabetes.status, diabetes.value) == ("stated_absent", "No")
    assert "1 marked refuted" in diabetes.message


def test_a_medication_not_taken_and_a_procedure_not_done_are_not_counted():
    data = _record()
    for request in _resources(data, "253182"):
        request["status"] = "cancelled"
    for procedure in _resources(data, "265764009")[:1]:
        procedure["status"] = "not-done"
    intake = _read(data)
    assert intake.fields["on_insulin"].value == 0
    assert intake.fields["dialysis_sessions"].value == BYO_CASE["dialysis_sessions"] - 1


def test_an_undated_value_is_not_used_when_the_mapping_has_a_window():
    data = _record()
    for observation in _resources(data, "2093-3"):
        del observation["effectiveDateTime"]
    field = _read(data).fields["cholesterol"]
    assert field.status == "no_value" and "1 without a date" in field.message


def test_an_undated_value_is_used_when_the_mapping_has_no_window():
    data = _record()
    for observation in _resources(data, "2093-3"):
        del observation["effectiveDateTime"]
    intake = _read(data, _only("cholesterol", window_days=None))
    assert intake.values() == {"cholesterol": 233}
    assert intake.fields["cholesterol"].sources[0].date is None


def test_earliest_and_min_pick_the_oldest_and_the_lowest():
    data = _record()
    first = _resources(data, "2093-3")[0]
    older = json.loads(json.dumps(first))
    older["id"] = "older"
    older["effectiveDateTime"] = (CASE_DATE - datetime.timedelta(days=200)).isoformat()
    older["valueQuantity"]["value"] = 250
    data["entry"].append({"resource": older})
    assert _read(data, _only("cholesterol", combine="earliest")).values() == {"cholesterol": 250}
    assert _read(data, _only("cholesterol", combine="min")).values() == {"cholesterol": 233}
    assert _read(data, _only("cholesterol", combine="max")).values() == {"cholesterol": 250}
    assert _read(data, _only("cholesterol")).values() == {"cholesterol": 233}


def test_a_value_path_that_finds_a_wrong_kind_of_value_is_named():
    intake = _read(_record(), _only("cholesterol", value_path="code", units=(), unit=None))
    field = intake.fields["cholesterol"]
    assert field.status == "invalid_value" and field.value is None
    assert "Total cholesterol" in field.message


def test_a_value_on_a_band_edge_goes_where_the_band_says():
    data = _record()
    for observation in _resources(data, "4548-4"):
        observation["valueQuantity"]["value"] = 7
    assert _read(data).fields["a1c_result"].value == "Normal"  # above 7, not at 7
    for observation in _resources(data, "4548-4"):
        observation["valueQuantity"]["value"] = 7.01
    assert _read(data).fields["a1c_result"].value == "Above 7%"


def test_partial_and_odd_dates():
    assert day_of("2024") == datetime.date(2024, 1, 1)
    assert day_of("2024-05") == datetime.date(2024, 5, 1)
    assert day_of("2024-05-03T23:59:59-05:00") == datetime.date(2024, 5, 3)
    assert day_of("2024-13-01") is None and day_of("May 2024") is None and day_of(7) is None


def test_a_partial_birth_date_gives_no_age():
    data = _record()
    data["entry"][0]["resource"]["birthDate"] = "1957"
    age = _read(data).fields["age"]
    assert age.status == "invalid_value" and "not a full date" in age.message


def test_a_condition_coded_in_another_system_is_not_matched():
    data = _record()
    for condition in _resources(data, "44054006"):
        condition["code"]["coding"][0]["system"] = SNOMED + "/other"
    assert _read(data).fields["diabetes"].status == "stated_absent"


def _insulin_by_reference(data: dict, *, contained: bool) -> None:
    """The insulin order names its drug by reference, as many EHRs write it."""
    request = _resources(data, "253182")[0]
    medication = {
        "resourceType": "Medication",
        "id": "insulin-glargine",
        "code": request.pop("medicationCodeableConcept"),
    }
    if contained:
        request["contained"] = [medication]
        request["medicationReference"] = {"reference": "#insulin-glargine"}
    else:
        data["entry"].append(
            {"fullUrl": "urn:uuid:5f0c7f1e-0000-4000-8000-000000000001", "resource": medication}
        )
        request["medicationReference"] = {
            "reference": "urn:uuid:5f0c7f1e-0000-4000-8000-000000000001"
        }


def test_a_medication_named_by_reference_is_found_in_the_record_or_contained():
    for contained in (False, True):
        data = _record()
        _insulin_by_reference(data, contained=contained)
        intake = _read(data)
        assert intake.fields["on_insulin"].value == 1, contained
        assert intake.fields["on_insulin"].sources[0].resource_type == "MedicationRequest"


def test_a_drug_the_record_does_not_hold_makes_absence_unknown():
    data = _record()
    request = _resources(data, "253182")[0]
    request.pop("medicationCodeableConcept")
    request["medicationReference"] = {"reference": "Medication/elsewhere"}
    field = _read(data).fields["on_insulin"]
    # The order may be for insulin: absence is not known, so the stated 0 is not used.
    assert (field.status, field.value) == ("no_value", None)
    assert "name a Medication the record does not hold" in field.message


def test_a_test_done_without_a_result_is_not_taken_as_not_measured():
    data = _record()
    for observation in _resources(data, "4548-4"):
        del observation["valueQuantity"]
        observation["dataAbsentReason"] = {"coding": [{"code": "error"}]}
    field = _read(data).fields["a1c_result"]
    assert (field.status, field.value) == ("no_value", None)
    assert "hold no value (data absent: error)" in field.message
    assert field.sources and field.sources[0].resource_type == "Observation"


def test_a_resource_repeated_in_the_bundle_is_counted_once_and_its_newer_version_read():
    data = _record()
    visits = [e for e in data["entry"] if "EMER" in json.dumps(e["resource"].get("class"))]
    data["entry"] += json.loads(json.dumps(visits))
    cholesterol = next(e for e in data["entry"] if "2093-3" in json.dumps(e["resource"]))
    newer = json.loads(json.dumps(cholesterol))
    newer["resource"]["meta"]["versionId"] = "2"
    newer["resource"]["valueQuantity"]["value"] = 240
    data["entry"].append(newer)
    intake = _read(data)
    assert intake.fields["emergency_visits"].value == BYO_CASE["emergency_visits"]
    assert intake.fields["cholesterol"].value == 240
    assert intake.fields["cholesterol"].sources[0].version == "2"
    assert any("read once" in note for note in intake.notes)


def test_a_bare_number_where_a_measurement_is_expected_has_no_unit():
    data = _record()
    for observation in _resources(data, "2093-3"):
        observation["valueString"] = str(observation.pop("valueQuantity")["value"])
    field = _read(data, _only("cholesterol", value_path="value")).fields["cholesterol"]
    assert field.status == "unit_not_allowed" and field.value is None
    assert "'233.0' with no unit; allowed: mg/dL, mmol/L" in field.message
