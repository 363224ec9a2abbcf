"""Subgroups formed from the feature schema, and their validation figures.

A category's values, a numeric feature's bins, or a numeric feature's values (written the same
way everywhere: ``1``, ``1.0`` and ``np.int64(1)`` are all group ``"1"``). A missing value is
the group ``"not recorded"``. An intersection of two variables is written ``"sex × age"``
with groups such as ``"Female × 65 to under 80"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.card import SubgroupPerformance
from caselens.model.data_check import is_missing_cell
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.performance import performance_figures

#: The group of a patient whose value for the variable is missing.
NOT_RECORDED_GROUP = "not recorded"
#: Joins two variables (and their groups) into an intersection subgroup.
INTERSECTION_MARK = " × "


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
    if is_missing_cell(value):
        return NOT_RECORDED_GROUP
    return spec.subgroup_of(value) or NOT_RECORDED_GROUP


class SubgroupLabels:
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
    labels_of: SubgroupLabels | None = None,
) -> tuple[SubgroupPerformance, ...]:
    """Figures for every group of every subgroup feature (or of ``variables``), groups sorted.

    The one computation of subgroup figures: the sample builds, the card check, the
    test bundles and the benchmarks all call it. ``labels_of`` (internal) shares the group
    labels with the rest of a card check.
    """
    names = list(variables) if variables is not None else [f.name for f in schema.subgroup_features]
    labels_of = labels_of or SubgroupLabels(schema, frame)
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
    labels_of = SubgroupLabels(schema, frame)
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
