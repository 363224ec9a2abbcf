"""Subgroup figures of the live version and a shadow candidate, side by side on the same
patients: each version's :func:`caselens.monitoring.subgroup_table.subgroup_table` (every
figure with its interval, groups under 10 suppressed in words, intersections where n
allows, the largest gaps with their bootstrap interval), computed on the pairs with an
outcome, each version at its own threshold, with the groups formed once from the live
version's schema (:func:`caselens.model.subgroups.group_labels`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from caselens.model.features import FeatureSchema
from caselens.model.subgroups import group_labels
from caselens.monitoring.subgroup_table import MIN_GROUP_N, SubgroupTable, subgroup_table


@dataclass(frozen=True)
class SubgroupsSideBySide:
    """The two versions' subgroup tables on the same patients (with an outcome).

    ``live`` and ``candidate`` are None when no outcome is linked yet; ``notes`` say what a
    reader must know (a version whose threshold changed among the pairs is judged at the
    threshold of its newest pair)."""

    live: SubgroupTable | None
    candidate: SubgroupTable | None
    notes: tuple[str, ...] = ()


def schema_groups(schema: FeatureSchema, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each pair's group per subgroup variable of ``schema`` (missing: "not recorded")."""
    n = len(inputs)
    return {
        spec.name: group_labels(
            spec, inputs[spec.name].tolist() if spec.name in inputs else [None] * n
        )
        for spec in schema.subgroup_features
    }


def _threshold(values: np.ndarray, who: str, notes: list[str]) -> float:
    distinct = np.unique(values)
    if distinct.size > 1:
        notes.append(
            f"The {who} version's threshold changed among these pairs "
            f"({', '.join(f'{t:g}' for t in distinct)}): its subgroup sensitivity and "
            f"specificity are at {float(values[-1]):g}, the newest pair's."
        )
    return float(values[-1])


def side_by_side(
    y: np.ndarray,
    live_p: np.ndarray,
    live_t: np.ndarray,
    cand_p: np.ndarray,
    cand_t: np.ndarray,
    groups: Mapping[str, Sequence[str]],
    *,
    seed: int,
    confidence: float = 0.95,
    min_n: int = MIN_GROUP_N,
) -> SubgroupsSideBySide:
    """Both versions' subgroup tables on the pairs with an outcome (``y`` 0 or 1, one per
    pair as the other arrays and each variable's groups); the same seed for both."""
    if len(y) == 0 or not groups:
        return SubgroupsSideBySide(None, None)
    notes: list[str] = []
    tables = [
        subgroup_table(
            y,
            p,
            groups,
            _threshold(t, who, notes),
            min_n=min_n,
            seed=seed,
            confidence=confidence,
        )
        for p, t, who in ((live_p, live_t, "live"), (cand_p, cand_t, "candidate"))
    ]
    return SubgroupsSideBySide(tables[0], tables[1], tuple(notes))
