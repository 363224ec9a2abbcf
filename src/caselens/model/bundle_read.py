"""Reading a bundle folder, and a user's model file, with every safety check (the order is in
:mod:`caselens.model.bundle`); any failure is a :class:`BundleError` naming the bundle.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from pydantic import ValidationError

from caselens.errors import BundleError, CardError
from caselens.model.bounded import (
    MAX_BUNDLE_JSON_BYTES,
    MAX_BUNDLE_JSON_DEPTH,
    MAX_TEXT_CHARS,
    check_text_lengths,
    loads_bounded,
    read_bounded,
)
from caselens.model.budget import ESTIMATE_ROWS, ModelBudgetError, check_skops_speed
from caselens.model.bundle_digest import bundle_sha256
from caselens.model.bundle_layout import (
    CALIBRATION_FILE,
    CARD_FILE,
    DEMO_CASES_FILE,
    FEATURES_FILE,
    MAX_BUNDLE_ENTRIES,
    MAX_FEATURES,
    MAX_TABLE_FILE_BYTES,
    MAX_TABLE_ROWS,
    MAX_TABLE_UNCOMPRESSED_BYTES,
    OUTCOME_COLUMN,
    PICKLE_SUFFIXES,
    REFERENCE_FILE,
    DemoCase,
    ModelBundle,
    describe_validation_error,
)
from caselens.model.bundle_signing import BundleTrust, enforce_bundle_signature
from caselens.model.card import ModelCard
from caselens.model.card_check import check_card, input_meaning_warnings
from caselens.model.features import FeatureSchema
from caselens.model.file_check import MAX_MODEL_FILE_BYTES, load_checked_skops
from caselens.model.onnx import MAX_ONNX_FILE_BYTES, ONNX_SUFFIX
from caselens.model.output_check import ModelOutputError, check_probabilities


def _read_json(path: Path, what: str) -> Any:
    data = read_bounded(path, MAX_BUNDLE_JSON_BYTES, what)
    parsed = loads_bounded(data, what=f"{what} ({path.name})", max_depth=MAX_BUNDLE_JSON_DEPTH)
    check_text_lengths(parsed, what=f"{what} ({path.name})", max_chars=MAX_TEXT_CHARS)
    return parsed


def _check_folder_entries(folder: Path) -> None:
    """Refuse a bundle folder holding a symbolic link (at any depth) or too many entries.

    A link could point the bundle at any file the server can read (a key, ``/dev/zero``).
    """
    count = 0
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                count += 1
                if count > MAX_BUNDLE_ENTRIES:
                    raise BundleError(
                        f"The bundle folder {folder.name} holds more than {MAX_BUNDLE_ENTRIES} "
                        f"entries; the limit is {MAX_BUNDLE_ENTRIES}."
                    )
                if entry.is_symlink():
                    inside = Path(entry.path).relative_to(folder)
                    raise BundleError(
                        f"The bundle folder {folder.name} holds a symbolic link ({inside}); "
                        "bundles may not hold links, so the bundle is refused."
                    )
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))


def load_card(path: Path) -> ModelCard:
    """Read and validate a model card file; an invalid card is refused naming the field."""
    data = _read_json(path, "The model card")
    try:
        return ModelCard.model_validate(data)
    except ValidationError as exc:
        raise CardError(describe_validation_error(f"The model card {path.name}", exc)) from exc


def load_feature_schema(path: Path) -> FeatureSchema:
    """Read and validate a feature schema file (at most :data:`MAX_FEATURES` features)."""
    data = _read_json(path, "The feature schema")
    features = data.get("features") if isinstance(data, dict) else None
    if isinstance(features, list) and len(features) > MAX_FEATURES:
        raise BundleError(
            f"The feature schema {path.name} lists {len(features)} features; the limit is "
            f"{MAX_FEATURES} features."
        )
    try:
        return FeatureSchema.model_validate(data)
    except ValidationError as exc:
        raise BundleError(
            describe_validation_error(f"The feature schema {path.name}", exc)
        ) from exc


def _minor(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_sklearn_version(built_with: str | None, *, installed: str = sklearn.__version__) -> None:
    """Refuse a model written by a scikit-learn release this installation cannot load.

    scikit-learn guarantees nothing across minor releases, so major.minor must match.
    """
    if built_with is None:
        raise BundleError(
            "The model card does not say which scikit-learn version built the model "
            "(library_versions['scikit-learn']); it cannot be checked, so it is refused."
        )
    if _minor(built_with) != _minor(installed):
        raise BundleError(
            f"The model was built with scikit-learn {built_with}, but this installation has "
            f"scikit-learn {installed}; scikit-learn cannot reliably load models across minor "
            "versions. Rebuild the bundle with the installed version or install the one it "
            "was built with."
        )


def _load_skops(data: bytes, name: str) -> Any:
    # The bytes already hashed are the bytes checked and loaded: nothing is read twice.
    return load_checked_skops(data, name)


def _find_model_file(folder: Path, card: ModelCard) -> Path:
    name = card.model_file
    # A plain file name inside the bundle folder: no path, no parent, no drive, no NUL.
    if (
        name in {".", ".."}
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
        or Path(name).name != name
    ):
        raise BundleError(
            f"The card's model_file ({name!r}) must be a plain file name inside the bundle "
            "folder (no '/', no '..', not an absolute path)."
        )
    model_path = folder / name
    if not os.path.lexists(model_path):
        raise BundleError(f"The model file named in the card ({name}) is missing.")
    return model_path


def _read_table(path: Path, what: str, required: Sequence[str]) -> pd.DataFrame:
    data = read_bounded(path, MAX_TABLE_FILE_BYTES, what)
    try:
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(io.BytesIO(data))
        # A parquet file compresses well: bound what it declares before decoding it.
        declared = sum(
            metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)
        )
    except Exception as exc:
        raise BundleError(f"{what} ({path.name}) could not be read: {exc}.") from exc
    if metadata.num_rows > MAX_TABLE_ROWS:
        raise BundleError(
            f"{what} ({path.name}) has {metadata.num_rows} rows; the limit is "
            f"{MAX_TABLE_ROWS} rows."
        )
    if metadata.num_columns > MAX_FEATURES + 1 or declared > MAX_TABLE_UNCOMPRESSED_BYTES:
        raise BundleError(
            f"{what} ({path.name}) declares {metadata.num_columns} columns and {declared} "
            f"bytes uncompressed; the limits are {MAX_FEATURES + 1} columns and "
            f"{MAX_TABLE_UNCOMPRESSED_BYTES} bytes."
        )
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:
        raise BundleError(f"{what} ({path.name}) could not be read: {exc}.") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BundleError(f"{what} ({path.name}) lacks column(s): {', '.join(missing)}.")
    return frame


def load_bundle(
    path: str | Path, *, allow_pickle: bool = False, trust: BundleTrust | None = None
) -> ModelBundle:
    """Load and check a model bundle folder.

    Parameters
    ----------
    path : str or Path
        The bundle folder.
    allow_pickle : bool, default False
        Let a ``.pkl``/``.pickle``/``.joblib`` model file load. Pickle runs arbitrary code
        on load: only for files the operator trusts. A loud warning is kept in the bundle.
    trust : BundleTrust, optional
        The publisher keys trusted and whether a signature is required
        (:mod:`caselens.model.bundle_signing`); checked before any file is parsed. Default:
        no key trusted, none required (the signature's standing is still recorded).

    Returns
    -------
    ModelBundle

    Raises
    ------
    BundleError
        With a message naming the failed check (hash, card field, untrusted item in the
        model file, a size/depth limit, a link, pickle, scikit-learn version, missing file,
        or — when signatures are required — the unsigned bundle, the changed file or the key).
        Any other failure while loading is wrapped in a ``BundleError`` naming the bundle,
        so one bad bundle can never take down the caller.
    """
    folder = Path(path)
    try:
        return _load_bundle(folder, allow_pickle=allow_pickle, trust=trust or BundleTrust())
    except BundleError:
        raise
    except Exception as exc:  # RecursionError and MemoryError included: refuse, never crash
        raise BundleError(
            f"The model bundle {folder.name} could not be loaded: {type(exc).__name__}: {exc}"[
                :2000
            ]
        ) from exc


def _read_model(
    model_path: Path, card: ModelCard, *, allow_pickle: bool, notes: list[str]
) -> tuple[Any, str, bool]:
    """The model file read once, its hash checked against the card, then loaded by format.

    Returns the model, its SHA-256 and whether it is an ONNX graph; a pickle loaded because
    the operator allowed it adds a loud warning to ``notes``.
    """
    is_pickle = model_path.suffix.lower() in PICKLE_SUFFIXES
    if is_pickle and not allow_pickle:
        raise BundleError(
            f"The model file {model_path.name} is a pickle/joblib file. Pickle can run any code "
            "when it is opened, so CaseLens refuses it. Convert the model to skops, or — only "
            "for a file you trust — set CASELENS_ALLOW_PICKLE=1."
        )
    # ONNX (caselens.model.onnx): a data-only graph with its own size bound and checks.
    is_onnx = model_path.suffix.lower() == ONNX_SUFFIX
    limit = MAX_ONNX_FILE_BYTES if is_onnx else MAX_MODEL_FILE_BYTES
    # Read once: the bytes hashed are the bytes checked and loaded.
    data = read_bounded(model_path, limit, "The model file")
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.model_sha256:
        raise BundleError(
            f"The model file {model_path.name} does not match its card: SHA-256 is {digest}, "
            f"the card says {card.model_sha256}. The file was changed or replaced after the "
            "card was written; the bundle is refused."
        )
    if not is_onnx:  # an ONNX graph does not depend on the scikit-learn version
        check_sklearn_version(card.library_versions.get("scikit-learn"))
    if is_pickle:
        message = (
            f"WARNING: {model_path.name} was loaded with pickle because the operator allowed "
            "it. Pickle can run arbitrary code; convert this model to skops."
        )
        # Four frames up: the caller of load_bundle, as when this ran inside _load_bundle.
        warnings.warn(message, UserWarning, stacklevel=4)
        notes.append(message)
        model = pickle.loads(data)
    elif model_path.suffix.lower() == ".skops":
        model = _load_skops(data, model_path.name)
    elif is_onnx:
        from caselens.model.onnx import OnnxClassifier

        model = OnnxClassifier(data, model_path.name)
    else:
        raise BundleError(
            f"The model file {model_path.name} has an unknown format; expected a .skops or "
            ".onnx file."
        )
    return model, digest, is_onnx


def _read_demo_cases(folder: Path) -> tuple[DemoCase, ...]:
    """The bundle's demo cases, or none when it has no demo cases file."""
    demo_cases: tuple[DemoCase, ...] = ()
    if os.path.lexists(folder / DEMO_CASES_FILE):
        raw = _read_json(folder / DEMO_CASES_FILE, "The demo cases")
        if not isinstance(raw, list):
            raise BundleError(f"The demo cases file ({DEMO_CASES_FILE}) must hold a list.")
        try:
            demo_cases = tuple(DemoCase.model_validate(item) for item in raw)
        except ValidationError as exc:
            raise BundleError(describe_validation_error("The demo cases file", exc)) from exc
    return demo_cases


def _load_bundle(folder: Path, *, allow_pickle: bool, trust: BundleTrust) -> ModelBundle:
    if not folder.is_dir():
        raise BundleError(f"There is no model bundle folder at {folder}.")
    _check_folder_entries(folder)
    # Before anything is parsed: a file changed after signing never reaches a parser.
    signature = enforce_bundle_signature(folder, trust)
    card = load_card(folder / CARD_FILE)
    schema = load_feature_schema(folder / FEATURES_FILE)
    model_path = _find_model_file(folder, card)
    notes: list[str] = []
    model, digest, is_onnx = _read_model(model_path, card, allow_pickle=allow_pickle, notes=notes)
    check_binary_classifier(model, schema)
    required = [*schema.names, OUTCOME_COLUMN]
    reference = _read_table(folder / REFERENCE_FILE, "The reference data", required)
    calibration = None
    if os.path.lexists(folder / CALIBRATION_FILE):
        calibration = _read_table(folder / CALIBRATION_FILE, "The calibration data", required)
    _check_model_answers(model, schema, reference, calibration, timed=not is_onnx)
    demo_cases = _read_demo_cases(folder)
    # Measured, not claimed: a disagreement is kept as a loud warning, never a refusal here,
    # so a bundle already in use stays visible; create and check refuse it.
    checked = check_card(card, schema, model, reference, calibration)
    notes.extend(checked.warnings())
    # How the inputs will be worded to patients: a warning, never a refusal (old bundles load).
    notes.extend(input_meaning_warnings(schema, card))
    return ModelBundle(
        path=folder,
        card=card,
        features=schema,
        model=model,
        reference=reference,
        calibration_data=calibration,
        demo_cases=demo_cases,
        model_sha256=digest,
        warnings=tuple(notes),
        measured_validation=checked.measured,
        card_problems=checked.problems,
        signature=signature,
        bundle_sha256=bundle_sha256(folder),
    )


def check_binary_classifier(model: Any, schema: FeatureSchema) -> None:
    """Refuse a model without ``predict_proba``, without two classes, or whose input columns
    differ from the feature schema's."""
    if not hasattr(model, "predict_proba"):
        raise BundleError("The model has no predict_proba method; CaseLens needs probabilities.")
    classes = list(getattr(model, "classes_", []))
    if len(classes) != 2:
        raise BundleError(
            f"The model must be a binary classifier (two classes), it has {len(classes)}."
        )
    names_in = getattr(model, "feature_names_in_", None)
    if names_in is not None and list(names_in) != schema.names:
        raise BundleError(
            "The model's input columns do not match the feature schema: model expects "
            f"{list(names_in)}, schema lists {schema.names}."
        )


def _check_model_answers(
    model: Any,
    schema: FeatureSchema,
    reference: pd.DataFrame,
    calibration: pd.DataFrame | None,
    *,
    timed: bool,
) -> None:
    """Refuse a model whose answers on the reference or calibration rows are not
    probabilities, or (``timed``: a skops model, which no time limit can stop mid-call) whose
    speed would stall a report (:func:`check_skops_speed`).

    The speed is measured on a report-sized batch (:data:`ESTIMATE_ROWS` rows: the reference
    rows, repeated if there are fewer) after a one-row call, so that a pipeline's fixed cost
    per call and its first-call imports are not taken for a cost per row.
    """
    from threadpoolctl import threadpool_limits

    for what, frame in (("reference", reference), ("calibration", calibration)):
        if frame is None or len(frame) == 0:
            continue
        rows = frame[schema.names]
        if timed and what == "reference" and len(rows) < ESTIMATE_ROWS:
            rows = rows.iloc[np.resize(np.arange(len(rows)), ESTIMATE_ROWS)]
        try:
            # One thread, as every other prediction of CaseLens (see card_check).
            with threadpool_limits(limits=1):
                if timed and what == "reference":
                    model.predict_proba(rows.iloc[:1])
                start = time.perf_counter()
                answer = model.predict_proba(rows)
                seconds = time.perf_counter() - start
            check_probabilities(answer, rows=len(rows))
        except (ModelOutputError, ModelBudgetError) as exc:
            raise BundleError(f"On the {what} data: {exc}") from exc
        except Exception:
            # A model that fails on its own reference rows is a finding of the card check
            # (caselens.model.card_check), reported there as before: not refused here.
            return
        if timed and what == "reference":
            check_skops_speed(seconds, len(rows))


def read_model_file(path: str | Path, *, allow_pickle: bool = False) -> Any:
    """Read a user's fitted estimator from a .skops or .onnx file (or pickle/joblib when allowed).

    Used by ``caselens bundle create``; the same trust rules as :func:`load_bundle` apply.
    """
    model_path = Path(path)
    suffix = model_path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        from caselens.model.onnx import OnnxClassifier

        return OnnxClassifier.from_file(model_path)
    if suffix == ".skops":
        return _load_skops(
            read_bounded(model_path, MAX_MODEL_FILE_BYTES, "The model file"), model_path.name
        )
    if suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise BundleError(
                f"{model_path.name} is a pickle/joblib file, which can run any code when "
                "opened; pass --allow-pickle only for a file you trust, or save it with skops."
            )
        warnings.warn(
            f"Loading {model_path.name} with pickle (operator allowed it).",
            UserWarning,
            stacklevel=2,
        )
        if suffix == ".joblib":  # joblib's own format (numpy arrays beside the pickle stream)
            import joblib

            return joblib.load(model_path)
        with open(model_path, "rb") as handle:
            return pickle.load(handle)
    raise BundleError(f"{model_path.name}: unknown model file format; expected .skops or .onnx.")
