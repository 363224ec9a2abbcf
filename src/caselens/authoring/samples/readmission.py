"""The ``readmission-30d`` sample model: 30-day readmission after a diabetes admission.

Data: Diabetes 130-US hospitals 1999–2008 (Strack et al. 2014), ``assets/datasets``.
Model: histogram gradient boosting over the raw clinical inputs (categoricals natively),
inside one Pipeline, calibrated on a held-out, patient-disjoint split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from caselens.authoring.samples import patient_texts
from caselens.authoring.samples._common import (
    DEMONSTRATION_CARD,
    DEMONSTRATION_SOURCE_ATTRIBUTES,
    Progress,
    choose_calibration,
    row_inputs,
    split_three_ways,
    step,
    verify_checksum,
)
from caselens.model.card_check import subgroup_figures
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.performance import performance_figures

MODEL_ID = "readmission-30d"
SEED = 20260301
THRESHOLD = 0.2
DATA_FOLDER = "diabetes-130-us-hospitals"
CSV_SHA256 = "0689e7ec031237dc63031b938805c48377748761a3b26acab621567afa24df97"
# Discharges after which a readmission cannot follow (death, hospice).
EXCLUDED_DISCHARGE = {11, 13, 14, 19, 20, 21}

AGE_BANDS = tuple(f"{lo}-{lo + 9}" for lo in range(0, 100, 10))
DIAGNOSIS_GROUPS = (
    "Circulatory",
    "Respiratory",
    "Digestive",
    "Diabetes",
    "Injury",
    "Musculoskeletal",
    "Genitourinary",
    "Neoplasms",
    "Other",
)
ADMISSION_TYPE = {1: "Emergency", 2: "Urgent", 3: "Elective", 4: "Newborn", 7: "Trauma center"}
ADMISSION_SOURCE = {
    **{c: "Referral" for c in (1, 2, 3)},
    7: "Emergency room",
    **{c: "Transfer from another facility" for c in (4, 5, 6, 10, 18, 22, 25, 26)},
    **{c: "Other" for c in (8, 11, 12, 13, 14, 19, 23, 24)},
}
DISCHARGE = {
    1: "Home",
    6: "Home with home health care",
    8: "Home with home health care",
    **{c: "Skilled nursing or care facility" for c in (3, 4, 5, 15, 22, 23, 24, 27, 29, 30)},
    **{c: "Another hospital" for c in (2, 9, 10, 28)},
    7: "Left against medical advice",
    **{c: "Other" for c in (12, 16, 17)},
}
PAYER = {"MC": "Medicare", "MD": "Medicaid", "SP": "Self-pay"}
MEDICATION = {
    "No": "Not prescribed",
    "Steady": "Steady dose",
    "Up": "Dose increased",
    "Down": "Dose decreased",
}


def diagnosis_group(code: Any) -> str | None:
    """ICD-9 code → the diagnosis groups of Strack et al. 2014 (Table 2)."""
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return None
    text = str(code).strip()
    if not text:
        return None
    if text[0] in "VE":
        return "Other"
    number = float(text)
    if 390 <= number <= 459 or int(number) == 785:
        return "Circulatory"
    if 460 <= number <= 519 or int(number) == 786:
        return "Respiratory"
    if 520 <= number <= 579 or int(number) == 787:
        return "Digestive"
    if int(number) == 250:
        return "Diabetes"
    if 800 <= number <= 999:
        return "Injury"
    if 710 <= number <= 739:
        return "Musculoskeletal"
    if 580 <= number <= 629 or int(number) == 788:
        return "Genitourinary"
    if 140 <= number <= 239:
        return "Neoplasms"
    return "Other"


def specialty_group(value: Any) -> str | None:
    """Admitting physician's specialty → a few groups a reader recognises."""
    if not isinstance(value, str) or not value:
        return None
    if value == "InternalMedicine":
        return "Internal medicine"
    if value == "Family/GeneralPractice":
        return "Family or general practice"
    if value == "Emergency/Trauma":
        return "Emergency medicine"
    if value == "Cardiology":
        return "Cardiology"
    if value.startswith("Surgery") or value.startswith("Surgeon") or "Orthopedics" in value:
        return "Surgery"
    return "Other specialty"


def load_encounters(assets: Path) -> pd.DataFrame:
    """The checked CSV, with the cohort exclusions and the clinical inputs derived."""
    path = assets / DATA_FOLDER / "diabetic_data.csv.gz"
    verify_checksum(path, CSV_SHA256, gunzip=True)
    raw = pd.read_csv(
        path,
        na_values=["?"],
        keep_default_na=False,
        low_memory=False,
        dtype={"payer_code": "object", "diag_1": "object", "diag_2": "object", "diag_3": "object"},
    )
    raw = raw[~raw["discharge_disposition_id"].isin(EXCLUDED_DISCHARGE)]
    raw = raw[raw["gender"].isin(["Female", "Male"])]
    out = pd.DataFrame(index=raw.index)
    out["race"] = raw["race"].map(
        {
            "Caucasian": "White",
            "AfricanAmerican": "Black",
            "Hispanic": "Hispanic",
            "Asian": "Asian",
            "Other": "Other",
        }
    )
    out["sex"] = raw["gender"]
    out["age_band"] = (
        raw["age"].str.extract(r"\[(\d+)-")[0].astype(int).map(lambda lo: f"{lo}-{lo + 9}")
    )
    out["admission_type"] = raw["admission_type_id"].map(ADMISSION_TYPE)
    out["admission_source"] = raw["admission_source_id"].map(ADMISSION_SOURCE)
    out["discharge_to"] = raw["discharge_disposition_id"].map(DISCHARGE)
    out["payer"] = raw["payer_code"].map(
        lambda c: None if not isinstance(c, str) else PAYER.get(c, "Private or other insurer")
    )
    out["admitting_specialty"] = raw["medical_specialty"].map(specialty_group)
    for column in (
        "time_in_hospital",
        "num_lab_procedures",
        "num_procedures",
        "num_medications",
        "number_outpatient",
        "number_emergency",
        "number_inpatient",
        "number_diagnoses",
    ):
        out[column] = raw[column].astype(float)
    for i in (1, 2, 3):
        out[f"diagnosis_{i}"] = raw[f"diag_{i}"].map(diagnosis_group)
    out["glucose_serum_test"] = raw["max_glu_serum"].map(
        {"None": "Not measured", "Norm": "Normal", ">200": "Above 200", ">300": "Above 300"}
    )
    out["a1c_result"] = raw["A1Cresult"].map(
        {"None": "Not measured", "Norm": "Normal", ">7": "Above 7%", ">8": "Above 8%"}
    )
    out["insulin"] = raw["insulin"].map(MEDICATION)
    out["metformin"] = raw["metformin"].map(MEDICATION)
    out["medication_change"] = raw["change"].map({"Ch": "Changed", "No": "Not changed"})
    out["diabetes_medication"] = raw["diabetesMed"].map({"Yes": "Yes", "No": "No"})
    out = out.astype(object).where(out.notna(), None)
    for column in NUMERIC:
        out[column] = out[column].astype(float)
    out["patient_nbr"] = raw["patient_nbr"].to_numpy()
    out["outcome"] = (raw["readmitted"] == "<30").astype(int).to_numpy()
    return out.reset_index(drop=True)


NUMERIC = (
    "time_in_hospital",
    "num_lab_procedures",
    "num_procedures",
    "num_medications",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
    "number_diagnoses",
)

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


def feature_schema(train: pd.DataFrame) -> FeatureSchema:
    """The schema, with training ranges, category counts and missing shares from ``train``."""
    specs = []
    for name, label, plain, description, categories, missing in _CATEGORY_FEATURES:
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
    )
    by_name = {s.name: s for s in specs}
    return FeatureSchema(features=tuple(by_name[n] for n in order))


def make_pipeline(schema: FeatureSchema) -> Pipeline:
    """Ordinal-encode the categories, pass numbers through, then gradient boosting.

    Unknown categories and missing values both become NaN, which the booster routes down its
    learned missing-value branch.
    """
    categorical = [f for f in schema if f.kind == "category"]
    numeric = [f.name for f in schema if f.kind != "category"]
    encoder = OrdinalEncoder(
        categories=[list(f.categories or ()) for f in categorical],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    columns = ColumnTransformer(
        [
            ("categories", encoder, [f.name for f in categorical]),
            ("numbers", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    )
    booster = HistGradientBoostingClassifier(
        categorical_features=[True] * len(categorical) + [False] * len(numeric),
        learning_rate=0.05,
        max_iter=250,
        max_leaf_nodes=15,
        min_samples_leaf=80,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=SEED,
    )
    return Pipeline([("columns", columns), ("booster", booster)])


def build(assets: Path, progress: Progress) -> dict[str, Any]:
    """Fit and evaluate the model; return everything :func:`create_bundle` needs."""
    with step(progress, "reading and checking the Diabetes 130-US hospitals data"):
        data = load_encounters(assets)
    y = data["outcome"].to_numpy()
    with step(progress, "splitting by patient (60% train / 20% calibration / 20% test)"):
        train_idx, cal_idx, test_idx = split_three_ways(
            y, groups=data["patient_nbr"].to_numpy(), seed=SEED, calibration=0.2, test=0.2
        )
    train, cal, test = (data.iloc[i].reset_index(drop=True) for i in (train_idx, cal_idx, test_idx))
    schema = feature_schema(train)
    x = schema.names
    with step(progress, f"fitting gradient boosting on {len(train):,} encounters"):
        pipeline = make_pipeline(schema).fit(train[x], train["outcome"].to_numpy())
    with step(progress, "choosing and fitting the calibration on the calibration split"):
        model, calibration = choose_calibration(
            pipeline, cal[x], cal["outcome"].to_numpy(), seed=SEED
        )
    with step(progress, f"measuring on the test split ({len(test):,} encounters)"):
        p_test = model.predict_proba(test[x])[:, 1]
        y_test = test["outcome"].to_numpy()
        overall = performance_figures(
            y_test, p_test, threshold=THRESHOLD, bootstrap=True, seed=SEED
        )
        subgroups = subgroup_figures(schema, test, y_test, p_test, threshold=THRESHOLD)
    n_patients = data["patient_nbr"].nunique()
    card = _card(
        schema, calibration, overall, subgroups, len(train), len(cal), len(test), n_patients, data
    )
    demo = _demo_cases(test, p_test, schema)
    return {
        "model": model,
        "card": card,
        "features": schema,
        "reference": test,
        "calibration_data": cal,
        "demo_cases": demo,
    }


def _demo_cases(test: pd.DataFrame, p: np.ndarray, schema: FeatureSchema) -> list[dict]:
    """10 demo cases: low and high risk, near the threshold, missing values, an out-of-range
    value, women and men, several age bands and races."""
    names = schema.names
    rng = np.random.default_rng(SEED)
    chosen: list[tuple[int, str, str, tuple[str, ...], dict[str, Any]]] = []
    used: set[int] = set()

    def pick(
        mask: np.ndarray,
        title: str,
        description: str,
        tags: tuple[str, ...],
        override: dict[str, Any] | None = None,
    ) -> None:
        candidates = np.flatnonzero(mask & ~np.isin(np.arange(len(test)), list(used)))
        i = int(rng.choice(candidates))
        used.add(i)
        chosen.append((i, title, description, tags, override or {}))

    complete = test[names].notna().all(axis=1).to_numpy()
    sex = test["sex"].to_numpy()
    race = test["race"].to_numpy()
    age = test["age_band"].to_numpy()
    pick(
        complete & (p < 0.06) & (sex == "Female"),
        "Low risk, woman",
        "A short stay with no prior admissions.",
        ("low risk", "female"),
    )
    pick(
        complete & (p < 0.07) & (sex == "Male") & (race == "Black"),
        "Low risk, Black man",
        "Low predicted risk.",
        ("low risk", "male", "Black"),
    )
    pick(
        complete & (p > 0.35) & (sex == "Male"),
        "High risk, man with prior stays",
        "Several inpatient stays in the past year.",
        ("high risk", "male"),
    )
    pick(
        complete & (p > 0.3) & (sex == "Female") & (race == "White"),
        "High risk, White woman",
        "High predicted risk.",
        ("high risk", "female", "White"),
    )
    pick(
        complete & (np.abs(p - THRESHOLD) < 0.015),
        "Near the 20% threshold",
        "The probability is close to the decision threshold.",
        ("near threshold",),
    )
    pick(complete & (race == "Hispanic"), "Hispanic patient", "A Hispanic patient.", ("Hispanic",))
    pick(complete & (age == "80-89"), "Patient aged 80-89", "An older patient.", ("age 80-89",))
    pick(
        test["race"].isna().to_numpy() & test["payer"].isna().to_numpy(),
        "Race and payer not recorded",
        "Two inputs are missing and are handled as missing.",
        ("missing value",),
    )
    pick(complete & (age == "30-39"), "Young adult, 30-39", "A younger patient.", ("age 30-39",))
    pick(
        complete & (test["time_in_hospital"].to_numpy() >= 10),
        "Length of stay beyond the training range",
        "A real test-split patient whose length of stay was changed to 21 days — outside the "
        "1-14 days the model was trained on — to show the out-of-range warning.",
        ("out of range", "modified"),
        {"time_in_hospital": 21.0},
    )
    cases = []
    for n, (i, title, description, tags, override) in enumerate(chosen, start=1):
        inputs = row_inputs(test, i, names)
        inputs.update(override)
        cases.append(
            {
                "case_id": f"R-{n:02d}",
                "title": title,
                "description": description,
                "inputs": inputs,
                "tags": tags,
            }
        )
    return cases


def _card(
    schema, calibration, overall, subgroups, n_train, n_cal, n_test, n_patients, data
) -> dict[str, Any]:
    share = data["race"].value_counts(normalize=True, dropna=False)
    race_text = ", ".join(
        f"{('not recorded' if k is None else k)} {v:.1%}" for k, v in share.items()
    )
    female = float((data["sex"] == "Female").mean())
    worst = min(
        (s for s in subgroups if s.figures.n >= 100 and s.figures.auroc is not None),
        key=lambda s: s.figures.auroc,
    )
    validity = (
        f"Patient-disjoint test split of the same source, n={overall.n} encounters "
        f"({overall.events} readmitted within 30 days): AUROC {overall.auroc} (95% CI "
        f"{overall.auroc_ci95}), Brier {overall.brier}, ECE {overall.ece}, calibration slope "
        f"{overall.calibration_slope} and intercept {overall.calibration_intercept}; at the "
        f"{THRESHOLD:.0%} threshold sensitivity {overall.sensitivity}, specificity "
        f"{overall.specificity}."
    )
    fairness = (
        "AUROC, sensitivity, specificity and calibration by sex, age band, race and payer on the "
        f"test split are in validation.subgroups; the lowest AUROC among subgroups with at "
        f"least 100 encounters was {worst.figures.auroc} ({worst.variable} = {worst.group}, "
        f"n={worst.figures.n}) against {overall.auroc} overall."
    )
    no_external = (
        "Not available — no external validation was done; this demonstration model "
        "was only tested on a held-out split of its own source data."
    )
    no_local = "Not available — this model has not been evaluated on any hospital's local data."
    sa = {
        **DEMONSTRATION_SOURCE_ATTRIBUTES,
        "output_value_description": "Calibrated probability (0-100%) that the patient is "
        "readmitted within 30 days of discharge, with its "
        "uncertainty and a flag against a 20% threshold.",
        "output_type": "Prediction (probability of a future event).",
        "intended_use": "Demonstration of transparent risk display: to inform discharge "
        "planning discussions for adult inpatients with diabetes.",
        "intended_patient_population": "Adults with diabetes discharged alive from an "
        "inpatient stay of 1-14 days in a US hospital.",
        "intended_users": "Clinicians and discharge planners; patients see a plain-language "
        "summary.",
        "intended_decision_role": "Informs: the probability is information for the clinician, "
        "not a recommendation; clinical judgement stays with the "
        "treating clinician.",
        "cautioned_out_of_scope_use": "Children; patients without diabetes; deaths or hospice "
        "discharges; stays over 14 days; settings outside the US "
        "or after 2008; any real clinical decision.",
        "known_risks_and_limitations": "Modest discrimination; data from 1999-2008 from one "
        "vendor's network; race and payer are recorded "
        "inputs that can carry structural bias; readmissions to "
        "other hospitals are not seen.",
        "training_inclusion_exclusion": "Inpatient encounters with any diabetes diagnosis, stay "
        "1-14 days, labs and medications given (source "
        "criteria); excluded: discharges to death or hospice "
        "and the 3 encounters with sex not recorded.",
        "demographic_input_features": "Uses race, sex and age band (10-year bands) as inputs, "
        "and payer (a social determinant of health). Does not use "
        "ethnicity beyond the race field, language, sexual "
        "orientation, gender identity, date of birth or health "
        "status assessments.",
        "demographic_representativeness": f"Race: {race_text}. Female {female:.1%}. Ages "
        "mostly 50-89; under 30 rare.",
        "training_data_relevance": "US hospitals 1999-2008 (Cerner Health Facts): care, coding "
        "and medications have changed since; relevance to a "
        "deployed setting must be established locally.",
        "fairness_approach": "Performance is measured and published per subgroup (sex, age band, "
        "race, payer) and shown beside each prediction for the patient's "
        "own subgroups.",
        "bias_management": "No reweighting or constraint was applied; subgroup gaps are "
        "reported, and weak or small subgroups trigger a caution on the "
        "case screen.",
        "external_validation_data_source": no_external,
        "external_validation_party": no_external,
        "external_demographic_representativeness": no_external,
        "external_validation_process": no_external,
        "validity_internal_test": validity,
        "fairness_internal_test": fairness,
        "validity_external": no_external,
        "fairness_external": no_external,
        "outcome_evaluation_references": "Not available — the model has never been used in "
        "care, so no effect on outcomes was evaluated.",
        "validity_monitoring_process": "Not available — a demonstration model is not monitored; "
        "a deploying site must monitor calibration monthly on "
        "its own data.",
        "validity_local": no_local,
        "fairness_monitoring_process": "Not available — no deployment; a deploying site must "
        "review subgroup performance each quarter.",
        "fairness_local": no_local,
        "update_process": "Rebuilt only when the code or data change (caselens samples build); "
        "no scheduled retraining.",
        "correction_frequency": "Not available — no deployment; the model would be suspended in "
        "CaseLens when a validity or fairness problem is found.",
    }
    return {
        **DEMONSTRATION_CARD,
        **patient_texts.READMISSION,
        "model_id": MODEL_ID,
        "name": "30-day readmission after a diabetes admission",
        "summary": "Estimates the probability that an adult with diabetes is readmitted to "
        "hospital within 30 days of discharge, from routinely recorded admission "
        "data. A demonstration model, not for clinical use.",
        "model_type": "Histogram gradient-boosted trees (scikit-learn), categorical inputs "
        "handled natively, calibrated afterwards",
        "intended_use": sa["intended_use"],
        "intended_users": sa["intended_users"],
        "target_population": sa["intended_patient_population"],
        "out_of_scope_uses": [
            "Any real clinical decision: this is a demonstration model.",
            "Children and adolescents (very few in the data).",
            "Patients without diabetes, or stays longer than 14 days.",
            "Deciding who gets care: the model informs, it does not decide.",
            "Hospitals outside the US, or care after 2008, without local validation.",
        ],
        "known_failure_modes": [
            "Discrimination is modest (AUROC about 0.65): many readmissions are not predicted.",
            "Readmissions to a different hospital are invisible in the data.",
            "Small subgroups (Asian patients, ages under 30) have imprecise figures.",
            "Values outside the training range (e.g. stays over 14 days) are extrapolated.",
        ],
        "outcome": {
            "name": "Readmission",
            "definition": "Inpatient readmission recorded within 30 days of discharge "
            "(readmitted = '<30').",
            "time_window": "within 30 days of discharge",
            "patient_wording": "go back into the hospital within 30 days",
            "positive_label": "Readmitted within 30 days",
            "negative_label": "Not readmitted within 30 days",
        },
        "training_data": {
            "source": "Diabetes 130-US hospitals for years 1999-2008, UCI Machine Learning "
            "Repository, DOI 10.24432/C5230J",
            "citation": "Strack B, DeShazo JP, Gennings C, et al. Impact of HbA1c Measurement on "
            "Hospital Readmission Rates: Analysis of 70,000 Clinical Database "
            "Patient Records. BioMed Research International 2014;781670.",
            "licence": "CC BY 4.0",
            "dates": "1999-2008",
            "setting": "130 US hospitals and integrated delivery networks (Cerner Health Facts)",
            "population": f"{len(data):,} inpatient encounters of {n_patients:,} adults with "
            f"diabetes after exclusions; {female:.1%} female; race {race_text}.",
            "inclusion_exclusion": sa["training_inclusion_exclusion"],
            "under_represented": "Asian (under 1%) and Hispanic (about 2%) patients, people under "
            "30, and anyone outside US hospitals of one vendor's network; "
            "body weight was 97% missing and is not used.",
            "split": "Fixed-seed split by patient (no patient in two splits): 60% train, 20% "
            "calibration, 20% test.",
            "n_train": n_train,
            "n_calibration": n_cal,
            "n_test": n_test,
        },
        "decision_threshold": THRESHOLD,
        "threshold_rationale": "20% is about twice the base rate: it flags roughly the riskiest "
        "fifth of patients for a follow-up call, where a false alarm "
        "costs little. A demonstration choice, not a validated one.",
        "calibration": calibration.model_dump(mode="json"),
        "validation": {
            "method": "Held-out, patient-disjoint test split from the same source "
            "(internal validation)",
            "dataset": f"Test split: {n_test:,} encounters",
            "threshold_used": THRESHOLD,
            "overall": overall.model_dump(mode="json"),
            "subgroups": [s.model_dump(mode="json") for s in subgroups],
            "ece_bins": 10,
        },
        "random_seed": SEED,
        "source_attributes": sa,
        # Being prescribed diabetes medicine marks diabetes but is treatment: no direction is
        # expected of it, so a model that uses it either way is not flagged.
        "expected_directions": {"diabetes_medication": "neither"},
    }
