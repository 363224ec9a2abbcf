"""The ``readmission-30d`` sample model: 30-day readmission after a diabetes admission.

Data: Diabetes 130-US hospitals 1999–2008 (Strack et al. 2014), ``assets/datasets``.
Model: histogram gradient boosting over the raw clinical inputs (categoricals natively),
inside one Pipeline, calibrated on a held-out, patient-disjoint split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from caselens.authoring.samples._common import (
    Progress,
    choose_calibration,
    split_three_ways,
    step,
)
from caselens.authoring.samples.readmission_card import readmission_card, readmission_demo_cases
from caselens.authoring.samples.readmission_data import (
    MODEL_ID,
    SEED,
    THRESHOLD,
    diagnosis_group,
    load_encounters,
    specialty_group,
)
from caselens.authoring.samples.readmission_features import feature_schema
from caselens.model.card_check import subgroup_figures
from caselens.model.features import FeatureSchema
from caselens.model.performance import performance_figures

# The names callers import from here; the data, the feature table and the card text each live
# in their own module.
__all__ = [
    "MODEL_ID",
    "SEED",
    "THRESHOLD",
    "build",
    "diagnosis_group",
    "feature_schema",
    "fit_and_describe",
    "load_encounters",
    "make_pipeline",
    "specialty_group",
]


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
    return fit_and_describe(assets, progress, threshold=THRESHOLD)


def fit_and_describe(
    assets: Path,
    progress: Progress,
    *,
    threshold: float,
    added: tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...] = (),
) -> dict[str, Any]:
    """Split by patient (seed :data:`SEED`), fit the booster on the schema's inputs plus
    ``added`` medication inputs (rows like the feature table's), calibrate it, measure it at
    ``threshold`` and write the card and demo cases: every version of this sample is built by
    this one recipe, so versions differ only where their builder says so."""
    with step(progress, "reading and checking the Diabetes 130-US hospitals data"):
        data = load_encounters(assets, medications=tuple(row[0] for row in added))
    y = data["outcome"].to_numpy()
    with step(progress, "splitting by patient (60% train / 20% calibration / 20% test)"):
        train_idx, cal_idx, test_idx = split_three_ways(
            y, groups=data["patient_nbr"].to_numpy(), seed=SEED, calibration=0.2, test=0.2
        )
    train, cal, test = (data.iloc[i].reset_index(drop=True) for i in (train_idx, cal_idx, test_idx))
    schema = feature_schema(train, added)
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
            y_test, p_test, threshold=threshold, bootstrap=True, seed=SEED
        )
        subgroups = subgroup_figures(schema, test, y_test, p_test, threshold=threshold)
    n_patients = data["patient_nbr"].nunique()
    card = readmission_card(
        schema,
        calibration,
        overall,
        subgroups,
        len(train),
        len(cal),
        len(test),
        n_patients,
        data,
        threshold,
    )
    demo = readmission_demo_cases(test, p_test, schema, threshold)
    return {
        "model": model,
        "card": card,
        "features": schema,
        "reference": test,
        "calibration_data": cal,
        "demo_cases": demo,
    }
