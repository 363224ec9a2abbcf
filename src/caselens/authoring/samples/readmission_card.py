"""The ``readmission-30d`` sample's card text and its demo cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from caselens.authoring.samples._common import (
    DEMONSTRATION_CARD,
    DEMONSTRATION_SOURCE_ATTRIBUTES,
    Pick,
    demo_case_dicts,
)
from caselens.authoring.samples.readmission_data import MODEL_ID, SEED, THRESHOLD
from caselens.authoring.samples.readmission_texts import READMISSION
from caselens.model.features import FeatureSchema

#: Which inputs the care team can still change at discharge, as the sample's authors state
#: it (card ``changeable_inputs``): where the patient goes, and (by delaying discharge) the
#: length of the stay. Everything else is who the patient is, their history or what already
#: happened in the stay; medicines are left out because a dose change also changes
#: ``medication_change``, which a counterfactual could not keep consistent.
_NOT_CHANGEABLE = {
    "race": "Race cannot be changed.",
    "sex": "Sex cannot be changed by care.",
    "age_band": "Age cannot be changed.",
    "num_lab_procedures": "The lab tests of this stay have already been done.",
    "num_procedures": "The procedures of this stay have already been done.",
    "num_medications": "The medicines given in this stay have already been given.",
    "number_outpatient": "Past visits are history.",
    "number_emergency": "Past visits are history.",
    "number_inpatient": "Past stays are history.",
    "number_diagnoses": "Diagnoses are not a target of a discharge decision.",
    "admission_type": "How the patient was admitted has already happened.",
    "admission_source": "Where the patient came from has already happened.",
    "payer": "Insurance is not a clinical decision.",
    "admitting_specialty": "The admitting specialty has already been decided.",
    "diagnosis_1": "Diagnoses are not a target of a discharge decision.",
    "diagnosis_2": "Diagnoses are not a target of a discharge decision.",
    "diagnosis_3": "Diagnoses are not a target of a discharge decision.",
    "glucose_serum_test": "A lab result of this stay has already been measured.",
    "a1c_result": "A lab result of this stay has already been measured.",
    "insulin": "A dose change also changes 'medication change'; not searched.",
    "metformin": "A dose change also changes 'medication change'; not searched.",
    "medication_change": "Follows from the medicine doses; not searched.",
    "diabetes_medication": "Follows from the medicines prescribed; not searched.",
}
READMISSION_CHANGEABLE_INPUTS: dict[str, dict[str, Any]] = {
    **{name: {"modifiable": False, "why": why} for name, why in _NOT_CHANGEABLE.items()},
    "time_in_hospital": {
        "modifiable": True,
        "why": "Discharge can be delayed, which makes the stay longer.",
        "direction": "up",
        "upper": 14,
        "cost_weight": 2.0,
    },
    "discharge_to": {
        "modifiable": True,
        "why": "Where the patient goes after discharge is decided by the care team with them.",
        "to_categories": ["Home", "Home with home health care", "Skilled nursing or care facility"],
    },
}


#: The owners' next steps (card ``next_steps``): DEMONSTRATION wording written by the
#: sample's authors, modelled on NICE NG27 (transitions between hospital and home), and
#: labelled so on every step; never NICE's words. No patient wording: the patient view shows
#: no next steps for this model.
_NG27_SOURCE = (
    "Demonstration wording by the CaseLens sample authors, modelled on NICE NG27 (Transition "
    "between inpatient hospital settings and community or care home settings for adults "
    "with social care needs); not NICE's words and not for clinical use."
)
_NG27_LINK = "https://www.nice.org.uk/guidance/ng27"
READMISSION_NEXT_STEPS: dict[str, Any] = {
    "at_or_above_threshold": [
        {
            "text": "Name a discharge coordinator and agree the discharge plan with the "
            "patient, their family or carers and the community team before discharge.",
            "source": _NG27_SOURCE,
            "link": _NG27_LINK,
        },
        {
            "text": "At discharge, give the patient a complete list of their medicines and "
            "information about their diagnoses and treatment.",
            "source": _NG27_SOURCE,
            "link": _NG27_LINK,
        },
    ],
    "below_threshold": [
        {
            "text": "Follow the ward's usual discharge planning; this estimate does not "
            "replace the team's own assessment of the patient's needs after discharge.",
            "source": _NG27_SOURCE,
            "link": _NG27_LINK,
        },
    ],
    "bands": [
        {
            "label": "Highest estimates",
            "from_probability": 0.4,
            "to_probability": 1.0,
            "steps": [
                {
                    "text": "Arrange contact with the patient (a visit or a phone call) 24 "
                    "to 72 hours after discharge.",
                    "source": _NG27_SOURCE,
                    "link": _NG27_LINK,
                },
            ],
        },
    ],
}


def readmission_demo_cases(
    test: pd.DataFrame, p: np.ndarray, schema: FeatureSchema, threshold: float = THRESHOLD
) -> list[dict]:
    """10 demo cases: low and high risk, near the threshold, missing values, an out-of-range
    value, women and men, several age bands and races."""
    names = schema.names
    rng = np.random.default_rng(SEED)
    chosen: list[Pick] = []
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
        complete & (np.abs(p - threshold) < 0.015),
        f"Near the {threshold:.0%} threshold",
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
    return demo_case_dicts(test, names, chosen, "R")


def _demographics(data: pd.DataFrame) -> tuple[str, float]:
    """The race shares as text, and the share of women, in the whole cohort."""
    share = data["race"].value_counts(normalize=True, dropna=False)
    race_text = ", ".join(
        f"{('not recorded' if k is None else k)} {v:.1%}" for k, v in share.items()
    )
    return race_text, float((data["sex"] == "Female").mean())


def _measured_texts(overall: Any, subgroups: Any, threshold: float) -> tuple[str, str]:
    """The validity and fairness texts, from the figures measured on the test split."""
    worst = min(
        (s for s in subgroups if s.figures.n >= 100 and s.figures.auroc is not None),
        key=lambda s: s.figures.auroc,
    )
    validity = (
        f"Patient-disjoint test split of the same source, n={overall.n} encounters "
        f"({overall.events} readmitted within 30 days): AUROC {overall.auroc} (95% CI "
        f"{overall.auroc_ci95}), Brier {overall.brier}, ECE {overall.ece}, calibration slope "
        f"{overall.calibration_slope} and intercept {overall.calibration_intercept}; at the "
        f"{threshold:.0%} threshold sensitivity {overall.sensitivity}, specificity "
        f"{overall.specificity}."
    )
    fairness = (
        "AUROC, sensitivity, specificity and calibration by sex, age band, race and payer on the "
        f"test split are in validation.subgroups; the lowest AUROC among subgroups with at "
        f"least 100 encounters was {worst.figures.auroc} ({worst.variable} = {worst.group}, "
        f"n={worst.figures.n}) against {overall.auroc} overall."
    )
    return validity, fairness


def _source_attributes(
    overall: Any, subgroups: Any, race_text: str, female: float, threshold: float
) -> dict[str, str]:
    """The HTI-1 source attributes: a table of text (hence its length), two figures measured."""
    validity, fairness = _measured_texts(overall, subgroups, threshold)
    no_external = (
        "Not available — no external validation was done; this demonstration model "
        "was only tested on a held-out split of its own source data."
    )
    no_local = "Not available — this model has not been evaluated on any hospital's local data."
    return {
        **DEMONSTRATION_SOURCE_ATTRIBUTES,
        "output_value_description": "Calibrated probability (0-100%) that the patient is "
        "readmitted within 30 days of discharge, with its "
        f"uncertainty and a flag against a {threshold:.0%} threshold.",
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


def _training_data(
    sa: dict[str, str],
    data: pd.DataFrame,
    race_text: str,
    female: float,
    n_patients: int,
    n_train: int,
    n_cal: int,
    n_test: int,
) -> dict[str, Any]:
    """The card's training data section: the source's text, and the cohort and split sizes."""
    return {
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
    }


def readmission_card(
    schema,
    calibration,
    overall,
    subgroups,
    n_train,
    n_cal,
    n_test,
    n_patients,
    data,
    threshold: float = THRESHOLD,
) -> dict[str, Any]:
    """The card: a table of text fields (long by nature, read as one), with the figures."""
    race_text, female = _demographics(data)
    sa = _source_attributes(overall, subgroups, race_text, female, threshold)
    return {
        **DEMONSTRATION_CARD,
        **READMISSION,
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
        "training_data": _training_data(
            sa, data, race_text, female, n_patients, n_train, n_cal, n_test
        ),
        "decision_threshold": threshold,
        "threshold_rationale": "20% is about twice the base rate: it flags roughly the riskiest "
        "fifth of patients for a follow-up call, where a false alarm "
        "costs little. A demonstration choice, not a validated one.",
        "calibration": calibration.model_dump(mode="json"),
        "validation": {
            "method": "Held-out, patient-disjoint test split from the same source "
            "(internal validation)",
            "dataset": f"Test split: {n_test:,} encounters",
            "threshold_used": threshold,
            "overall": overall.model_dump(mode="json"),
            "subgroups": [s.model_dump(mode="json") for s in subgroups],
            "ece_bins": 10,
        },
        "random_seed": SEED,
        "source_attributes": sa,
        # Being prescribed diabetes medicine marks diabetes but is treatment: no direction is
        # expected of it, so a model that uses it either way is not flagged.
        "expected_directions": {"diabetes_medication": "neither"},
        "changeable_inputs": READMISSION_CHANGEABLE_INPUTS,
        "next_steps": READMISSION_NEXT_STEPS,
    }
