"""Version 2 of the ``heart-disease`` sample (folder ``heart-disease-v2``): a different model
family and a changed threshold.

Built by version 1's recipe (:func:`.heart_disease.fit_and_describe`: same Cleveland file and
checksum, same split and seed, same calibration choice, same schema, card text and demo-case
picks), with a random forest in place of the logistic regression and the decision threshold
moved from 50% to 40%. The model id stays ``heart-disease``: it is another version of the same
model, which the model owner registers and a second person approves (docs: model versions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from caselens.authoring.samples import heart_disease
from caselens.authoring.samples._common import Progress
from caselens.authoring.samples._versions import second_version_card
from caselens.model.features import FeatureSchema

MODEL_ID = heart_disease.MODEL_ID
FOLDER = "heart-disease-v2"
#: Version 1's seed: the split, calibration folds and bootstrap are version 1's; the forest
#: draws its trees from it too.
SEED = heart_disease.SEED
THRESHOLD = 0.4
FAMILY = "random forest"
#: The owner's stated reason for the change (kept with the version's registration).
CHANGE_REASON = (
    "Version 2.0.0 changes the model family from logistic regression to a random forest "
    "(300 trees, at least 5 patients per leaf, one-hot encoding in the pipeline, calibrated "
    "afterwards as before) so that interactions between test findings can be learned, and "
    "lowers the decision threshold from 50% to 40% so that fewer patients with disease are "
    "missed, at the cost of more false alarms. Same data, split and seeds as version 1."
)


def make_pipeline(schema: FeatureSchema) -> Pipeline:
    """Impute, one-hot the categories (trees need no scaling), then a random forest."""
    numeric = [f.name for f in schema if f.kind != "category"]
    categorical = [f for f in schema if f.kind == "category"]
    columns = ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), numeric),
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
    forest = RandomForestClassifier(
        n_estimators=300, min_samples_leaf=5, max_features="sqrt", random_state=SEED, n_jobs=1
    )
    return Pipeline([("columns", columns), ("forest", forest)])


def build(assets: Path, progress: Progress) -> dict[str, Any]:
    """Fit and evaluate version 2; return everything :func:`create_bundle` needs."""
    parts = heart_disease.fit_and_describe(
        assets, progress, make_pipeline, threshold=THRESHOLD, fitting=FAMILY
    )
    parts["card"] = second_version_card(
        parts["card"],
        model_type="Random forest (one-hot encoding in the pipeline), calibrated afterwards",
        threshold_rationale="40% (version 1 used 50%): below the point where disease is more "
        "likely than not, so that fewer patients with disease are missed; more patients "
        "without disease are flagged in exchange. A demonstration choice, not validated for "
        "any decision.",
        change=CHANGE_REASON,
    )
    return parts
