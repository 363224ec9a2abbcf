"""One command from data to bundle: ``caselens bundle create --train … --test …``.

From a fitted model file, the training and test splits (and optionally the calibration
split) and a card file holding what only people can say, this computes everything that can be
measured — the validation figures overall, per subgroup and for intersections of two subgroup
variables, the calibration figures, the feature schema, the HTI-1 attributes that follow from
them — and writes a bundle with :func:`caselens.model.bundle.create_bundle`, which checks every
claim against the reference data and writes nothing unless the bundle is sound.

Whatever the card file leaves out that a person must write becomes an explicit
``TO COMPLETE: …`` placeholder; ``caselens bundle check`` lists them all at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caselens.authoring.card_statements import card_statement_problems
from caselens.authoring.card_template import card_template
from caselens.authoring.card_text import build_card
from caselens.authoring.data_files import read_card_file, read_data_file, read_demo_cases_file
from caselens.authoring.demo_cases import DEFAULT_DEMO_CASES, pick_demo_cases
from caselens.authoring.fhir_mapping_file import merge_fhir_mappings, read_fhir_mapping_file
from caselens.authoring.schema_draft import draft_schema
from caselens.errors import BundleError
from caselens.model.bundle import (
    OUTCOME_COLUMN,
    ModelBundle,
    create_bundle,
    read_model_file,
)
from caselens.model.features import FeatureSchema
from caselens.model.leakage import leakage_problems, outcome_named_inputs
from caselens.model.output_check import check_probabilities

# The names callers import from here; each lives in the module that does its job.
__all__ = [
    "DEFAULT_DEMO_CASES",
    "BuildResult",
    "build_bundle",
    "build_card",
    "card_template",
    "pick_demo_cases",
    "read_card_file",
    "read_data_file",
    "read_demo_cases_file",
]


@dataclass(frozen=True)
class BuildResult:
    """A bundle made by :func:`build_bundle`, and what a person should still do.

    Attributes
    ----------
    bundle : ModelBundle
    to_complete : tuple of str
        Card fields still holding a 'TO COMPLETE' placeholder.
    to_review : tuple of str
        Features whose labels are still the column name.
    notes : tuple of str
        What the build could not do (e.g. no test row had a missing value for a demo case).
    """

    bundle: ModelBundle
    to_complete: tuple[str, ...]
    to_review: tuple[str, ...]
    notes: tuple[str, ...]


def _outcome(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame.columns:
        raise BundleError(
            f"{what} has no outcome column '{column}' (columns: "
            f"{', '.join(map(str, frame.columns))})."
        )
    values = frame[column]
    bad = [
        i + 1
        for i, v in enumerate(values.tolist())
        if not isinstance(v, int | float | np.integer | np.floating)
        or isinstance(v, bool)
        or (isinstance(v, float) and math.isnan(v))
        or float(v) not in (0.0, 1.0)
    ]
    if bad:
        shown = ", ".join(str(r) for r in bad[:10])
        raise BundleError(
            f"{what}: the outcome column '{column}' must be 0 or 1 in every row; rows {shown}"
            f"{' …' if len(bad) > 10 else ''} are not (rows counted from 1, header not counted)."
        )
    return values.to_numpy().astype(int)


# -- label leakage and degenerate splits ---------------------------------------------------------


def _refuse_outcome_as_input(names: Sequence[str], outcome: str) -> None:
    """Refuse a model that takes the outcome column (or the bundle's ``outcome``) as an input.

    Checked before the splits are prepared: an input named ``outcome`` would otherwise be
    overwritten by the outcome itself when the bundle's reference data is written.
    """
    named = outcome_named_inputs(names, (outcome, OUTCOME_COLUMN), "the model's inputs")
    if named:
        raise BundleError(_leakage_refusal(named))


def _refuse_leakage(names: Sequence[str], outcome: str, prepared: Mapping[str, Any]) -> None:
    """Refuse a test or calibration split with one outcome class or too few events, or with
    an input that predicts the outcome perfectly (:mod:`caselens.model.leakage`), before anything
    is measured on it."""
    problems: list[str] = []
    for what, frame in prepared.items():
        if what == "The training data":
            continue
        y = frame[OUTCOME_COLUMN].to_numpy()
        problems += leakage_problems(
            frame, names, y, what.lower(), outcomes=(outcome, OUTCOME_COLUMN)
        )
    if problems:
        raise BundleError(_leakage_refusal(problems))


def _leakage_refusal(problems: Sequence[str]) -> str:
    return (
        f"The bundle is refused: {len(problems)} problem(s) of label leakage or of a held-out "
        "split that cannot support figures:\n" + "\n".join(f"- {p}" for p in problems)
    )


def _read_splits(
    train_path: str | Path, test_path: str | Path, calibration_path: str | Path | None
) -> dict[str, pd.DataFrame]:
    """The data files, keyed by their role in messages (training, test, calibration)."""
    frames = {"The training data": read_data_file(train_path, "The training data")}
    frames["The test data"] = read_data_file(test_path, "The test data")
    if calibration_path is not None:
        frames["The calibration data"] = read_data_file(calibration_path, "The calibration data")
    return frames


def _prepared_splits(
    model: Any, frames: Mapping[str, pd.DataFrame], outcome: str
) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """The model's input names, and each split as those inputs plus the 0/1 outcome.

    Raises
    ------
    BundleError
        If the outcome is an input, a split lacks an input or a 0/1 outcome, or a held-out
        split leaks the label or cannot support figures.
    """
    train = frames["The training data"]
    names_in = getattr(model, "feature_names_in_", None)
    names = (
        [str(n) for n in names_in]
        if names_in is not None
        else [str(c) for c in train.columns if c != outcome]
    )
    _refuse_outcome_as_input(names, outcome)
    prepared = {}
    for what, frame in frames.items():
        lacking = [n for n in names if n not in frame.columns]
        if lacking:
            raise BundleError(f"{what} lacks the model's input column(s): {', '.join(lacking)}.")
        y = _outcome(frame, outcome, what)
        prepared[what] = frame[names].assign(**{OUTCOME_COLUMN: y}).reset_index(drop=True)
    _refuse_leakage(names, outcome, prepared)
    return names, prepared


def _test_risks(model: Any, test: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The model's predicted risk for each test row, checked before any figure uses it."""
    try:
        # Checked first: a NaN or non-summing answer is named, never a figure's traceback.
        return check_probabilities(model.predict_proba(test[names]), rows=len(test))[:, 1]
    except Exception as exc:  # the user's model failing on the user's data: say so plainly
        raise BundleError(
            f"The model could not score the test data: {type(exc).__name__}: {exc}"[:1000]
        ) from exc


def _demo_cases(
    demo_cases: int | str | Path | None,
    schema: FeatureSchema,
    test: pd.DataFrame,
    p_test: np.ndarray,
    *,
    threshold: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Demo cases picked from the test split (a number) or read from a file, and notes."""
    if isinstance(demo_cases, int):
        return pick_demo_cases(schema, test, p_test, count=demo_cases, threshold=threshold)
    if demo_cases is not None:
        return read_demo_cases_file(demo_cases, schema), []
    return [], []


def build_bundle(
    *,
    model_path: str | Path,
    train_path: str | Path,
    test_path: str | Path,
    outcome: str,
    card_path: str | Path,
    out: str | Path,
    calibration_path: str | Path | None = None,
    demo_cases: int | str | Path | None = DEFAULT_DEMO_CASES,
    allow_pickle: bool = False,
    fhir_mapping_path: str | Path | None = None,
) -> BuildResult:
    """Make a bundle from a model file, data files and a card file (``bundle create``).

    Parameters
    ----------
    model_path : str or Path
        A .skops file, checked against CaseLens's allow-list (pickle only with
        ``allow_pickle``).
    train_path, test_path, calibration_path : str or Path
        CSV or Parquet files with the model's input columns and the outcome column. The test
        split becomes the bundle's reference data.
    outcome : str
        The outcome column (0/1) in each data file.
    card_path : str or Path
        The card file (TOML or JSON; see ``caselens bundle init``).
    out : str or Path
        The bundle folder to write; it must not exist or must be empty.
    demo_cases : int, path or None
        How many demo cases to pick from the test split, or a JSON file of them; None: none.
    allow_pickle : bool
    fhir_mapping_path : str or Path, optional
        A FHIR mapping file (feature name → mapping) merged into the drafted schema; see
        :mod:`caselens.authoring.fhir_mapping_file`.

    Returns
    -------
    BuildResult

    Raises
    ------
    BundleError
        Naming the file, column, row or card field that is wrong. Nothing is written then.
    """
    # The mapping file first: a bad one is refused before the slow steps.
    mappings = read_fhir_mapping_file(Path(fhir_mapping_path)) if fhir_mapping_path else None
    model = read_model_file(model_path, allow_pickle=allow_pickle)
    card_file = read_card_file(card_path)
    frames = _read_splits(train_path, test_path, calibration_path)
    names, prepared = _prepared_splits(model, frames, outcome)
    train, test = prepared["The training data"], prepared["The test data"]
    calibration = prepared.get("The calibration data")
    others = [test] + ([calibration] if calibration is not None else [])
    overrides = card_file.get("features") or {}
    if not isinstance(overrides, Mapping):
        raise BundleError("The card file's features section must be a table (one per input).")
    draft = draft_schema(train, names, other_splits=others, overrides=overrides)
    schema = merge_fhir_mappings(draft.schema, mappings) if mappings else draft.schema
    # What the owners state about the model's use, checked before anything is measured.
    statements = card_statement_problems(card_file, schema)
    if statements:
        raise BundleError(
            f"The card file's statements do not fit ({len(statements)} problem(s)):\n"
            + "\n".join(f"- {p}" for p in statements)
        )
    p_test = _test_risks(model, test, names)
    card = build_card(
        card_file,
        model=model,
        draft=draft,
        train=train,
        test=test,
        calibration=calibration,
        p_test=p_test,
    )
    cases, notes = _demo_cases(
        demo_cases, schema, test, p_test, threshold=card["decision_threshold"]
    )
    bundle = create_bundle(
        model,
        card=card,
        features=schema,
        reference=test,
        calibration_data=calibration,
        demo_cases=cases,
        path=out,
    )
    return BuildResult(
        bundle=bundle,
        to_complete=tuple(bundle.card.to_complete_fields()),
        to_review=draft.to_review,
        notes=tuple(notes),
    )
