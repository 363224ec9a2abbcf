"""A period's figures from its columns (:mod:`.column_reading`): equal to
:func:`~caselens.monitoring.figures.measures.period_figures` of the DataFrame of the same
rows, with each count taken in one pass over a column instead of through pandas.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.features import FeatureSpec
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures.calendar_periods import Period
from caselens.monitoring.figures.column_reading import PeriodColumns
from caselens.monitoring.figures.measures import (
    InputDrift,
    PeriodFigures,
    SetHits,
    assemble,
    category_drift,
    number_drift,
)
from caselens.monitoring.figures.reference_profile import (
    NOT_RECORDED,
    ReferenceProfile,
    category_counts,
)

_NONE_TYPE = type(None)


def _fast_category_counts(values: Sequence[Any], categories: tuple[str, ...]) -> np.ndarray:
    """:func:`category_counts` of a column of raw values, counted in one pass."""
    counts = Counter(values)
    # Checked on the distinct values only (few), not on every row.
    if not set(map(type, counts)) <= {str, _NONE_TYPE}:
        # Numbers or booleans as categories: pandas' own spelling of them decides ("1.0"
        # when a column of integers has a gap), so count them exactly as the DataFrame does.
        return category_counts(pd.DataFrame({"v": values})["v"], categories)
    missing = counts.pop(None, 0)
    known = [counts.get(c, 0) for c in categories]
    other = sum(count for value, count in counts.items() if value not in categories)
    return np.array([*known, other, missing], dtype=float)


def _category_codes(categories: tuple[str, ...]) -> Callable[[Sequence[Any]], Any]:
    """Per row, the index of its category, len(categories) for any other value and one more
    for a missing one; None for a column holding numbers or booleans (counted by
    :func:`_fast_category_counts`, whose result then depends on the whole column)."""
    index = {c: i for i, c in enumerate(categories)}
    other, missing = len(categories), len(categories) + 1

    def codes(values: Sequence[Any]) -> np.ndarray | None:
        distinct = set(values)
        if not set(map(type, distinct)) <= {str, _NONE_TYPE}:
            return None
        code_of = {v: missing if v is None else index.get(v, other) for v in distinct}
        return np.array(list(map(code_of.__getitem__, values)), dtype=np.int16)

    return codes


def _category_counts_of(columns: PeriodColumns, name: str, categories: tuple[str, ...]):
    """:func:`_fast_category_counts` of an input, from its per-row codes when it has them."""
    codes = columns.derived(("codes", name, categories), name, _category_codes(categories))
    if codes is None:
        return _fast_category_counts(
            columns.inputs.get(name) or (None,) * len(columns.ids), categories
        )
    return np.bincount(codes, minlength=len(categories) + 2).astype(float)


def _fast_numbers(values: Sequence[Any]) -> np.ndarray:
    """``pd.to_numeric(column, errors="coerce")`` of a column of raw values, as floats."""
    if set(map(type, values)) <= {int, float, _NONE_TYPE}:
        return np.array(values, dtype=float)  # None becomes NaN, as pandas' missing value
    column = pd.DataFrame({"v": values})["v"]
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _fast_groups(values: Sequence[Any], spec: FeatureSpec) -> np.ndarray:
    """:func:`group_series` of raw values: each distinct value's group worked out once."""
    try:
        distinct = set(values)
    except TypeError:  # an unhashable value (a list): no memo
        distinct = None
    if distinct is not None and len(set(map(type, distinct)) - {_NONE_TYPE}) <= 1:
        # One type of value (the usual case): equal values are one category, so each
        # distinct value's group is worked out once and looked up at C speed.
        group_of = {v: spec.subgroup_of(v) or NOT_RECORDED for v in distinct}
        return np.array(list(map(group_of.__getitem__, values)), dtype=object)
    memo: dict[tuple[type, Any], str] = {}
    out = []
    try:
        for value in values:
            # Keyed by type too: 1, 1.0 and True are equal keys but not one category.
            key = (type(value), value)
            group = memo.get(key)
            if group is None:
                group = memo[key] = spec.subgroup_of(value) or NOT_RECORDED
            out.append(group)
    except TypeError:  # an unhashable value (a list): no memo
        out = [spec.subgroup_of(value) or NOT_RECORDED for value in values]
    return np.array(out, dtype=object)


def _fast_set_hits(texts: Sequence[str | None]) -> SetHits | None:
    """:func:`.measures._parse_sets` as arrays, each distinct set's text parsed once."""
    if all(text is None for text in texts):
        return None
    parsed = {text: tuple(json.loads(text)) for text in set(texts) if text is not None}
    flags = {None: (False, False, False)} | {
        text: (True, 0 in labels, 1 in labels) for text, labels in parsed.items()
    }
    table = np.array(list(map(flags.__getitem__, texts)), dtype=bool).reshape(len(texts), 3)
    return SetHits(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())


def columns_figures(
    columns: PeriodColumns,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    period: Period,
    simulated: bool = False,
    run_id: str | None = None,
) -> PeriodFigures:
    """All figures of one period from :func:`read_period_columns`: equal to
    :func:`period_figures` of :func:`read_period`'s frame (the tests hold them equal)."""
    p = columns.probability
    n = len(p)
    inputs: tuple[InputDrift, ...] = ()
    if n:
        drift = []
        for ref in profile.inputs.values():
            if ref.kind == "category":
                counts = _category_counts_of(columns, ref.name, ref.categories)
                drift.append(category_drift(counts, n, ref, plan.confidence))
            else:
                numbers = columns.derived(("numbers", ref.name), ref.name, _fast_numbers)
                drift.append(number_drift(numbers, ref, plan.confidence))
        inputs = tuple(drift)
    has_outcome = ~np.isnan(columns.outcome)
    y = pk = hits = None
    groups: dict[str, np.ndarray] = {}
    if has_outcome.any():
        y = columns.outcome[has_outcome].astype(int)
        pk = p[has_outcome]
        where = np.flatnonzero(has_outcome)
        every = len(where) == n
        sets = columns.conformal_set
        hits = _fast_set_hits(sets if every else [sets[i] for i in where])
        for spec in profile.subgroup_features:
            if spec.name in columns.inputs:
                key = ("groups", spec.name, spec.model_dump_json())
                of_all = columns.derived(key, spec.name, partial(_fast_groups, spec=spec))
                groups[spec.name] = of_all if every else of_all[where]
    return assemble(
        p,
        inputs,
        has_outcome,
        y,
        pk,
        hits,
        groups,
        tuple(sorted(set(columns.model_version))),
        profile,
        plan,
        period=period,
        displays=columns.displays,
        simulated=simulated,
        run_id=run_id,
    )
