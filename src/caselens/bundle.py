"""Model bundles: a folder holding a fitted model, its card, its feature schema and reference data.

Layout of a bundle folder::

    model.skops          the fitted scikit-learn estimator (skops format; pickle only by opt-in)
    card.json            the model card (:class:`caselens.model_card.ModelCard`)
    features.json        the feature schema (:class:`caselens.features.FeatureSchema`)
    reference.parquet    held-out rows with an ``outcome`` column (0/1): the test split
    calibration.parquet  optional: the calibration split, with ``outcome`` (for conformal sets)
    demo_cases.json      optional: demonstration cases

Loading checks, in order, and refuses with a message that says which check failed and why:
card valid, feature schema valid, model file format allowed, model file hash equal to the
card's, scikit-learn version compatible, every type inside the skops file trusted.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
import skops.io as sio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caselens.errors import BundleError, CardError
from caselens.features import FeatureSchema
from caselens.model_card import ModelCard

CARD_FILE = "card.json"
FEATURES_FILE = "features.json"
REFERENCE_FILE = "reference.parquet"
CALIBRATION_FILE = "calibration.parquet"
DEMO_CASES_FILE = "demo_cases.json"
SKOPS_MODEL_FILE = "model.skops"
OUTCOME_COLUMN = "outcome"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

#: Types a skops model file may contain beyond skops' own defaults. An explicit list: a file
#: that needs anything else is refused and the type is named. Extend it deliberately.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._column_transformer._RemainderColsList",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.utils._bunch.Bunch",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "builtins.slice",
    "builtins.object",
    "builtins.str",
    "builtins.float",
    "builtins.int",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "collections.OrderedDict",
    "scipy.interpolate._interpolate.interp1d",
    # A ColumnTransformer's "passthrough" remainder is stored as FunctionTransformer(func=None);
    # any function it wraps is listed as its own type, so trusting the class admits no code.
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "numpy.random._generator.Generator",
    "numpy.uint64",
    # skops lists wrapped functions separately, so trusting partial only admits vetted callables.
    "functools.partial",
    "sklearn.utils.validation.check_array",
)


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
        Loud warnings raised while loading (e.g. pickle allowed by the operator).
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
    if not path.is_file():
        raise BundleError(f"{what} is missing: expected the file {path}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{what} ({path.name}) is not valid UTF-8 JSON: {exc}.") from exc


def load_card(path: Path) -> ModelCard:
    """Read and validate a model card file; an invalid card is refused naming the field."""
    data = _read_json(path, "The model card")
    try:
        return ModelCard.model_validate(data)
    except ValidationError as exc:
        raise CardError(_describe_validation_error(f"The model card {path.name}", exc)) from exc


def load_feature_schema(path: Path) -> FeatureSchema:
    """Read and validate a feature schema file."""
    data = _read_json(path, "The feature schema")
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


def types_in_skops_file(path: Path) -> set[str]:
    """Every type and function a skops file would construct, as 'module.name'.

    Read from the file's schema without loading anything, so the check covers the whole
    file — including the scikit-learn types skops itself would trust by default.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"The model file {path.name} is not a readable skops file: {exc}."
        ) from exc
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _load_skops(path: Path) -> Any:
    refused = sorted(types_in_skops_file(path) - set(TRUSTED_TYPES))
    if refused:
        raise BundleError(
            f"The model file {path.name} contains type(s) that CaseLens does not trust: "
            f"{', '.join(refused)}. Only the types in caselens.bundle.TRUSTED_TYPES are loaded; "
            "review the model and extend that list deliberately if it is safe."
        )
    try:
        # Trust exactly what skops would otherwise refuse among the vetted types found.
        return sio.load(path, trusted=sio.get_untrusted_types(file=path))
    except Exception as exc:  # a corrupt file: skops raises many kinds
        raise BundleError(f"The model file {path.name} could not be loaded: {exc}.") from exc


def _find_model_file(folder: Path, card: ModelCard) -> Path:
    model_path = folder / card.model_file
    if not model_path.is_file():
        raise BundleError(f"The model file named in the card ({card.model_file}) is missing.")
    return model_path


def _read_table(path: Path, what: str, required: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise BundleError(f"{what} is missing: expected the file {path.name}.")
    try:
        frame = pd.read_parquet(path)
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
        With a message naming the failed check (hash, card field, untrusted type, pickle,
        scikit-learn version, missing file).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(f"There is no model bundle folder at {folder}.")
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
    digest = sha256_file(model_path)
    if digest != card.model_sha256:
        raise BundleError(
            f"The model file {model_path.name} does not match its card: SHA-256 is {digest}, "
            f"the card says {card.model_sha256}. The file was changed or replaced after the "
            "card was written; the bundle is refused."
        )
    check_sklearn_version(card.library_versions.get("scikit-learn"))
    if is_pickle:
        message = (
            f"WARNING: {model_path.name} was loaded with pickle because the operator allowed "
            "it. Pickle can run arbitrary code; convert this model to skops."
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        notes.append(message)
        with open(model_path, "rb") as handle:
            model = pickle.load(handle)
    elif model_path.suffix.lower() == ".skops":
        model = _load_skops(model_path)
    else:
        raise BundleError(
            f"The model file {model_path.name} has an unknown format; expected a .skops file."
        )
    _check_model(model, schema)
    required = [*schema.names, OUTCOME_COLUMN]
    reference = _read_table(folder / REFERENCE_FILE, "The reference data", required)
    calibration = None
    if (folder / CALIBRATION_FILE).is_file():
        calibration = _read_table(folder / CALIBRATION_FILE, "The calibration data", required)
    demo_cases: tuple[DemoCase, ...] = ()
    if (folder / DEMO_CASES_FILE).is_file():
        raw = _read_json(folder / DEMO_CASES_FILE, "The demo cases")
        try:
            demo_cases = tuple(DemoCase.model_validate(item) for item in raw)
        except ValidationError as exc:
            raise BundleError(_describe_validation_error("The demo cases file", exc)) from exc
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


def read_model_file(path: str | Path, *, allow_pickle: bool = False) -> Any:
    """Read a user's fitted estimator from a .skops file (or pickle/joblib when allowed).

    Used by ``caselens bundle create``; the same trust rules as :func:`load_bundle` apply.
    """
    model_path = Path(path)
    suffix = model_path.suffix.lower()
    if suffix == ".skops":
        return _load_skops(model_path)
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
        with open(model_path, "rb") as handle:
            return pickle.load(handle)
    raise BundleError(f"{model_path.name}: unknown model file format; expected .skops.")


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
    out. The finished folder is loaded back with :func:`load_bundle` before returning, so
    what is written is exactly what will load.

    Raises
    ------
    BundleError
        If the folder exists (and ``overwrite`` is False), the card or schema is invalid, the
        reference data lacks a column, or the model cannot be saved safely.
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise BundleError(f"The folder {folder} already exists and is not empty.")
    schema = features if isinstance(features, FeatureSchema) else _validate_schema_mapping(features)
    required = [*schema.names, OUTCOME_COLUMN]
    missing = [c for c in required if c not in reference.columns]
    if missing:
        raise BundleError(f"The reference data lacks column(s): {', '.join(missing)}.")
    _check_model(model, schema)
    card_data = card.model_dump(mode="json") if isinstance(card, ModelCard) else dict(card)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / SKOPS_MODEL_FILE
    model_path.write_bytes(_reproducible_zip(sio.dumps(model)))
    card_data.update(
        model_file=SKOPS_MODEL_FILE,
        model_sha256=sha256_file(model_path),
        library_versions=library_versions(),
    )
    try:
        checked = ModelCard.model_validate(card_data)
    except ValidationError as exc:
        model_path.unlink(missing_ok=True)
        raise CardError(_describe_validation_error("The model card", exc)) from exc
    _write_json(folder / CARD_FILE, checked.model_dump(mode="json"))
    _write_json(folder / FEATURES_FILE, schema.model_dump(mode="json"))
    reference[required].to_parquet(folder / REFERENCE_FILE, index=False)
    if calibration_data is not None:
        calibration_data[required].to_parquet(folder / CALIBRATION_FILE, index=False)
    if demo_cases:
        cases = [
            c.model_dump(mode="json")
            if isinstance(c, DemoCase)
            else DemoCase(**c).model_dump(mode="json")
            for c in demo_cases
        ]
        _write_json(folder / DEMO_CASES_FILE, cases)
    return load_bundle(folder)


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
