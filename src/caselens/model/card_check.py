"""Measured, not claimed: a model card's figures checked against the bundle's own reference data.

A card is text someone wrote; the reference data and the model are what CaseLens runs. This
module recomputes the validation figures (overall and per subgroup) from the reference rows
with the bundle's model, exactly as the sample builds compute them, and compares them with
the card. It also checks the feature schema against the reference and calibration data: a
row the schema would refuse as a patient case cannot be evidence about the model.

``caselens bundle create`` and ``caselens bundle check`` refuse a bundle with any problem
found here. Loading keeps each problem as a loud bundle warning instead ("the card claims X;
measured on the bundle's reference data: Y") and carries the measured figures, so a bundle
already in use stays visible and the app can show what was measured.

Subgroups are formed from the feature schema with :meth:`FeatureSpec.subgroup_of`: a
category's values, a numeric feature's bins, or a numeric feature's values (written the same
way everywhere: ``1``, ``1.0`` and ``np.int64(1)`` are all group ``"1"``). A missing value is
the group ``"not recorded"``. An intersection of two variables is written
``"sex × age"`` with groups such as ``"Female × 65 to under 80"``.

The schema-against-data check is :mod:`.data_check`, the subgroups :mod:`.subgroups`, and the
input wording warnings :mod:`.input_wording`; this module compares the card with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from caselens.model.bundle_layout import OUTCOME_COLUMN
from caselens.model.card import ModelCard, PerformanceFigures, SubgroupPerformance, Validation
from caselens.model.changeable_inputs import changeable_input_problems
from caselens.model.data_check import data_problems
from caselens.model.features import FeatureSchema
from caselens.model.input_wording import input_meaning_warnings
from caselens.model.leakage import leakage_problems
from caselens.model.performance import performance_figures
from caselens.model.subgroups import (
    INTERSECTION_MARK,
    NOT_RECORDED_GROUP,
    SubgroupLabels,
    group_labels,
    intersection_figures,
    subgroup_figures,
)

# The names callers import from here; the schema-data check, the subgroups and the input
# wording each live in their own module.
__all__ = [
    "FIGURE_TOLERANCE",
    "FLOAT_FIGURES",
    "FLOAT_SLACK",
    "INTERSECTION_MARK",
    "MAX_LISTED_PROBLEMS",
    "NOT_RECORDED_GROUP",
    "OUTCOME_COLUMN",
    "CardCheck",
    "FigureDifference",
    "check_card",
    "compare_figures",
    "data_problems",
    "group_labels",
    "input_meaning_warnings",
    "intersection_figures",
    "refusal_message",
    "subgroup_figures",
]


#: Card figures are rounded to 4 decimals (:func:`performance_figures`): a difference up to
#: one unit in the 4th decimal is rounding, not a different claim.
FIGURE_TOLERANCE = 1e-4
#: Binary floating-point noise on top of that (0.1 + 0.2 is not 0.3 in a float).
FLOAT_SLACK = 1e-9

#: Problems listed one by one in a refusal before the rest are counted.
MAX_LISTED_PROBLEMS = 25
#: The card figures compared, in the order they are reported.
FLOAT_FIGURES: tuple[str, ...] = (
    "auroc",
    "sensitivity",
    "specificity",
    "ppv",
    "brier",
    "ece",
    "calibration_slope",
    "calibration_intercept",
    "observed_rate",
    "mean_predicted",
)


@dataclass(frozen=True)
class FigureDifference:
    """One card figure that the reference data does not bear out.

    Attributes
    ----------
    population : str
        ``"overall"``, ``"subgroup sex = 'Female'"`` or ``"training_data"``.
    figure : str
        The figure's field name, e.g. ``"auroc"`` or ``"n_test"``.
    claimed, measured : object
        The card's value and the value measured (None: not estimable).
    """

    population: str
    figure: str
    claimed: Any
    measured: Any

    def message(self) -> str:
        """'overall auroc: the card claims 0.91; measured on the bundle's reference data: 0.88'."""
        measured = "not estimable" if self.measured is None else _shown(self.measured)
        return (
            f"{self.population} {self.figure}: the card claims {_shown(self.claimed)}; "
            f"measured on the bundle's reference data: {measured}"
        )


@dataclass(frozen=True)
class CardCheck:
    """What the reference data says about a card's claims.

    Attributes
    ----------
    measured : Validation or None
        The validation section as measured (overall, every subgroup of every subgroup
        feature, and every intersection the card reports); None when the model could not
        score the reference data.
    differences : tuple of FigureDifference
        Card figures beyond rounding of the measured ones.
    unmatched_subgroups : tuple of str
        Card subgroups that match no group formed from the feature schema, each explained.
    data_problems : tuple of str
        Reference or calibration rows the feature schema would refuse, naming row and field.
    leakage : tuple of str
        Label leakage (an input that is, or perfectly predicts, the outcome) and degenerate
        splits (one outcome class, too few events) in the reference or calibration data
        (:mod:`caselens.model.leakage`).
    unreported : tuple of str
        Measured subgroups the card leaves out (a note, not a refusal).
    """

    measured: Validation | None
    differences: tuple[FigureDifference, ...] = ()
    unmatched_subgroups: tuple[str, ...] = ()
    data_problems: tuple[str, ...] = ()
    unreported: tuple[str, ...] = ()
    leakage: tuple[str, ...] = ()
    #: The card's statements that do not fit the schema (``changeable_inputs``, see
    #: :func:`caselens.model.changeable_inputs.changeable_input_problems`).
    statement_problems: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        """Every reason to refuse the bundle at create/check time, in words."""
        return (
            *self.data_problems,
            *self.leakage,
            *self.unmatched_subgroups,
            *self.statement_problems,
            *(d.message() for d in self.differences),
        )

    @property
    def ok(self) -> bool:
        """True when every claim is borne out, every reference row is valid and nothing leaks."""
        return not self.problems

    def warnings(self) -> tuple[str, ...]:
        """The problems and notes as loud load-time warnings."""
        return tuple(f"WARNING: {p}." for p in self.problems) + tuple(
            f"Note: {n}." for n in self.unreported
        )

    def refusal(self) -> str:
        """All problems in one message (see :func:`refusal_message`)."""
        return refusal_message(self.problems)


def refusal_message(problems: Sequence[str]) -> str:
    """Problems in one message: the first :data:`MAX_LISTED_PROBLEMS`, then a count."""
    listed = list(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - len(listed)
    lines = [f"- {p}" for p in listed]
    if more:
        lines.append(f"- … and {more} more problem(s) of the same kinds")
    return (
        f"The bundle is refused: {len(problems)} problem(s) between the card, the feature "
        "schema and the reference data:\n" + "\n".join(lines)
    )


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "nan"
    return str(value)


def _allowed_difference(claimed: float) -> float:
    """Rounding of the stored value: 0.5 in its last written decimal, at least 1e-4."""
    exponent = Decimal(repr(float(claimed))).as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(FIGURE_TOLERANCE, 0.5 * 10.0**-decimals) + FLOAT_SLACK


def _differs(claimed: float, measured: float | None) -> bool:
    if measured is None:
        return True
    return abs(float(claimed) - float(measured)) > _allowed_difference(claimed)


def compare_figures(
    claimed: PerformanceFigures, measured: PerformanceFigures, population: str
) -> list[FigureDifference]:
    """The figures of ``claimed`` that ``measured`` does not bear out.

    ``n`` and ``events`` must be equal; other figures may differ by the rounding of the
    stored value (at least :data:`FIGURE_TOLERANCE`). A figure the card leaves empty is no
    claim; a figure the card gives that cannot be estimated from the data is a difference.
    """
    out: list[FigureDifference] = []
    for name in ("n", "events"):
        if getattr(claimed, name) != getattr(measured, name):
            out.append(
                FigureDifference(population, name, getattr(claimed, name), getattr(measured, name))
            )
    for name in FLOAT_FIGURES:
        said, found = getattr(claimed, name), getattr(measured, name)
        if said is not None and _differs(said, found):
            out.append(FigureDifference(population, name, said, found))
    if claimed.auroc_ci95 is not None:
        found_ci = measured.auroc_ci95
        if found_ci is None or any(
            _differs(s, f) for s, f in zip(claimed.auroc_ci95, found_ci, strict=True)
        ):
            out.append(FigureDifference(population, "auroc_ci95", claimed.auroc_ci95, found_ci))
    return out


def _population(variable: str, group: str) -> str:
    return f"subgroup {variable} = '{group}'"


def _measure_card_subgroup(
    schema: FeatureSchema,
    labels_of: SubgroupLabels,
    y: np.ndarray,
    p: np.ndarray,
    claim: SubgroupPerformance,
    *,
    threshold: float,
    n_bins: int,
) -> tuple[SubgroupPerformance | None, str | None]:
    """The measured figures for one card subgroup, or why it matches no group."""
    parts = claim.variable.split(INTERSECTION_MARK)
    unknown = [v for v in parts if v not in schema]
    where = f"the card's subgroup {claim.variable} = '{claim.group}'"
    if unknown or len(parts) > 2:
        return None, (
            f"{where} matches no group: {', '.join(unknown) or claim.variable} is not an input "
            f"in the feature schema (inputs: {', '.join(schema.names)})"
        )
    labels = labels_of.of(*parts)
    mask = labels == claim.group
    if not mask.any():
        formed = ", ".join(f"'{g}'" for g in sorted(set(labels.tolist()))) or "none"
        return None, (
            f"{where} matches no group formed from the feature schema and the reference data "
            f"(groups: {formed})"
        )
    figures = performance_figures(y[mask], p[mask], threshold=threshold, n_bins=n_bins)
    return SubgroupPerformance(variable=claim.variable, group=claim.group, figures=figures), None


def _row_count_differences(
    card: ModelCard, reference: pd.DataFrame, calibration: pd.DataFrame | None
) -> list[FigureDifference]:
    """The card's test and calibration row counts that the bundle's tables do not bear out."""
    differences: list[FigureDifference] = []
    counts = [("n_test", len(reference))]
    if calibration is not None:
        counts.append(("n_calibration", len(calibration)))
    for name, rows in counts:
        if getattr(card.training_data, name) != rows:
            differences.append(
                FigureDifference("training_data", name, getattr(card.training_data, name), rows)
            )
    return differences


def _split_leakage(
    schema: FeatureSchema, reference: pd.DataFrame, y: np.ndarray, calibration: pd.DataFrame | None
) -> list[str]:
    """Label leakage and degenerate outcome classes in the reference and calibration splits."""
    leaks = leakage_problems(reference, schema.names, y, "reference data")
    if calibration is not None:
        y_calibration = calibration[OUTCOME_COLUMN].to_numpy().astype(int)
        leaks += leakage_problems(calibration, schema.names, y_calibration, "calibration data")
    return leaks


def _reference_risks(model: Any, schema: FeatureSchema, reference: pd.DataFrame) -> np.ndarray:
    """The model's predicted risk for each reference row (raises what the model raises)."""
    # One thread, as CaseExplainer predicts: a booster's OpenMP threads wait on each
    # other on a small busy machine; every row is predicted on its own either way.
    with threadpool_limits(limits=1):
        return np.asarray(model.predict_proba(reference[schema.names])[:, 1], dtype=float)


def _check_subgroups(
    card: ModelCard, schema: FeatureSchema, reference: pd.DataFrame, y: np.ndarray, p: np.ndarray
) -> tuple[dict[tuple[str, str], SubgroupPerformance], list[FigureDifference], list[str]]:
    """Every subgroup measured (the schema's, then the card's others), the card's subgroup
    figures the measurements do not bear out, and the card's subgroups that match no group."""
    threshold = card.decision_threshold
    n_bins = card.validation.ece_bins
    labels_of = SubgroupLabels(schema, reference)
    measured = {
        (s.variable, s.group): s
        for s in subgroup_figures(
            schema, reference, y, p, threshold=threshold, n_bins=n_bins, labels_of=labels_of
        )
    }
    differences: list[FigureDifference] = []
    unmatched: list[str] = []
    for claim in card.validation.subgroups:
        key = (claim.variable, claim.group)
        found = measured.get(key)
        if found is None:
            found, reason = _measure_card_subgroup(
                schema, labels_of, y, p, claim, threshold=threshold, n_bins=n_bins
            )
            if found is None:
                unmatched.append(reason or f"the card's subgroup {key} matches no group")
                continue
            measured[key] = found
        differences += compare_figures(
            claim.figures, found.figures, _population(claim.variable, claim.group)
        )
    return measured, differences, unmatched


def _unreported(card: ModelCard, measured: dict[tuple[str, str], SubgroupPerformance]) -> list[str]:
    """The measured subgroups the card does not report, each with its figures."""
    claimed_keys = {(s.variable, s.group) for s in card.validation.subgroups}
    return [
        f"the card does not report subgroup {v} = '{g}'; measured on the bundle's reference "
        f"data: n = {s.figures.n}, events = {s.figures.events}, AUROC = "
        f"{_shown(s.figures.auroc) if s.figures.auroc is not None else 'not estimable'}"
        for (v, g), s in measured.items()
        if (v, g) not in claimed_keys
    ]


def check_card(
    card: ModelCard,
    schema: FeatureSchema,
    model: Any,
    reference: pd.DataFrame,
    calibration: pd.DataFrame | None = None,
) -> CardCheck:
    """Recompute the card's validation figures from the reference data and compare.

    Parameters
    ----------
    card : ModelCard
    schema : FeatureSchema
    model : estimator
        The bundle's fitted model (``predict_proba`` on the feature columns).
    reference : DataFrame
        The bundle's held-out rows (feature columns and ``outcome``).
    calibration : DataFrame, optional
        The calibration split, checked against the schema and the card's row count.

    Both splits are also checked for label leakage and degenerate outcome classes
    (:func:`caselens.model.leakage.leakage_problems`).

    Returns
    -------
    CardCheck
        Never raises for bad data or a model that cannot score it: each becomes a problem.
    """
    statements = tuple(changeable_input_problems(card.changeable_inputs, schema))
    problems = data_problems(schema, reference, "reference data")
    if calibration is not None:
        problems += data_problems(schema, calibration, "calibration data")
    differences = _row_count_differences(card, reference, calibration)
    if problems:
        # A row the schema refuses makes every figure suspect: report the rows, not figures
        # computed on data that should not be there.
        return CardCheck(
            measured=None,
            differences=tuple(differences),
            data_problems=tuple(problems),
            statement_problems=statements,
        )
    y = reference[OUTCOME_COLUMN].to_numpy().astype(int)
    leaks = _split_leakage(schema, reference, y, calibration)
    try:
        p = _reference_risks(model, schema, reference)
    except Exception as exc:  # a model that cannot score its own reference data is a finding
        return CardCheck(
            measured=None,
            differences=tuple(differences),
            data_problems=(
                f"the model could not score the reference data: {type(exc).__name__}: {exc}"[:500],
            ),
            leakage=tuple(leaks),
            statement_problems=statements,
        )
    overall = performance_figures(
        y,
        p,
        threshold=card.decision_threshold,
        n_bins=card.validation.ece_bins,
        bootstrap=True,
        seed=card.random_seed,
    )
    differences += compare_figures(card.validation.overall, overall, "overall")
    measured, subgroup_differences, unmatched = _check_subgroups(card, schema, reference, y, p)
    differences += subgroup_differences
    validation = card.validation.model_copy(
        update={"overall": overall, "subgroups": tuple(measured.values())}
    )
    return CardCheck(
        measured=validation,
        differences=tuple(differences),
        unmatched_subgroups=tuple(unmatched),
        unreported=tuple(_unreported(card, measured)),
        leakage=tuple(leaks),
        statement_problems=statements,
    )
