"""Version 2 of the ``heart-disease`` sample (folder ``heart-disease-v2``): a different model
family and a changed threshold.

Built by version 1's recipe (:func:`.heart_disease.fit_and_describe`: same Cleveland file and
checksum, same split and seed, same calibration choice, same schema, card text and demo-case
picks), with histogram gradient-boosted trees in place of the logistic regression and the
decision threshold moved from 50% to 40%. The model id stays ``heart-disease``: it is another
version of the same model, which the model owner registers and a second person approves.

Gradient-boosted trees rather than a random forest: a forest of a few hundred trees took
seconds to load through the skops audit and a second per small prediction batch, which an
explanation (hundreds of model calls) or a shadow run would pay on every case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from caselens.authoring.samples import heart_disease
from caselens.authoring.samples._common import Progress
from caselens.authoring.samples._versions import second_version_card
from caselens.model.features import FeatureSchema

MODEL_ID = heart_disease.MODEL_ID
FOLDER = "heart-disease-v2"
#: Version 1's seed: the split, calibration folds and bootstrap are version 1's; the booster
#: is seeded with it too.
SEED = heart_disease.SEED
THRESHOLD = 0.4
FAMILY = "gradient boosting"
#: The owner's stated reason for the change (kept with the version's registration).
CHANGE_REASON = (
    "Version 2.0.0 changes the model family from logistic regression to histogram "
    "gradient-boosted trees (100 shallow trees of at most 4 leaves and 10 patients per leaf, "
    "categories and missing values handled natively, calibrated afterwards as before) so that "
    "interactions between test findings can be learned, and lowers the decision threshold "
    "from 50% to 40% so that fewer patients with disease are missed, at the cost of more "
    "false alarms. Same data, split and seeds as version 1."
)


def make_pipeline(schema: FeatureSchema) -> Pipeline:
    """Ordinal-encode the categories, pass numbers through, then small gradient-boosted trees.

    Missing values and unknown categories become NaN, which the booster routes down its
    learned missing-value branch (no imputation, unlike version 1).
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
    # Small trees and a slow rate: 181 training patients.
    booster = HistGradientBoostingClassifier(
        categorical_features=[True] * len(categorical) + [False] * len(numeric),
        learning_rate=0.05,
        max_iter=100,
        max_leaf_nodes=4,
        min_samples_leaf=10,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=SEED,
    )
    return Pipeline([("columns", columns), ("booster", booster)])


def build(assets: Path, progress: Progress) -> dict[str, Any]:
    """Fit and evaluate version 2; return everything :func:`create_bundle` needs."""
    parts = heart_disease.fit_and_describe(
        assets, progress, make_pipeline, threshold=THRESHOLD, fitting=FAMILY
    )
    parts["card"] = second_version_card(
        parts["card"],
        model_type="Histogram gradient-boosted trees (scikit-learn), categorical inputs and "
        "missing values handled natively, calibrated afterwards",
        threshold_rationale="40% (version 1 used 50%): below the point where disease is more "
        "likely than not, so that fewer patients with disease are missed; more patients "
        "without disease are flagged in exchange. A demonstration choice, not validated for "
        "any decision.",
        change=CHANGE_REASON,
    )
    return parts
