"""Monitoring figures for one model and one period, each with its n and interval.

The reference is the bundle's own reference data (the held-out rows every figure CaseLens
shows about a model is measured on): the predicted-probability and input distributions,
the training ranges, and the AUROC overall and per subgroup. A period's figures are
computed from that model's prediction-log rows of that period only, read in one query,
with the outcomes of those patients linked in a second: never from the whole trail.

* volume: displays, and distinct predictions (one patient's report shown to the clinician
  and previewed for the patient is one prediction);
* drift: PSI and a two-sample KS test of the predicted probabilities; per input, PSI over
  reference-quantile bins (numbers) or categories, with a missing bin, a chi-square test
  for categories, the missing share and the out-of-range rate (outside the training range
  or categories);
* once outcomes are linked: AUROC, calibration-in-the-large, calibration slope, ECE,
  Brier, observed vs mean predicted rate, realised conformal coverage (overall and per
  outcome class), sensitivity and specificity at the card's threshold; the same per
  subgroup, and the largest gap between the subgroups of one variable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from operator import add, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sqlalchemy import Engine, Select, func, select

from caselens.model.bundle import ModelBundle
from caselens.model.features import FeatureSpec
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.performance import expected_calibration_error
from caselens.monitoring.stats import (
    Estimate,
    auroc_estimate,
    binned_counts,
    calibration_fit,
    chi_square_p,
    mean_estimate,
    psi,
    quantile_edges,
    wilson,
)
from caselens.monitoring.tables import (
    current_outcome,
    outcome_correction_table,
    outcome_table,
    prediction_log,
)

if TYPE_CHECKING:
    from caselens.monitoring.period_rows import OutcomeColumns, RawRows

#: The group name of a missing subgroup value (the card's spelling).
NOT_RECORDED = "not recorded"
#: Patient references looked up per outcome query.
_CHUNK = 500
#: Rows' inputs parsed per json.loads call on the fast path.
_PARSE_CHUNK = 5_000


# -- the reference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InputReference:
    """One input's reference distribution."""

    name: str
    kind: str
    edges: np.ndarray | None
    categories: tuple[str, ...]
    counts: np.ndarray
    missing_share: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReferenceProfile:
    """What a period is compared with, measured once on the bundle's reference rows."""

    model_id: str
    threshold: float
    probabilities: np.ndarray
    probability_edges: np.ndarray
    probability_counts: np.ndarray
    inputs: dict[str, InputReference]
    auroc: Estimate
    subgroup_auroc: dict[tuple[str, str], Estimate]
    subgroup_features: tuple[FeatureSpec, ...]
    n: int


def _category_counts(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Counts per known category, then one for any other value, then one for missing."""
    missing = values.isna()
    text = values[~missing].astype(str)
    known = [int((text == c).sum()) for c in categories]
    other = int((~text.isin(categories)).sum())
    return np.array([*known, other, int(missing.sum())], dtype=float)


def _group_series(values: pd.Series, spec: FeatureSpec) -> pd.Series:
    return values.map(lambda v: spec.subgroup_of(v) or NOT_RECORDED)


def build_profile(
    bundle: ModelBundle, plan: MonitoringPlan, probabilities: np.ndarray | None = None
) -> ReferenceProfile:
    """Measure the reference once: distributions, ranges, AUROC overall and per subgroup."""
    reference = bundle.reference
    p = (
        np.asarray(bundle.predict_proba(reference), dtype=float)
        if probabilities is None
        else probabilities
    )
    y = reference["outcome"].to_numpy(dtype=int)
    edges = quantile_edges(p, plan.psi_bins)
    inputs: dict[str, InputReference] = {}
    for spec in bundle.features:
        column = reference[spec.name]
        if spec.kind == "category":
            cats = tuple(spec.categories or ())
            counts = _category_counts(column, cats)
            inputs[spec.name] = InputReference(
                spec.name, spec.kind, None, cats, counts, float(column.isna().mean()), None, None
            )
        else:
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            e = quantile_edges(numbers, plan.psi_bins)
            inputs[spec.name] = InputReference(
                spec.name,
                spec.kind,
                e,
                (),
                binned_counts(numbers, e),
                float(np.mean(~np.isfinite(numbers))),
                spec.training_min,
                spec.training_max,
            )
    subgroups = tuple(bundle.features.subgroup_features)
    by_group: dict[tuple[str, str], Estimate] = {}
    for spec in subgroups:
        groups = _group_series(reference[spec.name], spec).to_numpy()
        for group in pd.unique(groups):
            mask = groups == group
            by_group[(spec.name, str(group))] = auroc_estimate(y[mask], p[mask], plan.confidence)
    return ReferenceProfile(
        model_id=bundle.model_id,
        threshold=bundle.card.decision_threshold,
        probabilities=p,
        probability_edges=edges,
        probability_counts=binned_counts(p, edges),
        inputs=inputs,
        auroc=auroc_estimate(y, p, plan.confidence),
        subgroup_auroc=by_group,
        subgroup_features=subgroups,
        n=len(y),
    )


# -- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One month ('2026-03') or ISO week ('2026-W05'): ``start <= day < end``."""

    label: str
    start: dt.date
    end: dt.date


def period_of(day: dt.date, kind: str) -> Period:
    """The month or ISO week holding ``day``."""
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + dt.timedelta(days=7))
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return Period(f"{start:%Y-%m}", start, end)


def parse_period(label: str, kind: str | None = None) -> Period:
    """A period from its label ('2026-03' or '2026-W05')."""
    if "-W" in label:
        year, week = label.split("-W")
        return period_of(dt.date.fromisocalendar(int(year), int(week), 1), "week")
    if kind == "week":
        raise ValueError(f"'{label}' is not a week label such as 2026-W05")
    return period_of(dt.date.fromisoformat(f"{label}-01"), "month")


def _source_filter(simulated: bool, run_id: str | None) -> list[Any]:
    c = prediction_log.c
    conditions: list[Any] = [c.simulated.is_(simulated)]
    if simulated and run_id is not None:
        conditions.append(c.run_id == run_id)
    return conditions


def periods(
    engine: Engine, model_id: str, kind: str, *, simulated: bool = False, run_id: str | None = None
) -> list[Period]:
    """Every period from the model's first logged prediction to its last."""
    c = prediction_log.c
    # Two ordered look-ups on the (model_id, simulated, recorded_at) index, each stopping at
    # its first match: min/max over a filtered column would read every row.
    stamps = select(c.recorded_at).where(c.model_id == model_id, *_source_filter(simulated, run_id))
    with engine.connect() as conn:
        first = conn.execute(stamps.order_by(c.recorded_at).limit(1)).scalar()
        last = conn.execute(stamps.order_by(c.recorded_at.desc()).limit(1)).scalar()
    if first is None or last is None:
        return []
    out = [period_of(dt.date.fromisoformat(first[:10]), kind)]
    stop = dt.date.fromisoformat(last[:10])
    while out[-1].end <= stop:
        out.append(period_of(out[-1].end, kind))
    return out


def _period_log_columns() -> tuple[Any, ...]:
    """The log columns a period's figures are computed from, in the order both paths read
    them (the fast path's :class:`~caselens.monitoring.period_rows.RawRows` follows it)."""
    c = prediction_log.c
    return (
        c.id,
        c.patient_ref,
        c.report_id,
        c.recorded_on,
        c.model_version,
        c.probability,
        c.conformal_set,
        c.inputs_json,
    )


def read_period(
    engine: Engine,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    simulated: bool = False,
    run_id: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The period's predictions (one row per distinct prediction, inputs as columns,
    ``outcome`` linked or NaN) and the number of displays they came from."""
    c = prediction_log.c
    stmt = (
        select(*_period_log_columns())
        .where(
            c.model_id == model_id,
            *_source_filter(simulated, run_id),
            c.recorded_at >= period.start.isoformat(),
            c.recorded_at < period.end.isoformat(),
        )
        .order_by(c.id)
    )
    with engine.connect() as conn:
        # Plain tuples: pandas probes each SQLAlchemy Row for attributes, which is slow.
        rows = pd.DataFrame(
            [tuple(row) for row in conn.execute(stmt)],
            columns=[k.name for k in stmt.selected_columns],
        )
        displays = len(rows)
        if rows.empty:
            return rows.assign(outcome=pd.Series(dtype=float)), 0
        rows = rows.drop_duplicates(["patient_ref", "report_id"], keep="first")
        linked = link_outcomes(conn, model_id, rows, window_days=window_days, simulated=simulated)
    rows = rows.assign(outcome=linked)
    inputs = pd.DataFrame([json.loads(text) for text in rows["inputs_json"]], index=rows.index)
    return pd.concat([rows.drop(columns=["inputs_json"]), inputs], axis=1), displays


def outcome_rows(model_id: str, *, simulated: bool) -> Select[Any]:
    """The outcome rows that may link to a model's predictions (live or simulated).

    The one place outcomes are read from: the straightforward link, the joined link of the
    fast path and the figures cache's fingerprint all start from this query, so a filter
    (for example, leaving out outcomes superseded by a correction) is added here once.
    """
    t = outcome_table.c
    # An outcome's value is its newest correction, if any (caselens.monitoring.corrections).
    return select(t.id, t.patient_ref, t.known_on, current_outcome().label("outcome")).where(
        t.model_id == model_id, t.simulated.is_(simulated)
    )


def corrections_stamp(model_id: str, simulated: bool) -> Select[Any]:
    """The count and largest id of the corrections of a model's outcomes: what changes when
    an outcome is corrected (no outcome row is added)."""
    fix, t = outcome_correction_table.c, outcome_table.c
    # EXISTS per correction (few) by the outcome's primary key, not a pass over outcomes.
    of_model = (
        select(t.id)
        .where(t.id == fix.outcome_id, t.model_id == model_id, t.simulated.is_(simulated))
        .exists()
    )
    return select(func.count(), func.max(fix.id)).where(of_model)


def link_outcomes(
    conn: Any, model_id: str, rows: pd.DataFrame, *, window_days: int, simulated: bool
) -> np.ndarray:
    """Each prediction's outcome: 1 if any outcome of that patient and model known within
    ``[prediction day, prediction day + window]`` is 1, else 0 if one is known, else NaN."""
    # pandas holds a missing patient reference as NaN, not None.
    refs = sorted({r for r in rows["patient_ref"] if isinstance(r, str)})
    held = outcome_rows(model_id, simulated=simulated).subquery()
    found = []
    for start in range(0, len(refs), _CHUNK):
        found += [
            tuple(row)
            for row in conn.execute(
                select(held.c.patient_ref, held.c.known_on, held.c.outcome).where(
                    held.c.patient_ref.in_(refs[start : start + _CHUNK])
                )
            )
        ]
    if not found:
        return np.full(len(rows), np.nan)
    outcomes = pd.DataFrame(found, columns=["patient_ref", "known_on", "outcome"])
    left = rows[["patient_ref", "recorded_on"]].reset_index(names="row")
    merged = left.merge(outcomes, on="patient_ref")
    day = pd.to_datetime(merged["recorded_on"])
    known = pd.to_datetime(merged["known_on"])
    inside = (known >= day) & (known <= day + pd.Timedelta(days=window_days))
    best = merged[inside].groupby("row")["outcome"].max()
    return left["row"].map(best).to_numpy(dtype=float)


# -- the fast path: one period as columns ------------------------------------------------------


@dataclass(frozen=True)
class PeriodColumns:
    """One period's distinct predictions as columns, in prediction-id order: what
    :func:`read_period` returns as a DataFrame, without pandas' per-row costs."""

    ids: np.ndarray
    probability: np.ndarray
    outcome: np.ndarray
    conformal_set: tuple[str | None, ...]
    model_version: tuple[str, ...]
    #: Each input named in the feature schema that any row holds (None where a row lacks it).
    inputs: dict[str, tuple[Any, ...]]
    displays: int
    #: The log rows these come from, and which of them were kept (one per prediction; None:
    #: all): arrays worked out row by row are kept with the rows (see :meth:`derived`).
    source: RawRows | None = field(default=None, compare=False, repr=False)
    kept: np.ndarray | None = field(default=None, compare=False, repr=False)

    def derived(self, key: tuple, name: str, per_row: Callable[[Sequence[Any]], Any]) -> Any:
        """``per_row`` of input ``name``'s column (an array, or None where it does not
        apply): from the source rows, where a reused open period keeps it and works it out
        only for rows added since; else worked out here."""
        if self.source is None:
            return per_row(self.inputs.get(name) or (None,) * len(self.ids))
        whole = self.source.derive(key, name, per_row)
        return whole if whole is None or self.kept is None else whole[self.kept]


def _period_rows(
    model_id: str, period: Period, simulated: bool, run_id: str | None, *columns: Any
) -> Select[Any]:
    c = prediction_log.c
    return select(*columns).where(
        c.model_id == model_id,
        *_source_filter(simulated, run_id),
        c.recorded_at >= period.start.isoformat(),
        c.recorded_at < period.end.isoformat(),
    )


def _parse_inputs(texts: Sequence[str], names: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """The named inputs of each row's JSON, as one tuple per input name."""
    parsed: list[Any] = []
    for start in range(0, len(texts), _PARSE_CHUNK):
        chunk = texts[start : start + _PARSE_CHUNK]
        # One json.loads per chunk instead of per row halves the parse time. Every text was
        # written by json.dumps as one object; the count and type check below fall back to
        # parsing row by row if a row is anything else.
        try:
            values = json.loads("[" + ",".join(chunk) + "]")
        except ValueError:
            values = None
        if values is None or len(values) != len(chunk) or not all(type(v) is dict for v in values):
            values = [json.loads(text) for text in chunk]
        parsed += values
    if not parsed:
        return {}
    keys: set[str] = set()
    for row in parsed:
        keys.update(row)
    wanted = [name for name in names if name in keys]
    if not wanted:
        return {}
    try:
        # Every row holds every input (the usual case): one C-level pass per row.
        table = list(map(itemgetter(*wanted), parsed))
    except KeyError:
        table = [tuple(row.get(name) for name in wanted) for row in parsed]
    if len(wanted) == 1:
        return {wanted[0]: tuple(table)}
    return dict(zip(wanted, zip(*table, strict=True), strict=True))


def read_period_columns(
    engine: Engine,
    model_id: str,
    period: Period,
    *,
    window_days: int,
    input_names: Sequence[str],
    simulated: bool = False,
    run_id: str | None = None,
    reuse_rows: bool = False,
) -> PeriodColumns:
    """The period's distinct predictions (first display of each patient and report) with
    their linked outcome, as columns: the same rows and values as :func:`read_period`.

    Two queries: the period's rows, and the outcomes that could link to them (one range
    read, matched by patient in memory). With ``reuse_rows`` the rows already read for this
    period in this process are reused and only newer rows are read
    (:func:`caselens.monitoring.period_rows.read_period_rows`): for the open period, which every
    view must compute again."""
    from caselens.monitoring.period_rows import (
        OutcomeColumns,
        raw_rows,
        read_appended,
        read_period_rows,
    )

    c = prediction_log.c
    rows_stmt = _period_rows(model_id, period, simulated, run_id, *_period_log_columns())
    rows_stmt = rows_stmt.order_by(c.id)
    names = tuple(input_names)

    def parse(texts: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        return _parse_inputs(texts, names)

    outcomes_stmt = linkable_outcomes(model_id, period, window_days, simulated)
    outcome_id = outcomes_stmt.selected_columns.id
    outcomes_stmt = outcomes_stmt.order_by(outcome_id)
    if reuse_rows:
        key = (model_id, simulated, run_id, period.label, period.start, period.end, names)
        rows = read_period_rows(engine, key, rows_stmt, c.id, parse)
        outcomes = read_appended(
            engine,
            ("outcomes", model_id, simulated, period.label, period.start, window_days),
            outcomes_stmt,
            outcome_id,
            build=OutcomeColumns.of,
            extend=add,
            # A correction changes an outcome's value without adding a row.
            stamp_stmt=corrections_stamp(model_id, simulated),
        )
    else:
        with engine.connect() as conn:
            rows = raw_rows(conn.execute(rows_stmt).all(), parse)
            outcomes = OutcomeColumns.of(conn.execute(outcomes_stmt).all())
    displays = len(rows)
    if not displays:
        return PeriodColumns(
            np.array([], dtype=np.int64), np.array([]), np.array([]), (), (), {}, 0
        )
    ids, refs, days, versions = rows.ids, rows.refs, rows.day_numbers, rows.versions
    probabilities, sets, inputs = rows.probabilities, rows.sets, rows.inputs
    pairs = list(zip(refs, rows.reports, strict=True))
    keep: list[int] | None = None
    if len(set(pairs)) != len(pairs):
        # A clinician's view and the patient's preview of one report are one prediction.
        seen: set[tuple[Any, Any]] = set()
        keep = [i for i, pair in enumerate(pairs) if not (pair in seen or seen.add(pair))]
        pick = _picker(keep)
        ids, refs, versions, probabilities, sets = (
            pick(column) for column in (ids, refs, versions, probabilities, sets)
        )
        days = days[keep]
        inputs = {name: pick(column) for name, column in inputs.items()}
    return PeriodColumns(
        ids=np.array(ids, dtype=np.int64),
        probability=np.array(probabilities, dtype=float),
        outcome=_linked(refs, days, outcomes, window_days),
        conformal_set=tuple(sets),
        model_version=tuple(versions),
        inputs=inputs,
        displays=displays,
        source=rows,
        kept=None if keep is None else np.array(keep, dtype=np.int64),
    )


def linkable_outcomes(
    model_id: str, period: Period, window_days: int, simulated: bool
) -> Select[Any]:
    """Every outcome row that could link to a prediction of ``period``: known on or after
    the period's first day and before its end plus the window (a superset: the patient and
    the exact window are matched afterwards). One range read by
    ``ix_monitoring_outcome_known`` instead of a look-up per patient."""
    held = outcome_rows(model_id, simulated=simulated).subquery()
    first, last = _linkable_days(period, window_days)
    return select(held).where(held.c.known_on >= first, held.c.known_on < last)


def _linkable_days(period: Period, window_days: int) -> tuple[str, str]:
    return period.start.isoformat(), (period.end + dt.timedelta(days=window_days)).isoformat()


def linkable_outcome_count(
    model_id: str, period: Period, window_days: int, simulated: bool
) -> Select[Any]:
    """The count and largest id of :func:`linkable_outcomes`' rows, answered from the
    ``(model_id, simulated, known_on)`` index alone (no outcome value is needed)."""
    t = outcome_table.c
    first, last = _linkable_days(period, window_days)
    return select(func.count(), func.max(t.id)).where(
        t.model_id == model_id,
        t.simulated.is_(simulated),
        t.known_on >= first,
        t.known_on < last,
    )


def _picker(keep: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function taking the rows at ``keep`` from a column, as a tuple (at C speed)."""
    if len(keep) == 1:
        return lambda column: (column[keep[0]],)
    get = itemgetter(*keep)
    return lambda column: tuple(get(column))


def _linked(
    refs: Sequence[str | None],
    days: np.ndarray,
    outcomes: OutcomeColumns,
    window_days: int,
) -> np.ndarray:
    """Per prediction: 1 if an outcome of its patient known within ``[day, day + window]``
    is 1, else 0 if one is known, else NaN (as :func:`link_outcomes`).

    Vectorised: patients are numbered once (pandas' hashing), each outcome finds its
    patient's predictions by binary search in the predictions sorted by patient."""
    linked = np.full(len(refs), np.nan)
    if not len(outcomes) or not len(refs):
        return linked
    n = len(refs)
    codes, _ = pd.factorize(np.concatenate([np.asarray(refs, dtype=object), outcomes.refs]))
    mine, theirs = codes[:n], codes[n:]
    order = np.argsort(mine, kind="stable")
    by_patient = mine[order]
    low = np.searchsorted(by_patient, theirs, "left")
    high = np.searchsorted(by_patient, theirs, "right")
    matches = np.where(theirs >= 0, high - low, 0)  # a missing patient reference links none
    total = int(matches.sum())
    if not total:
        return linked
    outcome_at = np.repeat(np.arange(len(theirs)), matches)
    offset = np.arange(total) - np.repeat(np.cumsum(matches) - matches, matches)
    at = order[np.repeat(low, matches) + offset]
    delta = (outcomes.known[outcome_at] - days[at]).astype(np.int64)
    inside = (delta >= 0) & (delta <= window_days)
    np.fmax.at(linked, at[inside], outcomes.values[outcome_at][inside])
    return linked


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputDrift:
    """One input in one period compared with the reference."""

    name: str
    kind: str
    n: int
    psi: float | None
    chi_square_p: float | None
    ks_p: float | None
    missing_share: Estimate
    reference_missing_share: float
    out_of_range: Estimate


@dataclass(frozen=True)
class Performance:
    """Discrimination, calibration, coverage and threshold figures on linked outcomes."""

    n: int
    events: int
    auroc: Estimate
    calibration_in_the_large: Estimate
    calibration_slope: Estimate
    ece: float | None
    brier: Estimate
    observed_rate: Estimate
    mean_predicted: float | None
    coverage: Estimate
    coverage_by_class: dict[str, Estimate]
    sensitivity: Estimate
    specificity: Estimate
    judged: bool


@dataclass(frozen=True)
class SubgroupFigures:
    """One subgroup's performance now and its AUROC on the reference."""

    variable: str
    group: str
    performance: Performance
    reference_auroc: Estimate


@dataclass(frozen=True)
class PeriodFigures:
    """Everything measured for one model in one period."""

    model_id: str
    period: str
    start: str
    end: str
    simulated: bool
    run_id: str | None
    versions: tuple[str, ...]
    displays: int
    predictions: int
    with_outcomes: int
    drift_judged: bool
    prediction_psi: float | None
    prediction_ks: float | None
    prediction_ks_p: float | None
    mean_probability: float | None
    inputs: tuple[InputDrift, ...]
    performance: Performance | None
    reference_auroc: Estimate
    subgroups: tuple[SubgroupFigures, ...] = ()
    largest_gap: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures (numbers, not arrays)."""
        return asdict(self)


@dataclass(frozen=True)
class SetHits:
    """Which outcomes each prediction's conformal set held, as arrays (one entry per row).

    ``shown``: a set was shown for the row; ``has0`` / ``has1``: it held outcome 0 / 1.
    Outcomes are 0 or 1, so "the outcome is inside the set" is ``has1`` where y is 1 and
    ``has0`` where y is 0: computed for all rows at once instead of once per row and group.
    """

    shown: np.ndarray
    has0: np.ndarray
    has1: np.ndarray

    @classmethod
    def from_sets(cls, sets: Sequence[tuple[int, ...] | None]) -> SetHits:
        """From one parsed set (or None) per row."""
        return cls(
            np.array([s is not None for s in sets], dtype=bool),
            np.array([s is not None and 0 in s for s in sets], dtype=bool),
            np.array([s is not None and 1 in s for s in sets], dtype=bool),
        )

    def subset(self, mask: np.ndarray) -> SetHits:
        """The rows selected by a boolean mask."""
        return SetHits(self.shown[mask], self.has0[mask], self.has1[mask])


def performance(
    y: np.ndarray,
    p: np.ndarray,
    sets: Sequence[tuple[int, ...] | None] | SetHits | None,
    *,
    threshold: float,
    plan: MonitoringPlan,
    min_n: int,
    min_events: int,
) -> Performance:
    """The performance figures of predictions ``p`` against outcomes ``y`` (0 or 1)."""
    n = len(y)
    events = int(y.sum())
    conf = plan.confidence
    fit = calibration_fit(y, p, conf)
    positive = p >= threshold
    coverage = Estimate(None, n=0)
    by_class: dict[str, Estimate] = {}
    hits = SetHits.from_sets(sets) if isinstance(sets, Sequence) else sets
    if hits is not None and hits.shown.any():
        shown = hits.shown
        ys = y[shown]
        hit = np.where(ys == 1, hits.has1[shown], hits.has0[shown])
        coverage = wilson(int(hit.sum()), len(ys), conf)
        for label in (0, 1):
            mask = ys == label
            by_class[str(label)] = wilson(int(hit[mask].sum()), int(mask.sum()), conf)
    return Performance(
        n=n,
        events=events,
        auroc=auroc_estimate(y, p, conf),
        calibration_in_the_large=fit.in_the_large,
        calibration_slope=fit.slope,
        ece=expected_calibration_error(y, p, n_bins=plan.ece_bins) if n else None,
        brier=mean_estimate((p - y) ** 2, conf),
        observed_rate=wilson(events, n, conf),
        mean_predicted=float(p.mean()) if n else None,
        coverage=coverage,
        coverage_by_class=by_class,
        sensitivity=wilson(int((positive & (y == 1)).sum()), events, conf),
        specificity=wilson(int((~positive & (y == 0)).sum()), n - events, conf),
        judged=n >= min_n and min(events, n - events) >= min_events,
    )


def _parse_sets(values: pd.DataFrame) -> list[tuple[int, ...] | None] | None:
    if "conformal_set" not in values or values["conformal_set"].isna().all():
        return None
    return [
        None if text is None or (isinstance(text, float)) else tuple(json.loads(text))
        for text in values["conformal_set"]
    ]


def _category_drift(counts: np.ndarray, n: int, ref: InputReference, conf: float) -> InputDrift:
    missing = int(counts[-1])
    outside = int(counts[-2])
    return InputDrift(
        ref.name,
        ref.kind,
        n,
        psi(ref.counts, counts),
        chi_square_p(ref.counts, counts),
        None,
        wilson(missing, n, conf),
        ref.missing_share,
        wilson(outside, n - missing, conf),
    )


def _number_drift(numbers: np.ndarray, ref: InputReference, conf: float) -> InputDrift:
    n = len(numbers)
    finite = numbers[np.isfinite(numbers)]
    counts = binned_counts(numbers, ref.edges if ref.edges is not None else np.array([]))
    outside = 0
    if ref.low is not None:
        outside += int((finite < ref.low).sum())
    if ref.high is not None:
        outside += int((finite > ref.high).sum())
    return InputDrift(
        ref.name,
        ref.kind,
        n,
        psi(ref.counts, counts),
        None,
        None,
        wilson(n - len(finite), n, conf),
        ref.missing_share,
        wilson(outside, len(finite), conf),
    )


def _input_drift(frame: pd.DataFrame, ref: InputReference, conf: float) -> InputDrift:
    n = len(frame)
    column = frame[ref.name] if ref.name in frame else pd.Series([None] * n, index=frame.index)
    if ref.kind == "category":
        return _category_drift(_category_counts(column, ref.categories), n, ref, conf)
    return _number_drift(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), ref, conf)


def period_figures(
    frame: pd.DataFrame,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    period: Period,
    displays: int | None = None,
    simulated: bool = False,
    run_id: str | None = None,
) -> PeriodFigures:
    """All figures of one period from its predictions (``probability``, inputs, optional
    ``outcome`` and ``conformal_set`` columns).

    The straightforward computation, from a DataFrame: simulations use it, and the tests
    hold the database's fast path (:func:`columns_figures`) equal to it.
    """
    n = len(frame)
    p = frame["probability"].to_numpy(dtype=float) if n else np.array([])
    inputs = (
        tuple(_input_drift(frame, ref, plan.confidence) for ref in profile.inputs.values())
        if n
        else ()
    )
    has_outcome = (
        frame["outcome"].notna().to_numpy() if "outcome" in frame else np.zeros(n, dtype=bool)
    )
    y = pk = hits = None
    groups: dict[str, np.ndarray] = {}
    if has_outcome.any():
        known = frame[has_outcome]
        y = known["outcome"].to_numpy(dtype=int)
        pk = known["probability"].to_numpy(dtype=float)
        sets = _parse_sets(known)
        hits = None if sets is None else SetHits.from_sets(sets)
        groups = {
            spec.name: _group_series(known[spec.name], spec).to_numpy()
            for spec in profile.subgroup_features
            if spec.name in known
        }
    versions = (
        tuple(sorted(set(frame["model_version"].dropna()))) if "model_version" in frame else ()
    )
    return _assemble(
        p,
        inputs,
        has_outcome,
        y,
        pk,
        hits,
        groups,
        versions,
        profile,
        plan,
        period=period,
        displays=displays,
        simulated=simulated,
        run_id=run_id,
    )


def _assemble(
    p: np.ndarray,
    inputs: tuple[InputDrift, ...],
    has_outcome: np.ndarray,
    y: np.ndarray | None,
    pk: np.ndarray | None,
    hits: SetHits | None,
    groups: dict[str, np.ndarray],
    versions: tuple[str, ...],
    profile: ReferenceProfile,
    plan: MonitoringPlan,
    *,
    period: Period,
    displays: int | None,
    simulated: bool,
    run_id: str | None,
) -> PeriodFigures:
    # The statistics shared by both ways of reading a period: only how the rows become
    # arrays differs between period_figures and columns_figures.
    n = len(p)
    notes: list[str] = []
    ks = ks_p = None
    if n >= 2:
        result = sps.ks_2samp(p, profile.probabilities)
        ks, ks_p = float(result.statistic), float(result.pvalue)
    perf = None
    subgroups: list[SubgroupFigures] = []
    gap = None
    if y is not None and pk is not None:
        perf = performance(
            y,
            pk,
            hits,
            threshold=profile.threshold,
            plan=plan,
            min_n=plan.min_outcomes,
            min_events=plan.min_events,
        )
        if not perf.judged:
            notes.append(
                f"Performance is shown but not judged: {perf.n} predictions with outcomes "
                f"({perf.events} events); the plan needs {plan.min_outcomes} with at least "
                f"{plan.min_events} of each outcome."
            )
        subgroups, gap = _subgroup_figures(groups, y, pk, hits, profile, plan)
    if 0 < n < plan.min_predictions:
        notes.append(
            f"Drift is shown but not judged: {n} predictions; the plan needs "
            f"{plan.min_predictions}."
        )
    if len(versions) > 1:
        notes.append(f"More than one model version in this period: {', '.join(versions)}.")
    return PeriodFigures(
        model_id=profile.model_id,
        period=period.label,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        simulated=simulated,
        run_id=run_id,
        versions=versions,
        displays=n if displays is None else displays,
        predictions=n,
        with_outcomes=int(has_outcome.sum()),
        drift_judged=n >= plan.min_predictions,
        prediction_psi=psi(profile.probability_counts, binned_counts(p, profile.probability_edges))
        if n
        else None,
        prediction_ks=ks,
        prediction_ks_p=ks_p,
        mean_probability=float(p.mean()) if n else None,
        inputs=inputs,
        performance=perf,
        reference_auroc=profile.auroc,
        subgroups=tuple(subgroups),
        largest_gap=gap,
        notes=tuple(notes),
    )


_NONE_TYPE = type(None)


def _fast_category_counts(values: Sequence[Any], categories: tuple[str, ...]) -> np.ndarray:
    """:func:`_category_counts` of a column of raw values, counted in one pass."""
    counts = Counter(values)
    # Checked on the distinct values only (few), not on every row.
    if not set(map(type, counts)) <= {str, _NONE_TYPE}:
        # Numbers or booleans as categories: pandas' own spelling of them decides ("1.0"
        # when a column of integers has a gap), so count them exactly as the DataFrame does.
        return _category_counts(pd.DataFrame({"v": values})["v"], categories)
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
    """:func:`_group_series` of raw values: each distinct value's group worked out once."""
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
    """:func:`_parse_sets` as arrays, each distinct set's text parsed once."""
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
                drift.append(_category_drift(counts, n, ref, plan.confidence))
            else:
                numbers = columns.derived(("numbers", ref.name), ref.name, _fast_numbers)
                drift.append(_number_drift(numbers, ref, plan.confidence))
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
    return _assemble(
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


def _subgroup_figures(
    groups_of: dict[str, np.ndarray],
    y: np.ndarray,
    p: np.ndarray,
    hits: SetHits | None,
    profile: ReferenceProfile,
    plan: MonitoringPlan,
) -> tuple[list[SubgroupFigures], dict[str, Any] | None]:
    out: list[SubgroupFigures] = []
    gap: dict[str, Any] | None = None
    for spec in profile.subgroup_features:
        if spec.name not in groups_of:
            continue
        groups = groups_of[spec.name]
        judged: list[SubgroupFigures] = []
        for group in sorted(pd.unique(groups)):
            mask = groups == group
            figures = SubgroupFigures(
                spec.name,
                str(group),
                performance(
                    y[mask],
                    p[mask],
                    None if hits is None else hits.subset(mask),
                    threshold=profile.threshold,
                    plan=plan,
                    min_n=plan.min_subgroup_outcomes,
                    min_events=plan.min_subgroup_events,
                ),
                profile.subgroup_auroc.get((spec.name, str(group)), Estimate(None)),
            )
            out.append(figures)
            if figures.performance.judged and figures.performance.auroc.value is not None:
                judged.append(figures)
        if len(judged) >= 2:
            best = max(judged, key=lambda f: f.performance.auroc.value or 0.0)
            worst = min(judged, key=lambda f: f.performance.auroc.value or 0.0)
            value = (best.performance.auroc.value or 0.0) - (worst.performance.auroc.value or 0.0)
            ref_gap = None
            if best.reference_auroc.value is not None and worst.reference_auroc.value is not None:
                ref_gap = best.reference_auroc.value - worst.reference_auroc.value
            if gap is None or value > gap["value"]:
                gap = {
                    "variable": spec.name,
                    "higher": best.group,
                    "lower": worst.group,
                    "value": value,
                    "reference_value": ref_gap,
                }
    return out, gap


def auroc_drop(now: Estimate, reference: Estimate, confidence: float) -> Estimate:
    """Reference AUROC minus current AUROC, with an interval that carries the uncertainty of
    both (each from Hanley–McNeil, taken as independent samples)."""
    if now.value is None or reference.value is None or now.low is None or reference.low is None:
        return Estimate(None)
    # Half-widths are z·SE, so combining them in quadrature is z·sqrt(SE_now² + SE_ref²).
    now_half = (now.high - now.low) / 2 if now.high is not None else 0.0
    ref_half = (reference.high - reference.low) / 2 if reference.high is not None else 0.0
    half = float(np.hypot(now_half, ref_half))
    value = reference.value - now.value
    return Estimate(value, value - half, value + half, now.n)


def simulated_runs(engine: Engine, model_id: str) -> list[str]:
    """The ids of the simulated runs logged for a model, most recent first.

    Read from the trail's ``monitoring_simulated`` entries (each run's rows are written in
    the same transaction as its entry, which names the run): a handful of entries, where
    grouping the log's rows by run would read every simulated row."""
    from caselens.audit.store import entries_table
    from caselens.monitoring.prediction_log import SIMULATED_ACTION

    t = entries_table.c
    query = (
        select(t.detail_json)
        .where(t.action == SIMULATED_ACTION, t.model_id == model_id)
        .order_by(t.seq.desc())
    )
    runs: list[str] = []
    with engine.connect() as conn:
        for (detail,) in conn.execute(query):
            run = json.loads(detail).get("run_id")
            if isinstance(run, str) and run not in runs:
                runs.append(run)
    return runs
