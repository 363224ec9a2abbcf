"""The card ``caselens bundle create`` writes: the card file's fields, the figures CaseLens
measures on the test split, the HTI-1 source attributes that follow from them, and an explicit
'TO COMPLETE' placeholder for whatever a person must still write.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from caselens.authoring.schema_draft import SchemaDraft
from caselens.errors import BundleError
from caselens.model.bundle import OUTCOME_COLUMN
from caselens.model.card import (
    HTI1_SOURCE_ATTRIBUTES,
    SubgroupPerformance,
    to_complete,
)
from caselens.model.card_check import (
    group_labels,
    intersection_figures,
    subgroup_figures,
)
from caselens.model.description import CALIBRATION_METHODS, calibration_method, describe_model
from caselens.model.features import FeatureSchema
from caselens.model.performance import performance_figures

#: An intersection of two subgroups is reported only with at least this many patients and
#: this many events (and non-events): below that its figures are noise.
INTERSECTION_MIN_N = 100
INTERSECTION_MIN_EVENTS = 10

#: Review interval when the card file gives none: a yearly review is the common default.
DEFAULT_REVIEW_INTERVAL_DAYS = 365
#: Calibration bins of the expected calibration error when the card file gives none.
DEFAULT_ECE_BINS = 10
#: Seed of the AUROC bootstrap interval when the card file gives none (reproducible figures).
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


def _refuse_incomplete(data: Mapping[str, Any]) -> float:
    """The card file's decision threshold, once every required field is there and no computed
    one is.

    Raises
    ------
    BundleError
        Listing every required field missing and every computed field the card file sets.
    """
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
    threshold = float(data["decision_threshold"])
    if not 0 < threshold < 1:
        raise BundleError(
            f"The card file's decision_threshold is {threshold}; it must be between 0 and 1."
        )
    return threshold


def _measured_figures(
    schema: FeatureSchema,
    test: pd.DataFrame,
    p_test: np.ndarray,
    *,
    threshold: float,
    ece_bins: int,
    seed: int,
) -> tuple[Any, tuple[SubgroupPerformance, ...], tuple[SubgroupPerformance, ...]]:
    """The test split's figures: overall, per subgroup, and per intersection of two."""
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
    return overall, singles, crossed


def _training_data_section(
    data: Mapping[str, Any],
    train: pd.DataFrame,
    test: pd.DataFrame,
    calibration: pd.DataFrame | None,
) -> dict[str, Any]:
    calibration_rows = 0 if calibration is None else len(calibration)
    return (
        {k: to_complete(h) for k, h in _TRAINING_FIELDS.items()}
        | {
            "split": f"Supplied as separate files to caselens bundle create: training "
            f"{len(train):,} rows, calibration {calibration_rows:,} rows, test {len(test):,} "
            "rows.",
        }
        | dict(data.get("training_data") or {})
        | {"n_train": len(train), "n_calibration": calibration_rows, "n_test": len(test)}
    )


def _calibration_section(model: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    calibration_in = dict(data.get("calibration") or {})
    detected = _stated_calibration(model, calibration_in.get("method"))
    return {
        "method": detected,
        "fitted_on": (
            "not applicable: the model is not calibrated after fitting"
            if detected == "none"
            else to_complete("which rows the calibration was fitted on")
        ),
        "rationale": to_complete("why this calibration (or none) was chosen"),
    } | {k: v for k, v in calibration_in.items() if k != "method"}


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
    threshold = _refuse_incomplete(data)
    seed = int(data.get("random_seed", DEFAULT_SEED))
    validation_in = dict(data.get("validation") or {})
    ece_bins = int(validation_in.get("ece_bins", DEFAULT_ECE_BINS))
    overall, singles, crossed = _measured_figures(
        draft.schema, test, p_test, threshold=threshold, ece_bins=ece_bins, seed=seed
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
    card["training_data"] = _training_data_section(data, train, test, calibration)
    card["calibration"] = _calibration_section(model, data)
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
