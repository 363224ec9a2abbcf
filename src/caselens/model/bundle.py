"""Model bundles: a folder holding a fitted model, its card, its feature schema and reference data.

Layout of a bundle folder::

    model.skops          the fitted scikit-learn estimator (skops format; pickle only by opt-in)
    card.json            the model card (:class:`caselens.model.card.ModelCard`)
    features.json        the feature schema (:class:`caselens.model.features.FeatureSchema`)
    reference.parquet    held-out rows with an ``outcome`` column (0/1): the test split
    calibration.parquet  optional: the calibration split, with ``outcome`` (for conformal sets)
    demo_cases.json      optional: demonstration cases

Loading checks, in order, and refuses with a message that says which check failed and why:
no symbolic link or special file in the folder, card valid, feature schema valid, model file
a plain name inside the folder and of an allowed format, model file hash equal to the card's,
scikit-learn version compatible, every class, function and method inside the skops file on
CaseLens's allow-list (:mod:`caselens.model.file_check`), an ONNX graph within its compute
and memory budget (:mod:`caselens.model.budget`), and the model's answers on the reference
and calibration rows probabilities (:mod:`caselens.model.output_check`), a skops model fast
enough for a report. Every file is read with a size bound, and JSON with a nesting bound
(the ``MAX_*`` constants below). Any other failure
while loading is turned into a :class:`BundleError` naming the bundle: a bad bundle is
refused alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops.io as sio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from caselens.model.card import ModelCard, Validation
from caselens.model.card_check import check_card, input_meaning_warnings, refusal_message
from caselens.model.features import FeatureSchema
from caselens.model.file_check import MAX_MODEL_FILE_BYTES, load_checked_skops

# Re-exported: the built-in classes and types a model file may name (see model_file_trust).
from caselens.model.file_trust import TRUSTED_TYPES as TRUSTED_TYPES
from caselens.model.leakage import outcome_named_inputs
from caselens.model.onnx import MAX_ONNX_FILE_BYTES, ONNX_MODEL_FILE, ONNX_SUFFIX
from caselens.model.output_check import ModelOutputError, check_probabilities

CARD_FILE = "card.json"
FEATURES_FILE = "features.json"
REFERENCE_FILE = "reference.parquet"
CALIBRATION_FILE = "calibration.parquet"
DEMO_CASES_FILE = "demo_cases.json"
SKOPS_MODEL_FILE = "model.skops"
OUTCOME_COLUMN = "outcome"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

#: Most features a schema may list (the feature schema check is quadratic in this).
MAX_FEATURES = 500
#: Largest reference or calibration parquet file on disk.
MAX_TABLE_FILE_BYTES = 256 * 1024 * 1024
#: Most rows, and largest uncompressed size, a reference or calibration table may declare
#: in its parquet metadata — checked before the table is decoded.
MAX_TABLE_ROWS = 2_000_000
MAX_TABLE_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
#: Permissions of a bundle folder written by create_bundle (readable by the app's user).
BUNDLE_FOLDER_MODE = 0o755
#: Most entries (files and folders, at any depth) a bundle folder may hold.
MAX_BUNDLE_ENTRIES = 1_000


class DemoCase(BaseModel):
    """A demonstration patient shipped beside a sample bundle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str = Field(pattern=r"^[A-Za-z0-9-]+$")
    title: str
    description: str
    inputs: dict[str, Any]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelBundle:
    """A loaded, checked model bundle. Treat as read-only.

    Attributes
    ----------
    path : Path
        The bundle folder.
    card : ModelCard
    features : FeatureSchema
    model : estimator
        Fitted classifier with ``predict_proba`` taking a DataFrame of the clinical inputs
        (columns = ``features.names``) and returning calibrated class probabilities.
    reference : DataFrame
        Held-out rows (feature columns + ``outcome``).
    calibration_data : DataFrame or None
        The calibration split, if the bundle has it.
    demo_cases : tuple of DemoCase
    model_sha256 : str
        SHA-256 of the model file as loaded (equal to the card's).
    warnings : tuple of str
        Loud warnings raised while loading (e.g. pickle allowed by the operator, or a card
        figure the reference data does not bear out).
    measured_validation : Validation or None
        The validation figures measured on the reference data with this model when it was
        loaded (:mod:`caselens.model.card_check`); show these, not the card's. None only when the
        reference data could not be scored.
    card_problems : tuple of str
        Where the card disagrees with the reference data, or reference rows the schema
        refuses. Empty for a sound bundle; ``bundle create``/``check`` refuse otherwise.
    """

    path: Path
    card: ModelCard
    features: FeatureSchema
    model: Any = field(repr=False)
    reference: pd.DataFrame = field(repr=False)
    calibration_data: pd.DataFrame | None = field(repr=False)
    demo_cases: tuple[DemoCase, ...]
    model_sha256: str
    warnings: tuple[str, ...] = ()
    measured_validation: Validation | None = field(default=None, repr=False)
    card_problems: tuple[str, ...] = ()

    @property
    def model_id(self) -> str:
        """The model's id from its card, e.g. ``readmission-30d``."""
        return self.card.model_id

    @property
    def version(self) -> str:
        """The model's version from its card."""
        return self.card.version

    def demo_case(self, case_id: str) -> DemoCase:
        """The demo case with this id (raises ``BundleError`` naming the known ids)."""
        for case in self.demo_cases:
            if case.case_id == case_id:
                return case
        known = ", ".join(c.case_id for c in self.demo_cases) or "none"
        raise BundleError(
            f"Demo case '{case_id}' is not in bundle {self.model_id} (known: {known})."
        )

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        """Calibrated probability of the outcome for each row (1-D array)."""
        return self.model.predict_proba(frame[self.features.names])[:, 1]


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe_validation_error(source: str, exc: ValidationError) -> str:
    problems = [f"field '{_field_path(e['loc'])}': {e['msg']}" for e in exc.errors()]
    return f"{source} is invalid — " + "; ".join(problems)


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
        raise CardError(_describe_validation_error(f"The model card {path.name}", exc)) from exc


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
            _describe_validation_error(f"The feature schema {path.name}", exc)
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


def load_bundle(path: str | Path, *, allow_pickle: bool = False) -> ModelBundle:
    """Load and check a model bundle folder.

    Parameters
    ----------
    path : str or Path
        The bundle folder.
    allow_pickle : bool, default False
        Let a ``.pkl``/``.pickle``/``.joblib`` model file load. Pickle runs arbitrary code
        on load: only for files the operator trusts. A loud warning is kept in the bundle.

    Returns
    -------
    ModelBundle

    Raises
    ------
    BundleError
        With a message naming the failed check (hash, card field, untrusted item in the
        model file, a size/depth limit, a link, pickle, scikit-learn version, missing file).
        Any other failure while loading is wrapped in a ``BundleError`` naming the bundle,
        so one bad bundle can never take down the caller.
    """
    folder = Path(path)
    try:
        return _load_bundle(folder, allow_pickle=allow_pickle)
    except BundleError:
        raise
    except Exception as exc:  # RecursionError and MemoryError included: refuse, never crash
        raise BundleError(
            f"The model bundle {folder.name} could not be loaded: {type(exc).__name__}: {exc}"[
                :2000
            ]
        ) from exc


def _load_bundle(folder: Path, *, allow_pickle: bool) -> ModelBundle:
    if not folder.is_dir():
        raise BundleError(f"There is no model bundle folder at {folder}.")
    _check_folder_entries(folder)
    card = load_card(folder / CARD_FILE)
    schema = load_feature_schema(folder / FEATURES_FILE)
    model_path = _find_model_file(folder, card)
    notes: list[str] = []
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
        warnings.warn(message, UserWarning, stacklevel=3)
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
    _check_model(model, schema)
    required = [*schema.names, OUTCOME_COLUMN]
    reference = _read_table(folder / REFERENCE_FILE, "The reference data", required)
    calibration = None
    if os.path.lexists(folder / CALIBRATION_FILE):
        calibration = _read_table(folder / CALIBRATION_FILE, "The calibration data", required)
    _check_model_answers(model, schema, reference, calibration, timed=not is_onnx)
    demo_cases: tuple[DemoCase, ...] = ()
    if os.path.lexists(folder / DEMO_CASES_FILE):
        raw = _read_json(folder / DEMO_CASES_FILE, "The demo cases")
        if not isinstance(raw, list):
            raise BundleError(f"The demo cases file ({DEMO_CASES_FILE}) must hold a list.")
        try:
            demo_cases = tuple(DemoCase.model_validate(item) for item in raw)
        except ValidationError as exc:
            raise BundleError(_describe_validation_error("The demo cases file", exc)) from exc
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
    )


def _check_model(model: Any, schema: FeatureSchema) -> None:
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
    required = [*schema.names, OUTCOME_COLUMN]
    missing = [c for c in required if c not in reference.columns]
    if missing:
        raise BundleError(f"The reference data lacks column(s): {', '.join(missing)}.")
    if calibration_data is not None:
        missing = [c for c in required if c not in calibration_data.columns]
        if missing:
            raise BundleError(f"The calibration data lacks column(s): {', '.join(missing)}.")
    _check_model(model, schema)
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
        raise CardError(_describe_validation_error("The model card", exc)) from exc
    cases = [
        c.model_dump(mode="json") if isinstance(c, DemoCase) else _demo_case(c) for c in demo_cases
    ]
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Beside the target, so the final rename stays on one file system (atomic).
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        (scratch / model_file).write_bytes(model_bytes)
        _write_json(scratch / FEATURES_FILE, schema.model_dump(mode="json"))
        reference[required].to_parquet(scratch / REFERENCE_FILE, index=False)
        if calibration_data is not None:
            calibration_data[required].to_parquet(scratch / CALIBRATION_FILE, index=False)
        if cases:
            _write_json(scratch / DEMO_CASES_FILE, cases)
        # The card last: a folder is only taken for a bundle once it holds a card.json.
        # A card without a monitoring plan is written as before it could hold one.
        unset = {"monitoring"} if checked.monitoring is None else None
        _write_json(scratch / CARD_FILE, checked.model_dump(mode="json", exclude=unset))
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
        raise BundleError(_describe_validation_error("A demo case", exc)) from exc


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
        raise BundleError(_describe_validation_error("The feature schema", exc)) from exc


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def discover_bundles(folder: str | Path) -> list[Path]:
    """Bundle folders (those holding a card.json) directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CARD_FILE).is_file())


@dataclass(frozen=True)
class BundleCatalogue:
    """The bundles a models folder offers, and those refused (folder name -> reason).

    Attributes
    ----------
    bundles : dict of str to ModelBundle
        Loaded bundles by model id.
    refused : dict of str to str
        Refused bundle folders by folder name, with the reason.
    """

    bundles: dict[str, ModelBundle]
    refused: dict[str, str]


def load_catalogue(folder: str | Path, *, allow_pickle: bool = False) -> BundleCatalogue:
    """Load every bundle in ``folder``; a bundle that fails is refused alone, never fatal.

    Parameters
    ----------
    folder : str or Path
        The models folder (each bundle is a sub-folder holding a card.json).
    allow_pickle : bool, default False
        Passed to :func:`load_bundle`.

    Returns
    -------
    BundleCatalogue
        The good bundles by model id, and every refused folder with its reason. A second
        folder claiming a model id already loaded is refused, not silently swapped in.
    """
    bundles: dict[str, ModelBundle] = {}
    refused: dict[str, str] = {}
    for path in discover_bundles(folder):
        try:
            bundle = load_bundle(path, allow_pickle=allow_pickle)
        except Exception as exc:  # load_bundle wraps everything; this is the last guard
            refused[path.name] = str(exc) or type(exc).__name__
            continue
        if bundle.model_id in bundles:
            refused[path.name] = (
                f"The model id {bundle.model_id} is already served by the bundle folder "
                f"{bundles[bundle.model_id].path.name}; model ids must be unique."
            )
            continue
        bundles[bundle.model_id] = bundle
    return BundleCatalogue(bundles=bundles, refused=refused)
