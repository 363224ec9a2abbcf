"""The ``heart-disease`` sample model: angiographic heart disease (UCI Cleveland data).

An interpretable model: logistic regression with scaling and one-hot encoding inside the
pipeline, then calibrated on a held-out split.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from caselens.authoring.samples import patient_texts
from caselens.authoring.samples._common import (
    DEMONSTRATION_CARD,
    DEMONSTRATION_SOURCE_ATTRIBUTES,
    Pick,
    Progress,
    choose_calibration,
    demo_case_dicts,
    split_three_ways,
    step,
    verify_checksum,
)
from caselens.model.card_check import subgroup_figures
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.performance import performance_figures

MODEL_ID = "heart-disease"
SEED = 20260302
THRESHOLD = 0.5
DATA_FOLDER = "uci-heart-disease-cleveland"
DATA_SHA256 = "a74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8"
COLUMNS = (
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
    "num",
)

# name, label, patient label, description, unit, hard limits, kind, missing allowed
_NUMERIC = (
    ("age", "Age", "Age", "Age at the angiography referral.", "years", 18, 120, "integer"),
    (
        "resting_bp",
        "Resting blood pressure",
        "Blood pressure at rest",
        "Resting systolic blood pressure on admission.",
        "mm Hg",
        50,
        300,
        "integer",
    ),
    (
        "cholesterol",
        "Serum cholesterol",
        "Cholesterol",
        "Serum cholesterol.",
        "mg/dL",
        50,
        1000,
        "integer",
    ),
    (
        "max_heart_rate",
        "Maximum heart rate",
        "Highest heart rate in the exercise test",
        "Maximum heart rate achieved in the exercise test.",
        "beats/min",
        40,
        250,
        "integer",
    ),
    (
        "st_depression",
        "ST depression",
        "Heart tracing change during exercise",
        "ST depression induced by exercise relative to rest.",
        "mm",
        0,
        10,
        "number",
    ),
    (
        "major_vessels",
        "Vessels coloured by fluoroscopy",
        "Number of blocked-looking blood vessels",
        "Major vessels (0-3) coloured by fluoroscopy.",
        "vessels",
        0,
        3,
        "integer",
    ),
)
_CATEGORIES = (
    ("sex", "Sex", "Sex", "Sex.", ("Female", "Male")),
    (
        "chest_pain",
        "Chest pain type",
        "Type of chest pain",
        "Chest pain type.",
        ("Typical angina", "Atypical angina", "Non-anginal pain", "No chest pain"),
    ),
    (
        "fasting_glucose_high",
        "Fasting blood sugar > 120 mg/dL",
        "High blood sugar when fasting",
        "Fasting blood sugar above 120 mg/dL.",
        ("No", "Yes"),
    ),
    (
        "resting_ecg",
        "Resting ECG",
        "Heart tracing at rest",
        "Resting electrocardiogram.",
        ("Normal", "ST-T wave abnormality", "Left ventricular hypertrophy"),
    ),
    (
        "exercise_angina",
        "Exercise-induced angina",
        "Chest pain during exercise",
        "Angina induced by exercise.",
        ("No", "Yes"),
    ),
    (
        "st_slope",
        "Slope of peak exercise ST segment",
        "Shape of the heart tracing in exercise",
        "Slope of the peak exercise ST segment.",
        ("Upsloping", "Flat", "Downsloping"),
    ),
    (
        "thallium_test",
        "Thallium stress test",
        "Heart scan result",
        "Thallium stress test result.",
        ("Normal", "Fixed defect", "Reversible defect"),
    ),
)
MISSING_ALLOWED = {"major_vessels", "thallium_test"}
ORDER = (
    "age",
    "sex",
    "chest_pain",
    "resting_bp",
    "cholesterol",
    "fasting_glucose_high",
    "resting_ecg",
    "max_heart_rate",
    "exercise_angina",
    "st_depression",
    "st_slope",
    "major_vessels",
    "thallium_test",
)


#: Which inputs care can change, as the sample's authors state it (card ``changeable_inputs``):
#: blood pressure, cholesterol and fasting blood sugar are treated; the rest are who the
#: patient is, their symptoms or test findings. Bounds are plausible treated values.
_NOT_CHANGEABLE = {
    "age": "Age cannot be changed.",
    "sex": "Sex cannot be changed by care.",
    "chest_pain": "The kind of chest pain is a symptom, not a target of care.",
    "resting_ecg": "A resting ECG finding is a test result, not a target of care.",
    "max_heart_rate": "The highest heart rate reached is an exercise-test result.",
    "exercise_angina": "Chest pain during the exercise test is a test finding.",
    "st_depression": "ST depression is an exercise-test finding.",
    "st_slope": "The ST slope is an exercise-test finding.",
    "major_vessels": "The vessels seen on fluoroscopy are a test finding.",
    "thallium_test": "The heart scan result is a test finding.",
}
HEART_DISEASE_CHANGEABLE_INPUTS: dict[str, dict[str, Any]] = {
    **{name: {"modifiable": False, "why": why} for name, why in _NOT_CHANGEABLE.items()},
    "resting_bp": {
        "modifiable": True,
        "why": "Blood pressure can be lowered by medicines and lifestyle changes.",
        "direction": "down",
        "lower": 110,
    },
    "cholesterol": {
        "modifiable": True,
        "why": "Cholesterol can be lowered by medicines (such as statins) and diet.",
        "direction": "down",
        "lower": 150,
    },
    "fasting_glucose_high": {
        "modifiable": True,
        "why": "Fasting blood sugar can be brought under 120 mg/dL by diabetes treatment.",
        "to_categories": ["No"],
    },
}


#: The owners' next steps (card ``next_steps``): DEMONSTRATION wording written by the
#: sample's authors, modelled on NICE CG95, and labelled so on every step; never NICE's words.
_CG95_SOURCE = (
    "Demonstration wording by the CaseLens sample authors, modelled on NICE CG95 "
    "(Recent-onset chest pain of suspected cardiac origin: assessment and diagnosis); "
    "not NICE's words and not for clinical use."
)
_CG95_LINK = "https://www.nice.org.uk/guidance/cg95"
HEART_DISEASE_NEXT_STEPS: dict[str, Any] = {
    "at_or_above_threshold": [
        {
            "text": "Read this estimate only alongside the clinical assessment of the chest "
            "pain; where stable angina is suspected, arrange the diagnostic testing that the "
            "local chest pain pathway sets out.",
            "source": _CG95_SOURCE,
            "link": _CG95_LINK,
            "patient_text": "Your care team may suggest more heart tests. Ask them which "
            "tests and why.",
        },
        {
            "text": "Tell the patient what to do if the chest pain comes back or gets worse "
            "while tests are pending.",
            "source": _CG95_SOURCE,
            "link": _CG95_LINK,
            "patient_text": "If your chest pain comes back or gets worse, get medical help "
            "right away.",
        },
    ],
    "below_threshold": [
        {
            "text": "A result below the threshold does not rule out coronary artery disease: "
            "keep assessing the chest pain clinically and consider other causes.",
            "source": _CG95_SOURCE,
            "link": _CG95_LINK,
            "patient_text": "A low result does not rule out a heart problem. Tell your care "
            "team if your chest pain comes back or gets worse.",
        },
    ],
}


def load_patients(assets: Path) -> pd.DataFrame:
    """The checked Cleveland file with readable categories and a 0/1 outcome."""
    path = assets / DATA_FOLDER / "processed.cleveland.data"
    verify_checksum(path, DATA_SHA256)
    raw = pd.read_csv(path, header=None, names=list(COLUMNS), na_values=["?"])
    out = pd.DataFrame()
    out["age"] = raw["age"].astype(float)
    out["sex"] = raw["sex"].map({0.0: "Female", 1.0: "Male"})
    out["chest_pain"] = raw["cp"].map(
        {
            1.0: "Typical angina",
            2.0: "Atypical angina",
            3.0: "Non-anginal pain",
            4.0: "No chest pain",
        }
    )
    out["resting_bp"] = raw["trestbps"].astype(float)
    out["cholesterol"] = raw["chol"].astype(float)
    out["fasting_glucose_high"] = raw["fbs"].map({0.0: "No", 1.0: "Yes"})
    out["resting_ecg"] = raw["restecg"].map(
        {0.0: "Normal", 1.0: "ST-T wave abnormality", 2.0: "Left ventricular hypertrophy"}
    )
    out["max_heart_rate"] = raw["thalach"].astype(float)
    out["exercise_angina"] = raw["exang"].map({0.0: "No", 1.0: "Yes"})
    out["st_depression"] = raw["oldpeak"].astype(float)
    out["st_slope"] = raw["slope"].map({1.0: "Upsloping", 2.0: "Flat", 3.0: "Downsloping"})
    out["major_vessels"] = raw["ca"].astype(float)
    out["thallium_test"] = raw["thal"].map(
        {3.0: "Normal", 6.0: "Fixed defect", 7.0: "Reversible defect"}
    )
    out = out.astype(object).where(out.notna(), None)
    for name, *_ in _NUMERIC:
        out[name] = out[name].astype(float)
    out["outcome"] = (raw["num"] > 0).astype(int)
    return out


def feature_schema(train: pd.DataFrame) -> FeatureSchema:
    """The schema with training ranges and category counts from ``train``."""
    specs: dict[str, FeatureSpec] = {}
    for name, label, plain, description, unit, low, high, kind in _NUMERIC:
        specs[name] = FeatureSpec(
            name=name,
            label=label,
            patient_label=plain,
            description=description,
            kind=kind,
            unit=unit,
            hard_min=low,
            hard_max=high,
            training_min=float(train[name].min()),
            training_max=float(train[name].max()),
            missing_allowed=name in MISSING_ALLOWED,
            training_missing_share=round(float(train[name].isna().mean()), 4),
            subgroup=name == "age",
            subgroup_bins=(55.0,) if name == "age" else None,
        )
    for name, label, plain, description, categories in _CATEGORIES:
        counts = train[name].value_counts().to_dict()
        specs[name] = FeatureSpec(
            name=name,
            label=label,
            patient_label=plain,
            description=description,
            kind="category",
            categories=categories,
            training_counts={c: int(counts.get(c, 0)) for c in categories},
            missing_allowed=name in MISSING_ALLOWED,
            training_missing_share=round(float(train[name].isna().mean()), 4),
            subgroup=name == "sex",
        )
    return FeatureSchema(features=tuple(specs[n] for n in ORDER))


def make_pipeline(schema: FeatureSchema) -> Pipeline:
    """Impute, scale numbers, one-hot categories, then L2 logistic regression."""
    numeric = [f.name for f in schema if f.kind != "category"]
    categorical = [f for f in schema if f.kind == "category"]
    columns = ColumnTransformer(
        [
            (
                "numbers",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categories",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        (
                            "onehot",
                            OneHotEncoder(
                                categories=[list(f.categories or ()) for f in categorical],
                                handle_unknown="ignore",
                            ),
                        ),
                    ]
                ),
                [f.name for f in categorical],
            ),
        ]
    )
    return Pipeline([("columns", columns), ("logistic", LogisticRegression(C=0.3, max_iter=2000))])


def build(assets: Path, progress: Progress) -> dict[str, Any]:
    """Fit and evaluate the model; return everything :func:`create_bundle` needs."""
    return fit_and_describe(
        assets, progress, make_pipeline, threshold=THRESHOLD, fitting="logistic regression"
    )


def fit_and_describe(
    assets: Path,
    progress: Progress,
    pipeline: Callable[[FeatureSchema], Pipeline],
    *,
    threshold: float,
    fitting: str,
) -> dict[str, Any]:
    """Split the checked data (seed :data:`SEED`), fit ``pipeline``, calibrate it, measure it
    at ``threshold`` and write the card and demo cases: every version of this sample is built
    by this one recipe, so versions differ only where their builder says so."""
    with step(progress, "reading and checking the Cleveland heart-disease data"):
        data = load_patients(assets)
    y = data["outcome"].to_numpy()
    with step(progress, "stratified split (60% train / 20% calibration / 20% test)"):
        train_idx, cal_idx, test_idx = split_three_ways(
            y, groups=None, seed=SEED, calibration=0.2, test=0.2
        )
    train, cal, test = (data.iloc[i].reset_index(drop=True) for i in (train_idx, cal_idx, test_idx))
    schema = feature_schema(train)
    x = schema.names
    with step(progress, f"fitting {fitting} on {len(train)} patients"):
        fitted = pipeline(schema).fit(train[x], train["outcome"].to_numpy())
    with step(progress, "choosing and fitting the calibration"):
        model, calibration = choose_calibration(
            fitted, cal[x], cal["outcome"].to_numpy(), seed=SEED
        )
    p_test = model.predict_proba(test[x])[:, 1]
    y_test = test["outcome"].to_numpy()
    overall = performance_figures(y_test, p_test, threshold=threshold, bootstrap=True, seed=SEED)
    subgroups = subgroup_figures(schema, test, y_test, p_test, threshold=threshold)
    card = _card(calibration, overall, subgroups, len(train), len(cal), len(test), data, threshold)
    return {
        "model": model,
        "card": card,
        "features": schema,
        "reference": test,
        "calibration_data": cal,
        "demo_cases": _demo_cases(test, p_test, schema, threshold),
    }


def _demo_cases(
    test: pd.DataFrame, p: np.ndarray, schema: FeatureSchema, threshold: float = THRESHOLD
) -> list[dict]:
    """10 demo cases: a table of picks (long by nature, read as one) — low and high risk for
    each sex, near the threshold, young and old, a missing value, an out-of-range value."""
    names = schema.names
    order = np.argsort(p)
    sex = test["sex"].to_numpy()
    age = test["age"].to_numpy()
    complete = test[names].notna().all(axis=1).to_numpy()
    picks: list[Pick] = []
    used: set[int] = set()

    def first(indices, title, description, tags, override=None) -> None:
        for i in indices:
            if int(i) not in used:
                used.add(int(i))
                picks.append((int(i), title, description, tags, override or {}))
                return

    low_first, high_first = list(order), list(order[::-1])
    first(
        [i for i in low_first if complete[i] and sex[i] == "Female"],
        "Low risk, woman",
        "Lowest predicted risk among women in the test split.",
        ("low risk", "female"),
    )
    first(
        [i for i in low_first if complete[i] and sex[i] == "Male"],
        "Low risk, man",
        "Low predicted risk.",
        ("low risk", "male"),
    )
    first(
        [i for i in high_first if complete[i] and sex[i] == "Male"],
        "High risk, man",
        "Highest predicted risk among men.",
        ("high risk", "male"),
    )
    first(
        [i for i in high_first if complete[i] and sex[i] == "Female"],
        "High risk, woman",
        "Highest predicted risk among women.",
        ("high risk", "female"),
    )
    near = sorted(range(len(p)), key=lambda i: abs(p[i] - threshold))
    first(
        [i for i in near if complete[i]],
        f"Near the {threshold:.0%} threshold",
        "The probability is close to the decision threshold.",
        ("near threshold",),
    )
    first(
        [i for i in near if complete[i] and age[i] < 45],
        "Younger patient, under 45",
        "A younger patient.",
        ("age under 55",),
    )
    first(
        [i for i in near if complete[i] and age[i] >= 65],
        "Older patient, 65 or over",
        "An older patient.",
        ("age 55 and over",),
    )
    missing = [i for i in range(len(test)) if not complete[i]]
    if missing:
        first(
            missing,
            "A test result not recorded",
            "A patient with a missing input.",
            ("missing value",),
        )
    else:
        first(
            low_first[len(p) // 2 :],
            "Thallium test not recorded",
            "A real test-split patient whose thallium result was removed to show how a "
            "missing input is handled.",
            ("missing value", "modified"),
            {"thallium_test": None},
        )
    first(
        high_first[len(p) // 3 :],
        "Cholesterol beyond the training range",
        "A real test-split patient whose cholesterol was changed to 650 mg/dL — above the "
        "training range — to show the out-of-range warning.",
        ("out of range", "modified"),
        {"cholesterol": 650.0},
    )
    return demo_case_dicts(test, names, picks, "H")


def _validity_text(overall: Any, threshold: float = THRESHOLD) -> str:
    """The internal validity text, from the figures measured on the test split."""
    return (
        f"Stratified held-out test split of the same source, n={overall.n} patients "
        f"({overall.events} with disease): AUROC {overall.auroc} (95% CI {overall.auroc_ci95}), "
        f"Brier {overall.brier}, ECE {overall.ece}, calibration slope "
        f"{overall.calibration_slope}, intercept {overall.calibration_intercept}; at the "
        f"{threshold:.0%} threshold sensitivity {overall.sensitivity}, specificity "
        f"{overall.specificity}. With {overall.n} test patients every figure is imprecise."
    )


def _source_attributes(validity: str, female: float) -> dict[str, str]:
    """The HTI-1 source attributes: a table of text (long by nature, read as one)."""
    no_external = (
        "Not available — no external validation was done; the model was only "
        "tested on a held-out split of the Cleveland data."
    )
    no_local = "Not available — never evaluated on a hospital's local data."
    return {
        **DEMONSTRATION_SOURCE_ATTRIBUTES,
        "output_value_description": "Calibrated probability (0-100%) that angiography would "
        "show heart disease (over 50% narrowing of a major vessel).",
        "output_type": "Classification support: a probability of a present condition.",
        "intended_use": "Demonstration of transparent risk display for adults referred for "
        "coronary angiography.",
        "intended_patient_population": "Adults referred for coronary angiography with chest "
        "pain work-up results available.",
        "intended_users": "Cardiologists and trainees; patients see a plain-language summary.",
        "intended_decision_role": "Informs: information for the clinician, not a "
        "recommendation; it does not replace angiography.",
        "cautioned_out_of_scope_use": "Screening the general population; emergency chest pain "
        "triage; anyone not referred for angiography; any real "
        "clinical decision.",
        "known_risks_and_limitations": "Trained on 182 patients from one centre in 1981-1984; "
        "imprecise figures, especially for women.",
        "training_inclusion_exclusion": "All 303 Cleveland Clinic patients in the processed "
        "file; none excluded (6 missing values are imputed).",
        "demographic_input_features": "Uses sex and age as inputs. Does not use race, "
        "ethnicity, language, sexual orientation, gender "
        "identity, date of birth, social determinants or health "
        "status assessments (not recorded).",
        "demographic_representativeness": f"Female {female:.1%}; ages 29-77; race and "
        "ethnicity not recorded.",
        "training_data_relevance": "A 1980s referral population from one US centre; prevalence "
        "and testing have changed since.",
        "fairness_approach": "Figures by sex and by age band are measured and shown beside each "
        "prediction for the patient's own subgroups.",
        "bias_management": "No reweighting; small subgroups are flagged as too small to judge.",
        "external_validation_data_source": no_external,
        "external_validation_party": no_external,
        "external_demographic_representativeness": no_external,
        "external_validation_process": no_external,
        "validity_internal_test": validity,
        "fairness_internal_test": "AUROC, sensitivity, specificity and calibration by sex and "
        "age band (under 55 / 55 and over) are in "
        "validation.subgroups; each has fewer than 45 patients.",
        "validity_external": no_external,
        "fairness_external": no_external,
        "outcome_evaluation_references": "Not available — never used in care.",
        "validity_monitoring_process": "Not available — a demonstration model is not monitored.",
        "validity_local": no_local,
        "fairness_monitoring_process": "Not available — a demonstration model is not monitored.",
        "fairness_local": no_local,
        "update_process": "Rebuilt only when the code or data change (caselens samples build).",
        "correction_frequency": "Not available — no deployment; CaseLens can suspend the model "
        "when a problem is found.",
    }


def _card(
    calibration, overall, subgroups, n_train, n_cal, n_test, data, threshold: float = THRESHOLD
) -> dict[str, Any]:
    """The card: a table of text fields (long by nature, read as one), with the figures."""
    female = float((data["sex"] == "Female").mean())
    validity = _validity_text(overall, threshold)
    sa = _source_attributes(validity, female)
    return {
        **DEMONSTRATION_CARD,
        **patient_texts.HEART_DISEASE,
        "model_id": MODEL_ID,
        "name": "Heart disease at angiography",
        "summary": "Estimates the probability that coronary angiography shows heart disease, "
        "from the work-up of a patient referred for angiography. A demonstration "
        "model, not for clinical use.",
        "model_type": "Logistic regression (scaling and one-hot encoding in the pipeline), "
        "calibrated afterwards",
        "intended_use": sa["intended_use"],
        "intended_users": sa["intended_users"],
        "target_population": sa["intended_patient_population"],
        "out_of_scope_uses": [
            "Any real clinical decision: this is a demonstration model.",
            "Screening people who were not referred for angiography.",
            "Emergency triage of acute chest pain.",
            "Replacing angiography or a cardiologist's judgement.",
        ],
        "known_failure_modes": [
            "Only 182 training patients: figures are imprecise.",
            "Women are 32% of the data: their figures are less certain.",
            "The 1980s referral population had a high rate of disease (46%).",
        ],
        "outcome": {
            "name": "Heart disease",
            "definition": "More than 50% narrowing of any major coronary vessel at angiography "
            "(num > 0).",
            "time_window": "at the time of the angiography",
            "patient_wording": "have narrowed heart arteries found by the heart test",
            "positive_label": "Heart disease present",
            "negative_label": "No heart disease",
        },
        "training_data": {
            "source": "UCI Heart Disease, Cleveland Clinic Foundation (processed), UCI Machine "
            "Learning Repository, DOI 10.24432/C52P4X",
            "citation": "Detrano R, Janosi A, Steinbrunn W, et al. International application of "
            "a new probability algorithm for the diagnosis of coronary artery "
            "disease. Am J Cardiol 1989;64:304-310.",
            "licence": "CC BY 4.0",
            "dates": "1981-1984",
            "setting": "Cleveland Clinic Foundation, patients referred for angiography",
            "population": f"303 patients, {female:.1%} female, ages 29-77.",
            "inclusion_exclusion": sa["training_inclusion_exclusion"],
            "under_represented": "Women (32%), people under 40, and any racial or ethnic "
            "detail (not recorded).",
            "split": "Fixed-seed stratified split: 60% train, 20% calibration, 20% test.",
            "n_train": n_train,
            "n_calibration": n_cal,
            "n_test": n_test,
        },
        "decision_threshold": threshold,
        "threshold_rationale": "50%: the point where disease is more likely than not. A "
        "demonstration choice, not validated for any decision.",
        "calibration": calibration.model_dump(mode="json"),
        "validation": {
            "method": "Held-out stratified test split from the same source (internal validation)",
            "dataset": f"Test split: {n_test} patients",
            "threshold_used": threshold,
            "overall": overall.model_dump(mode="json"),
            "subgroups": [s.model_dump(mode="json") for s in subgroups],
            "ece_bins": 10,
        },
        "random_seed": SEED,
        "source_attributes": sa,
        # Common clinical knowledge: both are risk factors for coronary disease; a report
        # whose model uses one the other way says so.
        "expected_directions": {"fasting_glucose_high": "raises", "exercise_angina": "raises"},
        "changeable_inputs": HEART_DISEASE_CHANGEABLE_INPUTS,
        "next_steps": HEART_DISEASE_NEXT_STEPS,
    }
