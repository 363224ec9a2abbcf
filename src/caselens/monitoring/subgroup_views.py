"""The subgroup tables the screens show: a bundle's measured validation (its reference data)
and one monitoring period's predictions with linked outcomes, each computed by
:func:`caselens.monitoring.subgroup_table.subgroup_table` from groups formed by
:func:`caselens.model.subgroups.group_labels` (the one way CaseLens forms groups).

Both are derived data kept in this process only, under a key of everything they are computed
from (the bundle's SHA-256 and model file, the period's data fingerprint, the minimum n, the
seed and the resamples), so a repeated view does not redo the bootstrap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from caselens.model.bundle import ModelBundle
from caselens.model.features import FeatureSchema
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.subgroups import SubgroupLabels
from caselens.monitoring.figures import parse_period, read_period
from caselens.monitoring.figures_cache import cached_profile, fingerprint, profile_digest
from caselens.monitoring.subgroup_table import (
    GAP_RESAMPLES,
    GAP_SEED,
    MIN_GROUP_N,
    SubgroupTable,
    subgroup_table,
)

#: Tables kept in this process (each a few kB; a readmission table takes seconds to compute).
_KEEP = 32
_kept: OrderedDict[Hashable, SubgroupTable] = OrderedDict()
_lock = threading.Lock()


def _kept_or(key: Hashable, compute: Callable[[], SubgroupTable]) -> SubgroupTable:
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found
    table = compute()
    with _lock:
        _kept[key] = table
        while len(_kept) > _KEEP:
            _kept.popitem(last=False)
    return table


def subgroup_groups(schema: FeatureSchema, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each patient's group for every subgroup feature of ``schema`` found in ``frame``."""
    labels = SubgroupLabels(schema, frame)
    return {
        spec.name: labels.of(spec.name)
        for spec in schema.subgroup_features
        if spec.name in frame.columns
    }


def reference_subgroup_table(
    bundle: ModelBundle,
    *,
    min_n: int = MIN_GROUP_N,
    seed: int = GAP_SEED,
    n_boot: int = GAP_RESAMPLES,
) -> SubgroupTable:
    """The subgroup table of the bundle's measured validation: its reference rows, the
    model's own probabilities on them, the card's threshold."""
    key = (
        "reference",
        bundle.model_id,
        bundle.bundle_sha256,
        bundle.model_sha256,
        min_n,
        seed,
        n_boot,
    )

    def compute() -> SubgroupTable:
        reference = bundle.reference
        return subgroup_table(
            reference["outcome"].to_numpy(dtype=int),
            np.asarray(bundle.predict_proba(reference), dtype=float),
            subgroup_groups(bundle.features, reference),
            bundle.card.decision_threshold,
            min_n=min_n,
            seed=seed,
            n_boot=n_boot,
        )

    return _kept_or(key, compute)


def period_subgroup_table(
    engine: Engine,
    bundle: ModelBundle,
    plan: MonitoringPlan,
    period_label: str,
    *,
    run_id: str | None = None,
    min_n: int = MIN_GROUP_N,
    seed: int = GAP_SEED,
    n_boot: int = GAP_RESAMPLES,
) -> SubgroupTable:
    """The subgroup table of one monitoring period: the predictions of that period (the
    rows the Monitoring figures read) whose outcome is linked, at the card's threshold and
    the plan's confidence level."""
    period = parse_period(period_label, plan.period)
    window = plan.window_days(bundle.card.outcome.time_window)
    simulated = run_id is not None
    with engine.connect() as conn:
        # Taken before the rows are read: a row arriving meanwhile leaves this table under an
        # older key, never a stale table under the new one.
        stamp = fingerprint(
            conn,
            bundle.model_id,
            period,
            window_days=window,
            simulated=simulated,
            plan=plan,
            profile_hash=profile_digest(cached_profile(bundle, plan)),
            model_sha256=bundle.model_sha256,
        ).digest()
    key = ("period", bundle.model_id, period.label, run_id, stamp, min_n, seed, n_boot)

    def compute() -> SubgroupTable:
        frame, _ = read_period(
            engine,
            bundle.model_id,
            period,
            window_days=window,
            simulated=simulated,
            run_id=run_id,
        )
        known = frame[frame["outcome"].notna()] if len(frame) else frame
        return subgroup_table(
            known["outcome"].to_numpy(dtype=int) if len(known) else np.array([], dtype=int),
            known["probability"].to_numpy(dtype=float) if len(known) else np.array([]),
            subgroup_groups(bundle.features, known)
            if len(known)
            else {s.name: [] for s in bundle.features.subgroup_features},
            bundle.card.decision_threshold,
            min_n=min_n,
            seed=seed,
            n_boot=n_boot,
            confidence=plan.confidence,
        )

    return _kept_or(key, compute)
