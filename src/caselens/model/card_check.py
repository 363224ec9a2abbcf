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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from caselens.model.card import ModelCard, PerformanceFigures, SubgroupPerformance, Validation
from caselens.model.features import MISSING_TEXT, FeatureSchema, FeatureSpec
from caselens.model.leakage import leakage_problems
from caselens.model.performance import performance_figures

#: The outcome column of reference and calibration data (``caselens.model.bundle.OUTCOME_COLUMN``;
#: repeated here because the bundle module imports this one).
OUTCOME_COLUMN = "outcome"
#: Card figures are rounded to 4 decimals (:func:`performance_figures`): a difference up to
#: one unit in the 4th decimal is rounding, not a different claim.
FIGURE_TOLERANCE = 1e-4
#: Binary floating-point noise on top of that (0.1 + 0.2 is not 0.3 in a float).
FLOAT_SLACK = 1e-9
#: The group of a patient whose value for the variable is missing.
NOT_RECORDED_GROUP = "not recorded"
#: Joins two variables (and their groups) into an intersection subgroup.
INTERSECTION_MARK = " × "
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

    @property
    def problems(self) -> tuple[str, ...]:
        """Every reason to refuse the bundle at create/check time, in words."""
        return (
            *self.data_problems,
            *self.leakage,
            *self.unmatched_subgroups,
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


# -- the feature schema against the data --------------------------------------------------------


def _is_missing_cell(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TEXT


def _cell_problem(spec: FeatureSpec, value: Any) -> str | None:
    """Why the schema would refuse this present (non-missing) value, or None."""
    if spec.kind == "category":
        allowed = {c.lower(): c for c in spec.categories or ()}
        text = None
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            text = str(value)
        if text is None or text.lower() not in allowed:
            return f"{value!r} is not one of the categories ({', '.join(spec.categories or ())})"
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        return f"{value!r} is not a number"
    number = float(value)
    if math.isinf(number):
        return f"{number} is not a finite number"
    if spec.kind == "integer" and number != int(number):
        return f"{number:g} is not a whole number (the schema says integer)"
    if spec.hard_min is not None and number < spec.hard_min:
        return f"{number:g} is below the hard limit hard_min = {spec.hard_min:g}"
    if spec.hard_max is not None and number > spec.hard_max:
        return f"{number:g} is above the hard limit hard_max = {spec.hard_max:g}"
    return None


def _column_problems(spec: FeatureSpec, column: pd.Series) -> list[tuple[int, str]]:
    """(row position, reason) for each cell of one column the schema would refuse.

    Judged once per distinct value (a reference table has 20,000 rows but few distinct
    values per column); a float column is judged with array operations.
    """
    missing_reason = "the value is missing but the schema does not allow a missing value"
    if spec.kind != "category" and pd.api.types.is_float_dtype(column.dtype):
        values = column.to_numpy(dtype=float)
        bad = np.isinf(values)
        if spec.kind == "integer":
            bad |= np.isfinite(values) & (values != np.round(values))
        if spec.hard_min is not None:
            bad |= values < spec.hard_min
        if spec.hard_max is not None:
            bad |= values > spec.hard_max
        if not spec.missing_allowed:
            bad |= np.isnan(values)
        return [
            (
                int(i),
                missing_reason if math.isnan(values[i]) else _cell_problem(spec, values[i]) or "",
            )
            for i in np.flatnonzero(bad)
        ]
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    verdicts: list[str | None] = []
    for value in uniques.tolist():
        if _is_missing_cell(value):
            verdicts.append(None if spec.missing_allowed else missing_reason)
        else:
            verdicts.append(_cell_problem(spec, value))
    na_verdict = None if spec.missing_allowed else missing_reason
    # Only the refused rows are visited (in row order), not every row.
    bad = np.isin(codes, [i for i, v in enumerate(verdicts) if v is not None])
    if na_verdict is not None:
        bad |= codes == -1
    return [
        (int(position), (na_verdict or "") if code == -1 else (verdicts[code] or ""))
        for position, code in zip(np.flatnonzero(bad).tolist(), codes[bad].tolist(), strict=True)
    ]


def data_problems(schema: FeatureSchema, frame: pd.DataFrame, what: str) -> list[str]:
    """Rows of ``frame`` that the feature schema would refuse as a case, naming row and field.

    Rows are counted from 1 in file order (a CSV's header line is not a row). Checks each
    feature's type, hard limits, categories, whole numbers for integer features and missing
    values where the schema does not allow them, and that the outcome is 0 or 1.

    Parameters
    ----------
    schema : FeatureSchema
    frame : DataFrame
        Feature columns and ``outcome``.
    what : str
        The data's name in messages, e.g. ``"reference data"``.

    Returns
    -------
    list of str
        One message per refused cell (missing columns: one message each).
    """
    problems: list[str] = []
    missing_columns = [c for c in [*schema.names, OUTCOME_COLUMN] if c not in frame.columns]
    if missing_columns:
        return [f"the {what} lacks column(s): {', '.join(missing_columns)}"]
    for spec in schema:
        for position, reason in _column_problems(spec, frame[spec.name]):
            problems.append(f"{what} row {position + 1}, field '{spec.name}': {reason}")
    outcome = frame[OUTCOME_COLUMN]
    if isinstance(outcome.dtype, np.dtype) and outcome.dtype.kind in "iu":
        # A plain integer column (no gaps): only the rows that are not 0 or 1 are visited.
        values = outcome.to_numpy()
        suspects = np.flatnonzero((values != 0) & (values != 1))
    else:
        suspects = np.arange(len(outcome))
    outcome_values = outcome.astype(object).to_numpy()
    for position in suspects.tolist():
        value = outcome_values[position]
        is_binary = (
            not _is_missing_cell(value)
            and isinstance(value, int | float | np.integer | np.floating | bool | np.bool_)
            and float(value) in (0.0, 1.0)
        )
        if not is_binary:
            problems.append(
                f"{what} row {position + 1}, field '{OUTCOME_COLUMN}': {value!r} is not 0 or 1"
            )
    return problems


# -- subgroups ----------------------------------------------------------------------------------


def group_labels(spec: FeatureSpec, values: Iterable[Any]) -> np.ndarray:
    """Each value's subgroup name (:meth:`FeatureSpec.subgroup_of`; missing: 'not recorded')."""
    # A reference table has thousands of rows but few distinct values per column: name each
    # distinct value once. Keyed by type and repr, so -0.0 and 0.0, or 1 and 1.0, are still
    # named separately (exactly as before, whatever subgroup_of makes of them).
    memo: dict[tuple[type, str], str] = {}

    def label(v: Any) -> str:
        key = (type(v), repr(v))
        found = memo.get(key)
        if found is None:
            memo[key] = found = _group_label(spec, v)
        return found

    return np.array([label(v) for v in values], dtype=object)


def _group_label(spec: FeatureSpec, value: Any) -> str:
    if _is_missing_cell(value):
        return NOT_RECORDED_GROUP
    return spec.subgroup_of(value) or NOT_RECORDED_GROUP


class _Labels:
    """Group labels per variable (and per intersection) of one frame, each computed once."""

    def __init__(self, schema: FeatureSchema, frame: pd.DataFrame) -> None:
        self.schema = schema
        self.frame = frame
        self._done: dict[tuple[str, ...], np.ndarray] = {}

    def of(self, *variables: str) -> np.ndarray:
        """Labels of one variable, or ``"a × b"`` labels of two."""
        found = self._done.get(variables)
        if found is None:
            if len(variables) == 1:
                name = variables[0]
                found = group_labels(self.schema[name], self.frame[name].tolist())
            else:
                first, second = (self.of(v) for v in variables)
                found = np.array(
                    [f"{x}{INTERSECTION_MARK}{z}" for x, z in zip(first, second, strict=True)]
                )
            self._done[variables] = found
        return found


def subgroup_figures(
    schema: FeatureSchema,
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    n_bins: int = 10,
    variables: Sequence[str] | None = None,
    labels_of: _Labels | None = None,
) -> tuple[SubgroupPerformance, ...]:
    """Figures for every group of every subgroup feature (or of ``variables``), groups sorted.

    The one computation of subgroup figures: the sample builds, the card check, the
    test bundles and the benchmarks all call it. ``labels_of`` (internal) shares the group
    labels with the rest of a card check.
    """
    names = list(variables) if variables is not None else [f.name for f in schema.subgroup_features]
    labels_of = labels_of or _Labels(schema, frame)
    rows = []
    for name in names:
        labels = labels_of.of(name)
        for group in sorted(set(labels)):
            mask = labels == group
            rows.append(
                SubgroupPerformance(
                    variable=name,
                    group=str(group),
                    figures=performance_figures(
                        y[mask], p[mask], threshold=threshold, n_bins=n_bins
                    ),
                )
            )
    return tuple(rows)


def intersection_figures(
    schema: FeatureSchema,
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    pairs: Sequence[tuple[str, str]],
    n_bins: int = 10,
    min_n: int = 0,
    min_events: int = 0,
) -> tuple[SubgroupPerformance, ...]:
    """Figures for the intersections of two variables, keeping groups with enough patients.

    Parameters
    ----------
    pairs : sequence of (str, str)
        The variable pairs, e.g. ``[("sex", "age")]``.
    min_n, min_events : int
        An intersection group is reported only with at least this many patients and events
        (and non-events): fewer cannot support a figure.
    """
    rows = []
    labels_of = _Labels(schema, frame)
    for first, second in pairs:
        labels = labels_of.of(first, second)
        for group in sorted(set(labels)):
            mask = labels == group
            events = int(y[mask].sum())
            if mask.sum() < min_n or min(events, int(mask.sum()) - events) < min_events:
                continue
            rows.append(
                SubgroupPerformance(
                    variable=f"{first}{INTERSECTION_MARK}{second}",
                    group=group,
                    figures=performance_figures(
                        y[mask], p[mask], threshold=threshold, n_bins=n_bins
                    ),
                )
            )
    return tuple(rows)


# -- comparing claims with measurements ---------------------------------------------------------


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
    labels_of: _Labels,
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
    problems = data_problems(schema, reference, "reference data")
    if calibration is not None:
        problems += data_problems(schema, calibration, "calibration data")
    differences: list[FigureDifference] = []
    counts = [("n_test", len(reference))]
    if calibration is not None:
        counts.append(("n_calibration", len(calibration)))
    for name, rows in counts:
        if getattr(card.training_data, name) != rows:
            differences.append(
                FigureDifference("training_data", name, getattr(card.training_data, name), rows)
            )
    if problems:
        # A row the schema refuses makes every figure suspect: report the rows, not figures
        # computed on data that should not be there.
        return CardCheck(
            measured=None, differences=tuple(differences), data_problems=tuple(problems)
        )
    y = reference[OUTCOME_COLUMN].to_numpy().astype(int)
    leaks = leakage_problems(reference, schema.names, y, "reference data")
    if calibration is not None:
        y_calibration = calibration[OUTCOME_COLUMN].to_numpy().astype(int)
        leaks += leakage_problems(calibration, schema.names, y_calibration, "calibration data")
    try:
        # One thread, as CaseExplainer predicts: a booster's OpenMP threads wait on each
        # other on a small busy machine; every row is predicted on its own either way.
        with threadpool_limits(limits=1):
            p = np.asarray(model.predict_proba(reference[schema.names])[:, 1], dtype=float)
    except Exception as exc:  # a model that cannot score its own reference data is a finding
        return CardCheck(
            measured=None,
            differences=tuple(differences),
            data_problems=(
                f"the model could not score the reference data: {type(exc).__name__}: {exc}"[:500],
            ),
            leakage=tuple(leaks),
        )
    threshold = card.decision_threshold
    n_bins = card.validation.ece_bins
    overall = performance_figures(
        y, p, threshold=threshold, n_bins=n_bins, bootstrap=True, seed=card.random_seed
    )
    differences += compare_figures(card.validation.overall, overall, "overall")
    labels_of = _Labels(schema, reference)
    measured = {
        (s.variable, s.group): s
        for s in subgroup_figures(
            schema, reference, y, p, threshold=threshold, n_bins=n_bins, labels_of=labels_of
        )
    }
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
    claimed_keys = {(s.variable, s.group) for s in card.validation.subgroups}
    unreported = [
        f"the card does not report subgroup {v} = '{g}'; measured on the bundle's reference "
        f"data: n = {s.figures.n}, events = {s.figures.events}, AUROC = "
        f"{_shown(s.figures.auroc) if s.figures.auroc is not None else 'not estimable'}"
        for (v, g), s in measured.items()
        if (v, g) not in claimed_keys
    ]
    validation = card.validation.model_copy(
        update={"overall": overall, "subgroups": tuple(measured.values())}
    )
    return CardCheck(
        measured=validation,
        differences=tuple(differences),
        unmatched_subgroups=tuple(unmatched),
        unreported=tuple(unreported),
        leakage=tuple(leaks),
    )


# -- how inputs are worded: warnings, never refusals -------------------------------------------


def _readings(feature: FeatureSpec) -> str:
    meaning = feature.coded_meaning
    if meaning == "yes_no":
        return "read as a yes/no condition from its label"
    if meaning == "category":
        return "read as a category from its category_descriptions"
    return "shown to patients as its code ('recorded as 1')"


def input_meaning_warnings(schema: FeatureSchema, card: ModelCard | None = None) -> tuple[str, ...]:
    """Loud warnings about how the inputs will be worded (a bundle is never refused for them).

    - 0/1 whole-number inputs that do not state their ``meaning`` (a yes/no condition, or a
      category such as sex with its ``category_descriptions``), named all at once with how
      each is read meanwhile;
    - ``category_descriptions`` for a value the input cannot take;
    - card ``expected_directions`` for an input that is not a yes/no condition.
    """
    notes: list[str] = []
    unstated = [f for f in schema if f.is_zero_one and f.meaning is None]
    if unstated:
        listed = "; ".join(f"{f.name} ({_readings(f)})" for f in unstated)
        notes.append(
            f"WARNING: {len(unstated)} 0/1 input(s) do not say what 1 means: {listed}. Set "
            'meaning = "yes_no" (1 = the patient has the condition) or meaning = '
            '"category" with category_descriptions for 0 and 1 (e.g. {"0" = "Female", '
            '"1" = "Male"}) in the card file\'s [features.<name>] tables, so that no '
            "patient reads 'sex (yes)'."
        )
    for feature in schema:
        described = set(feature.category_descriptions or {})
        if not described:
            continue
        if feature.kind == "category":
            allowed = set(feature.categories or ())
        elif feature.is_zero_one:
            allowed = {"0", "1"}
        else:
            allowed = set()
        odd = sorted(described - allowed)
        if odd:
            notes.append(
                f"WARNING: {feature.name}'s category_descriptions name value(s) it cannot "
                f"take: {', '.join(odd)} (its values: {', '.join(sorted(allowed)) or 'numbers'})."
            )
    directions = (card.expected_directions if card is not None else None) or {}
    for name in sorted(directions):
        if name not in schema:
            notes.append(
                f"WARNING: the card's expected_directions names '{name}', which is not an input."
            )
            continue
        feature = schema[name]
        yes_no = feature.coded_meaning == "yes_no" or (
            feature.kind == "category"
            and {c.lower() for c in feature.categories or ()} == {"yes", "no"}
        )
        if not yes_no:
            notes.append(
                f"WARNING: the card's expected_directions names '{name}', which is not a yes/no "
                "condition; only yes/no conditions are compared with their expected direction."
            )
    return tuple(notes)
