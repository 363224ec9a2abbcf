"""``caselens bundle convert``: a fitted model the user trusts, turned into an ONNX file once.

XGBoost and LightGBM classifiers (alone or inside a scikit-learn pipeline) and the
scikit-learn estimators skl2onnx knows are converted with skl2onnx, with onnxmltools'
converters registered for ``XGBClassifier`` and ``LGBMClassifier``. The converted model is
then loaded exactly as the app loads it (:class:`caselens.model.onnx.OnnxClassifier`, with
every check) and its probabilities are compared with the source model's on every row of the
sample data: the largest difference must be at most :data:`CONVERSION_TOLERANCE`, or nothing
is written. The ONNX graph computes in float32, so small differences are expected; the
figure measured is printed and kept in the file's metadata.

The check covers the sample rows only. A row unseen there can differ by more: inputs are
rounded to float32 before the graph's scaler and tree splits, so a value within float32
rounding of a split threshold — typically an unseen value half-way between two training
values, e.g. creatinine 1.22 between 1.21 and 1.23 — can take the other branch. Measured in
``tests/model/test_onnx_model.py``: a scikit-learn GradientBoosting pipeline with a StandardScaler
differs on 1 of 300 test rows by 0.08; the XGBoost and LightGBM models on none (largest
difference 2e-7; XGBoost itself computes in float32). Pass every split as ``--sample``
(training, calibration, test) so the check covers the rows the card is measured on; the
bundle's figures are then measured with the ONNX model, whose probability is what is shown.

The source may be a skops file (checked against CaseLens's allow-list as always) or — only
with ``trust_pickle`` — a pickle/joblib file, which runs code when it is opened: it is opened
here, once, on the user's own machine, and never by the app. The app loads the ``.onnx``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caselens.errors import BundleError
from caselens.explain.copy_check import indefinite_article
from caselens.model.description import calibration_method, describe_model
from caselens.model.onnx import (
    META_CALIBRATION,
    META_CLASSES,
    META_FEATURES,
    META_PROBABILITY_OUTPUT,
    META_SOURCE,
    ONNX_SUFFIX,
    OnnxClassifier,
)

#: Largest accepted difference between the ONNX model's probability and the source model's on
#: any sample row. The ONNX tree and linear operators compute in float32 (about 7 significant
#: digits): the test models differ by at most 2e-7; 1e-5 leaves room for longer sums while
#: still catching a threshold or category converted wrongly (those move a probability by far
#: more).
CONVERSION_TOLERANCE = 1e-5
#: The opsets the converted graph uses (supported by the pinned onnxruntime).
TARGET_OPSET: dict[str, int] = {"": 18, "ai.onnx.ml": 3}
#: Metadata keys kept with the converted model (besides those in caselens.model.onnx).
META_MAX_DIFFERENCE = "caselens.conversion_max_abs_difference"
META_TOLERANCE = "caselens.conversion_tolerance"
META_ROWS = "caselens.conversion_sample_rows"
META_SOURCE_SHA256 = "caselens.source_sha256"
META_CONVERTERS = "caselens.converters"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

PICKLE_WARNING = (
    "WARNING: {name} is a pickle/joblib file. Opening it runs whatever code it holds, with "
    "your permissions. It is opened now, once, because you passed --trust-pickle: do this "
    "only for a file from a source you trust. CaseLens never opens a pickle in the app; it "
    "loads the converted .onnx file."
)


@dataclass(frozen=True)
class Conversion:
    """A converted model and how closely it reproduces the source.

    Attributes
    ----------
    onnx_bytes : bytes
        The ONNX file.
    rows : int
        Sample rows compared.
    max_abs_difference : float
        Largest ``|p_onnx - p_source|`` over those rows and both classes.
    tolerance : float
    source : str
        What was converted, e.g. ``XGBClassifier in a scikit-learn Pipeline``.
    feature_names : tuple of str
    sha256 : str
        SHA-256 of ``onnx_bytes``.
    """

    onnx_bytes: bytes
    rows: int
    max_abs_difference: float
    tolerance: float
    source: str
    feature_names: tuple[str, ...]

    @property
    def sha256(self) -> str:
        """SHA-256 of the ONNX file."""
        return hashlib.sha256(self.onnx_bytes).hexdigest()


def _register_converters() -> list[str]:
    """Register onnxmltools' XGBoost and LightGBM classifier converters with skl2onnx."""
    import onnxmltools
    import skl2onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    used = [f"skl2onnx {skl2onnx.__version__}", f"onnxmltools {onnxmltools.__version__}"]
    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier
    except ImportError:  # xgboost not installed: nothing of that kind to convert
        pass
    else:
        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=options,
        )
    try:
        from lightgbm import LGBMClassifier
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    except ImportError:
        pass
    else:
        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=options,
        )
    return used


def _for_conversion(model: Any) -> Any:
    """A copy the converters accept: XGBoost boosters lose their column names, and each
    ``FrozenEstimator`` is replaced by the fitted model it holds.

    onnxmltools reads XGBoost's split features as ``f0, f1, …``; a booster fitted on a
    DataFrame names them after the columns. A ``FrozenEstimator`` only stops its model from
    being refitted: it predicts exactly as the model inside it, which the converters know.
    The copy is converted; the model is untouched, and the probabilities are compared with it.
    """
    converted = _unfrozen(copy.deepcopy(model))
    for estimator in [converted, *(step for _, step in getattr(converted, "steps", []))]:
        if type(estimator).__name__ == "XGBClassifier":
            estimator.get_booster().feature_names = None
            estimator.get_booster().feature_types = None
    return converted


def _unfrozen(estimator: Any) -> Any:
    """``estimator`` with every FrozenEstimator replaced by its model (in place where nested:
    pipeline steps and a calibrator's fitted classifiers)."""
    while type(estimator).__name__ == "FrozenEstimator":
        estimator = estimator.estimator
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        estimator.steps = [(name, _unfrozen(step)) for name, step in steps]
    for fitted in getattr(estimator, "calibrated_classifiers_", None) or ():
        fitted.estimator = _unfrozen(fitted.estimator)
    return estimator


#: Scalers whose float32 arithmetic in ONNX can move a value across a tree's split point.
SCALER_NAMES = frozenset(
    {"StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer"}
)
#: Words in the class name of a tree-based classifier.
TREE_WORDS = ("Tree", "Forest", "Boost", "XGB", "LGBM")
#: What converts, said in every refusal of a shape (docs/bring-your-own-model.md lists them).
SHAPES_THAT_CONVERT = (
    "Shapes that convert: a classifier the converters know (logistic regression, random "
    "forest, gradient boosting, XGBoost, LightGBM; not HistGradientBoostingClassifier) alone; "
    "a Pipeline of encoders, imputers and scalers ending in such a classifier (a "
    "ColumnTransformer first when inputs are selected by name or hold text); a "
    "CalibratedClassifierCV as the last step of such a pipeline, or around a classifier or a "
    "numeric pipeline without a ColumnTransformer; FrozenEstimator anywhere in those places."
)
NO_CONVERSION_NEEDED = (
    "A scikit-learn model made of the parts CaseLens allows needs no conversion: give its "
    ".skops file to bundle create as it is."
)


def _inner_estimators(model: Any) -> list[Any]:
    """The model, its pipeline steps and what a calibrator wraps, depth first."""
    found = [model]
    for _, step in getattr(model, "steps", None) or []:
        found += _inner_estimators(step)
    wrapped = getattr(model, "estimator", None)
    if wrapped is not None and hasattr(wrapped, "fit"):
        found += _inner_estimators(wrapped)
    for fitted in getattr(model, "calibrated_classifiers_", None) or ():
        found += _inner_estimators(fitted.estimator)
    return found


def shape_refusal(model: Any) -> str | None:
    """Why this model's shape cannot be converted, and what to do instead; None if it can
    be tried. (A FrozenEstimator is unwrapped, not refused: see :func:`_for_conversion`.)"""
    calibrators = [e for e in _inner_estimators(model) if hasattr(e, "calibrated_classifiers_")]
    for calibrator in calibrators:
        inside = _inner_estimators(_unfrozen(copy.copy(calibrator.estimator)))
        inside += [
            e
            for fitted in calibrator.calibrated_classifiers_
            for e in _inner_estimators(_unfrozen(copy.copy(fitted.estimator)))
        ]
        if any(type(e).__name__ == "ColumnTransformer" for e in inside):
            return (
                "The model is a CalibratedClassifierCV wrapped around a pipeline with a "
                "ColumnTransformer. The ONNX converter gives a calibrator one table of numbers, "
                "never named columns, so this shape cannot be converted. Instead, put the "
                "calibrator inside the pipeline, after the ColumnTransformer: "
                "Pipeline([('prepare', ColumnTransformer(...)), "
                "('model', CalibratedClassifierCV(classifier, ...))]), "
                f"refit it and convert that. {NO_CONVERSION_NEEDED} {SHAPES_THAT_CONVERT}"
            )
    return None


def _scaler_before_trees(model: Any) -> tuple[str, str] | None:
    """(scaler, tree classifier) when the model scales its inputs before a tree model."""
    scaler = None
    for estimator in _inner_estimators(_unfrozen(copy.deepcopy(model))):
        name = type(estimator).__name__
        if name in SCALER_NAMES:
            scaler = name
        elif scaler and any(word in name for word in TREE_WORDS):
            return scaler, name
    return None


def _no_converter(exc: Exception) -> str | None:
    """The class the converters do not know, read from their error, or None."""
    import re

    text = f"{type(exc).__name__}: {exc}"
    found = re.search(r"<class '([\w.]+)'>", text) or re.search(
        r"(?:shape calculator|converter) for (?:type )?'?([\w.]+)", text
    )
    if found is None or not isinstance(exc, KeyError | RuntimeError | TypeError | ValueError):
        return None
    return found.group(1).rsplit(".", 1)[-1]


def _initial_types(model: Any, frame: pd.DataFrame) -> list[tuple[str, Any]]:
    """One input per column for a pipeline that selects columns by name, else one table."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    first = model.steps[0][1] if getattr(model, "steps", None) else model
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if type(first).__name__ == "ColumnTransformer":
        return [
            (c, StringTensorType([None, 1]) if c in text else FloatTensorType([None, 1]))
            for c in frame.columns
        ]
    if text:
        raise BundleError(
            f"The sample has text column(s) {', '.join(text)}, but the model does not start "
            "with a ColumnTransformer that encodes them; such a model cannot be converted."
        )
    return [("input", FloatTensorType([None, frame.shape[1]]))]


def _checked_inputs(model: Any, sample: pd.DataFrame) -> tuple[list[str], list[Any], pd.DataFrame]:
    """The model's input names and two classes, and the sample rows of those inputs."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise BundleError(
            "The model does not name its input columns (feature_names_in_): fit it on a "
            "DataFrame with one column per clinical input, then convert it."
        )
    names = [str(n) for n in names]
    classes = list(getattr(model, "classes_", []))
    if len(classes) != 2:
        raise BundleError(f"The model must have two classes; it has {len(classes)}.")
    lacking = [n for n in names if n not in sample.columns]
    if lacking:
        raise BundleError(f"The sample data lack the model's input column(s): {lacking}.")
    if len(sample) == 0:
        raise BundleError("The sample data have no rows to compare the probabilities on.")
    frame = sample[names].reset_index(drop=True)
    return names, classes, frame


def _to_onnx(model: Any, frame: pd.DataFrame) -> Any:
    """The model converted to an ONNX graph; a model that will not convert says why."""
    from skl2onnx import to_onnx

    refusal = shape_refusal(model)
    if refusal is not None:
        raise BundleError(refusal)
    prepared = _for_conversion(model)
    final = prepared.steps[-1][1] if getattr(prepared, "steps", None) else prepared
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onx = to_onnx(
                prepared,
                initial_types=_initial_types(prepared, frame),
                options={id(final): {"zipmap": False}},
                target_opset=TARGET_OPSET,
            )
    except BundleError:
        raise
    except Exception as exc:
        unknown = _no_converter(exc)
        if unknown is not None:
            raise BundleError(
                f"The model ({describe_model(model)}) holds {indefinite_article(unknown)} "
                f"{unknown}, which the ONNX "
                f"converters do not know, so it cannot be converted. Instead, rebuild the model "
                f"without {unknown}. {NO_CONVERSION_NEEDED} {SHAPES_THAT_CONVERT}"
            ) from exc
        # Any other converter failure: its first line only (a tree's arrays can run to pages).
        first_line = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise BundleError(
            f"The model ({describe_model(model)}) could not be converted to ONNX; the converter "
            f"stopped with: {first_line}. {NO_CONVERSION_NEEDED} {SHAPES_THAT_CONVERT}"
        ) from exc
    return onx


def _metadata(
    onx: Any,
    model: Any,
    names: list[str],
    classes: list[Any],
    converters: list[str],
    tolerance: float,
    rows: int,
) -> dict[str, str]:
    """What the ONNX file records about its source and its conversion."""
    probability = [o.name for o in onx.graph.output if "prob" in o.name.lower()]
    metadata = {
        META_FEATURES: json.dumps(names),
        META_CLASSES: json.dumps([c.item() if hasattr(c, "item") else c for c in classes]),
        META_SOURCE: describe_model(model),
        META_CALIBRATION: calibration_method(model) or "none",
        META_CONVERTERS: ", ".join(converters),
        META_TOLERANCE: repr(tolerance),
        META_ROWS: str(rows),
    }
    if len(probability) == 1:
        metadata[META_PROBABILITY_OUTPUT] = probability[0]
    return metadata


def _first_comparison(
    model: Any,
    onx: Any,
    metadata: dict[str, str],
    frame: pd.DataFrame,
    expected: np.ndarray,
    classes: list[Any],
    tolerance: float,
) -> float:
    """The largest probability difference on the sample; a scaler before trees is named."""
    try:
        difference = _compare(_with_metadata(onx, metadata), frame, expected, classes, tolerance)
    except BundleError as exc:
        scaled = _scaler_before_trees(model)
        if scaled is None or "does not reproduce" not in str(exc):
            raise
        scaler, trees = scaled
        raise BundleError(
            f"{exc} The model scales its inputs ({scaler}) before a tree model ({trees}): "
            "ONNX computes the scaling in float32, which moves a value lying near a split "
            f"point to the other branch. Trees need no scaling: refit the pipeline without the "
            f"{scaler} and convert that. {NO_CONVERSION_NEEDED}"
        ) from exc
    return difference


def convert_model(
    model: Any,
    sample: pd.DataFrame,
    *,
    tolerance: float = CONVERSION_TOLERANCE,
    source_sha256: str | None = None,
) -> Conversion:
    """Convert a fitted binary classifier to ONNX and check it against the source.

    Parameters
    ----------
    model : estimator
        Fitted on a DataFrame (``feature_names_in_`` names its inputs), with two classes.
    sample : DataFrame
        Rows with the model's input columns (the training split): they give each input's
        type (number or text) and are the rows the probabilities are compared on.
    tolerance : float
    source_sha256 : str, optional
        Kept in the ONNX file's metadata.

    Raises
    ------
    BundleError
        If the model cannot be converted, or a probability differs by more than ``tolerance``
        on any sample row (the row is named).
    """
    names, classes, frame = _checked_inputs(model, sample)
    converters = _register_converters()
    onx = _to_onnx(model, frame)
    metadata = _metadata(onx, model, names, classes, converters, tolerance, len(frame))
    if source_sha256:
        metadata[META_SOURCE_SHA256] = source_sha256
    try:
        expected = np.asarray(model.predict_proba(frame), dtype=float)
    except Exception as exc:
        raise BundleError(
            f"The source model could not score the sample data: {type(exc).__name__}: {exc}"
        ) from exc
    difference = _first_comparison(model, onx, metadata, frame, expected, classes, tolerance)
    # The measured figure goes into the file too; metadata does not change a number.
    metadata[META_MAX_DIFFERENCE] = f"{difference:.3e}"
    data = _with_metadata(onx, metadata)
    if _compare(data, frame, expected, classes, tolerance) != difference:
        raise BundleError("The converted model's probabilities changed between two loads.")
    return Conversion(
        onnx_bytes=data,
        rows=len(frame),
        max_abs_difference=difference,
        tolerance=tolerance,
        source=describe_model(model),
        feature_names=tuple(names),
    )


def _with_metadata(onx: Any, metadata: dict[str, str]) -> bytes:
    del onx.metadata_props[:]
    for key, value in metadata.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    onx.producer_name = "caselens bundle convert"
    return onx.SerializeToString()


def _compare(
    data: bytes, frame: pd.DataFrame, expected: np.ndarray, classes: list[Any], tolerance: float
) -> float:
    """Load the ONNX bytes as the app does and return the largest probability difference."""
    loaded = OnnxClassifier(data, "the converted model")
    if [str(c) for c in loaded.classes_] != [str(c) for c in classes]:
        raise BundleError(
            f"The converted model's classes {list(loaded.classes_)} differ from the source "
            f"model's {classes}."
        )
    got = loaded.predict_proba(frame)
    if not np.all(np.isfinite(got)):
        row = int(np.flatnonzero(~np.all(np.isfinite(got), axis=1))[0])
        raise BundleError(f"The converted model gives a non-finite probability on row {row + 1}.")
    gaps = np.abs(got - expected)
    worst = float(gaps.max())
    if not worst <= tolerance:
        row = int(np.argmax(gaps.max(axis=1)))
        raise BundleError(
            f"The converted model does not reproduce the source model: on sample row "
            f"{row + 1} (counted from 1) the probability is {got[row, 1]:.8f} in ONNX and "
            f"{expected[row, 1]:.8f} in the source model, a difference of {worst:.2e} "
            f"(allowed {tolerance:.0e}). Nothing was written."
        )
    return worst


def read_source_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    """The model to convert: a skops file (allow-list checked) or a trusted pickle/joblib."""
    from caselens.model.bundle import read_model_file

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        raise BundleError(f"{path.name} is already an ONNX file; give it to bundle create.")
    if suffix in PICKLE_SUFFIXES and not trust_pickle:
        raise BundleError(
            f"{path.name} is a pickle/joblib file, which runs any code it holds when opened. "
            "Pass --trust-pickle only for a file from a source you trust; it is opened once "
            "to convert it and the app loads only the .onnx file."
        )
    with warnings.catch_warnings():
        # The loud warning is the caller's to print (see PICKLE_WARNING).
        warnings.simplefilter("ignore", UserWarning)
        return read_model_file(path, allow_pickle=trust_pickle)


def convert_file(
    model_path: str | Path,
    sample_path: str | Path | list[str | Path] | tuple[str | Path, ...],
    out_path: str | Path,
    *,
    trust_pickle: bool = False,
    overwrite: bool = False,
    tolerance: float = CONVERSION_TOLERANCE,
) -> Conversion:
    """Convert a model file to ``out_path`` (.onnx); nothing is written unless it checks out.

    ``sample_path`` may list several files (the rows are compared on all of them, counted
    from 1 across the files in order).
    """
    from caselens.authoring.data_files import read_data_file

    out = Path(out_path)
    if out.suffix.lower() != ONNX_SUFFIX:
        raise BundleError(f"The output file {out.name} must end in {ONNX_SUFFIX}.")
    if out.exists() and not overwrite:
        raise BundleError(f"{out} already exists; it is not overwritten (pass --overwrite).")
    source = Path(model_path)
    model = read_source_model(source, trust_pickle=trust_pickle)
    paths = list(sample_path) if isinstance(sample_path, list | tuple) else [sample_path]
    frames = [read_data_file(path, f"The sample data ({Path(path).name})") for path in paths]
    sample = pd.concat(frames, ignore_index=True, join="inner") if len(frames) > 1 else frames[0]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    conversion = convert_model(model, sample, tolerance=tolerance, source_sha256=digest)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as target:
            target.write(conversion.onnx_bytes)
        os.chmod(scratch, 0o644)
        os.replace(scratch, out)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return conversion
