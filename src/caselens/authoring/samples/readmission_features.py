"""The ``readmission-30d`` sample's feature schema: a table of its inputs (labels, patient
wording, categories, hard limits), with training ranges and counts measured.
"""

from __future__ import annotations

import pandas as pd

from caselens.authoring.samples.readmission_data import (
    ADMISSION_SOURCE,
    ADMISSION_TYPE,
    AGE_BANDS,
    DIAGNOSIS_GROUPS,
    DISCHARGE,
    MEDICATION,
)
from caselens.model.features import FeatureSchema, FeatureSpec

# name, clinical label, patient label, description, unit, hard limits, categories
_CATEGORY_FEATURES: tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...] = (
    (
        "race",
        "Race",
        "Race",
        "Race as recorded in the hospital record.",
        ("White", "Black", "Hispanic", "Asian", "Other"),
        True,
    ),
    ("sex", "Sex", "Sex", "Sex as recorded in the hospital record.", ("Female", "Male"), False),
    ("age_band", "Age band", "Age", "Age in 10-year bands.", AGE_BANDS, False),
    (
        "admission_type",
        "Admission type",
        "Type of hospital stay",
        "How the admission was classified.",
        tuple(sorted(set(ADMISSION_TYPE.values()))),
        True,
    ),
    (
        "admission_source",
        "Admission source",
        "How you came into the hospital",
        "Where the patient was admitted from (grouped).",
        tuple(sorted(set(ADMISSION_SOURCE.values()))),
        True,
    ),
    (
        "discharge_to",
        "Discharge destination",
        "Where you went after the hospital",
        "Where the patient was discharged to (grouped).",
        tuple(sorted(set(DISCHARGE.values()))),
        True,
    ),
    (
        "payer",
        "Payer",
        "Health insurance",
        "Who paid for the stay (grouped).",
        ("Medicaid", "Medicare", "Private or other insurer", "Self-pay"),
        True,
    ),
    (
        "admitting_specialty",
        "Admitting specialty",
        "Type of doctor who admitted you",
        "Specialty of the admitting physician (grouped).",
        (
            "Cardiology",
            "Emergency medicine",
            "Family or general practice",
            "Internal medicine",
            "Other specialty",
            "Surgery",
        ),
        True,
    ),
    (
        "diagnosis_1",
        "Primary diagnosis group",
        "Main reason for the hospital stay",
        "ICD-9 primary diagnosis, grouped as in Strack et al. 2014.",
        DIAGNOSIS_GROUPS,
        True,
    ),
    (
        "diagnosis_2",
        "Secondary diagnosis group",
        "Second health problem",
        "ICD-9 secondary diagnosis, grouped as in Strack et al. 2014.",
        DIAGNOSIS_GROUPS,
        True,
    ),
    (
        "diagnosis_3",
        "Additional diagnosis group",
        "Third health problem",
        "ICD-9 additional diagnosis, grouped as in Strack et al. 2014.",
        DIAGNOSIS_GROUPS,
        True,
    ),
    (
        "glucose_serum_test",
        "Maximum glucose serum test",
        "Blood sugar test in the hospital",
        "Highest glucose serum result (mg/dL) during the stay.",
        ("Above 200", "Above 300", "Normal", "Not measured"),
        False,
    ),
    (
        "a1c_result",
        "HbA1c result",
        "A1c test (average blood sugar)",
        "HbA1c result during the stay.",
        ("Above 7%", "Above 8%", "Normal", "Not measured"),
        False,
    ),
    (
        "insulin",
        "Insulin",
        "Insulin",
        "Insulin prescription and dose change during the stay.",
        tuple(MEDICATION.values()),
        False,
    ),
    (
        "metformin",
        "Metformin",
        "Metformin (a diabetes pill)",
        "Metformin prescription and dose change during the stay.",
        tuple(MEDICATION.values()),
        False,
    ),
    (
        "medication_change",
        "Diabetes medication changed",
        "Diabetes medicine changed",
        "Any change in diabetes medication during the stay.",
        ("Changed", "Not changed"),
        False,
    ),
    (
        "diabetes_medication",
        "Any diabetes medication",
        "Takes diabetes medicine",
        "Any diabetes medication prescribed.",
        ("No", "Yes"),
        False,
    ),
)
# name, clinical label, patient label, description, unit, hard_min, hard_max
_NUMERIC_FEATURES: tuple[tuple[str, str, str, str, str, float, float], ...] = (
    (
        "time_in_hospital",
        "Length of stay",
        "Days in the hospital",
        "Days from admission to discharge.",
        "days",
        0,
        365,
    ),
    (
        "num_lab_procedures",
        "Lab tests",
        "Number of lab tests",
        "Laboratory tests during the stay.",
        "tests",
        0,
        500,
    ),
    (
        "num_procedures",
        "Procedures",
        "Number of procedures",
        "Non-laboratory procedures during the stay.",
        "procedures",
        0,
        100,
    ),
    (
        "num_medications",
        "Medications",
        "Number of medicines",
        "Distinct generic medications given during the stay.",
        "medications",
        0,
        200,
    ),
    (
        "number_outpatient",
        "Outpatient visits (past year)",
        "Clinic visits in the past year",
        "Outpatient visits in the year before the admission.",
        "visits",
        0,
        365,
    ),
    (
        "number_emergency",
        "Emergency visits (past year)",
        "Emergency room visits in the past year",
        "Emergency visits in the year before the admission.",
        "visits",
        0,
        365,
    ),
    (
        "number_inpatient",
        "Inpatient stays (past year)",
        "Hospital stays in the past year",
        "Inpatient admissions in the year before the admission.",
        "stays",
        0,
        100,
    ),
    (
        "number_diagnoses",
        "Number of diagnoses",
        "Number of health problems recorded",
        "Diagnoses entered in the record.",
        "diagnoses",
        1,
        50,
    ),
)
SUBGROUP_FEATURES = {"race", "sex", "age_band", "payer"}


def feature_schema(
    train: pd.DataFrame,
    added: tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...] = (),
) -> FeatureSchema:
    """The schema, with training ranges, category counts and missing shares from ``train``.

    ``added`` holds further category inputs (rows like :data:`_CATEGORY_FEATURES`'), placed
    last, for a version that adds inputs; version 1 adds none.
    """
    specs = []
    for name, label, plain, description, categories, missing in _CATEGORY_FEATURES + added:
        counts = train[name].value_counts().to_dict()
        specs.append(
            FeatureSpec(
                name=name,
                label=label,
                patient_label=plain,
                description=description,
                kind="category",
                categories=categories,
                training_counts={c: int(counts.get(c, 0)) for c in categories},
                missing_allowed=missing,
                training_missing_share=round(float(train[name].isna().mean()), 4),
                subgroup=name in SUBGROUP_FEATURES,
            )
        )
    for name, label, plain, description, unit, low, high in _NUMERIC_FEATURES:
        specs.append(
            FeatureSpec(
                name=name,
                label=label,
                patient_label=plain,
                description=description,
                kind="integer",
                unit=unit,
                hard_min=low,
                hard_max=high,
                training_min=float(train[name].min()),
                training_max=float(train[name].max()),
                missing_allowed=False,
            )
        )
    order = (
        [n for n, *_ in _CATEGORY_FEATURES[:3]]
        + [n for n, *_ in _NUMERIC_FEATURES]
        + [n for n, *_ in _CATEGORY_FEATURES[3:]]
        + [n for n, *_ in added]
    )
    by_name = {s.name: s for s in specs}
    return FeatureSchema(features=tuple(by_name[n] for n in order))
