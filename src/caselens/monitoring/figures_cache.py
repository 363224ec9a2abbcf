"""Cached monitoring figures: derived data that can only ever equal a fresh computation.

A period's figures are stored under a *fingerprint* of everything they are computed from:

* the period's prediction-log rows (their count and largest id, over every row of that model
  and source in the period, so a new row of any run changes it);
* the outcome rows that could link to them (count and largest id, by
  :func:`~caselens.monitoring.figures.linkable_outcome_count`, over the rows the figures
  read), and the corrections of the model's outcomes (count and largest id: a correction
  changes an outcome's value without adding an outcome row);
* the outcome window, the whole plan, the reference profile (a digest of its numbers, which
  covers the model, its threshold, the feature schema and the reference data) and the
  version of the code that computes figures.

A stored entry is used only when its fingerprint equals the one taken now, *before* the rows
are read (a row arriving while figures are computed leaves the entry under the older
fingerprint, which no longer matches, so it is recomputed next time). Log rows and outcomes
are append-only, so count and largest id change with every new row. Entries are signed with
a key derived from the trail's server key: an entry altered in the database is ignored and
recomputed, never shown. The cache is never evidence: the trail and the prediction log are.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit import AuditStore
from caselens.model.bundle import ModelBundle
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import (
    InputDrift,
    Performance,
    Period,
    PeriodFigures,
    ReferenceProfile,
    SubgroupFigures,
    build_profile,
    corrections_stamp,
    linkable_outcome_count,
)
from caselens.monitoring.stats import Estimate
from caselens.monitoring.tables import (
    figures_cache_table,
    prediction_log,
    ready_engine,
)

#: Bump whenever a figure's computation changes: every entry stored before is then stale.
FIGURES_CODE_VERSION = "2026-12-figures-1"
_MAC_CONTEXT = b"caselens monitoring figures cache v1"
_log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    try:
        package = importlib_metadata.version("caselens")
    except importlib_metadata.PackageNotFoundError:  # running from a source tree
        package = "source"
    return f"{FIGURES_CODE_VERSION}/{package}"


# -- the reference profile, once per bundle and plan ------------------------------------------


_PROFILES: OrderedDict[tuple[str, ...], ReferenceProfile] = OrderedDict()
_PROFILES_LOCK = threading.Lock()
_PROFILES_KEPT = 16


def reference_digest(bundle: ModelBundle) -> str:
    """A digest of the bundle's reference rows (values and columns)."""
    hashed = pd.util.hash_pandas_object(bundle.reference, index=True).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(json.dumps(list(map(str, bundle.reference.columns))).encode())
    return digest.hexdigest()


def cached_profile(bundle: ModelBundle, plan: MonitoringPlan) -> ReferenceProfile:
    """:func:`build_profile`, measured once per model file, reference data, schema and plan
    in this process (a view otherwise scores the whole reference again)."""
    key = (
        bundle.model_id,
        bundle.model_sha256,
        reference_digest(bundle),
        bundle.features.model_dump_json(),
        repr(bundle.card.decision_threshold),
        plan.model_dump_json(),
    )
    with _PROFILES_LOCK:
        if key in _PROFILES:
            _PROFILES.move_to_end(key)
            return _PROFILES[key]
    profile = build_profile(bundle, plan)
    with _PROFILES_LOCK:
        _PROFILES[key] = profile
        while len(_PROFILES) > _PROFILES_KEPT:
            _PROFILES.popitem(last=False)
    return profile


def profile_digest(profile: ReferenceProfile) -> str:
    """A digest of every number and name in a reference profile."""
    digest = hashlib.sha256()

    def add(*parts: Any) -> None:
        for part in parts:
            if isinstance(part, np.ndarray):
                digest.update(np.ascontiguousarray(part, dtype=float).tobytes())
            else:
                digest.update(repr(part).encode())
            digest.update(b"\x00")

    add(profile.model_id, profile.threshold, profile.n, profile.probabilities)
    add(profile.probability_edges, profile.probability_counts, profile.auroc)
    for name, ref in profile.inputs.items():
        edges = ref.edges if ref.edges is not None else "no edges"
        add(name, ref.kind, edges, ref.categories, ref.counts, ref.missing_share)
        add(ref.low, ref.high)
    add(sorted(profile.subgroup_auroc.items()))
    add([spec.model_dump_json() for spec in profile.subgroup_features])
    return digest.hexdigest()


# -- fingerprints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodFingerprint:
    """What one period's figures are computed from (see the module's docstring)."""

    predictions: int
    last_prediction_id: int | None
    outcomes: int
    last_outcome_id: int | None
    corrections: int
    last_correction_id: int | None
    window_days: int
    plan: str
    profile: str
    model_sha256: str
    code: str

    def digest(self) -> str:
        """SHA-256 of the fingerprint's canonical JSON."""
        text = json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(
    conn: Connection,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    simulated: bool,
    plan: MonitoringPlan,
    profile_hash: str,
    model_sha256: str,
) -> PeriodFingerprint:
    """The period's fingerprint now: two aggregate queries, each answered from an index."""
    c = prediction_log.c
    # Every run of the source, not only the one shown: the count then comes from the
    # (model_id, simulated, never_shown, recorded_at) index alone, and a superset only ever
    # invalidates more often, never less. A shadow candidate's rows are no part of the
    # figures, so a shadow batch does not invalidate them.
    rows, last_row = conn.execute(
        select(func.count(), func.max(c.id)).where(
            c.model_id == model_id,
            c.simulated.is_(simulated),
            c.never_shown.is_(False),
            c.recorded_at >= period.start.isoformat(),
            c.recorded_at < period.end.isoformat(),
        )
    ).one()
    outcomes, last_outcome = conn.execute(
        linkable_outcome_count(model_id, period, window_days, simulated)
    ).one()
    # Corrections of any of the model's outcomes (a superset of those that can link here:
    # it only ever invalidates more often), by a join rather than an IN over the outcomes.
    corrections, last_correction = conn.execute(corrections_stamp(model_id, simulated)).one()
    return PeriodFingerprint(
        predictions=int(rows),
        last_prediction_id=None if last_row is None else int(last_row),
        outcomes=int(outcomes),
        last_outcome_id=None if last_outcome is None else int(last_outcome),
        corrections=int(corrections),
        last_correction_id=None if last_correction is None else int(last_correction),
        window_days=window_days,
        plan=plan.model_dump_json(),
        profile=profile_hash,
        model_sha256=model_sha256,
        code=_code_version(),
    )


# -- figures as JSON and back -----------------------------------------------------------------


def _estimate(data: dict[str, Any]) -> Estimate:
    return Estimate(**data)


def _performance(data: dict[str, Any] | None) -> Performance | None:
    if data is None:
        return None
    estimates = {k: _estimate(v) for k, v in data.items() if isinstance(v, dict) and "value" in v}
    by_class = {k: _estimate(v) for k, v in data["coverage_by_class"].items()}
    rest = {k: v for k, v in data.items() if k not in estimates and k != "coverage_by_class"}
    return Performance(**rest, **estimates, coverage_by_class=by_class)


def figures_from_dict(data: dict[str, Any]) -> PeriodFigures:
    """The :class:`PeriodFigures` whose ``as_dict()`` is ``data`` (exact: floats round-trip
    through JSON unchanged)."""
    inputs = tuple(
        InputDrift(
            **{
                **d,
                "missing_share": _estimate(d["missing_share"]),
                "out_of_range": _estimate(d["out_of_range"]),
            }
        )
        for d in data["inputs"]
    )
    subgroups = tuple(
        SubgroupFigures(
            s["variable"],
            s["group"],
            _performance(s["performance"]),  # type: ignore[arg-type]
            _estimate(s["reference_auroc"]),
        )
        for s in data["subgroups"]
    )
    return PeriodFigures(
        **{
            **data,
            "versions": tuple(data["versions"]),
            "inputs": inputs,
            "performance": _performance(data["performance"]),
            "reference_auroc": _estimate(data["reference_auroc"]),
            "subgroups": subgroups,
            "notes": tuple(data["notes"]),
        }
    )


def figures_json(figures: PeriodFigures) -> str:
    """Canonical JSON of a period's figures."""
    return json.dumps(figures.as_dict(), sort_keys=True, separators=(",", ":"))


# -- the cache ---------------------------------------------------------------------------------


class FiguresCache:
    """Figures per period in ``monitoring_figures_cache``, each under its fingerprint.

    Reading or writing it never fails a view: a database error is logged and the figures
    are computed as if nothing were stored.
    """

    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine = engine
        self._key = hmac.new(key, _MAC_CONTEXT, hashlib.sha256).digest()

    @classmethod
    def for_store(cls, store: AuditStore) -> FiguresCache:
        """The cache in the audit store's database, signed with a key derived from its
        server key (which the database does not hold)."""
        return cls(ready_engine(store), store.signing_key)

    @staticmethod
    def slot(model_id: str, kind: str, period: str, simulated: bool, run_id: str | None) -> str:
        """The one entry a model, source and period can have."""
        source = f"simulated:{run_id}" if simulated else "live"
        return "|".join((model_id, source, kind, period))

    def _mac(self, slot: str, digest: str, text: str) -> str:
        message = "\n".join((slot, digest, text)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def get(self, slot: str, digest: str) -> PeriodFigures | None:
        """The stored figures if stored under this very fingerprint and unaltered."""
        t = figures_cache_table.c
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(t.fingerprint, t.figures_json, t.mac).where(t.slot == slot)
                ).first()
        except SQLAlchemyError as exc:
            _log.warning("Monitoring figures cache not read: %s", exc)
            return None
        if row is None or row[0] != digest:
            return None
        if not hmac.compare_digest(row[2], self._mac(slot, digest, row[1])):
            _log.warning("Monitoring figures cache entry %s fails its signature; recomputed.", slot)
            return None
        return figures_from_dict(json.loads(row[1]))

    def put(self, slot: str, digest: str, figures: PeriodFigures) -> None:
        """Store (or replace) the figures of a slot under their fingerprint."""
        text = figures_json(figures)
        values = {
            "slot": slot,
            "model_id": figures.model_id,
            "period": figures.period,
            "simulated": figures.simulated,
            "run_id": figures.run_id,
            "fingerprint": digest,
            "figures_json": text,
            "mac": self._mac(slot, digest, text),
            "computed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        }
        t = figures_cache_table.c
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(figures_cache_table).where(t.slot == slot))
                conn.execute(insert(figures_cache_table).values(**values))
        except SQLAlchemyError as exc:
            # Another view stored the same slot at the same moment, or the database is
            # busy: the figures shown are the ones just computed either way.
            _log.info("Monitoring figures cache not written: %s", exc)
