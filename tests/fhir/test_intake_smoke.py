"""First checks of the FHIR intake: a small record read into a case, values with sources."""

from __future__ import annotations

import datetime
import json

from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping import FhirCode, FhirMapping

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CASE_DATE = datetime.date(2024, 6, 1)

SCHEMA = FeatureSchema(
    features=(
        FeatureSpec(
            name="age",
            label="Age",
            patient_label="Age",
            kind="integer",
            unit="years",
            hard_min=0,
            hard_max=120,
            fhir=FhirMapping(resource_type="Patient", value_path="birthDate", derive="age_years"),
        ),
        FeatureSpec(
            name="chol",
            label="Cholesterol",
            patient_label="Cholesterol",
            kind="integer",
            unit="mg/dL",
            hard_min=50,
            hard_max=700,
            fhir=FhirMapping(
                resource_type="Observation",
                codes=(FhirCode(system=LOINC, code="2093-3"),),
                value_path="valueQuantity",
                units=("mg/dL",),
                unit="mg/dL",
                window_days=365,
            ),
        ),
    )
)


def _bundle(*resources: dict) -> bytes:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        }
    ).encode()


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-07-01"}


def _cholesterol(rid: str, when: str, value: float, patient: str = "p1") -> dict:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2093-3"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
    }


def test_a_record_fills_each_input_with_its_source():
    data = _bundle(PATIENT, _cholesterol("c1", "2024-03-01", 201))
    intake = case_from_record(SCHEMA, read_fhir_bundle(data), case_date=CASE_DATE)
    assert intake.values() == {"age": 63.0, "chol": 201.0}
    assert intake.fields["chol"].sources[0].resource_id == "c1"
    assert intake.fields["chol"].sources[0].date == "2024-03-01"
    assert intake.needs_by_hand() == []


def test_another_patients_value_is_never_used():
    data = _bundle(PATIENT, _cholesterol("c9", "2024-03-01", 250, patient="p2"))
    intake = case_from_record(SCHEMA, read_fhir_bundle(data), case_date=CASE_DATE)
    assert intake.fields["chol"].status == "no_value"
    assert intake.other_patients == 1
    assert intake.needs_by_hand() == ["chol"]
