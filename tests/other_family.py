"""A bundle CaseLens did not train: a random forest on a synthetic mortality cohort.

The two sample bundles were tuned alongside the text that describes them. This one is a
different model family (a random forest, no native categoricals), a different data shape
(numbers and 0/1-coded conditions — diabetes, smoking, high blood pressure — with no
category features), a different outcome and prevalence, and it can be built calibrated
(sigmoid on a calibration split) or not (``calibration.method = "none"``). The cohort is
synthetic with a fixed seed: its figures are computed here, never typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from caselens.model.bundle import ModelBundle, create_bundle
from caselens.model.card_check import subgroup_figures
from caselens.model.features import FeatureSchema
from caselens.model.performance import performance_figures
from caselens.settings import SAMPLE_MODELS_DIR

SEED = 20261125
MODEL_ID = "hf-mortality-rf"
THRESHOLD = 0.3

_FEATURES: list[dict[str, Any]] = [
    {
        "name": "age",
        "label": "Age",
        "patient_label": "Your age",
        "kind": "integer",
        "unit": "years",
        "hard_min": 18,
        "hard_max": 110,
        "subgroup": True,
        "subgroup_bins": [65.0],
    },
    {
        "name": "ejection_fraction",
        "label": "Ejection fraction",
        "patient_label": "Your heart's pumping strength",
        "kind": "integer",
        "unit": "%",
        "hard_min": 5,
        "hard_max": 85,
    },
    {
        "name": "serum_creatinine",
        "label": "Serum creatinine",
        "patient_label": "A kidney blood test (creatinine)",
        "kind": "number",
        "unit": "mg/dL",
        "hard_min": 0.1,
        "hard_max": 15,
    },
    {
        "name": "diabetes",
        "label": "Diabetes (0/1)",
        "patient_label": "Having diabetes",
        "kind": "integer",
        "hard_min": 0,
        "hard_max": 1,
        "meaning": "yes_no",
    },
    {
        "name": "smoking",
        "label": "Smoking (0/1)",
        "patient_label": "Smoking",
        "kind": "integer",
        "hard_min": 0,
        "hard_max": 1,
        "meaning": "yes_no",
    },
    {
        "name": "high_blood_pressure",
        "label": "High blood pressure (0/1)",
        "patient_label": "Having high blood pressure",
        "kind": "integer",
        "hard_min": 0,
        "hard_max": 1,
    },
    # High blood pressure states no meaning, as in a bundle made before the field: read as
    # yes/no from its "Having …" label, with a warning.
    {
        "name": "sex_male",
        "label": "Sex (1 = male)",
        "patient_label": "Sex",
        "kind": "integer",
        "hard_min": 0,
        "hard_max": 1,
        "meaning": "category",
        "category_descriptions": {"0": "Female", "1": "Male"},
        "subgroup": True,
    },
]


def cohort(n: int = 1500, seed: int = SEED) -> pd.DataFrame:
    """A synthetic heart-failure cohort with a death-within-a-year outcome (about 25%)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(40, 96, n),
            "ejection_fraction": np.clip(rng.normal(38, 11, n).round(), 10, 80).astype(int),
            "serum_creatinine": np.clip(rng.lognormal(0.2, 0.45, n), 0.4, 9.0).round(2),
            "diabetes": rng.binomial(1, 0.4, n),
            "smoking": rng.binomial(1, 0.3, n),
            "high_blood_pressure": rng.binomial(1, 0.35, n),
            "sex_male": rng.binomial(1, 0.65, n),
        }
    )
    logit = (
        -1.6
        + 0.045 * (frame["age"] - 65)
        - 0.06 * (frame["ejection_fraction"] - 38)
        + 0.8 * np.log(frame["serum_creatinine"])
        + 0.25 * frame["diabetes"]
        + 0.15 * frame["smoking"]
        + 0.3 * frame["high_blood_pressure"]
    )
    frame["outcome"] = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    return frame


def _schema(train: pd.DataFrame) -> FeatureSchema:
    specs = []
    for spec in _FEATURES:
        column = train[spec["name"]]
        specs.append(
            {
                **spec,
                "description": f"{spec['label']} (synthetic cohort).",
                "training_min": float(column.min()),
                "training_max": float(column.max()),
            }
        )
    return FeatureSchema.model_validate({"features": specs})


def build_other_family_bundle(path: Path, *, calibrated: bool = True) -> ModelBundle:
    """Fit, calibrate (or not), measure and write the bundle; return it loaded."""
    data = cohort()
    names = [f["name"] for f in _FEATURES]
    train, calibration, test = data.iloc[:900], data.iloc[900:1200], data.iloc[1200:]
    forest = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "forest",
                RandomForestClassifier(n_estimators=60, min_samples_leaf=8, random_state=SEED),
            ),
        ]
    ).fit(train[names], train["outcome"])
    model: Any = forest
    if calibrated:
        model = CalibratedClassifierCV(FrozenEstimator(forest), method="sigmoid")
        model.fit(calibration[names], calibration["outcome"])
    schema = _schema(train)
    y = test["outcome"].to_numpy()
    p = model.predict_proba(test[names])[:, 1]
    card = json.loads((SAMPLE_MODELS_DIR / "heart-disease" / "card.json").read_text())
    for computed in ("model_file", "model_sha256", "library_versions"):
        card.pop(computed, None)
    # The heart card's patient texts and kind describe the heart model, not this one.
    card.pop("patient_texts", None)
    card.pop("model_kind", None)
    # So are its statements of which inputs can change and its next steps.
    card.pop("changeable_inputs", None)
    card.pop("next_steps", None)
    card.update(
        model_id=MODEL_ID if calibrated else f"{MODEL_ID}-uncalibrated",
        name="Heart failure one-year mortality (random forest, synthetic)",
        version="0.1.0",
        summary="A random forest estimating death within a year of a heart-failure admission.",
        model_type="Random forest (scikit-learn) in a Pipeline"
        + (", sigmoid-calibrated" if calibrated else ", not calibrated"),
        demonstration_only=True,
        intended_use="Testing CaseLens on a model family and data shape it was not tuned on.",
        intended_users="CaseLens's own test suite.",
        target_population="Adults admitted with heart failure (synthetic).",
        out_of_scope_uses=["Any real clinical decision: the cohort is synthetic."],
        known_failure_modes=["Synthetic data: the figures describe the generator, not patients."],
        decision_threshold=THRESHOLD,
        threshold_rationale="Test threshold for CaseLens's own checks.",
        outcome={
            "name": "Death within one year",
            "definition": "Death from any cause within 365 days of the index admission.",
            "time_window": "within one year",
            "patient_wording": "die within a year",
            "positive_label": "Died within a year",
            "negative_label": "Alive at one year",
        },
    )
    card["calibration"] = (
        {
            "method": "sigmoid",
            "fitted_on": "calibration split (300 rows), forest frozen",
            "rationale": "Sigmoid on a held-out split (test fixture).",
            "candidates": {
                "sigmoid": {"brier": 0.0, "ece": 0.0},
                "isotonic": {"brier": 0.0, "ece": 0.0},
            },
        }
        if calibrated
        else {
            "method": "none",
            "fitted_on": "not calibrated",
            "rationale": "Left uncalibrated on purpose (test fixture).",
            "candidates": {},
        }
    )
    card["training_data"] = {
        **card["training_data"],
        "source": "Synthetic heart-failure cohort generated by the CaseLens test suite",
        "population": f"{len(data)} synthetic patients.",
        "n_train": len(train),
        "n_calibration": len(calibration),
        "n_test": len(test),
    }
    card["validation"] = {
        **card["validation"],
        "dataset": f"Test split: {len(test)} synthetic patients",
        "threshold_used": THRESHOLD,
        "overall": performance_figures(
            y, p, threshold=THRESHOLD, bootstrap=True, seed=card["random_seed"]
        ).model_dump(mode="json"),
        "subgroups": [
            s.model_dump(mode="json")
            for s in subgroup_figures(schema, test, y, p, threshold=THRESHOLD)
        ],
    }
    demo_rows = test.iloc[[0, 5, 11, 17, 23, 42]]
    demo_cases = [
        {
            "case_id": f"HF-{i + 1:02d}",
            "title": f"Test patient {i + 1}",
            "description": "A real row of the synthetic test split.",
            "inputs": {
                k: (int(v) if k != "serum_creatinine" else float(v)) for k, v in row[names].items()
            },
        }
        for i, (_, row) in enumerate(demo_rows.iterrows())
    ]
    return create_bundle(
        model,
        card=card,
        features=schema,
        reference=test[[*names, "outcome"]].reset_index(drop=True),
        calibration_data=calibration[[*names, "outcome"]].reset_index(drop=True)
        if calibrated
        else None,
        demo_cases=demo_cases,
        path=path,
    )
