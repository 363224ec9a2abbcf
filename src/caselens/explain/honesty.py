"""The honesty harness: DESIGN.md's truthfulness rules, checked on every reference row.

``caselens bundle check --deep`` runs each reference row (all of them up to
``limitation_rates.DEFAULT_MAX_ROWS``, else a seeded sample) through
``CaseExplainer.explain`` and checks, per row:

- ``shap_additivity``: |baseline + Σ contributions − probability| ≤ ``ADDITIVITY_TOL``
  (skipped where SHAP failed: nothing is shown then);
- ``probability_is_the_models``: the probability shown equals the model's ``predict_proba``
  for that row (called separately on the raw row) within ``PROBABILITY_TOL``;
- ``threshold_and_set_agree``: :func:`threshold_set_contradiction` (skipped without a
  conformal set);
- ``factors_true_for_patient``: :func:`untrue_factors`;
- ``interval_covers_estimate``: the range shown holds the probability, or its wording says
  it does not;
- ``reading_grade``: the patient text's measured grade is at most the card's limit, and the
  stored grade is the text's real grade;

and over all rows, ``limitation_rates``: no per-case (non-standing) caution or warning fires
on more than ``MAX_CASE_RATE`` of them.

Each check reads only report fields, so that a change of wording elsewhere needs a change
here only where the field it reads changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from caselens.explain.limitation_rates import (
    SAMPLE_SEED,
    RateTable,
    rates_from_limitations,
    reference_rows,
    row_case,
)
from caselens.explain.limitations import MAX_CASE_RATE
from caselens.explain.patient_language import measure_reading
from caselens.explain.patient_summary import reading_grade
from caselens.explain.report import CaseReport
from caselens.model.bundle import ModelBundle
from caselens.model.features import FeatureSchema, FeatureSpec

ADDITIVITY_TOL = 1e-6
PROBABILITY_TOL = 1e-12
#: The range bounds are stored to 6 decimals, the probability unrounded.
RANGE_TOL = 1e-6
GRADE_TOL = 0.01
#: Values that mean a yes/no condition is present / absent.
PRESENT = frozenset({"1", "1.0", "yes", "true", "present", "y"})
ABSENT = frozenset({"0", "0.0", "no", "false", "absent", "n", "none"})
#: A label starting with one of these names a quantity, not a condition ("Your age").
NEUTRAL_STARTS = ("your ", "whether ", "the ", "a ", "an ", "how ", "if ", "number ")
#: Wording that says an interval does not hold the estimate.
NOT_COVERED_WORDS = ("does not include", "does not contain", "outside the range")
SKIP = "skip"

INVARIANTS: dict[str, str] = {
    "report_computes": "explain() returns a report for the row (no error)",
    "shap_additivity": f"|baseline + Σ SHAP − probability| ≤ {ADDITIVITY_TOL:g}",
    "probability_is_the_models": f"probability shown = model predict_proba (≤ {PROBABILITY_TOL:g})",
    "threshold_and_set_agree": "threshold side and conformal set do not contradict",
    "factors_true_for_patient": "a yes/no factor named to the patient is present for them",
    "interval_covers_estimate": "range holds the probability, or says it does not",
    "reading_grade": "patient text grade ≤ limit (and the stored grade is the text's)",
    "limitation_rates": f"per-case cautions/warnings fire on ≤ {100 * MAX_CASE_RATE:.0f}% of rows",
}


def is_yes_no(spec: FeatureSpec) -> bool:
    """A 0/1 integer or a two-category Yes/No-like variable."""
    if spec.kind == "category":
        cats = {c.lower() for c in spec.categories or ()}
        return len(cats) == 2 and bool(cats & PRESENT) and bool(cats & ABSENT)
    return spec.kind == "integer" and spec.hard_min == 0 and spec.hard_max == 1


def _present(value: object) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text in PRESENT:
        return True
    if text in ABSENT:
        return False
    return None


def untrue_factors(report: CaseReport, schema: FeatureSchema) -> list[str]:
    """Patient factors phrased as a present condition whose yes/no value is not present.

    The patient's factors are named by their ``patient_label``; for a yes/no variable whose
    label reads as a condition ("Having diabetes", not "Your age"), the patient's value must
    be present — "having diabetes" for someone without it is untrue.
    """
    values = report.case.values()
    by_label = {spec.patient_label.strip().lower(): spec for spec in schema}
    bad = []
    patient = report.narrative.patient
    for factor in (*patient.factors_higher, *patient.factors_lower):
        spec = by_label.get(factor.strip().lower())
        if spec is None or not is_yes_no(spec):
            continue
        if factor.strip().lower().startswith(NEUTRAL_STARTS):
            continue
        if _present(values.get(spec.name)) is not True:
            bad.append(f"'{factor}' named but {spec.name} = {values.get(spec.name)!r}")
    return bad


def threshold_set_contradiction(report: CaseReport) -> str | None:
    """A single-outcome conformal set on the other side of the threshold, or None.

    Above the threshold with only the negative outcome in the set, or below it with only the
    positive one, the screen would say "act" and "confident it will not happen" at once. An
    empty or two-outcome set is uncertain and contradicts neither side.
    """
    confidence = report.confidence
    conformal = confidence.conformal
    if conformal is None:
        return SKIP
    labels = tuple(conformal.labels)
    if confidence.side == "above" and labels == (0,):
        return f"above the threshold but the set is {{0}} ({conformal.statement!r})"
    if confidence.side == "below" and labels == (1,):
        return f"below the threshold but the set is {{1}} ({conformal.statement!r})"
    return None


def _additivity(report: CaseReport) -> str | None:
    shap = report.attributions.shap
    if shap.status != "ok":
        return SKIP
    total = math.fsum([shap.baseline or 0.0, *(c.value for c in shap.contributions)])
    error = abs(total - report.probability)
    return None if error <= ADDITIVITY_TOL else f"additivity error {error:.2e}"


def _interval(report: CaseReport) -> str | None:
    """Every interval shown (the range, and the probability interval where there is one)
    holds the probability, or the wording beside it says it does not."""
    c = report.confidence
    shown = []
    if c.range_low is not None and c.range_high is not None:
        shown.append(("range", c.range_low, c.range_high))
    interval = getattr(c, "interval", None)
    if interval is not None:
        shown.append(("interval", interval.low, interval.high))
    if not shown:
        return SKIP
    words = " ".join(
        str(text)
        for text in (
            c.range_statement,
            c.neighbourhood.definition,
            getattr(c, "neighbourhood_statement", None),
        )
        if text
    ).lower()
    for name, low, high in shown:
        if low - RANGE_TOL <= c.probability <= high + RANGE_TOL:
            continue
        if any(w in words for w in NOT_COVERED_WORDS):
            continue
        return f"{name} {low}–{high} does not hold {c.probability} and does not say so"
    return None


def _grade(report: CaseReport) -> str | None:
    patient = report.narrative.patient
    if patient.reading is not None and patient.reading_grade is None:
        # Another language: its own measure (caselens.explain.patient_language), not a US grade.
        again = measure_reading(patient.full_text(), patient.language)
        if abs(again.score - patient.reading.score) > GRADE_TOL:
            return f"stored {patient.reading.describe()} but the text measures {again.score}"
        return None if patient.reading.within_limit else patient.reading.describe()
    measured = reading_grade(patient.full_text())
    if abs(measured - patient.reading_grade) > GRADE_TOL:
        return f"stored grade {patient.reading_grade} but the text measures {measured}"
    if patient.reading_grade > patient.reading_grade_limit:
        return f"grade {patient.reading_grade} > limit {patient.reading_grade_limit}"
    return None


@dataclass
class InvariantResult:
    """Pass/fail counts of one invariant and its first failing row."""

    name: str
    description: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    first_failure: str | None = None

    def record(self, row: str, outcome: str | None) -> None:
        if outcome is None:
            self.passed += 1
        elif outcome == SKIP:
            self.skipped += 1
        else:
            self.failed += 1
            if self.first_failure is None:
                self.first_failure = f"{row}: {outcome}"


@dataclass
class HonestyResult:
    """Every invariant's result over one bundle's reference rows, and the limitation rates."""

    model_id: str
    rows: str
    results: dict[str, InvariantResult]
    rates: RateTable
    reports: list[CaseReport] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return all(r.failed == 0 for r in self.results.values())

    def failing(self) -> list[str]:
        return [name for name, r in self.results.items() if r.failed]

    def lines(self) -> list[str]:
        out = [
            f"Honesty check of {self.model_id} over {self.rows}:",
            f"  {'invariant':<26} {'pass':>5} {'fail':>5} {'n/a':>5}  first failing row",
        ]
        for r in self.results.values():
            out.append(
                f"  {r.name:<26} {r.passed:>5} {r.failed:>5} {r.skipped:>5}  "
                f"{r.first_failure or '-'}"
            )
        out.append(
            "Result: "
            + ("all invariants hold." if self.ok else "FAILED: " + ", ".join(self.failing()))
        )
        return out


def run_honesty(
    bundle: ModelBundle,
    rows: int | None = None,
    *,
    seed: int = SAMPLE_SEED,
    keep_reports: bool = False,
) -> HonestyResult:
    """Explain every chosen reference row and check every invariant.

    Parameters
    ----------
    bundle : ModelBundle
    rows : int, optional
        How many rows (default: all up to 500, else a seeded sample of 500).
    seed : int
    keep_reports : bool
        Keep the reports on the result (for tests).

    Returns
    -------
    HonestyResult
    """
    from caselens.explain.report import explainer_for

    explainer = explainer_for(bundle)
    chosen = reference_rows(bundle, rows, seed=seed)
    results = {name: InvariantResult(name, text) for name, text in INVARIANTS.items()}
    reports = []
    checks: dict[str, Callable[[CaseReport], str | None]] = {
        "shap_additivity": _additivity,
        "threshold_and_set_agree": threshold_set_contradiction,
        "interval_covers_estimate": _interval,
        "reading_grade": _grade,
    }
    for position, (index, row) in enumerate(chosen.frame.iterrows()):
        label = f"reference row {index}"
        try:
            report = explainer.explain(row_case(bundle, index, row))
        except Exception as exc:  # any crash on a valid row is a finding
            results["report_computes"].record(label, f"{type(exc).__name__}: {exc}")
            continue
        results["report_computes"].record(label, None)
        with threadpool_limits(limits=1):
            model_p = float(
                np.asarray(bundle.predict_proba(chosen.frame.iloc[[position]]), dtype=float)[0]
            )
        difference = abs(report.probability - model_p)
        results["probability_is_the_models"].record(
            label,
            None
            if difference <= PROBABILITY_TOL
            else f"shown {report.probability!r}, model {model_p!r}",
        )
        for name, check in checks.items():
            results[name].record(label, check(report))
        untrue = untrue_factors(report, bundle.features)
        results["factors_true_for_patient"].record(label, "; ".join(untrue) or None)
        reports.append(report)
    table = RateTable(
        model_id=bundle.model_id,
        rows=chosen.describe(),
        n=len(reports),
        full=True,
        rates=rates_from_limitations([r.limitations for r in reports]),
        standing=explainer.limitation_rules.standing,
        not_counted=(),
    )
    cap = results["limitation_rates"]
    alarms = table.alarm_rates()
    for code, rate in sorted(alarms.items()):
        cap.record(code, None if rate <= MAX_CASE_RATE else f"fires on {100 * rate:.1f}% of rows")
    return HonestyResult(
        model_id=bundle.model_id,
        rows=chosen.describe(),
        results=results,
        rates=table,
        reports=reports if keep_reports else [],
    )
