"""Rules that turn a case's confidence, explanations, context and the model card into
limitation statements, each naming the value, subgroup or figure that triggered it."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from caselens.explain.attribution import Attributions
from caselens.explain.cases import Case
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.confidence_limitations import confidence_limitations
from caselens.explain.context import CaseContext, standing_small_subgroups
from caselens.explain.limitation_record import SEVERITY_ORDER, Limitation, Severity
from caselens.model.card import ModelCard
from caselens.model.features import FeatureSchema

if TYPE_CHECKING:
    from caselens.explain.confidence.model import ConfidenceModel

__all__ = [
    "MAX_CASE_RATE",
    "MIN_TEST_EVENTS",
    "MODEL_LEVEL_CODES",
    "NEAR_THRESHOLD_MAX_SHARE",
    "SEVERITY_ORDER",
    "Limitation",
    "LimitationRules",
    "NearThresholdBand",
    "Severity",
    "case_limitations",
    "standing_limitations",
]


#: A caution or warning that fires on more than this share of ordinary reference patients
#: stops being read. Every per-case rule is tuned to stay under it on any valid bundle; a
#: property that holds for (nearly) every patient is a *standing* limitation, stated once
#: for the model (:func:`standing_limitations`), never as a per-case alarm.
MAX_CASE_RATE = 1 / 3
#: NEAR_THRESHOLD band, part 1 — the model's own uncertainty at the threshold: half the width
#: of the 95% Wilson interval of the observed outcome rate among the test patients whose
#: predicted probability is nearest the threshold (``ConfidenceModel.neighbourhood``). A
#: probability closer to the threshold than that could, on the test evidence, belong on
#: either side. A fixed 5 points is too wide for a low-prevalence model (at a 20% threshold
#: it holds a fifth of patients) and too narrow for nothing in particular.
#: NEAR_THRESHOLD band, part 2 — never wider than the distance that holds this share of the
#: test patients (those nearest the threshold). With a small test set the interval at the
#: threshold is ±12 to ±17 points and would call most patients "near"; then the band is cut
#: to the nearest fifth and the wide uncertainty is a standing statement (NEAR_THRESHOLD_BAND).
#: A fifth keeps the caution well under ``MAX_CASE_RATE`` on new patients drawn like the test
#: set, with room for sampling noise.
NEAR_THRESHOLD_MAX_SHARE = 0.20
#: Codes that describe the model, not the case: true for every patient. They stay in each
#: report (the patient must see a demonstration model's warning every time) but are marked
#: ``standing`` and do not count against ``MAX_CASE_RATE``.
#: NOT_CALIBRATED (an uncalibrated model) is one too: it holds for every patient of that model.
MODEL_LEVEL_CODES = frozenset(
    {"OUT_OF_SCOPE", "DEMONSTRATION_MODEL", "REVIEW_OVERDUE", "NOT_CALIBRATED"}
)
#: Minimum test-set events for the figures to be trusted without a standing caveat (Collins,
#: Ogundimu & Altman 2016: at least 100 events, preferably 200, for external validation).
MIN_TEST_EVENTS = 100


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


class NearThresholdBand(BaseModel):
    """How close to the threshold is "near", for one bundle (see ``NEAR_THRESHOLD_MAX_SHARE``).

    Attributes
    ----------
    points : float
        The band's half-width in percentage points: ``min(uncertainty_points, share_points)``.
    uncertainty_points : float
        Half-width of the 95% Wilson interval of the observed rate among the test patients
        nearest the threshold.
    share_points : float
        The distance from the threshold that holds ``NEAR_THRESHOLD_MAX_SHARE`` of the test
        patients' probabilities.
    reference_share : float
        Share of the test patients whose probability lies inside the band.
    capped : bool
        True when the uncertainty was wider than the share cap allows (the wide uncertainty is
        then a standing limitation).
    neighbours : int
    reference_n : int
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: float
    uncertainty_points: float
    share_points: float
    reference_share: float
    capped: bool
    neighbours: int
    reference_n: int

    @classmethod
    def from_confidence_model(cls, model: ConfidenceModel) -> NearThresholdBand:
        """Derive the band from the bundle's test probabilities and outcomes."""
        t = model.threshold
        hood = model.neighbourhood(t)
        uncertainty = 100 * (hood.ci_high - hood.ci_low) / 2
        distances = np.sort(np.abs(np.asarray(model.reference_probabilities) - t)) * 100
        count = max(1, math.floor(NEAR_THRESHOLD_MAX_SHARE * len(distances)))
        share_points = float(distances[count - 1])
        points = min(uncertainty, share_points)
        return cls(
            points=round(points, 6),
            uncertainty_points=round(uncertainty, 6),
            share_points=round(share_points, 6),
            reference_share=round(float(np.mean(distances <= points + 1e-9)), 6),
            capped=uncertainty > share_points,
            neighbours=hood.n,
            reference_n=len(distances),
        )


class LimitationRules(BaseModel):
    """Per-bundle settings of the per-case rules, computed once (see :meth:`for_bundle`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    near_threshold: NearThresholdBand
    standing: tuple[Limitation, ...]

    @classmethod
    def for_bundle(
        cls, card: ModelCard, confidence_model: ConfidenceModel, *, today: dt.date | None = None
    ) -> LimitationRules:
        """The NEAR_THRESHOLD band and the standing limitations of one bundle."""
        band = NearThresholdBand.from_confidence_model(confidence_model)
        return cls(
            near_threshold=band,
            standing=standing_limitations(
                card,
                band,
                reference_n=confidence_model.n_reference,
                reference_events=round(confidence_model.base_rate * confidence_model.n_reference),
            ),
        )


def _out_of_scope(card: ModelCard) -> list[Limitation]:
    out = [
        Limitation(
            code="OUT_OF_SCOPE",
            severity="info",
            clinician_text="Not validated for: "
            + "; ".join(u.rstrip(".") for u in card.out_of_scope_uses)
            + ".",
            patient_text=None,
            trigger="model card: out_of_scope_uses",
            standing=True,
        )
    ]
    if card.demonstration_only:
        out.append(
            Limitation(
                code="DEMONSTRATION_MODEL",
                severity="warning",
                # Not "trained on public research data": a bring-your-own demonstration model may
                # be synthetic; the card's own dates say what the data were.
                clinician_text=f"{card.name} is a demonstration model; do not use it for patient "
                f"care (training data: {card.training_data.dates.rstrip('.')}).",
                patient_text="This is a test tool. Your care team does not use it to make choices "
                "about your care.",
                trigger="model card: demonstration_only = true",
                standing=True,
            )
        )
    return out


def _review_overdue(card: ModelCard, today: dt.date) -> list[Limitation]:
    due = card.review_due()
    if today <= due:
        return []
    return [
        Limitation(
            code="REVIEW_OVERDUE",
            severity="warning",
            clinician_text=f"The model's review is overdue: last reviewed {card.last_review_date}, "
            f"due again by {due} ({(today - due).days} days ago).",
            patient_text="The tool has not been checked again on time.",
            trigger=f"last_review_date {card.last_review_date} + {card.review_interval_days} days "
            f"< {today}",
            standing=True,
        )
    ]


def _capital(text: str) -> str:
    """A sentence that starts with a label ('visits: 6 is outside…') starts with a capital;
    a word with capitals of its own ('eGFR', 'pH') is left as written."""
    first = text.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]):
        return text
    return text[:1].upper() + text[1:]


def _in_sentence(label: str) -> str:
    """A patient label inside a sentence: 'Your age' → 'your age', 'A1c test' and 'ST
    depression' keep their capitals (not str.lower(), which made 'a1c' and 'st')."""
    words = label.strip().split(" ")
    keep = [
        w if any(c.isupper() for c in w[1:]) or (w.isupper() and len(w) > 1) else w.lower()
        for w in words
    ]
    return " ".join(keep)


def _inputs(case: Case, context: CaseContext, schema: FeatureSchema) -> list[Limitation]:
    out: list[Limitation] = []
    for flag in context.variable_flags:
        feature = schema[flag.name]
        message, plain = _capital(flag.message), _in_sentence(feature.patient_label)
        if flag.kind == "outside_training_range":
            out.append(
                Limitation(
                    code="OUT_OF_RANGE",
                    severity="warning",
                    clinician_text=f"{message} The model extrapolates here; treat the "
                    "probability and its explanation with caution.",
                    patient_text=f"The value for {plain} is outside what "
                    "the tool learned from, so it may be less right for you.",
                    trigger=f"{flag.name} = {flag.value_text}",
                )
            )
        elif flag.kind in {"rare_category", "unseen_category"}:
            out.append(
                Limitation(
                    code="RARE_CATEGORY",
                    severity="caution" if flag.kind == "rare_category" else "warning",
                    clinician_text=f"{message} Estimates for this value rest on few patients.",
                    patient_text=f"Few people in the data had the same "
                    f"{plain} as you, so the tool may be less "
                    "right for you.",
                    trigger=f"{flag.name} = {flag.value_text}",
                )
            )
        elif flag.kind == "missing_value":
            out.append(
                Limitation(
                    code="IMPUTED_INPUT",
                    severity="caution",
                    clinician_text=f"{message} The model used its missing-value rule "
                    "(imputation or a learned missing branch) instead of a real value.",
                    patient_text=f"We did not have your {plain}, so the "
                    "tool had to work without it.",
                    trigger=f"{flag.name} = not recorded",
                )
            )
    novelty = context.novelty
    if novelty.reading != "typical":
        out.append(
            Limitation(
                code="NOVEL_CASE",
                severity="warning" if novelty.reading == "very unusual" else "caution",
                clinician_text=f"{novelty.statement} Predictions for unusual patients are less "
                "reliable.",
                patient_text="Your mix of results is not common in the data the tool learned from.",
                trigger=f"novelty percentile {novelty.percentile:.1f}",
            )
        )
    return out


def _subgroups(context: CaseContext) -> list[Limitation]:
    out: list[Limitation] = []
    for group in context.subgroups:
        if group.status == "too_small" and group.standing:
            continue  # too small for every patient: stated once (standing_limitations)
        trigger = f"{group.variable} = {group.group}"
        if group.status == "worse":
            out.append(
                Limitation(
                    code="WEAK_SUBGROUP",
                    severity="caution",
                    clinician_text=f"The model performs worse for {group.label.lower()} "
                    f"{group.group}: {group.note}",
                    patient_text="The tool is less exact for people in one of your groups.",
                    trigger=trigger,
                )
            )
        elif group.status == "too_small":
            out.append(
                Limitation(
                    code="SMALL_SUBGROUP",
                    severity="info",
                    clinician_text=f"Too few test patients in {group.label.lower()} {group.group} "
                    f"to judge the model there: {group.note}",
                    patient_text=None,
                    trigger=trigger,
                )
            )
    return out


def _material_disagreement(attributions: Attributions) -> bool:
    """True when SHAP and LIME tell a different main story for this patient: either one's
    strongest factor is not among the other's top k, or they point opposite ways on SHAP's
    strongest factor. A swap of the first two, or a difference lower in the top k, is not
    (it happens for most patients of some models and does not change the main driver)."""
    agreement = attributions.agreement
    if agreement is None or agreement.agree or not agreement.shap_top or not agreement.lime_top:
        return False
    shap_first, lime_first = agreement.shap_top[0], agreement.lime_top[0]
    if shap_first not in agreement.lime_top or lime_first not in agreement.shap_top:
        return True
    shap_value = {c.name: c.value for c in attributions.shap.contributions}.get(shap_first, 0.0)
    lime_value = {w.name: w.value for w in attributions.lime.weights}.get(shap_first, 0.0)
    return shap_value * lime_value < 0


def _explanations(attributions: Attributions) -> list[Limitation]:
    """Explanation-quality rules.

    SHAP is the explanation every sentence relies on (main drivers, the patient's factors);
    LIME is a second opinion shown beside it with its fit (R²) and stability printed next to
    its weights. So a weak or unstable LIME fit is a note (``info``): on a random forest
    LIME's linear fit is weak for most patients, a property of LIME on that model, not an
    alarm about this case. A disagreement is a caution only when it is material
    (:func:`_material_disagreement`); any other disagreement is a note, and the explanation
    panel's agreement sentence says so either way.
    """
    out: list[Limitation] = []
    shap, lime, agreement = attributions.shap, attributions.lime, attributions.agreement
    if shap.status == "failed":
        out.append(
            Limitation(
                code="EXPLANATION_FAILED",
                severity="warning",
                clinician_text="The SHAP explanation failed and is not shown: "
                f"{shap.failure_reason}",
                patient_text=None,
                trigger="SHAP additivity check",
            )
        )
    if lime.status == "failed":
        out.append(
            Limitation(
                code="LIME_FAILED",
                severity="caution",
                clinician_text="The LIME explanation failed and is not shown: "
                f"{lime.failure_reason}",
                patient_text=None,
                trigger="LIME",
            )
        )
    else:
        if lime.low_fidelity:
            out.append(
                Limitation(
                    code="LOW_LIME_FIDELITY",
                    severity="info",
                    clinician_text="LIME's local fit is weak "
                    f"(R² {lime.fidelity_r2_mean:.2f}): its weights describe the model near "
                    "this patient poorly.",
                    patient_text=None,
                    trigger=f"LIME R² = {lime.fidelity_r2_mean:.2f}",
                )
            )
        if lime.unstable:
            out.append(
                Limitation(
                    code="LIME_UNSTABLE",
                    severity="info",
                    clinician_text=f"LIME's top factors change between runs (top-{lime.top_k} "
                    f"overlap {lime.top_k_jaccard:.2f} across {lime.runs} seeds).",
                    patient_text=None,
                    trigger=f"LIME top-k Jaccard = {lime.top_k_jaccard:.2f}",
                )
            )
    if agreement is not None and not agreement.agree:
        out.append(
            Limitation(
                code="EXPLAINER_DISAGREEMENT",
                severity="caution" if _material_disagreement(attributions) else "info",
                clinician_text=agreement.sentence,
                patient_text=None,
                trigger="disagreeing: " + ", ".join(agreement.disagreeing_variables),
            )
        )
    return out


def _near_threshold(confidence: ConfidenceAssessment, band: NearThresholdBand) -> list[Limitation]:
    """NEAR_THRESHOLD: the probability lies within the bundle's band around the threshold."""
    distance = abs(confidence.probability - confidence.threshold) * 100
    if distance > band.points + 1e-9:
        return []
    how = (
        f"the threshold lies within ±{band.points:.1f} points, the range in which the test "
        f"evidence cannot tell the two sides apart (95% interval of the observed rate among "
        f"the {band.neighbours:,} test patients nearest the threshold)"
        if not band.capped
        else f"it is among the {_pct(band.reference_share)} of test patients nearest the "
        f"threshold (within ±{band.points:.1f} points)"
    )
    return [
        Limitation(
            code="NEAR_THRESHOLD",
            severity="caution",
            clinician_text=f"The probability is {confidence.side_statement}: {how}. A small "
            "change in one value, or the model's own error, could move it to the other side.",
            patient_text=None,
            trigger=f"|{confidence.probability:.3f} − {confidence.threshold}| = "
            f"{distance:.1f} points ≤ band {band.points:.1f}",
        )
    ]


def standing_limitations(
    card: ModelCard,
    band: NearThresholdBand | None,
    *,
    reference_n: int,
    reference_events: int,
) -> tuple[Limitation, ...]:
    """What holds for every patient of this model, stated once (model facts, not per case).

    - ``SMALL_TEST_SET``: fewer than ``MIN_TEST_EVENTS`` events in the test (reference) data.
    - ``SMALL_SUBGROUPS``: subgroup variables none of whose groups can be judged
      (:func:`caselens.explain.context.standing_small_subgroups`).
    - ``NEAR_THRESHOLD_BAND``: how wide "near the threshold" is and why; when the model's
      uncertainty at the threshold is wider than the band allows, that is said here.
    - The model-level codes (``MODEL_LEVEL_CODES``) are also standing; they stay in every
      report as well, because the patient must see them every time.
    """
    out: list[Limitation] = []
    if reference_events < MIN_TEST_EVENTS:
        out.append(
            Limitation(
                code="SMALL_TEST_SET",
                severity="caution",
                clinician_text=f"The model was tested on {reference_n:,} patients with "
                f"{reference_events:,} events (fewer than the {MIN_TEST_EVENTS} events "
                "recommended to validate a model): every performance figure, the "
                "uncertainty range and the conformal set rest on little evidence.",
                patient_text=None,
                trigger=f"test set: {reference_events} events < {MIN_TEST_EVENTS}",
                standing=True,
            )
        )
    small = standing_small_subgroups(card)
    if small:
        groups = "; ".join(f"{v} = {g} ({n} patients, {e} events)" for v, g, n, e in small)
        out.append(
            Limitation(
                code="SMALL_SUBGROUPS",
                severity="info",
                clinician_text="Too few test patients to judge the model in any group of "
                f"{', '.join(sorted({v for v, *_ in small}))}: {groups}. This holds for every "
                "patient, so it is not repeated on each case.",
                patient_text=None,
                trigger="; ".join(f"{v} = {g}" for v, g, *_ in small),
                standing=True,
            )
        )
    if band is not None:
        text = (
            f"“Near the threshold” means within ±{band.points:.1f} points of the "
            f"{_pct(card.decision_threshold)} threshold: the 95% interval of the observed rate "
            f"among the {band.neighbours:,} test patients nearest the threshold."
        )
        if band.capped:
            text = (
                f"Near the {_pct(card.decision_threshold)} threshold the test evidence is "
                f"uncertain by ±{band.uncertainty_points:.1f} points (95% interval of the "
                f"observed rate among the {band.neighbours:,} test patients nearest it), "
                "so for many patients the side of the threshold is less certain than it "
                f"looks. The per-case caution marks only the {_pct(band.reference_share)} of "
                f"test patients nearest the threshold (within ±{band.points:.1f} points)."
            )
        out.append(
            Limitation(
                code="NEAR_THRESHOLD_BAND",
                severity="caution" if band.capped else "info",
                clinician_text=text,
                patient_text=None,
                trigger=f"band ±{band.points:.1f} points (uncertainty "
                f"±{band.uncertainty_points:.1f}, {_pct(NEAR_THRESHOLD_MAX_SHARE)} share "
                f"±{band.share_points:.1f})",
                standing=True,
            )
        )
    return tuple(sorted(out, key=lambda item: SEVERITY_ORDER[item.severity]))


def case_limitations(
    case: Case,
    schema: FeatureSchema,
    card: ModelCard,
    confidence: ConfidenceAssessment,
    attributions: Attributions | None,
    context: CaseContext,
    *,
    today: dt.date,
    rules: LimitationRules | None = None,
) -> tuple[Limitation, ...]:
    """Every limitation that applies to this case, most severe first (stable within a level).

    With ``rules`` (per-bundle, :meth:`LimitationRules.for_bundle`), NEAR_THRESHOLD uses the
    bundle's band; without them it falls back to ``confidence.near_threshold``. With
    ``attributions=None`` the explanation rules are not evaluated (used to count the other
    rules cheaply over many reference rows; a report always has attributions).
    """
    from_confidence = confidence_limitations(confidence)
    if rules is not None:
        from_confidence = [
            lim for lim in from_confidence if lim.code != "NEAR_THRESHOLD"
        ] + _near_threshold(confidence, rules.near_threshold)
    found = [
        *_review_overdue(card, today),
        *_inputs(case, context, schema),
        *_subgroups(context),
        *(_explanations(attributions) if attributions is not None else []),
        *from_confidence,
        *_out_of_scope(card),
    ]
    found = [
        lim.model_copy(update={"standing": True})
        if lim.code in MODEL_LEVEL_CODES and not lim.standing
        else lim
        for lim in found
    ]
    return tuple(sorted(found, key=lambda item: SEVERITY_ORDER[item.severity]))
