"""No label leakage, no degenerate splits: checks on a model's inputs and its held-out data.

A model that takes the outcome as an input "predicts" it perfectly, and every figure measured
on its test split is then a fiction (AUROC 1.0, sensitivity and specificity 1.0). A test or
calibration split with one outcome class, or with a handful of events, cannot support the
figures measured on it. ``caselens bundle create`` and ``caselens bundle check`` refuse both
(through :func:`caselens.model.card_check.check_card`, which calls :func:`leakage_problems`):

- an input named like the outcome column (:func:`outcome_named_inputs`);
- an input that separates the outcome perfectly on the split, whatever its name
  (:func:`perfect_predictors`): a renamed copy of the outcome, or a value recorded after it;
- a split with one outcome class, or fewer than :data:`MIN_SPLIT_EVENTS` events or
  non-events (:func:`split_problems`).

A model whose measured AUROC is at or above :data:`LEAKAGE_AUROC` is not refused (a very
good model is possible) but flagged "check for leakage" wherever its figures are shown
(:func:`auroc_flags`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from caselens.model.card import PerformanceFigures, Validation
from caselens.model.features import MISSING_TEXT

#: Fewest events (outcome 1) and fewest non-events (outcome 0) a test or calibration split
#: must hold: below 10, a figure measured on it is noise (the same floor as an intersection
#: subgroup's in ``caselens bundle create``). The heart-disease sample has 28 and 33.
MIN_SPLIT_EVENTS = 10
#: A measured AUROC at or above this is flagged "check for leakage": clinical risk models
#: rarely rank patients this well, and when one does an input that records the outcome, or
#: patients shared between training and test, is the likelier reason.
LEAKAGE_AUROC = 0.99
#: A text input with more distinct values than this share of its recorded rows names
#: patients rather than groups them; each value then "predicts" its one row, which is not
#: a sign of leakage, so such an input is not judged.
MAX_CATEGORY_VALUE_SHARE = 0.5
#: Values of a text input quoted in a refusal before the rest are counted.
SHOWN_VALUES = 5
#: Characters of a value quoted in a refusal; the rest is cut with '…'.
SHOWN_CHARS = 40
#: What every leakage refusal asks for.
EXPECTED_INPUT = "expected inputs known before the outcome: refit the model without it"


def _name_key(name: str) -> str:
    # 'Died ' and 'died' are different columns to pandas but the same word to a reader.
    return str(name).strip().casefold()


def outcome_named_inputs(names: Sequence[str], outcomes: Sequence[str], what: str) -> list[str]:
    """One problem per input whose name is an outcome column's (ignoring case and spaces).

    Parameters
    ----------
    names : sequence of str
        The model's inputs.
    outcomes : sequence of str
        The outcome column's names, e.g. the ``--outcome`` of ``bundle create`` and the
        bundle's own ``outcome``.
    what : str
        Where the inputs are listed, e.g. ``"the feature schema"``.
    """
    keys = {_name_key(o): o for o in outcomes}
    return [
        f"{what}: the input '{name}' is named like the outcome column "
        f"'{keys[_name_key(name)]}' (label leakage); {EXPECTED_INPUT}"
        for name in names
        if _name_key(name) in keys
    ]


def split_problems(y: np.ndarray, what: str, *, column: str = "outcome") -> list[str]:
    """Why a held-out split cannot support figures: one outcome class, or too few events.

    Parameters
    ----------
    y : array of 0/1
        The split's outcomes.
    what : str
        The split's name in messages, e.g. ``"reference data"``.
    column : str
        The outcome column's name in messages.
    """
    n = len(y)
    events = int(np.sum(y == 1))
    non_events = n - events
    expected = (
        f"expected both outcomes, with at least {MIN_SPLIT_EVENTS} events and "
        f"{MIN_SPLIT_EVENTS} non-events"
    )
    if n == 0:
        return [f"{what} has no rows; {expected}"]
    if events == 0 or non_events == 0:
        only = 1 if events else 0
        return [
            f"{what}, column '{column}': one outcome class only (all {n:,} rows have outcome "
            f"{only}); {expected}"
        ]
    if min(events, non_events) < MIN_SPLIT_EVENTS:
        return [
            f"{what}, column '{column}': {events:,} events (outcome 1) and {non_events:,} "
            f"non-events (outcome 0), too few for its figures to be more than noise; {expected}"
        ]
    return []


def _text_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's value as a code into the distinct values as written (stripped; 'Yes' and
    'yes ' are one value), -1 where not recorded (empty, NaN, or a text such as 'NA')."""
    # Judged once per distinct value: a reference table has many rows, few distinct values.
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    shown: dict[str, int] = {}
    names: list[str] = []
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)
    for i, value in enumerate(uniques):
        text = str(value).strip()
        if _is_missing_text(value):
            continue
        key = text.casefold()
        if key not in shown:
            shown[key] = len(names)
            names.append(text)
        remap[i] = shown[key]
    return remap[codes], names


def _clipped(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _is_missing_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().casefold() in MISSING_TEXT


def _numeric_separation(name: str, x: np.ndarray, y: np.ndarray) -> str | None:
    """'all 28 events have x ≥ 3 and all 33 non-events x ≤ 2', or None if they overlap."""
    events, others = x[y == 1], x[y == 0]
    if events.min() > others.max():
        return (
            f"all {len(events):,} events have {name} ≥ {events.min():g} and all "
            f"{len(others):,} non-events {name} ≤ {others.max():g}"
        )
    if events.max() < others.min():
        return (
            f"all {len(events):,} events have {name} ≤ {events.max():g} and all "
            f"{len(others):,} non-events {name} ≥ {others.min():g}"
        )
    return None


def _category_separation(codes: np.ndarray, values: Sequence[str], y: np.ndarray) -> str | None:
    """'each of its values goes with one outcome only (…)', or None."""
    if len(values) > MAX_CATEGORY_VALUE_SHARE * len(codes):
        return None
    events = np.bincount(codes, weights=y, minlength=len(values))
    counts = np.bincount(codes, minlength=len(values))
    if np.any((events > 0) & (events < counts)):
        return None
    present = [i for i in range(len(values)) if counts[i]]
    parts = [
        f"'{_clipped(values[i])}': {int(counts[i]):,} " + ("events" if events[i] else "non-events")
        for i in present[:SHOWN_VALUES]
    ]
    more = len(present) - SHOWN_VALUES
    listed = "; ".join(parts) + (f"; and {more} more value(s)" if more > 0 else "")
    return f"each of its values goes with one outcome only ({listed})"


def perfect_predictors(
    frame: pd.DataFrame, names: Sequence[str], y: np.ndarray, what: str
) -> list[str]:
    """One problem per input that predicts the outcome perfectly on this split.

    A number input predicts it perfectly when a cut point puts every event on one side and
    every non-event on the other (its AUROC is 1.0 or 0.0); a text input when each of its
    values goes with one outcome only. Only the rows where the input is recorded count, and
    only when they hold at least :data:`MIN_SPLIT_EVENTS` events and non-events (fewer can
    separate by chance). A text input with nearly one value per row is not judged
    (:data:`MAX_CATEGORY_VALUE_SHARE`).

    Parameters
    ----------
    frame : DataFrame
        The split, with the ``names`` columns.
    names : sequence of str
        The inputs to judge.
    y : array of 0/1
        The split's outcomes, in the frame's row order.
    what : str
        The split's name in messages.
    """
    y = np.asarray(y, dtype=int)
    problems = []
    for name in names:
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not (
            pd.api.types.is_bool_dtype(values.dtype)
        )
        if numeric:
            x = values.to_numpy(dtype=float)
            recorded = ~np.isnan(x)
        else:
            codes, distinct = _text_codes(values)
            recorded = codes >= 0
        kept_y = y[recorded]
        events = int(kept_y.sum())
        if min(events, len(kept_y) - events) < MIN_SPLIT_EVENTS:
            continue
        if numeric:
            found = _numeric_separation(name, x[recorded], kept_y)
        else:
            found = _category_separation(codes[recorded], distinct, kept_y)
        if found is not None:
            problems.append(
                f"{what}, input '{name}': predicts the outcome perfectly: {found}. A copy of "
                f"the outcome, or a value recorded after it, does that (label leakage); "
                f"{EXPECTED_INPUT}"
            )
    return problems


def leakage_problems(
    frame: pd.DataFrame,
    names: Sequence[str],
    y: np.ndarray,
    what: str,
    *,
    outcomes: Sequence[str] = ("outcome",),
) -> list[str]:
    """Every leakage and degenerate-split problem of one held-out split, in words.

    The split's class counts (:func:`split_problems`), inputs named like the outcome
    (:func:`outcome_named_inputs`) and inputs that predict it perfectly
    (:func:`perfect_predictors`; an input already refused by name is not judged again).
    ``outcomes`` are the outcome column's names, the first being its name in ``frame``.
    """
    problems = split_problems(y, what, column=outcomes[0])
    named = outcome_named_inputs(names, outcomes, what)
    problems += named
    by_name = {_name_key(o) for o in outcomes}
    others = [n for n in names if _name_key(n) not in by_name]
    return problems + perfect_predictors(frame, others, y, what)


@dataclass(frozen=True)
class LeakageFlag:
    """A measured AUROC so high that leakage is the likelier explanation.

    Attributes
    ----------
    population : str
        ``"overall"`` or ``"sex: Female"``.
    auroc : float
    n, events : int
        The patients and events it was measured on.
    """

    population: str
    auroc: float
    n: int
    events: int

    def figure(self) -> str:
        """'overall: AUROC 0.9984 (300 patients, 117 events)'."""
        return (
            f"{self.population}: AUROC {self.auroc:.4f} ({self.n:,} patients, "
            f"{self.events:,} events)"
        )


def leakage_flag_text(flags: Sequence[LeakageFlag]) -> str | None:
    """All flags in one 'Check for leakage: …' statement (None when there are none)."""
    if not flags:
        return None
    listed = "; ".join(f.figure() for f in flags)
    return (
        f"Check for leakage: measured on the reference data, the AUROC is at or above "
        f"{LEAKAGE_AUROC} in {listed}. Clinical risk models rarely rank patients this well; "
        "make sure no input records the outcome or is recorded after it, and that no patient "
        "is in both the training and the test data. A subgroup with fewer than "
        f"{MIN_SPLIT_EVENTS} events or {MIN_SPLIT_EVENTS} non-events is not flagged: its AUROC "
        "can be 1 by chance."
    )


def _flag(population: str, figures: PerformanceFigures) -> LeakageFlag | None:
    supported = min(figures.events, figures.n - figures.events) >= MIN_SPLIT_EVENTS
    if figures.auroc is None or figures.auroc < LEAKAGE_AUROC or not supported:
        return None
    return LeakageFlag(population, figures.auroc, figures.n, figures.events)


def auroc_flags(validation: Validation | None) -> tuple[LeakageFlag, ...]:
    """'Check for leakage' flags for every measured AUROC at or above :data:`LEAKAGE_AUROC`.

    Overall, and for each subgroup with at least :data:`MIN_SPLIT_EVENTS` events and
    non-events (a smaller group's AUROC of 1.0 is chance, not a sign). ``validation`` must be
    what was measured on the reference data (None: nothing measured, nothing flagged).
    """
    if validation is None:
        return ()
    found = [_flag("overall", validation.overall)]
    found += [_flag(f"{s.variable}: {s.group}", s.figures) for s in validation.subgroups]
    return tuple(f for f in found if f is not None)
