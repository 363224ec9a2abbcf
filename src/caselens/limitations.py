"""Rules that turn a case's confidence, explanations, context and the model card into
limitation statements, each naming the value, subgroup or figure that triggered it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from caselens.attribution import Attributions
from caselens.cases import Case
from caselens.confidence import ConfidenceAssessment
from caselens.context import CaseContext
from caselens.features import FeatureSchema
from caselens.model_card import ModelCard

Severity = Literal["info", "caution", "warning"]
SEVERITY_ORDER: dict[str, int] = {"warning": 0, "caution": 1, "info": 2}


class Limitation(BaseModel):
    """One statement of when not to trust this result, for clinicians and for patients."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    clinician_text: str
    patient_text: str | None
    trigger: str


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


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
        )
    ]
    if card.demonstration_only:
        out.append(
            Limitation(
                code="DEMONSTRATION_MODEL",
                severity="warning",
                clinician_text=f"{card.name} is a demonstration model trained on public research "
                f"data ({card.training_data.dates}); do not use it for patient care.",
                patient_text="This is a test tool. Your care team does not use it to make choices "
                "about your care.",
                trigger="model card: demonstration_only = true",
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
        )
    ]


def _inputs(case: Case, context: CaseContext, schema: FeatureSchema) -> list[Limitation]:
    out: list[Limitation] = []
    for flag in context.variable_flags:
        feature = schema[flag.name]
        if flag.kind == "outside_training_range":
            out.append(
                Limitation(
                    code="OUT_OF_RANGE",
                    severity="warning",
                    clinician_text=f"{flag.message} The model extrapolates here; treat the "
                    "probability and its explanation with caution.",
                    patient_text=f"The value for {feature.patient_label.lower()} is outside what "
                    "the tool learned from, so it may be less right for you.",
                    trigger=f"{flag.name} = {flag.value_text}",
                )
            )
        elif flag.kind in {"rare_category", "unseen_category"}:
            out.append(
                Limitation(
                    code="RARE_CATEGORY",
                    severity="caution" if flag.kind == "rare_category" else "warning",
                    clinician_text=f"{flag.message} Estimates for this value rest on few patients.",
                    patient_text=f"Few people in the data had the same "
                    f"{feature.patient_label.lower()} as you, so the tool may be less "
                    "right for you.",
                    trigger=f"{flag.name} = {flag.value_text}",
                )
            )
        elif flag.kind == "missing_value":
            out.append(
                Limitation(
                    code="IMPUTED_INPUT",
                    severity="caution",
                    clinician_text=f"{flag.message} The model used its missing-value rule "
                    "(imputation or a learned missing branch) instead of a real value.",
                    patient_text=f"We did not have your {feature.patient_label.lower()}, so the "
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


def _explanations(attributions: Attributions) -> list[Limitation]:
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
                    severity="caution",
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
                    severity="caution",
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
                severity="caution",
                clinician_text=agreement.sentence,
                patient_text=None,
                trigger="disagreeing: " + ", ".join(agreement.disagreeing_variables),
            )
        )
    return out


def _confidence(confidence: ConfidenceAssessment) -> list[Limitation]:
    out: list[Limitation] = []
    conformal = confidence.conformal
    if conformal is not None and len(conformal.labels) != 1:
        out.append(
            Limitation(
                code="UNCERTAIN_SET",
                severity="caution",
                clinician_text=f"At {_pct(conformal.coverage)} coverage the conformal "
                f"prediction set is {{{', '.join(map(str, conformal.labels))}}}: "
                f"{conformal.statement}.",
                patient_text="The tool cannot tell well which way things will go for you.",
                trigger=f"conformal set {list(conformal.labels)} at {conformal.coverage}",
            )
        )
    if confidence.near_threshold:
        out.append(
            Limitation(
                code="NEAR_THRESHOLD",
                severity="caution",
                clinician_text=f"The probability is {confidence.side_statement}: "
                f"{confidence.near_threshold_reason}",
                patient_text=None,
                trigger=f"|{confidence.probability:.3f} − {confidence.threshold}| = "
                f"{confidence.distance_points:.1f} points",
            )
        )
    hood = confidence.neighbourhood
    if hood.outside_reference or hood.off_centre:
        how = "extreme" if hood.outside_reference else "high or low"
        out.append(
            Limitation(
                code="SPARSE_EVIDENCE",
                severity="caution",
                clinician_text=f"Few tested patients had a probability this {how}: the nearest "
                f"{hood.n} had a mean predicted {100 * hood.mean_predicted:.1f}% "
                f"against {100 * confidence.probability:.1f}% here, so the "
                "reliability figures are only the nearest available evidence.",
                patient_text=None,
                trigger=f"neighbourhood mean predicted {hood.mean_predicted:.3f} vs probability "
                f"{confidence.probability:.3f}",
            )
        )
    return out


def case_limitations(
    case: Case,
    schema: FeatureSchema,
    card: ModelCard,
    confidence: ConfidenceAssessment,
    attributions: Attributions,
    context: CaseContext,
    *,
    today: dt.date,
) -> tuple[Limitation, ...]:
    """Every limitation that applies to this case, most severe first (stable within a level)."""
    found = [
        *_review_overdue(card, today),
        *_inputs(case, context, schema),
        *_subgroups(context),
        *_explanations(attributions),
        *_confidence(confidence),
        *_out_of_scope(card),
    ]
    return tuple(sorted(found, key=lambda item: SEVERITY_ORDER[item.severity]))
