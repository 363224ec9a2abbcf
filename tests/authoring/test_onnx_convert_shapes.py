"""``bundle convert`` on the model shapes that used to fail with a raw converter error: a
FrozenEstimator is unwrapped and converts; a calibrator wrapped around a ColumnTransformer
and a scaler before trees that moves a value across a split point in float32 are refused with
a sentence naming the shape and what to do instead. Each model is built here."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from caselens.authoring.onnx_convert import CONVERSION_TOLERANCE, convert_model
from caselens.cli.main import main
from caselens.errors import BundleError

SEED = 20261206


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers (creatinine on a 0.01 grid, so unseen values fall between split points), a
    0/1 input and a text ward."""
    rng = np.random.default_rng(SEED)
    n = 600
    frame = pd.DataFrame(
        {
            "age": rng.integers(40, 90, n).astype(float),
            "creatinine": rng.choice(np.round(np.arange(0.5, 3.0, 0.01), 2), n),
            "smoking": rng.integers(0, 2, n).astype(float),
            "ward": rng.choice(["Cardiology", "Medicine", "Surgery"], n),
        }
    )
    logit = 0.05 * (frame["age"] - 65) + np.log(frame["creatinine"])
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


NUMBERS = ["age", "creatinine", "smoking"]


def test_a_calibrator_around_a_frozen_forest_converts_and_matches(cohort):
    frame, y = cohort
    forest = make_pipeline(
        RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    ).fit(frame.loc[:399, NUMBERS], y[:400])
    model = CalibratedClassifierCV(FrozenEstimator(forest), method="sigmoid")
    model.fit(frame.loc[400:, NUMBERS], y[400:])
    conversion = convert_model(model, frame[NUMBERS])
    assert conversion.max_abs_difference <= CONVERSION_TOLERANCE
    assert "CalibratedClassifierCV" in conversion.source
    # The source model is untouched: its FrozenEstimator is still there.
    assert type(model.calibrated_classifiers_[0].estimator).__name__ == "FrozenEstimator"


def test_a_calibrator_wrapped_around_a_column_transformer_is_refused_in_words(cohort):
    frame, y = cohort
    prepare = ColumnTransformer(
        [("ward", OneHotEncoder(handle_unknown="ignore"), ["ward"])], remainder="passthrough"
    )
    model = CalibratedClassifierCV(
        make_pipeline(prepare, LogisticRegression(max_iter=500)), method="sigmoid", cv=3
    ).fit(frame, y)
    with pytest.raises(BundleError) as refused:
        convert_model(model, frame)
    message = str(refused.value)
    assert message.startswith(
        "The model is a CalibratedClassifierCV wrapped around a pipeline with a ColumnTransformer."
    )
    assert "put the calibrator inside the pipeline, after the ColumnTransformer" in message
    assert "Shapes that convert:" in message
    assert "Error" not in message and "Exception" not in message
    # What it says to do instead converts.
    inside = Pipeline(
        [
            ("prepare", prepare),
            ("model", CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3)),
        ]
    ).fit(frame, y)
    assert convert_model(inside, frame).max_abs_difference <= CONVERSION_TOLERANCE


def test_a_scaler_before_trees_that_crosses_a_split_point_is_refused_in_words(cohort):
    frame, y = cohort
    numbers = frame[["creatinine", "age"]]
    model = make_pipeline(
        StandardScaler(), GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    ).fit(numbers[:300], y[:300])
    with pytest.raises(BundleError) as refused:
        convert_model(model, numbers)
    message = str(refused.value)
    assert "does not reproduce the source model: on sample row" in message
    assert (
        "The model scales its inputs (StandardScaler) before a tree model "
        "(GradientBoostingClassifier)" in message
    )
    assert "Trees need no scaling: refit the pipeline without the StandardScaler" in message
    # What it says to do instead converts.
    plain = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(
        numbers[:300], y[:300]
    )
    assert convert_model(plain, numbers).max_abs_difference <= CONVERSION_TOLERANCE


def test_a_part_the_converters_do_not_know_is_named(cohort):
    frame, y = cohort
    model = make_pipeline(SplineTransformer(), LogisticRegression(max_iter=500))
    model.fit(frame[NUMBERS], y)
    with pytest.raises(BundleError) as refused:
        convert_model(model, frame[NUMBERS])
    message = str(refused.value)
    assert "holds a SplineTransformer, which the ONNX converters do not know" in message
    assert "Instead, rebuild the model without SplineTransformer" in message


def test_bundle_convert_prints_the_sentence_not_a_traceback(cohort, tmp_path):
    frame, y = cohort
    prepare = ColumnTransformer([("scale", StandardScaler(), ["age"])], remainder="passthrough")
    model = CalibratedClassifierCV(
        make_pipeline(prepare, LogisticRegression(max_iter=500)), cv=3
    ).fit(frame[NUMBERS], y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sio.dump(model, tmp_path / "model.skops")
    frame[NUMBERS].to_csv(tmp_path / "train.csv", index=False)
    result = CliRunner().invoke(
        main,
        [
            "bundle",
            "convert",
            "--model",
            str(tmp_path / "model.skops"),
            "--sample",
            str(tmp_path / "train.csv"),
            "--out",
            str(tmp_path / "model.onnx"),
        ],
    )
    assert result.exit_code == 1
    output = result.output + (result.stderr or "")
    assert "CalibratedClassifierCV wrapped around a pipeline with a ColumnTransformer" in output
    assert "Traceback" not in output
    assert not (tmp_path / "model.onnx").exists()


def test_any_other_converter_failure_is_one_line_and_what_to_do(cohort):
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, y = cohort
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame[NUMBERS], y)
    with pytest.raises(BundleError) as refused:
        convert_model(model, frame[NUMBERS])
    message = str(refused.value)
    assert "could not be converted to ONNX; the converter stopped with: " in message
    assert "\n" not in message and len(message) < 1500
    assert "give its .skops file to bundle create as it is" in message
    assert "not HistGradientBoostingClassifier" in message
