"""Writing a bundle folder: everything goes to a scratch folder, is loaded back with every
check, and is renamed into place only if sound; the model file is byte-reproducible.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
import skops.io as sio
from pydantic import ValidationError

from caselens.errors import BundleError, CardError
from caselens.model.bundle_layout import (
    BUNDLE_FOLDER_MODE,
    CALIBRATION_FILE,
    CARD_FILE,
    DEMO_CASES_FILE,
    FEATURES_FILE,
    OUTCOME_COLUMN,
    REFERENCE_FILE,
    SKOPS_MODEL_FILE,
    DemoCase,
    ModelBundle,
    describe_validation_error,
)
from caselens.model.bundle_read import (
    check_binary_classifier,
    load_bundle,
)
from caselens.model.card import ModelCard
from caselens.model.card_check import refusal_message
from caselens.model.features import FeatureSchema
from caselens.model.leakage import outcome_named_inputs
from caselens.model.onnx import ONNX_MODEL_FILE


def schema_file_data(schema: FeatureSchema) -> dict[str, Any]:
    """``features.json`` as written: an input with no FHIR mapping carries no ``fhir`` key, so
    a bundle made before mappings existed is written byte for byte as before."""
    data = schema.model_dump(mode="json")
    for feature in data["features"]:
        if feature.get("fhir") is None:
            feature.pop("fhir", None)
    return data


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model file or a report."""
    import numpy
    import scipy
    import skops

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "skops": skops.__version__,
    }


def _onnxruntime_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _required_columns(
    schema: FeatureSchema, reference: pd.DataFrame, calibration_data: pd.DataFrame | None
) -> list[str]:
    """The columns a bundle's tables hold (the inputs and the outcome), once both have them."""
    required = [*schema.names, OUTCOME_COLUMN]
    missing = [c for c in required if c not in reference.columns]
    if missing:
        raise BundleError(f"The reference data lacks column(s): {', '.join(missing)}.")
    if calibration_data is not None:
        missing = [c for c in required if c not in calibration_data.columns]
        if missing:
            raise BundleError(f"The calibration data lacks column(s): {', '.join(missing)}.")
    return required


def _write_tables(
    scratch: Path,
    schema: FeatureSchema,
    required: list[str],
    reference: pd.DataFrame,
    calibration_data: pd.DataFrame | None,
    cases: list[dict[str, Any]],
) -> None:
    """Write the feature schema, the reference and calibration tables and the demo cases."""
    _write_json(scratch / FEATURES_FILE, schema_file_data(schema))
    reference[required].to_parquet(scratch / REFERENCE_FILE, index=False)
    if calibration_data is not None:
        calibration_data[required].to_parquet(scratch / CALIBRATION_FILE, index=False)
    if cases:
        _write_json(scratch / DEMO_CASES_FILE, cases)


def create_bundle(
    model: Any,
    *,
    card: Mapping[str, Any] | ModelCard,
    features: Mapping[str, Any] | FeatureSchema,
    reference: pd.DataFrame,
    path: str | Path,
    calibration_data: pd.DataFrame | None = None,
    demo_cases: Sequence[Mapping[str, Any] | DemoCase] = (),
    overwrite: bool = False,
) -> ModelBundle:
    """Write a bundle folder from a fitted model, a card, a feature schema and reference data.

    The model is saved with skops; the card's ``model_file``, ``model_sha256`` and
    ``library_versions`` are filled in here, so a card file written by hand may leave them
    out. Everything is written to a temporary folder beside ``path``, loaded back with
    :func:`load_bundle` (so what is written is exactly what will load) and renamed to
    ``path`` only if it is sound: a failure leaves nothing behind.

    Raises
    ------
    BundleError
        If the folder exists (and ``overwrite`` is False), the card or schema is invalid, the
        reference data lacks a column, the model cannot be saved safely, a reference or
        calibration row breaks the feature schema, or a card figure differs from the one
        measured on the reference data (:mod:`caselens.model.card_check`; every problem listed).
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise BundleError(f"The folder {folder} already exists and is not empty.")
    schema = features if isinstance(features, FeatureSchema) else _validate_schema_mapping(features)
    # An input called 'outcome' would be the outcome column itself (label leakage).
    named = outcome_named_inputs(schema.names, (OUTCOME_COLUMN,), "the feature schema")
    if named:
        raise BundleError(refusal_message(named))
    required = _required_columns(schema, reference, calibration_data)
    check_binary_classifier(model, schema)
    card_data = card.model_dump(mode="json") if isinstance(card, ModelCard) else dict(card)
    # An ONNX model (caselens.model.onnx) is stored as the bytes it was read from.
    onnx_bytes = getattr(model, "onnx_bytes", None)
    model_file = ONNX_MODEL_FILE if onnx_bytes is not None else SKOPS_MODEL_FILE
    model_bytes = onnx_bytes if onnx_bytes is not None else _reproducible_zip(sio.dumps(model))
    card_data.update(
        model_file=model_file,
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        library_versions=library_versions()
        | ({"onnxruntime": _onnxruntime_version()} if onnx_bytes is not None else {}),
    )
    try:
        checked = ModelCard.model_validate(card_data)
    except ValidationError as exc:
        raise CardError(describe_validation_error("The model card", exc)) from exc
    cases = [
        c.model_dump(mode="json") if isinstance(c, DemoCase) else _demo_case(c) for c in demo_cases
    ]
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Beside the target, so the final rename stays on one file system (atomic).
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        (scratch / model_file).write_bytes(model_bytes)
        _write_tables(scratch, schema, required, reference, calibration_data, cases)
        # The card last: a folder is only taken for a bundle once it holds a card.json.
        # Optional sections the card leaves out (a monitoring plan, changeable inputs, next
        # steps) are not written, so such a card is written as before it could hold them.
        unset = {name for name in OPTIONAL_CARD_SECTIONS if getattr(checked, name) is None}
        _write_json(scratch / CARD_FILE, checked.model_dump(mode="json", exclude=unset or None))
        written = load_bundle(scratch)
        if written.card_problems:
            raise BundleError(refusal_message(written.card_problems))
        _move_into_place(scratch, folder)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return dataclasses.replace(written, path=folder)


def _demo_case(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return DemoCase.model_validate(dict(data)).model_dump(mode="json")
    except ValidationError as exc:
        raise BundleError(describe_validation_error("A demo case", exc)) from exc


def _move_into_place(scratch: Path, folder: Path) -> None:
    """Rename the finished scratch folder to ``folder``, replacing an old one only now."""
    # mkdtemp makes the folder private (0700); a bundle is read by the app's user too.
    os.chmod(scratch, BUNDLE_FOLDER_MODE)
    if not folder.exists():
        os.replace(scratch, folder)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    os.replace(folder, retired / folder.name)
    try:
        os.replace(scratch, folder)
    except BaseException:
        os.replace(retired / folder.name, folder)  # put the old bundle back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite a skops zip so that the same model always gives the same bytes.

    skops names objects and array files after ``id()`` (memory addresses) and stamps each
    member with the current time, so a rebuild would change the model's hash. Renumbering
    ids in order of first appearance (consistently, so shared objects stay shared) and fixing
    the timestamps makes ``caselens samples build`` byte-reproducible.
    """
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    out[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in source.namelist():
                    out[key] = files.setdefault(value, f"array-{len(files) + 1:05d}.npy")
                else:
                    out[key] = renumber(value)
            return out
        if isinstance(node, list):
            return [renumber(item) for item in node]
        return node

    members = {"schema.json": json.dumps(renumber(schema), sort_keys=True).encode("utf-8")}
    for old, new in files.items():
        members[new] = source.read(old)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, members[name])
    return out.getvalue()


def _validate_schema_mapping(data: Mapping[str, Any]) -> FeatureSchema:
    try:
        return FeatureSchema.model_validate(data)
    except ValidationError as exc:
        raise BundleError(describe_validation_error("The feature schema", exc)) from exc


#: Card sections written only when the card states them.
OPTIONAL_CARD_SECTIONS = ("monitoring", "changeable_inputs", "next_steps")


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
