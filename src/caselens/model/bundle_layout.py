"""A bundle folder's layout and limits, a demo case, and :class:`ModelBundle`: what a loaded,
checked bundle holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caselens.errors import BundleError
from caselens.model.card import ModelCard, Validation
from caselens.model.features import FeatureSchema

if TYPE_CHECKING:
    from caselens.model.bundle_signing import BundleSignature

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
    signature : BundleSignature or None
        How the publisher's signature stood when the bundle was loaded
        (:mod:`caselens.model.bundle_signing`); None for a bundle not loaded from a folder.
    bundle_sha256 : str
        The version id: SHA-256 over every file of the bundle folder
        (:mod:`caselens.model.bundle_digest`); empty for a bundle not loaded from a folder.
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
    signature: BundleSignature | None = None
    bundle_sha256: str = ""

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


def describe_validation_error(source: str, exc: ValidationError) -> str:
    problems = [f"field '{_field_path(e['loc'])}': {e['msg']}" for e in exc.errors()]
    return f"{source} is invalid — " + "; ".join(problems)
