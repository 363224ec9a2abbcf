"""A bring-your-own model's schema mapped to FHIR, and one patient of it: test and demo data.

Not a sample model (no fitted model goes with it): a kidney-risk schema a hospital might bring,
whose inputs use every kind of mapping the intake reads (Patient age and sex, Observations
with unit conversion, a component, bands and a value map, Encounter counts and a length of
stay, a Condition, a MedicationRequest and a Procedure as yes/no or counts, an input entered by
hand and one not mapped). Tests, ``caselens bench fhir`` and demonstrations build synthetic
records of it with :func:`caselens.fhir.synthetic.synthetic_record`.
"""

from __future__ import annotations

import datetime

from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping import FhirCode, FhirMapping, ValueBand

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
#: The day the demo case is about (its values are dated in the weeks before it).
CASE_DATE = datetime.date(2024, 6, 1)


def _feature(**fields) -> FeatureSpec:
    return FeatureSpec(patient_label=fields["label"], **fields)


def _observation(code: str, path: str = "valueQuantity", **fields) -> FhirMapping:
    return FhirMapping(
        resource_type="Observation",
        codes=(FhirCode(system=LOINC, code=code),),
        value_path=path,
        **fields,
    )


#: A kidney-risk model a hospital brings: every kind of mapping the intake reads.
DEMO_SCHEMA = FeatureSchema(
    features=(
        _feature(
            name="age",
            label="Age",
            kind="integer",
            unit="years",
            hard_min=18,
            hard_max=110,
            fhir=FhirMapping(resource_type="Patient", value_path="birthDate", derive="age_years"),
        ),
        _feature(
            name="sex",
            label="Sex",
            kind="category",
            categories=("Female", "Male"),
            fhir=FhirMapping(
                resource_type="Patient",
                value_path="gender",
                value_map={"female": "Female", "male": "Male"},
            ),
        ),
        _feature(
            name="cholesterol",
            label="Total cholesterol",
            kind="integer",
            unit="mg/dL",
            hard_min=50,
            hard_max=1000,
            fhir=_observation(
                "2093-3",
                units=("mg/dL", "mmol/L"),
                unit="mg/dL",
                molar_mass_g_per_mol=386.65,
                window_days=365,
            ),
        ),
        _feature(
            name="systolic_bp",
            label="Systolic blood pressure",
            kind="integer",
            unit="mm Hg",
            hard_min=50,
            hard_max=300,
            fhir=_observation(
                "85354-9",
                "component.where(code.coding.code='8480-6').valueQuantity",
                units=("mm[Hg]",),
                unit="mm[Hg]",
                window_days=90,
            ),
        ),
        _feature(
            name="creatinine",
            label="Serum creatinine",
            kind="number",
            unit="mg/dL",
            hard_min=0.1,
            hard_max=30,
            fhir=_observation(
                "2160-0",
                units=("mg/dL", "umol/L"),
                unit="mg/dL",
                molar_mass_g_per_mol=113.12,
                window_days=180,
            ),
        ),
        _feature(
            name="a1c_result",
            label="HbA1c result",
            kind="category",
            categories=("Normal", "Above 7%", "Above 8%", "Not measured"),
            fhir=_observation(
                "4548-4",
                units=("%",),
                unit="%",
                window_days=90,
                bands=(
                    ValueBand(value="Normal"),
                    ValueBand(lower=7, lower_inclusive=False, value="Above 7%"),
                    ValueBand(lower=8, lower_inclusive=False, value="Above 8%"),
                ),
                when_absent="Not measured",
            ),
        ),
        _feature(
            name="smoking",
            label="Smoking status",
            kind="category",
            categories=("Never", "Former", "Current"),
            fhir=_observation(
                "72166-2",
                "valueCodeableConcept",
                value_map={"266919005": "Never", "8517006": "Former", "77176002": "Current"},
                window_days=730,
            ),
        ),
        _feature(
            name="emergency_visits",
            label="Emergency visits in the past year",
            kind="integer",
            unit="visits",
            hard_min=0,
            hard_max=365,
            fhir=FhirMapping(
                resource_type="Encounter",
                codes=(FhirCode(system=ACT_CODE, code="EMER"),),
                combine="count",
                window_days=365,
                when_absent=0,
            ),
        ),
        _feature(
            name="length_of_stay",
            label="Length of stay",
            kind="integer",
            unit="days",
            hard_min=0,
            hard_max=365,
            fhir=FhirMapping(
                resource_type="Encounter",
                codes=(FhirCode(system=ACT_CODE, code="IMP"),),
                value_path="period",
                derive="period_days",
                window_days=30,
            ),
        ),
        _feature(
            name="diabetes",
            label="Diabetes",
            kind="category",
            categories=("No", "Yes"),
            fhir=FhirMapping(
                resource_type="Condition",
                codes=(FhirCode(system=SNOMED, code="44054006"),),
                combine="any",
                value_map={"0": "No", "1": "Yes"},
                when_absent="No",
            ),
        ),
        _feature(
            name="on_insulin",
            label="On insulin",
            kind="integer",
            hard_min=0,
            hard_max=1,
            meaning="yes_no",
            fhir=FhirMapping(
                resource_type="MedicationRequest",
                codes=(FhirCode(system=RXNORM, code="253182"),),
                combine="any",
                window_days=180,
                when_absent=0,
            ),
        ),
        _feature(
            name="dialysis_sessions",
            label="Dialysis sessions",
            kind="integer",
            unit="sessions",
            hard_min=0,
            hard_max=500,
            fhir=FhirMapping(
                resource_type="Procedure",
                codes=(FhirCode(system=SNOMED, code="265764009"),),
                combine="count",
                window_days=90,
                when_absent=0,
            ),
        ),
        _feature(
            name="frailty_score",
            label="Clinical frailty score",
            kind="integer",
            hard_min=1,
            hard_max=9,
            fhir=FhirMapping(entered_by_hand=True, by_hand_reason="judged at the bedside"),
        ),
        _feature(
            name="family_history", label="Family history", kind="category", categories=("No", "Yes")
        ),
    )
)

#: One patient of DEMO_SCHEMA, every mapped input with a value.
DEMO_CASE: dict[str, float | str] = {
    "age": 67,
    "sex": "Female",
    "cholesterol": 233,
    "systolic_bp": 148,
    "creatinine": 1.4,
    "a1c_result": "Above 7%",
    "smoking": "Former",
    "emergency_visits": 2,
    "length_of_stay": 5,
    "diabetes": "Yes",
    "on_insulin": 1,
    "dialysis_sessions": 3,
}
#: The inputs the clinician always enters for DEMO_SCHEMA (by hand or not mapped).
DEMO_BY_HAND = ["frailty_score", "family_history"]
