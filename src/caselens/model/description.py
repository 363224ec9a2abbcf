"""What a fitted model is, in words, and how its probability was calibrated.

Read from the model itself, so a card never has to be typed for what the file already says:
a scikit-learn estimator (alone, in a Pipeline, inside ``CalibratedClassifierCV``) or an ONNX
model converted by ``caselens bundle convert``, which keeps both facts in its metadata. An
ONNX file made elsewhere does not say how it was calibrated: :func:`calibration_method`
returns None and the card must state it.
"""

from __future__ import annotations

from typing import Any

from caselens.model.onnx import META_CALIBRATION, META_SOURCE, OnnxClassifier

#: The calibration methods a card may name (``caselens.model.card.Calibration.method``).
CALIBRATION_METHODS = ("isotonic", "sigmoid", "none")


def describe_model(model: Any) -> str:
    """The model's kind in words, e.g. ``RandomForestClassifier in a scikit-learn Pipeline``.

    A calibration wrapper is named around what it wraps; an ONNX model by the source its
    metadata names (or as an ONNX model of unknown source).
    """
    if isinstance(model, OnnxClassifier):
        source = model.metadata.get(META_SOURCE)
        return f"{source}, converted to ONNX" if source else "ONNX model (source not stated)"
    steps = getattr(model, "steps", None)
    if steps:
        final = describe_model(steps[-1][1]).removeprefix("scikit-learn ")
        return f"{final} in a scikit-learn Pipeline"
    inner = getattr(model, "estimator", None)
    if inner is not None:
        return f"{type(model).__name__} around {describe_model(inner)}"
    return f"scikit-learn {type(model).__name__}"


def calibration_method(model: Any) -> str | None:
    """``"isotonic"``, ``"sigmoid"`` or ``"none"`` as the model shows it; None if it cannot tell.

    A scikit-learn model is calibrated when it, or a step of its Pipeline, is a
    ``CalibratedClassifierCV`` with one of the two methods. An ONNX model says so only when
    ``caselens bundle convert`` wrote it (metadata ``caselens.calibration_method``).
    """
    if isinstance(model, OnnxClassifier):
        stated = model.metadata.get(META_CALIBRATION)
        return stated if stated in CALIBRATION_METHODS else None
    for candidate in (model, *(step for _, step in getattr(model, "steps", []))):
        method = getattr(candidate, "method", None)
        if type(candidate).__name__ == "CalibratedClassifierCV" and method in (
            "isotonic",
            "sigmoid",
        ):
            return str(method)
    return "none"
