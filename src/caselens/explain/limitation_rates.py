"""How often each limitation fires on a bundle's reference (test) rows.

A caution that fires on most patients stops being read, so every per-case rule is held to
``caselens.explain.limitations.MAX_CASE_RATE`` of ordinary reference patients; what holds for every
patient is a *standing* limitation, stated once (``LimitationRules.standing``).

Two ways to count, both over the same rows (all of them up to ``DEFAULT_MAX_ROWS``, else a
seeded sample of that many):

- ``full=False`` (cheap, what ``caselens bundle check`` prints): each row is validated like a
  case and gets the real context (out-of-range and missing inputs, novelty, subgroups) and the
  real confidence assessment; every rule is run except the explanation rules
  (``EXPLANATION_FAILED``, ``LIME_FAILED``, ``LOW_LIME_FIDELITY``, ``LIME_UNSTABLE``,
  ``EXPLAINER_DISAGREEMENT``), which need SHAP and LIME and are listed as not counted;
- ``full=True`` (``--deep``): each row goes through ``CaseExplainer.explain`` and the report's
  own limitations are counted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from caselens.explain.cases import Case, validate_inputs
from caselens.explain.limitation_record import SEVERITY_ORDER, Limitation
from caselens.explain.limitations import MAX_CASE_RATE, case_limitations
from caselens.model.bundle import ModelBundle

#: Rows checked by default: all of them up to this many, else a seeded sample of this many.
DEFAULT_MAX_ROWS = 500
SAMPLE_SEED = 0
#: Codes only the full report path can produce (they need SHAP and LIME).
EXPLANATION_CODES = (
    "EXPLANATION_FAILED",
    "LIME_FAILED",
    "LOW_LIME_FIDELITY",
    "LIME_UNSTABLE",
    "EXPLAINER_DISAGREEMENT",
)
ALARM_SEVERITIES = frozenset({"caution", "warning"})


@dataclass(frozen=True)
class ReferenceRows:
    """The reference rows a check runs over, and how they were chosen."""

    frame: pd.DataFrame
    total: int
    seed: int | None

    @property
    def sampled(self) -> bool:
        return len(self.frame) < self.total

    def describe(self) -> str:
        if not self.sampled:
            return f"all {self.total:,} reference rows"
        return (
            f"a seeded sample of {len(self.frame):,} of {self.total:,} reference rows "
            f"(seed {self.seed}; pass --rows to change)"
        )


def reference_rows(
    bundle: ModelBundle, rows: int | None = None, *, seed: int = SAMPLE_SEED
) -> ReferenceRows:
    """All reference rows up to ``DEFAULT_MAX_ROWS`` (or ``rows``), else a seeded sample."""
    reference = bundle.reference
    total = len(reference)
    want = min(DEFAULT_MAX_ROWS, total) if rows is None else max(1, min(int(rows), total))
    if want >= total:
        return ReferenceRows(reference, total, None)
    return ReferenceRows(reference.sample(n=want, random_state=seed), total, seed)


def row_case(bundle: ModelBundle, index: object, row: pd.Series) -> Case:
    """One reference row as a validated case (as a clinician's input would be)."""
    values = {}
    for name in bundle.features.names:
        value = row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        values[name] = value
    return validate_inputs(
        values, bundle.features, source="reference", case_id=f"reference row {index}"
    )


@dataclass(frozen=True)
class LimitationRate:
    """How often one code fired at one severity."""

    code: str
    severity: str
    standing: bool
    fires: int
    n: int

    @property
    def rate(self) -> float:
        return self.fires / self.n if self.n else 0.0


@dataclass(frozen=True)
class RateTable:
    """Limitation rates of one bundle over its reference rows."""

    model_id: str
    rows: str
    n: int
    full: bool
    rates: tuple[LimitationRate, ...]
    standing: tuple[Limitation, ...]
    not_counted: tuple[str, ...]

    def alarm_rates(self) -> dict[str, float]:
        """Per non-standing code: share of rows where it fired as a caution or warning."""
        out: dict[str, int] = Counter()
        for rate in self.rates:
            if not rate.standing and rate.severity in ALARM_SEVERITIES:
                out[rate.code] += rate.fires
        return {code: fires / self.n for code, fires in out.items()} if self.n else {}

    def over_cap(self, cap: float = MAX_CASE_RATE) -> dict[str, float]:
        """Non-standing cautions and warnings that fire on more than ``cap`` of the rows."""
        return {code: r for code, r in self.alarm_rates().items() if r > cap}

    def lines(self, cap: float = MAX_CASE_RATE) -> list[str]:
        """The printed table."""
        how = "full report (explain)" if self.full else "context and confidence rules"
        out = [
            f"Limitation rates for {self.model_id} over {self.rows} ({how}); per-case cautions "
            f"and warnings must stay at or under {100 * cap:.0f}%:",
            f"  {'code':<24} {'severity':<8} {'standing':<8} {'fires on':>13} {'%':>6}",
        ]
        over = self.over_cap(cap)
        for rate in self.rates:
            flag = "  OVER CAP" if rate.code in over and rate.severity in ALARM_SEVERITIES else ""
            out.append(
                f"  {rate.code:<24} {rate.severity:<8} {'yes' if rate.standing else 'no':<8} "
                f"{f'{rate.fires}/{rate.n}':>13} {100 * rate.rate:>5.1f}%{flag}"
            )
        if self.not_counted:
            out.append(
                "  not counted (need SHAP and LIME; run --deep): " + ", ".join(self.not_counted)
            )
        if self.standing:
            out.append("Standing limitations (stated once for the model, not per case):")
            out += [f"  {lim.severity}: {lim.code}: {lim.clinician_text}" for lim in self.standing]
        return out


def rates_from_limitations(per_row: Sequence[Iterable[Limitation]]) -> tuple[LimitationRate, ...]:
    """Count, per (code, severity), the rows where it fired (once per row)."""
    counts: Counter[tuple[str, str, bool]] = Counter()
    for found in per_row:
        counts.update({(lim.code, lim.severity, lim.standing) for lim in found})
    n = len(per_row)
    return tuple(
        LimitationRate(code, severity, standing, fires, n)
        for (code, severity, standing), fires in sorted(
            counts.items(), key=lambda kv: (SEVERITY_ORDER[kv[0][1]], -kv[1], kv[0][0])
        )
    )


def limitation_rates(
    bundle: ModelBundle,
    rows: int | None = None,
    *,
    full: bool = False,
    seed: int = SAMPLE_SEED,
    today: dt.date | None = None,
) -> RateTable:
    """How often each limitation fires on the bundle's reference rows.

    Parameters
    ----------
    bundle : ModelBundle
    rows : int, optional
        How many rows (default: all up to ``DEFAULT_MAX_ROWS``, else a seeded sample).
    full : bool, default False
        Run the whole report path (``explain``) on each row; otherwise only context and
        confidence (see the module docstring for which rules that leaves out).
    seed : int
    today : date, optional
        For the review-overdue rule (default: today, UTC).

    Returns
    -------
    RateTable
    """
    from caselens.explain.report import explainer_for

    explainer = explainer_for(bundle)
    chosen = reference_rows(bundle, rows, seed=seed)
    day = today or dt.datetime.now(dt.UTC).date()
    per_row: list[tuple[Limitation, ...]] = []
    if full:
        for index, row in chosen.frame.iterrows():
            per_row.append(explainer.explain(row_case(bundle, index, row)).limitations)
    else:
        with threadpool_limits(limits=1):
            probabilities = np.asarray(bundle.predict_proba(chosen.frame), dtype=float)
        for (index, row), p in zip(chosen.frame.iterrows(), probabilities, strict=True):
            case = row_case(bundle, index, row)
            per_row.append(
                case_limitations(
                    case,
                    bundle.features,
                    bundle.card,
                    explainer.confidence_model.assess(float(p)),
                    None,
                    explainer.context_model.assess(case),
                    today=day,
                    rules=explainer.limitation_rules,
                )
            )
    return RateTable(
        model_id=bundle.model_id,
        rows=chosen.describe(),
        n=len(per_row),
        full=full,
        rates=rates_from_limitations(per_row),
        standing=explainer.limitation_rules.standing,
        not_counted=() if full else EXPLANATION_CODES,
    )
