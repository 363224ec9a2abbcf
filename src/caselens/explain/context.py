"""Is this patient like the ones the model was tested on, and how did it do on people like them?

Three parts, all computed against one bundle:

- per-variable out-of-distribution flags (:class:`VariableFlag`), taken from the flags
  :func:`caselens.explain.cases.validate_inputs` already raised, so the two never disagree;
- an overall novelty score (:class:`Novelty`): mean Gower distance to the nearest reference
  patients, placed as a percentile among the reference patients' own leave-one-out scores;
- the patient's subgroups and the model's measured performance in each
  (:class:`SubgroupStatus`), looked up from the model card.

:class:`ContextModel` holds what is computed once per bundle (the encoded reference sample
and its leave-one-out scores); :meth:`ContextModel.assess` is then fast for one case.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from caselens.explain.cases import Case
from caselens.explain.cases.fields import MISSING_RARE_SHARE
from caselens.model.card import ModelCard, PerformanceFigures
from caselens.model.features import FeatureSchema, FeatureSpec

if TYPE_CHECKING:
    from caselens.model.bundle import ModelBundle

#: Novelty: nearest reference patients averaged, size and seed of the reference sample.
NOVELTY_NEIGHBOURS = 10
NOVELTY_SAMPLE_SIZE = 2000
NOVELTY_SEED = 0
#: Percentile cut-offs of the plain reading: below 90 typical, 90–99 unusual, ≥ 99 very.
UNUSUAL_PERCENTILE = 90.0
VERY_UNUSUAL_PERCENTILE = 99.0
#: A subgroup is too small to judge below either count.
MIN_SUBGROUP_N = 100
MIN_SUBGROUP_EVENTS = 10
#: A subgroup is "worse" when its AUROC is at least this much below the overall AUROC, ...
AUROC_MARGIN = 0.05
#: ... or its ECE at least this much above the overall ECE, ...
ECE_MARGIN = 0.05
#: ... or its calibration slope outside this range (predictions 1.5 times too extreme or
#: too moderate; Van Calster et al. 2019 make the slope the key internal-validation figure).
SLOPE_RANGE = (0.67, 1.5)
#: A difference only counts as "worse" when it is also larger than the sampling noise of the
#: subgroup's own figure: z = 1.96 (two-sided 95%). Without this, a 115-patient subgroup of a
#: model whose performance does not depend on the variable at all is "worse" by chance (the
#: synthetic other-family cohort: sex is not in the outcome model, yet women had AUROC 0.09
#: lower and slope 0.48), and the caution then fires on two thirds of patients.
NOISE_Z = 1.96
#: The calibration slope's standard error is not on the card, and it is wide in small groups:
#: the slope criterion applies only to subgroups with at least this many events (Collins,
#: Ogundimu & Altman 2016 recommend ≥ 100 events, preferably 200, to validate calibration).
SLOPE_MIN_EVENTS = 100
#: Equal-width bins of the card's ECE (``validation_metrics.expected_calibration_error``); used
#: for the ECE's noise floor.
ECE_BINS = 10
SUBGROUP_RULE = (
    f"flagged when AUROC is {AUROC_MARGIN:.2f} or more below overall, ECE is {ECE_MARGIN:.2f} "
    f"or more above overall, or the calibration slope is outside {SLOPE_RANGE[0]:g}–"
    f"{SLOPE_RANGE[1]:g} (slope only with {SLOPE_MIN_EVENTS} or more events), each only when "
    f"the difference is beyond the subgroup's 95% sampling noise; too small to judge under "
    f"{MIN_SUBGROUP_N} patients or {MIN_SUBGROUP_EVENTS} events"
)
NOT_RECORDED_GROUP = "not recorded"

FlagKind = Literal["outside_training_range", "rare_category", "unseen_category", "missing_value"]
Reading = Literal["typical", "unusual", "very unusual"]
SubgroupState = Literal["ok", "worse", "too_small", "not_recorded", "no_figures"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariableFlag(_Frozen):
    """One input that lies outside what the model saw in training."""

    name: str
    label: str
    kind: FlagKind
    value_text: str
    message: str


class Novelty(_Frozen):
    """How unusual the whole patient is compared with the reference (test) patients.

    ``percentile`` is the share (in %) of the reference sample whose own leave-one-out score
    is below this patient's: "more unusual than ``percentile``% of patients the model was
    tested on".
    """

    score: float
    percentile: float
    reading: Reading
    statement: str
    method: str
    reference_n: int


class SubgroupStatus(_Frozen):
    """The model's measured performance in one of the patient's subgroups."""

    variable: str
    label: str
    group: str
    n: int | None
    events: int | None
    auroc: float | None
    overall_auroc: float | None
    ece: float | None
    overall_ece: float | None
    calibration_slope: float | None
    status: SubgroupState
    note: str
    #: True when the status holds for every patient, not just this one: no recorded group of
    #: this variable has enough test patients to judge (a small test set). Such a status is
    #: stated once for the model (:func:`standing_small_subgroups`), not as a per-case note.
    standing: bool = False


class CaseContext(_Frozen):
    """Everything the screen says about how this patient relates to the model's evidence."""

    variable_flags: tuple[VariableFlag, ...]
    novelty: Novelty
    subgroups: tuple[SubgroupStatus, ...]
    subgroup_rule: str


def _value_of(case: Case, name: str) -> object:
    value = case.values.get(name)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def variable_flags(case: Case, schema: FeatureSchema) -> tuple[VariableFlag, ...]:
    """Structured out-of-distribution flags, from the flags case validation raised.

    Outside the training range and rare categories are kept as validation raised them; a
    category never seen in training becomes ``unseen_category``; a missing value is kept
    only where fewer than ``MISSING_RARE_SHARE`` of training patients had it missing
    (missing where it is common is not unusual).

    Parameters
    ----------
    case : Case
        A validated case (its ``flags`` come from :func:`caselens.explain.cases.validate_inputs`).
    schema : FeatureSchema

    Returns
    -------
    tuple of VariableFlag
        In the order validation raised them (schema order).
    """
    flags = []
    for flag in case.flags:
        if flag.field not in schema:
            continue
        spec = schema[flag.field]
        value = _value_of(case, flag.field)
        kind: FlagKind = flag.code
        if flag.code == "missing_value" and spec.training_missing_share >= MISSING_RARE_SHARE:
            continue
        if flag.code == "rare_category" and not (spec.training_counts or {}).get(str(value), 0):
            kind = "unseen_category"
        flags.append(
            VariableFlag(
                name=spec.name,
                label=spec.label,
                kind=kind,
                value_text=spec.describe_value(value),
                message=flag.message,
            )
        )
    return tuple(flags)


def _figures_for(card: ModelCard, variable: str, group: str) -> PerformanceFigures | None:
    for sub in card.validation.subgroups:
        if sub.variable == variable and sub.group == group:
            return sub.figures
    return None


def _fmt(x: float | None, digits: int = 2) -> str:
    return "not estimable" if x is None else f"{x:.{digits}f}"


def subgroup_status(
    case: Case, schema: FeatureSchema, card: ModelCard
) -> tuple[SubgroupStatus, ...]:
    """The patient's subgroups and the card's performance figures for each.

    For every feature with ``subgroup=True`` the patient's value is mapped to its group with
    :meth:`FeatureSpec.subgroup_of` and looked up in ``card.validation.subgroups``. The
    status is, in order of precedence: ``not_recorded`` (no value; the card's
    'not recorded' figures are shown if it has them), ``no_figures`` (the card has none
    for the group), ``too_small`` (fewer than ``MIN_SUBGROUP_N`` patients or
    ``MIN_SUBGROUP_EVENTS`` events), ``worse`` (see ``SUBGROUP_RULE``), else ``ok``.

    Parameters
    ----------
    case : Case
    schema : FeatureSchema
    card : ModelCard

    Returns
    -------
    tuple of SubgroupStatus
        One per subgroup feature, in schema order.
    """
    overall = card.validation.overall
    rows = []
    for spec in schema.subgroup_features:
        group = spec.subgroup_of(_value_of(case, spec.name))
        recorded = group is not None
        figures = _figures_for(card, spec.name, group if recorded else NOT_RECORDED_GROUP)
        label = spec.label
        status, note = _status_and_note(label, group, figures, overall)
        rows.append(
            SubgroupStatus(
                variable=spec.name,
                label=label,
                group=group if recorded else NOT_RECORDED_GROUP,
                n=figures.n if figures else None,
                events=figures.events if figures else None,
                auroc=figures.auroc if figures else None,
                overall_auroc=overall.auroc,
                ece=figures.ece if figures else None,
                overall_ece=overall.ece,
                calibration_slope=figures.calibration_slope if figures else None,
                status=status,
                note=note,
                standing=status == "too_small" and not _any_group_judged(card, spec.name),
            )
        )
    return tuple(rows)


def _status_and_note(
    label: str,
    group: str | None,
    figures: PerformanceFigures | None,
    overall: PerformanceFigures,
) -> tuple[SubgroupState, str]:
    """A subgroup's status and the sentence that says it (``group`` None: not recorded)."""
    recorded = group is not None
    if figures is None:
        if not recorded:
            return "not_recorded", f"{label} not recorded for this patient."
        return "no_figures", f"The model card has no performance figures for {label} '{group}'."
    what = (
        f"patients with {label.lower()} not recorded"
        if not recorded
        else f"patients with {label.lower()} '{group}'"
    )
    measured = (
        f"tested on {figures.n:,} {what} ({figures.events:,} events): AUROC "
        f"{_fmt(figures.auroc)} (overall {_fmt(overall.auroc)}), ECE "
        f"{_fmt(figures.ece, 3)} (overall {_fmt(overall.ece, 3)}), "
        f"calibration slope {_fmt(figures.calibration_slope)}"
    )
    reasons = _worse_reasons(figures, overall)
    if not recorded:
        return "not_recorded", f"{label} not recorded for this patient; the model was {measured}."
    if _too_small(figures):
        return "too_small", (
            f"Too few patients to judge (under {MIN_SUBGROUP_N} patients or "
            f"{MIN_SUBGROUP_EVENTS} events): the model was {measured}."
        )
    if reasons:
        return "worse", (
            f"Worse than overall ({'; '.join(reasons)}): the model was "
            f"{measured}. Rule: {SUBGROUP_RULE}."
        )
    return "ok", f"Similar to overall: the model was {measured}."


def _too_small(figures: PerformanceFigures) -> bool:
    return figures.n < MIN_SUBGROUP_N or figures.events < MIN_SUBGROUP_EVENTS


def _any_group_judged(card: ModelCard, variable: str) -> bool:
    """True when at least one recorded group of ``variable`` is large enough to judge."""
    return any(
        sub.variable == variable and sub.group != NOT_RECORDED_GROUP and not _too_small(sub.figures)
        for sub in card.validation.subgroups
    )


def standing_small_subgroups(card: ModelCard) -> tuple[tuple[str, str, int, int], ...]:
    """Subgroups too small to judge for every patient: ``(variable, group, n, events)``.

    A variable none of whose recorded groups has ``MIN_SUBGROUP_N`` patients and
    ``MIN_SUBGROUP_EVENTS`` events cannot be judged for anyone — a property of the test set,
    stated once for the model. (A too-small group beside groups that can be judged is a
    per-case note instead: this patient belongs to a group the test set under-represents.)
    """
    return tuple(
        (sub.variable, sub.group, sub.figures.n, sub.figures.events)
        for sub in card.validation.subgroups
        if sub.group != NOT_RECORDED_GROUP
        and _too_small(sub.figures)
        and not _any_group_judged(card, sub.variable)
    )


def _auroc_se(auroc: float, n: int, events: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUROC from its counts."""
    n1, n0 = events, n - events
    if n1 < 1 or n0 < 1:
        return math.inf
    q1, q2 = auroc / (2 - auroc), 2 * auroc**2 / (1 + auroc)
    var = (auroc * (1 - auroc) + (n1 - 1) * (q1 - auroc**2) + (n0 - 1) * (q2 - auroc**2)) / (
        n1 * n0
    )
    return math.sqrt(max(var, 0.0))


def _ece_noise(n: int, events: int) -> float:
    """Expected ECE of a perfectly calibrated model on ``n`` patients (its noise floor).

    Each of ``ECE_BINS`` bins of about n/bins patients has an observed rate off by
    sqrt(p(1−p)/(n/bins)) on average (a half-normal mean is sqrt(2/π)·σ); p is the
    group's event rate.
    """
    if n < 1:
        return math.inf
    rate = events / n
    return math.sqrt(2 / math.pi) * math.sqrt(rate * (1 - rate) * ECE_BINS / n)


def _worse_reasons(figures: PerformanceFigures, overall: PerformanceFigures) -> list[str]:
    reasons = []
    # Small epsilon so that a difference of exactly the margin (in 4-decimal card figures)
    # counts as reaching it despite float subtraction.
    if figures.auroc is not None and overall.auroc is not None:
        gap = overall.auroc - figures.auroc
        noise = NOISE_Z * _auroc_se(figures.auroc, figures.n, figures.events)
        if gap >= AUROC_MARGIN - 1e-9 and gap > noise:
            reasons.append(f"AUROC {gap:.2f} lower")
    if figures.ece is not None and overall.ece is not None:
        gap = figures.ece - overall.ece
        if gap >= ECE_MARGIN - 1e-9 and gap > NOISE_Z * _ece_noise(figures.n, figures.events):
            reasons.append(f"ECE {gap:.2f} higher")
    slope = figures.calibration_slope
    if (
        slope is not None
        and figures.events >= SLOPE_MIN_EVENTS
        and not SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]
    ):
        reasons.append(f"calibration slope {slope:.2f}")
    return reasons


class _Encoder:
    """Encodes rows for Gower distance: scaled numbers and category codes.

    Numbers are divided by the training range (``training_max − training_min``; the
    reference range when the schema has none), so a per-variable difference is 1 across the
    whole training range and can exceed 1 outside it — out-of-range values count more.
    Categories are coded by their position in the schema (a value not in it gets its own
    code); a missing value is its own level: both missing → 0, one missing → 1.
    """

    def __init__(self, schema: FeatureSchema, reference: pd.DataFrame) -> None:
        self.numbers: list[FeatureSpec] = [f for f in schema if f.kind != "category"]
        self.categories: list[FeatureSpec] = [f for f in schema if f.kind == "category"]
        scales = []
        for spec in self.numbers:
            low, high = spec.training_min, spec.training_max
            if low is None or high is None or high <= low:
                column = pd.to_numeric(reference[spec.name], errors="coerce")
                low, high = float(column.min()), float(column.max())
            scales.append(high - low if high > low else 1.0)
        self.scales = np.asarray(scales, dtype=float)
        self.n_features = len(self.numbers) + len(self.categories)

    def encode_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        num = (
            np.column_stack(
                [
                    pd.to_numeric(frame[f.name], errors="coerce").to_numpy(dtype=float)
                    for f in self.numbers
                ]
            )
            if self.numbers
            else np.zeros((len(frame), 0))
        )
        cat = (
            np.column_stack([self._codes(f, frame[f.name].tolist()) for f in self.categories])
            if self.categories
            else np.zeros((len(frame), 0), dtype=int)
        )
        return num / self.scales, cat

    def encode_case(self, case: Case) -> tuple[np.ndarray, np.ndarray]:
        num = np.array(
            [
                np.nan if _value_of(case, f.name) is None else float(_value_of(case, f.name))
                for f in self.numbers
            ],
            dtype=float,
        )
        cat = np.array(
            [self._codes(f, [_value_of(case, f.name)])[0] for f in self.categories], dtype=int
        )
        return num / self.scales, cat

    @staticmethod
    def _codes(spec: FeatureSpec, values: list[object]) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(spec.categories or ())}
        unknown = len(lookup)
        codes = []
        for v in values:
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                codes.append(-1)
            else:
                codes.append(lookup.get(str(v), unknown))
        return np.asarray(codes, dtype=int)


def _num_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Broadcasted |a − b| with Gower's missing rule: both missing 0, one missing 1.
    diff = np.abs(a - b)
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    return np.where(a_nan & b_nan, 0.0, np.where(a_nan | b_nan, 1.0, diff))


class ContextModel:
    """Per-bundle context figures computed once; :meth:`assess` is then fast.

    Parameters
    ----------
    schema : FeatureSchema
    card : ModelCard
    reference : DataFrame
        The reference (test) split; at most ``sample_size`` rows (fixed seed) are kept for
        the novelty score.
    sample_size : int, default NOVELTY_SAMPLE_SIZE
    k : int, default NOVELTY_NEIGHBOURS
        Nearest reference patients averaged (fewer if the sample is smaller).
    seed : int, default NOVELTY_SEED

    Attributes
    ----------
    sample_index : Index
        Reference row labels in the novelty sample.
    reference_scores : ndarray
        Leave-one-out novelty score of every sampled reference patient (sorted).

    Notes
    -----
    The novelty score is the mean Gower distance (Gower 1971) from the patient to their k
    nearest patients in the reference sample, each distance being the mean over variables
    of a per-variable difference in [0, 1] (numbers scaled by training range, categories
    0/1 mismatch, missing as its own level). The reference patients' own scores are
    computed leave-one-out (each excluded from its own neighbours), so a new patient and a
    reference patient are scored the same way.
    """

    def __init__(
        self,
        schema: FeatureSchema,
        card: ModelCard,
        reference: pd.DataFrame,
        *,
        sample_size: int = NOVELTY_SAMPLE_SIZE,
        k: int = NOVELTY_NEIGHBOURS,
        seed: int = NOVELTY_SEED,
    ) -> None:
        if len(reference) < 2:
            raise ValueError(
                f"reference: need at least 2 rows for a novelty score, got {len(reference)}."
            )
        self.schema = schema
        self.card = card
        sample = (
            reference.sample(n=sample_size, random_state=seed)
            if len(reference) > sample_size
            else reference
        )
        self.sample_index = sample.index
        self.k = max(1, min(k, len(sample) - 1))
        self.seed = seed
        self._encoder = _Encoder(schema, reference)
        self._num, self._cat = self._encoder.encode_frame(sample)
        distances = np.zeros((len(sample), len(sample)))
        for j in range(self._num.shape[1]):
            column = self._num[:, j]
            distances += _num_distance(column[:, None], column[None, :])
        for j in range(self._cat.shape[1]):
            column = self._cat[:, j]
            distances += column[:, None] != column[None, :]
        distances /= self._encoder.n_features
        np.fill_diagonal(distances, np.inf)
        nearest = np.partition(distances, self.k - 1, axis=1)[:, : self.k]
        self.reference_scores = np.sort(nearest.mean(axis=1))
        self.reference_scores.setflags(write=False)
        self.method = (
            f"mean Gower distance to the {self.k} nearest of {len(sample):,} test patients "
            f"(numbers scaled by training range, categories match/mismatch, missing as its "
            f"own value; sample drawn with seed {seed}); percentile against the same score "
            "for those test patients, each left out of its own neighbours"
        )

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, **kwargs: int) -> ContextModel:
        """Build from a loaded bundle (its schema, card and reference split).

        Parameters
        ----------
        bundle : ModelBundle
        **kwargs
            ``sample_size``, ``k``, ``seed`` (see the class).

        Returns
        -------
        ContextModel
        """
        return cls(bundle.features, bundle.card, bundle.reference, **kwargs)

    def novelty(self, case: Case) -> Novelty:
        """Novelty score of one case, its percentile among reference patients, and a reading."""
        num, cat = self._encoder.encode_case(case)
        distances = (
            _num_distance(self._num, num[None, :]).sum(axis=1)
            + (self._cat != cat[None, :]).sum(axis=1)
        ) / self._encoder.n_features
        score = float(np.partition(distances, self.k - 1)[: self.k].mean())
        below = int(np.searchsorted(self.reference_scores, score, side="left"))
        percentile = 100.0 * below / len(self.reference_scores)
        if percentile >= VERY_UNUSUAL_PERCENTILE:
            reading: Reading = "very unusual"
        elif percentile >= UNUSUAL_PERCENTILE:
            reading = "unusual"
        else:
            reading = "typical"
        return Novelty(
            score=round(score, 6),
            percentile=round(percentile, 2),
            reading=reading,
            statement=(
                f"{reading.capitalize()}: more unusual than {percentile:.0f}% of "
                "patients the model was tested on"
            ),
            method=self.method,
            reference_n=len(self.reference_scores),
        )

    def assess(self, case: Case) -> CaseContext:
        """Variable flags, novelty and subgroup performance for one validated case.

        Parameters
        ----------
        case : Case
            From :func:`caselens.explain.cases.validate_inputs` against this bundle's schema.

        Returns
        -------
        CaseContext
        """
        return CaseContext(
            variable_flags=variable_flags(case, self.schema),
            novelty=self.novelty(case),
            subgroups=subgroup_status(case, self.schema, self.card),
            subgroup_rule=SUBGROUP_RULE,
        )
