"""The ``readmission-30d`` sample's data: the Diabetes 130-US hospitals CSV checked, the cohort
exclusions applied and the clinical inputs derived (diagnosis and specialty groups).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caselens.authoring.samples._common import (
    verify_checksum,
)

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


def load_encounters(assets: Path, *, medications: tuple[str, ...] = ()) -> pd.DataFrame:
    """The checked CSV, with the cohort exclusions and the clinical inputs derived.

    ``medications`` names further medication columns of the CSV to keep (worded like
    ``insulin``), for a version that adds one as an input; version 1 keeps none, so its
    frames are unchanged.
    """
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
    for column in medications:
        out[column] = raw[column].map(MEDICATION)
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
