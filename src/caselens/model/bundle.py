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

This module is the face of the bundle's parts, each with one job: the layout, limits and
:class:`ModelBundle` (:mod:`.bundle_layout`), reading with every check (:mod:`.bundle_read`),
writing (:mod:`.bundle_write`) and the catalogue of a models folder (:mod:`.catalogue`).
"""

from __future__ import annotations

from caselens.model.bounded import MAX_BUNDLE_JSON_BYTES, MAX_BUNDLE_JSON_DEPTH, MAX_TEXT_CHARS
from caselens.model.bundle_layout import (
    BUNDLE_FOLDER_MODE,
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
    SKOPS_MODEL_FILE,
    DemoCase,
    ModelBundle,
    sha256_file,
)
from caselens.model.bundle_read import (
    check_sklearn_version,
    load_bundle,
    load_card,
    load_feature_schema,
    read_model_file,
)
from caselens.model.bundle_write import create_bundle, library_versions
from caselens.model.catalogue import BundleCatalogue, discover_bundles, load_catalogue
from caselens.model.file_check import MAX_MODEL_FILE_BYTES

# The built-in classes and types a model file may name (see caselens.model.file_trust).
from caselens.model.file_trust import TRUSTED_TYPES

__all__ = [
    "BUNDLE_FOLDER_MODE",
    "CALIBRATION_FILE",
    "CARD_FILE",
    "DEMO_CASES_FILE",
    "FEATURES_FILE",
    "MAX_BUNDLE_ENTRIES",
    "MAX_BUNDLE_JSON_BYTES",
    "MAX_BUNDLE_JSON_DEPTH",
    "MAX_FEATURES",
    "MAX_MODEL_FILE_BYTES",
    "MAX_TABLE_FILE_BYTES",
    "MAX_TABLE_ROWS",
    "MAX_TABLE_UNCOMPRESSED_BYTES",
    "MAX_TEXT_CHARS",
    "OUTCOME_COLUMN",
    "PICKLE_SUFFIXES",
    "REFERENCE_FILE",
    "SKOPS_MODEL_FILE",
    "TRUSTED_TYPES",
    "BundleCatalogue",
    "DemoCase",
    "ModelBundle",
    "check_sklearn_version",
    "create_bundle",
    "discover_bundles",
    "library_versions",
    "load_bundle",
    "load_card",
    "load_catalogue",
    "load_feature_schema",
    "read_model_file",
    "sha256_file",
]
