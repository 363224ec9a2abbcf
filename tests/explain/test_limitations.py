"""Every limitation rule fires on a crafted case and stays silent on a plain one."""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.explain.cases import validate_inputs
from caselens.explain.limitations import case_limitations
from caselens.explain.report import CaseExplainer

ALWAYS = {"OUT_OF_SCOPE", "DEMONSTRATION_MODEL"}
TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def plain(heart_bundle):
    """A real report's parts, made plain: nothing in them should trigger a rule."""
    explainer = CaseExplainer(heart_bundle)
    case = validate_inputs(heart_bundle.demo_case("H-03").inputs, heart_bundle.features)
    report = explainer.explain(case)
    conf = report.confidence
    confidence = conf.model_copy(
        update={
            "near_threshold": False,
            "near_threshold_reason": None,
            "conformal": conf.conformal.model_copy(
                update={"labels": (1,), "statement": "confident: high risk"}
            ),
            "neighbourhood": conf.neighbourhood.model_copy(
                update={"off_centre": False, "outside_reference": False}
            ),
            "estimate_outside_neighbourhood": False,
        }
    )
    attr = report.attributions
    attributions = attr.model_copy(
        update={
            "lime": attr.lime.model_copy(update={"low_fidelity": False, "unstable": False}),
            "agreement": attr.agreement.model_copy(update={"agree": True}),
        }
    )
    ctx = report.context
    context = ctx.model_copy(
        update={
            "variable_flags": (),
            "novelty": ctx.novelty.model_copy(update={"reading": "typical", "percentile": 50.0}),
            "subgroups": tuple(
                s.model_copy(update={"status": "ok", "standing": False}) for s in ctx.subgroups
            ),
        }
    )
    return heart_bundle, case, confidence, attributions, context


def _found(plain, *, today=TODAY, **parts) -> list:
    bundle, case, confidence, attributions, context = plain
    return case_limitations(
        parts.get("case", case),
        bundle.features,
        parts.get("card", bundle.card),
        parts.get("confidence", confidence),
        parts.get("attributions", attributions),
        parts.get("context", context),
        today=today,
    )


def _codes(plain, *, today=TODAY, **parts) -> set[str]:
    return {lim.code for lim in _found(plain, today=today, **parts)}


def _severity(plain, code: str, **parts) -> str:
    return next(lim.severity for lim in _found(plain, **parts) if lim.code == code)


def test_a_plain_case_gets_only_the_model_level_statements(plain):
    assert _codes(plain) == ALWAYS


def test_out_of_range_input_fires_and_names_the_value(plain, heart_bundle):
    bundle, case, confidence, attributions, _ = plain
    odd = validate_inputs({**case.values, "cholesterol": 650.0}, bundle.features)
    explainer = CaseExplainer(bundle)
    context = explainer.context_model.assess(odd)
    found = case_limitations(
        odd, bundle.features, bundle.card, confidence, attributions, context, today=TODAY
    )
    hit = next(lim for lim in found if lim.code == "OUT_OF_RANGE")
    assert hit.trigger == "cholesterol = 650 mg/dL"
    assert hit.severity == "warning" and hit.patient_text


def test_missing_input_fires_imputed_input(plain):
    bundle, case, confidence, attributions, _ = plain
    missing = validate_inputs({**case.values, "thallium_test": None}, bundle.features)
    context = CaseExplainer(bundle).context_model.assess(missing)
    found = case_limitations(
        missing, bundle.features, bundle.card, confidence, attributions, context, today=TODAY
    )
    assert any(lim.code == "IMPUTED_INPUT" and "thallium_test" in lim.trigger for lim in found)


@pytest.mark.parametrize(
    ("reading", "severity"), [("unusual", "caution"), ("very unusual", "warning")]
)
def test_novel_case_fires_with_its_percentile(plain, reading, severity):
    context = plain[4]
    novel = context.model_copy(
        update={
            "novelty": context.novelty.model_copy(update={"reading": reading, "percentile": 99.5})
        }
    )
    assert "NOVEL_CASE" in _codes(plain, context=novel)


@pytest.mark.parametrize(
    ("status", "code"), [("worse", "WEAK_SUBGROUP"), ("too_small", "SMALL_SUBGROUP")]
)
def test_weak_or_small_subgroup_fires_naming_the_subgroup(plain, status, code):
    context = plain[4]
    changed = context.model_copy(
        update={"subgroups": (context.subgroups[0].model_copy(update={"status": status}),)}
    )
    assert code in _codes(plain, context=changed)


def test_low_lime_fidelity_and_instability_fire(plain):
    attributions = plain[3]
    bad = attributions.model_copy(
        update={
            "lime": attributions.lime.model_copy(update={"low_fidelity": True, "unstable": True})
        }
    )
    assert {"LOW_LIME_FIDELITY", "LIME_UNSTABLE"} <= _codes(plain, attributions=bad)


def test_explainer_disagreement_fires_with_the_variables(plain):
    attributions = plain[3]
    bad = attributions.model_copy(
        update={
            "agreement": attributions.agreement.model_copy(
                update={"agree": False, "disagreeing_variables": ("age",)}
            )
        }
    )
    assert "EXPLAINER_DISAGREEMENT" in _codes(plain, attributions=bad)


def test_failed_shap_explanation_fires_a_warning(plain):
    attributions = plain[3]
    bad = attributions.model_copy(
        update={
            "shap": attributions.shap.model_copy(
                update={"status": "failed", "failure_reason": "sum differs by 0.01"}
            )
        }
    )
    assert "EXPLANATION_FAILED" in _codes(plain, attributions=bad)


def test_uncertain_conformal_set_fires(plain):
    confidence = plain[2]
    both = confidence.model_copy(
        update={
            "conformal": confidence.conformal.model_copy(
                update={"labels": (0, 1), "statement": "uncertain: both outcomes plausible"}
            )
        }
    )
    assert "UNCERTAIN_SET" in _codes(plain, confidence=both)
    # Usual for per-class sets: a note beside the set's own statement, not an alarm.
    assert _severity(plain, "UNCERTAIN_SET", confidence=both) == "info"


def test_probability_near_the_threshold_fires(plain):
    confidence = plain[2]
    near = confidence.model_copy(
        update={"near_threshold": True, "near_threshold_reason": "within 5 points"}
    )
    assert "NEAR_THRESHOLD" in _codes(plain, confidence=near)


def test_sparse_evidence_fires_when_the_neighbourhood_is_off_centre(plain):
    confidence = plain[2]
    sparse = confidence.model_copy(
        update={"neighbourhood": confidence.neighbourhood.model_copy(update={"off_centre": True})}
    )
    assert "SPARSE_EVIDENCE" in _codes(plain, confidence=sparse)


def test_model_overdue_for_review_fires(plain, heart_bundle):
    late = heart_bundle.card.review_due() + dt.timedelta(days=1)
    assert "REVIEW_OVERDUE" in _codes(plain, today=late)
    assert "REVIEW_OVERDUE" not in _codes(plain, today=heart_bundle.card.review_due())


def test_limitations_are_ordered_most_severe_first(plain):
    bundle, case, confidence, attributions, context = plain
    found = case_limitations(
        case,
        bundle.features,
        bundle.card,
        confidence,
        attributions,
        context,
        today=bundle.card.review_due() + dt.timedelta(days=9),
    )
    order = [lim.severity for lim in found]
    assert order == sorted(order, key=["warning", "caution", "info"].index)


def test_rare_or_unseen_category_fires(plain):
    context = plain[4]
    rare = context.model_copy(
        update={"variable_flags": ((*context.variable_flags, _flag("rare_category")))}
    )
    unseen = context.model_copy(update={"variable_flags": (_flag("unseen_category"),)})
    assert "RARE_CATEGORY" in _codes(plain, context=rare)
    assert "RARE_CATEGORY" in _codes(plain, context=unseen)


def test_failed_lime_explanation_fires(plain):
    attributions = plain[3]
    bad = attributions.model_copy(
        update={
            "lime": attributions.lime.model_copy(
                update={"status": "failed", "failure_reason": "the model raised"}
            )
        }
    )
    assert "LIME_FAILED" in _codes(plain, attributions=bad)


def _flag(kind: str):
    from caselens.explain.context import VariableFlag

    return VariableFlag(
        name="thallium_test",
        label="Thallium stress test",
        kind=kind,
        value_text="Fixed defect",
        message="Seen only 3 times in training.",
    )


def test_an_uncalibrated_model_gets_a_warning_for_clinician_and_patient(plain):
    confidence = plain[2]
    uncalibrated = confidence.model_copy(
        update={
            "calibrated": False,
            "calibration_method": "none",
            "probability_label": "Model probability (not calibrated)",
            "interval": None,
            "range_low": None,
            "range_high": None,
        }
    )
    bundle, case, _, attributions, context = plain
    found = case_limitations(
        case, bundle.features, bundle.card, uncalibrated, attributions, context, today=TODAY
    )
    hit = next(lim for lim in found if lim.code == "NOT_CALIBRATED")
    assert hit.severity == "warning" and "calibration method 'none'" in hit.clinician_text
    assert hit.patient_text and "NO_PROBABILITY_INTERVAL" not in {lim.code for lim in found}


def test_a_calibrated_model_without_an_interval_says_why(plain):
    confidence = plain[2].model_copy(
        update={
            "interval": None,
            "interval_unavailable_reason": "CaseLens gives an interval only for sigmoid.",
        }
    )
    assert "NO_PROBABILITY_INTERVAL" in _codes(plain, confidence=confidence)
    assert "NOT_CALIBRATED" not in _codes(plain, confidence=confidence)


def test_a_single_label_set_on_the_other_side_of_the_threshold_is_an_uncertain_set(plain):
    confidence = plain[2]
    conflict = confidence.model_copy(
        update={
            "conformal": confidence.conformal.model_copy(
                update={"labels": (0,), "reading": "conflict", "statement": "point different ways"}
            )
        }
    )
    assert "UNCERTAIN_SET" in _codes(plain, confidence=conflict)
    agreeing = confidence.model_copy(
        update={
            "conformal": confidence.conformal.model_copy(
                update={"labels": (1,), "reading": "positive_only"}
            )
        }
    )
    assert "UNCERTAIN_SET" not in _codes(plain, confidence=agreeing)


def test_an_estimate_outside_the_neighbourhoods_observed_range_is_a_caution(plain):
    confidence = plain[2]
    outside = confidence.model_copy(
        update={
            "estimate_outside_neighbourhood": True,
            "neighbourhood_statement": "The estimate 23% is above the 95% interval of the rate "
            "observed among the 15 most similar test patients (0% to 20%).",
        }
    )
    bundle, case, _, attributions, context = plain
    found = case_limitations(
        case, bundle.features, bundle.card, outside, attributions, context, today=TODAY
    )
    hit = next(lim for lim in found if lim.code == "ESTIMATE_OUTSIDE_NEIGHBOURHOOD")
    assert hit.severity == "caution" and hit.clinician_text.startswith("The estimate 23% is above")
