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

import datetime as dt
import itertools
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caselens.authoring.schema_draft import SchemaDraft, draft_schema
from caselens.errors import BundleError, CaseValidationError
from caselens.explain.cases import validate_inputs
from caselens.model.bundle import (
    OUTCOME_COLUMN,
    DemoCase,
    ModelBundle,
    create_bundle,
    read_model_file,
)
from caselens.model.card import (
    HTI1_SOURCE_ATTRIBUTES,
    TO_COMPLETE_MARK,
    SubgroupPerformance,
    to_complete,
)
from caselens.model.card_check import (
    NOT_RECORDED_GROUP,
    group_labels,
    intersection_figures,
    subgroup_figures,
)
from caselens.model.description import CALIBRATION_METHODS, calibration_method, describe_model
from caselens.model.features import FeatureSchema
from caselens.model.leakage import leakage_problems, outcome_named_inputs
from caselens.model.output_check import check_probabilities
from caselens.model.performance import performance_figures

#: Largest training, test or calibration file read (CSV or Parquet).
MAX_DATA_FILE_BYTES = 512 * 1024 * 1024
#: Largest card file or demo-cases file.
MAX_TEXT_FILE_BYTES = 2 * 1024 * 1024
#: An intersection of two subgroups is reported only with at least this many patients and
#: this many events (and non-events): below that its figures are noise.
INTERSECTION_MIN_N = 100
INTERSECTION_MIN_EVENTS = 10
#: Demo cases picked when ``--demo-cases`` gives no number.
DEFAULT_DEMO_CASES = 8
DEFAULT_REVIEW_INTERVAL_DAYS = 365
DEFAULT_ECE_BINS = 10
DEFAULT_SEED = 0
#: Card fields the user must state: no default would be true for every model.
REQUIRED_CARD_FIELDS: tuple[str, ...] = (
    "model_id",
    "name",
    "version",
    "demonstration_only",
    "decision_threshold",
    "release_date",
    "last_review_date",
)
#: Card fields CaseLens computes from the data; a card file that sets one is refused, so a
#: figure is never both claimed and measured.
COMPUTED_CARD_FIELDS: tuple[str, ...] = (
    "model_file",
    "model_sha256",
    "library_versions",
    "validation.overall",
    "validation.subgroups",
    "validation.threshold_used",
    "training_data.n_train",
    "training_data.n_calibration",
    "training_data.n_test",
    "calibration.candidates",
    "source_attributes.validity_internal_test",
    "source_attributes.fairness_internal_test",
)
_TEXT_FIELDS = {
    "summary": "one or two sentences on what the model does",
    "owner": "who is responsible for the model",
    "contact": "how to reach the owner",
    "intended_use": "the clinical task and setting the model is for",
    "intended_users": "who should use it (e.g. ward clinicians)",
    "target_population": "the patients it is meant for",
    "threshold_rationale": "why the decision threshold is where it is",
}
_OUTCOME_FIELDS = {
    "name": "the outcome in clinical words, e.g. 'In-hospital death'",
    "definition": "how the outcome was defined in the data",
    "time_window": "over what time, e.g. 'within 30 days of admission'",
    "patient_wording": "completes 'About X out of 100 people like you …'",
    "positive_label": "the outcome happening, e.g. 'Died in hospital'",
    "negative_label": "the outcome not happening, e.g. 'Survived'",
}
_TRAINING_FIELDS = {
    "source": "where the data came from",
    "citation": "how to cite the data",
    "licence": "the data's licence or agreement",
    "dates": "the period the data covers",
    "setting": "the clinical setting (hospital, country, ward)",
    "population": "who was in the data",
    "inclusion_exclusion": "who was included and excluded, and why",
    "under_represented": "who was missing or under-represented",
}


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


# -- reading files -----------------------------------------------------------------------------


def _check_size(path: Path, limit: int, what: str) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BundleError(f"{what} {path} cannot be read: {exc.strerror or exc}.") from exc
    if size > limit:
        raise BundleError(f"{what} {path.name} is {size:,} bytes; the limit is {limit:,} bytes.")


def read_data_file(path: str | Path, what: str) -> pd.DataFrame:
    """A CSV or Parquet data file as a DataFrame; any failure names the file.

    Parameters
    ----------
    path : str or Path
    what : str
        The file's role in messages, e.g. ``"The training data"``.
    """
    file = Path(path)
    _check_size(file, MAX_DATA_FILE_BYTES, what)
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(file)
        if suffix == ".csv":
            return pd.read_csv(file)
    except Exception as exc:  # a parser's error becomes a message naming the file
        raise BundleError(f"{what} ({file.name}) could not be read: {exc}.") from exc
    raise BundleError(f"{what} ({file.name}) must be a .csv or .parquet file.")


def read_card_file(path: str | Path) -> dict[str, Any]:
    """The card file (TOML, or JSON with the same field names) as a dict."""
    file = Path(path)
    _check_size(file, MAX_TEXT_FILE_BYTES, "The card file")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"The card file {file.name} could not be read: {exc}.") from exc
    if not isinstance(data, dict):
        raise BundleError(f"The card file {file.name} must hold a table of fields.")
    return data


def read_demo_cases_file(path: str | Path, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Demo cases from a JSON list of {case_id, title, description, inputs}, each validated."""
    file = Path(path)
    _check_size(file, MAX_TEXT_FILE_BYTES, "The demo cases file")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"The demo cases file {file.name} is not valid JSON: {exc}.") from exc
    if not isinstance(raw, list):
        raise BundleError(f"The demo cases file {file.name} must hold a JSON list.")
    cases = []
    for position, item in enumerate(raw, start=1):
        try:
            case = DemoCase.model_validate(item)
            validate_inputs(case.inputs, schema, case_id=case.case_id)
        except CaseValidationError as exc:
            raise BundleError(f"Demo case {position} in {file.name}: {exc}") from exc
        except ValueError as exc:  # pydantic's ValidationError
            raise BundleError(f"Demo case {position} in {file.name} is invalid: {exc}") from exc
        cases.append(case.model_dump(mode="json"))
    return cases


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


# -- the card ----------------------------------------------------------------------------------


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _stated_calibration(model: Any, stated: Any) -> str:
    """The calibration method: read from the model, or from the card file when it cannot be.

    Raises
    ------
    BundleError
        If the card file names a method the model contradicts, names an unknown method, or
        is silent about a model (an ONNX file made elsewhere) that does not say.
    """
    detected = calibration_method(model)
    allowed = ", ".join(repr(m) for m in CALIBRATION_METHODS)
    if stated is not None and stated not in CALIBRATION_METHODS:
        raise BundleError(
            f"The card file says calibration.method = {stated!r}; expected one of {allowed}."
        )
    if detected is None:
        if stated is None:
            raise BundleError(
                f"The model file ({describe_model(model)}) does not say how its probability "
                f"was calibrated: state calibration.method in the card file ({allowed})."
            )
        return str(stated)
    if stated is not None and stated != detected:
        raise BundleError(
            f"The card file says calibration.method = {stated!r}, but the model's "
            f"calibration is {detected!r}; correct the card file."
        )
    return detected


def _fmt(value: float | None, digits: int = 2) -> str:
    return "not estimable" if value is None else f"{value:.{digits}f}"


def _validity_text(overall: Any, n_test: int) -> str:
    return (
        f"Measured by CaseLens on the held-out test split ({n_test:,} patients, "
        f"{overall.events:,} events): AUROC {_fmt(overall.auroc)}"
        + (
            f" (95% bootstrap interval {overall.auroc_ci95[0]:.2f}–{overall.auroc_ci95[1]:.2f})"
            if overall.auroc_ci95
            else ""
        )
        + f", Brier score {_fmt(overall.brier, 3)}, calibration slope "
        f"{_fmt(overall.calibration_slope)}, expected calibration error {_fmt(overall.ece, 3)}."
    )


def _fairness_text(subgroups: Sequence[SubgroupPerformance]) -> str:
    singles = [s for s in subgroups if s.figures.auroc is not None]
    if not singles:
        return "Measured by CaseLens: no subgroup had both outcomes, so no subgroup AUROC."
    parts = []
    for variable, rows in itertools.groupby(singles, key=lambda s: s.variable):
        listed = ", ".join(f"{r.group} {r.figures.auroc:.2f} (n={r.figures.n:,})" for r in rows)
        parts.append(f"{variable}: {listed}")
    return (
        "Measured by CaseLens on the held-out test split, AUROC by subgroup — "
        + "; ".join(parts)
        + "."
    )


def _representativeness(draft: SchemaDraft, train: pd.DataFrame) -> str:
    parts = []
    for spec in draft.schema.subgroup_features:
        labels = group_labels(spec, train[spec.name].tolist())
        groups, counts = np.unique(labels.astype(str), return_counts=True)
        shares = ", ".join(
            f"{g} {c / len(labels):.0%}" for g, c in zip(groups, counts, strict=True)
        )
        parts.append(f"{spec.name}: {shares}")
    if not parts:
        return to_complete(
            "no sex, age, race/ethnicity or payer column is an input; describe the "
            "demographics of the training data"
        )
    return (
        f"Training data ({len(train):,} patients), computed by CaseLens — " + "; ".join(parts) + "."
    )


def _demographic_inputs(draft: SchemaDraft) -> str:
    used = ", ".join(f"{g} ({c})" for g, c in draft.seed_subgroups.items())
    unused = [g for g in ("sex", "age", "race/ethnicity", "payer") if g not in draft.seed_subgroups]
    text = f"Inputs that are demographic variables: {used or 'none'}."
    if unused:
        text += f" Not inputs: {', '.join(unused)}."
    return text


def build_card(
    card_file: Mapping[str, Any],
    *,
    model: Any,
    draft: SchemaDraft,
    train: pd.DataFrame,
    test: pd.DataFrame,
    calibration: pd.DataFrame | None,
    p_test: np.ndarray,
) -> dict[str, Any]:
    """The card as a dict: the card file's fields, computed figures, and placeholders.

    Raises
    ------
    BundleError
        Listing every required field missing and every computed field the card file sets.
    """
    data = {k: v for k, v in card_file.items() if k != "features"}
    computed = [f for f in COMPUTED_CARD_FIELDS if _get(data, f) is not None]
    missing = [f for f in REQUIRED_CARD_FIELDS if data.get(f) is None]
    problems = []
    if missing:
        problems.append(f"it must state {', '.join(missing)}")
    if computed:
        problems.append(f"CaseLens computes {', '.join(computed)} from the data; leave them out")
    if "demonstration_only" in data and not isinstance(data["demonstration_only"], bool):
        problems.append("demonstration_only must be true or false")
    if problems:
        raise BundleError("The card file is not complete: " + "; ".join(problems) + ".")
    schema = draft.schema
    threshold = float(data["decision_threshold"])
    if not 0 < threshold < 1:
        raise BundleError(
            f"The card file's decision_threshold is {threshold}; it must be between 0 and 1."
        )
    seed = int(data.get("random_seed", DEFAULT_SEED))
    validation_in = dict(data.get("validation") or {})
    ece_bins = int(validation_in.get("ece_bins", DEFAULT_ECE_BINS))
    y_test = test[OUTCOME_COLUMN].to_numpy().astype(int)
    overall = performance_figures(
        y_test, p_test, threshold=threshold, n_bins=ece_bins, bootstrap=True, seed=seed
    )
    singles = subgroup_figures(schema, test, y_test, p_test, threshold=threshold, n_bins=ece_bins)
    pairs = list(itertools.combinations([f.name for f in schema.subgroup_features], 2))
    crossed = intersection_figures(
        schema,
        test,
        y_test,
        p_test,
        threshold=threshold,
        pairs=pairs,
        n_bins=ece_bins,
        min_n=INTERSECTION_MIN_N,
        min_events=INTERSECTION_MIN_EVENTS,
    )
    card: dict[str, Any] = dict(data)
    for key, hint in _TEXT_FIELDS.items():
        card.setdefault(key, to_complete(hint))
    card.setdefault("model_type", describe_model(model))
    card.setdefault("review_interval_days", DEFAULT_REVIEW_INTERVAL_DAYS)
    card.setdefault("out_of_scope_uses", [to_complete("uses, settings or patients to avoid")])
    card.setdefault("known_failure_modes", [to_complete("where the model is known to fail")])
    card["random_seed"] = seed
    card["outcome"] = {k: to_complete(h) for k, h in _OUTCOME_FIELDS.items()} | dict(
        data.get("outcome") or {}
    )
    calibration_rows = 0 if calibration is None else len(calibration)
    card["training_data"] = (
        {k: to_complete(h) for k, h in _TRAINING_FIELDS.items()}
        | {
            "split": f"Supplied as separate files to caselens bundle create: training "
            f"{len(train):,} rows, calibration {calibration_rows:,} rows, test {len(test):,} "
            "rows.",
        }
        | dict(data.get("training_data") or {})
        | {"n_train": len(train), "n_calibration": calibration_rows, "n_test": len(test)}
    )
    calibration_in = dict(data.get("calibration") or {})
    detected = _stated_calibration(model, calibration_in.get("method"))
    card["calibration"] = {
        "method": detected,
        "fitted_on": (
            "not applicable: the model is not calibrated after fitting"
            if detected == "none"
            else to_complete("which rows the calibration was fitted on")
        ),
        "rationale": to_complete("why this calibration (or none) was chosen"),
    } | {k: v for k, v in calibration_in.items() if k != "method"}
    card["validation"] = (
        {
            "method": f"Held-out test split ({len(test):,} rows) supplied to caselens bundle "
            "create; every figure computed by CaseLens on those rows with the bundled model.",
            "dataset": to_complete("where and when the test rows come from"),
        }
        | validation_in
        | {
            "threshold_used": threshold,
            "ece_bins": ece_bins,
            "overall": overall.model_dump(mode="json"),
            "subgroups": [s.model_dump(mode="json") for s in (*singles, *crossed)],
        }
    )
    card["source_attributes"] = _source_attributes(
        card, dict(data.get("source_attributes") or {}), draft, train, overall, singles
    )
    return card


def _source_attributes(
    card: Mapping[str, Any],
    given: dict[str, Any],
    draft: SchemaDraft,
    train: pd.DataFrame,
    overall: Any,
    singles: Sequence[SubgroupPerformance],
) -> dict[str, str]:
    outcome = card["outcome"]
    derived = {
        "developer_name_and_contact": f"{card['owner']}, {card['contact']}",
        "output_value_description": f"The probability (0% to 100%) of {outcome['name']} "
        f"({outcome['definition']}; {outcome['time_window']}), compared with a decision "
        f"threshold of {card['decision_threshold']:.0%}.",
        "output_type": "Prediction: the probability of a binary outcome for one patient.",
        "intended_use": card["intended_use"],
        "intended_patient_population": card["target_population"],
        "intended_users": card["intended_users"],
        "cautioned_out_of_scope_use": "; ".join(card["out_of_scope_uses"]),
        "known_risks_and_limitations": "; ".join(card["known_failure_modes"]),
        "training_inclusion_exclusion": card["training_data"]["inclusion_exclusion"],
        "demographic_input_features": _demographic_inputs(draft),
        "demographic_representativeness": _representativeness(draft, train),
        "validity_internal_test": _validity_text(overall, card["training_data"]["n_test"]),
        "fairness_internal_test": _fairness_text(singles),
    }
    unknown = sorted(set(given) - {k for k, _, _ in HTI1_SOURCE_ATTRIBUTES})
    if unknown:
        raise BundleError(
            f"The card file's source_attributes has unknown key(s): {', '.join(unknown)}."
        )
    out = {}
    for key, _, wording in HTI1_SOURCE_ATTRIBUTES:
        if key in ("validity_internal_test", "fairness_internal_test"):
            out[key] = derived[key]
        else:
            out[key] = str(given.get(key) or derived.get(key) or to_complete(wording))
    return out


# -- demo cases --------------------------------------------------------------------------------


def _outside_training(schema: FeatureSchema, row: pd.Series) -> tuple[str, str] | None:
    for spec in schema:
        value = row[spec.name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if spec.kind == "category":
            if (spec.training_counts or {}).get(str(value), 1) == 0:
                return spec.name, f"{spec.label} '{value}' was never seen in training"
        elif (spec.training_min is not None and float(value) < spec.training_min) or (
            spec.training_max is not None and float(value) > spec.training_max
        ):
            return spec.name, (
                f"{spec.label} {float(value):g} is outside the training range "
                f"{spec.training_min:g}–{spec.training_max:g}"
            )
    return None


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float | np.floating) and math.isnan(float(value))):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def pick_demo_cases(
    schema: FeatureSchema,
    test: pd.DataFrame,
    p_test: np.ndarray,
    *,
    count: int,
    threshold: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pick ``count`` real test rows as demo cases covering what a demonstration must show.

    In order: the lowest and the highest risk, a row with a missing value, a row with a
    value outside the training range, then rows from subgroups not yet shown, then rows
    spread over the risk range. Every case is a real row, unchanged; its description says
    which row and why it was picked.

    Returns
    -------
    (list of dict, list of str)
        The demo cases, and notes on what no row could show.
    """
    if count < 1:
        raise BundleError("--demo-cases must be at least 1.")
    order = np.argsort(p_test, kind="stable")
    picked: list[tuple[int, str, str]] = []
    notes: list[str] = []

    def take(index: int, title: str, why: str) -> None:
        if len(picked) < count and index not in {i for i, _, _ in picked}:
            picked.append((int(index), title, why))

    take(order[0], "Low risk", "the lowest predicted risk in the test split")
    take(order[-1], "High risk", "the highest predicted risk in the test split")
    missing = [i for i in order if test.iloc[i][schema.names].isna().any()]
    if missing:
        i = missing[len(missing) // 2]
        fields = [n for n in schema.names if pd.isna(test.iloc[i][n])]
        take(i, "A value not recorded", f"{', '.join(fields)} not recorded in this row")
    else:
        notes.append("No test row has a missing value, so no demo case shows one.")
    outside = [(i, _outside_training(schema, test.iloc[i])) for i in order]
    outside = [(i, found) for i, found in outside if found is not None]
    if outside:
        i, (_, why) = outside[len(outside) // 2]
        take(i, "Outside the training range", f"kept as the real row: {why}")
    else:
        notes.append(
            "No test row has a value outside the training range, so no demo case shows one."
        )
    for spec in schema.subgroup_features:
        labels = group_labels(spec, test[spec.name].tolist())
        for group in sorted(set(labels.tolist())):
            if group == NOT_RECORDED_GROUP:
                continue
            shown = {str(labels[i]) for i, _, _ in picked}
            if group in shown:
                continue
            rows = [i for i in order if labels[i] == group]
            take(
                rows[len(rows) // 2],
                f"{spec.label}: {group}",
                f"a patient in {spec.name} group {group}",
            )
    for quantile in np.linspace(0.1, 0.9, max(count, 2)):
        take(
            order[int(quantile * (len(order) - 1))], "Typical patient", "spread over the risk range"
        )
    cases = []
    for number, (index, title, why) in enumerate(picked, start=1):
        risk = float(p_test[index])
        side = "above" if risk >= threshold else "below"
        cases.append(
            {
                "case_id": f"D-{number:02d}",
                "title": title,
                "description": f"A real patient row from the test split (row {index + 1}), "
                f"unchanged: {why}. Predicted risk {risk:.0%}, {side} the threshold of "
                f"{threshold:.0%}.",
                # Column by column: a row of a mixed frame would turn whole numbers into floats.
                "inputs": {n: _clean(test[n].iloc[index]) for n in schema.names},
            }
        )
    return cases, notes


# -- the whole build ---------------------------------------------------------------------------


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

    Returns
    -------
    BuildResult

    Raises
    ------
    BundleError
        Naming the file, column, row or card field that is wrong. Nothing is written then.
    """
    model = read_model_file(model_path, allow_pickle=allow_pickle)
    card_file = read_card_file(card_path)
    frames = {"The training data": read_data_file(train_path, "The training data")}
    frames["The test data"] = read_data_file(test_path, "The test data")
    if calibration_path is not None:
        frames["The calibration data"] = read_data_file(calibration_path, "The calibration data")
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
    train, test = prepared["The training data"], prepared["The test data"]
    calibration = prepared.get("The calibration data")
    others = [test] + ([calibration] if calibration is not None else [])
    overrides = card_file.get("features") or {}
    if not isinstance(overrides, Mapping):
        raise BundleError("The card file's features section must be a table (one per input).")
    draft = draft_schema(train, names, other_splits=others, overrides=overrides)
    try:
        # Checked first: a NaN or non-summing answer is named, never a figure's traceback.
        p_test = check_probabilities(model.predict_proba(test[names]), rows=len(test))[:, 1]
    except Exception as exc:  # the user's model failing on the user's data: say so plainly
        raise BundleError(
            f"The model could not score the test data: {type(exc).__name__}: {exc}"[:1000]
        ) from exc
    card = build_card(
        card_file,
        model=model,
        draft=draft,
        train=train,
        test=test,
        calibration=calibration,
        p_test=p_test,
    )
    notes: list[str] = []
    cases: list[dict[str, Any]] = []
    if isinstance(demo_cases, int):
        cases, notes = pick_demo_cases(
            draft.schema, test, p_test, count=demo_cases, threshold=card["decision_threshold"]
        )
    elif demo_cases is not None:
        cases = read_demo_cases_file(demo_cases, draft.schema)
    bundle = create_bundle(
        model,
        card=card,
        features=draft.schema,
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


_TEMPLATE_HEAD = """\
# CaseLens card file — written by `caselens bundle init`, read by `caselens bundle create`.
# TOML (JSON with the same field names is read too); the field names are those of a bundle's
# card.json. CaseLens computes from your data, so leave out: {computed}.
# Every "TO COMPLETE: …" text left as it is (or left out) stays a visible placeholder in the
# bundle, and `caselens bundle check` lists them all.

# -- required: no default is true for every model --------------------------------------------
model_id = "my-model"              # lower case letters, digits and '-'
name = "My risk model"
version = "1.0.0"
# Is this model a demonstration only, not for patient care? State it; it is never inherited.
demonstration_only = false
decision_threshold = 0.3           # the probability at or above which the model flags
release_date = {today}
last_review_date = {today}

# -- what people must write ------------------------------------------------------------------
review_interval_days = 365
summary = "TO COMPLETE: what the model predicts, for whom, in one or two sentences"
owner = "TO COMPLETE: the team or person responsible"
contact = "TO COMPLETE: an e-mail address or phone number"
intended_use = "TO COMPLETE: the clinical task and setting"
intended_users = "TO COMPLETE: who uses it"
target_population = "TO COMPLETE: the patients it is for"
out_of_scope_uses = ["TO COMPLETE: where it must not be used"]
known_failure_modes = ["TO COMPLETE: where it is known to fail"]
threshold_rationale = "TO COMPLETE: why the threshold is where it is"
# conformal_coverage = 0.9         # coverage of the prediction sets shown
# random_seed = 0                  # seed of the AUROC bootstrap interval
# model_type = "…"                 # default: read from the model, e.g. 'RandomForestClassifier
#                                  # in a scikit-learn Pipeline'

[outcome]
name = "TO COMPLETE: the outcome in clinical words"
definition = "TO COMPLETE: how the outcome was defined in the data"
time_window = "TO COMPLETE: over what time, e.g. within 30 days of admission"
patient_wording = "TO COMPLETE: completes 'About X out of 100 people like you …'"
positive_label = "TO COMPLETE: the outcome happening"
negative_label = "TO COMPLETE: the outcome not happening"

[training_data]
source = "TO COMPLETE: where the data came from"
citation = "TO COMPLETE: how to cite it"
licence = "TO COMPLETE: its licence or data agreement"
dates = "TO COMPLETE: the period it covers"
setting = "TO COMPLETE: hospital, country, wards"
population = "TO COMPLETE: who was in it"
inclusion_exclusion = "TO COMPLETE: who was included and excluded"
under_represented = "TO COMPLETE: who was missing or under-represented"
# split = "…"   (default: the sizes of the files passed to bundle create)

[calibration]
# method is read from the model (CalibratedClassifierCV: isotonic or sigmoid; else none).
fitted_on = "TO COMPLETE: which rows the calibration was fitted on"
rationale = "TO COMPLETE: why this calibration (or none) was chosen"

[validation]
dataset = "TO COMPLETE: where and when the test rows come from"
# method = "…"   (default: says every figure was computed by CaseLens on the test file)
# ece_bins = 10

# [monitoring]   (optional: the monitoring plan after go-live; defaults in docs/monitoring.md)
# period = "month"               # or "week"
# calibration_slope_low = 0.8    # alert when the slope's 95% interval lies wholly outside
# calibration_slope_high = 1.25
# auroc_drop = 0.05              # alert when the drop from the validated AUROC is surely above
# psi_threshold = 0.2            # prediction and input drift
# subgroup_auroc_drop = 0.10
# min_predictions = 100          # fewer in a period: shown, not judged
# min_outcomes = 200
# outcome_window_days = 30       # default: read from outcome.time_window

[source_attributes]
# The HTI-1 source attributes CaseLens cannot derive: write each, or
# "Not available — <the reason>". Derived from the fields above unless you write them:
# developer_name_and_contact, output_value_description, output_type, intended_use,
# intended_patient_population, intended_users, cautioned_out_of_scope_use,
# known_risks_and_limitations, training_inclusion_exclusion, demographic_input_features,
# demographic_representativeness. Computed (leave out): validity_internal_test,
# fairness_internal_test.
{unfilled}

"""
_TEMPLATE_FEATURES = """\
# -- the inputs (optional; one table per column) -----------------------------------------
# Kind, training range, categories and missing shares are computed from the training data.
# Labels default to the column name and are reported "to review". Hard limits are never
# guessed: give them here. sex, age, race/ethnicity and payer columns are subgroups.
# [features.age]
# label = "Age"
# patient_label = "Your age"
# unit = "years"
# hard_min = 18
# hard_max = 110
# subgroup_bins = [18, 45, 65, 80]
#
# meaning: how a 0/1 whole-number input is read (for no other input). Until it is stated,
# bundle create and check warn, and 1 is read as "has the condition". Write one of:
#   "yes_no"    1 = the patient has the condition (diabetes, smoking); a value reads
#               "1 (yes)" or "0 (no)".
#   "category"  0 and 1 are two groups (sex, a test result), named in every sentence by
#               category_descriptions ("1 (male)"), which must give words for "0" and "1".
# [features.diabetes]
# label = "Diabetes"
# meaning = "yes_no"
# [features.sex_male]
# label = "Sex"
# meaning = "category"
# category_descriptions = { "0" = "female", "1" = "male" }

# -- expected directions (optional; yes/no inputs only) ----------------------------------
# What common clinical knowledge expects a yes/no condition to do to this outcome's risk:
#   "raises"   having it is expected to raise the risk (a risk factor, e.g. diabetes);
#   "lowers"   having it is expected to lower the risk (e.g. a protective treatment);
#   "neither"  no expectation: never remarked on.
# A yes/no input not listed is taken as "raises". When the model moves a patient's estimate
# the other way, the clinician and patient texts say so plainly (in this model, having it
# goes with a lower estimate; that does not mean it is good for the patient).
# [expected_directions]
# diabetes = "raises"
"""
#: HTI-1 attributes the template lists to write (the rest are derived or computed).
_UNFILLED_ATTRIBUTES = (
    "funding_source",
    "intended_decision_role",
    "training_data_relevance",
    "fairness_approach",
    "bias_management",
    "external_validation_data_source",
    "external_validation_party",
    "external_demographic_representativeness",
    "external_validation_process",
    "validity_external",
    "fairness_external",
    "outcome_evaluation_references",
    "validity_monitoring_process",
    "validity_local",
    "fairness_monitoring_process",
    "fairness_local",
    "update_process",
    "correction_frequency",
)


def card_template(today: dt.date | None = None) -> str:
    """The commented TOML card file ``caselens bundle init`` writes."""
    wording = {key: text for key, _, text in HTI1_SOURCE_ATTRIBUTES}
    unfilled = "\n".join(
        f'# {wording[key]}\n{key} = "{TO_COMPLETE_MARK}: {key.replace("_", " ")}"'
        for key in _UNFILLED_ATTRIBUTES
    )
    head = _TEMPLATE_HEAD.format(
        computed=", ".join(COMPUTED_CARD_FIELDS),
        today=(today or dt.date.today()).isoformat(),
        unfilled=unfilled,
    )
    return head + _TEMPLATE_FEATURES
