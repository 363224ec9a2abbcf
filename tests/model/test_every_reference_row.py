"""Every reference row of every bundle — both samples and both bundles CaseLens did not
train — through the confidence assessment: the set statement never contradicts the threshold
statement, and class-conditional coverage on the held-out rows is near its stated level."""

from __future__ import annotations

import math

import pytest

from caselens.explain.confidence import ConfidenceModel


@pytest.fixture(scope="module")
def models(sample_bundles, other_family_bundles):
    bundles = {**sample_bundles, **{f"other-{k}": b for k, b in other_family_bundles.items()}}
    return {name: (bundle, ConfidenceModel.from_bundle(bundle)) for name, bundle in bundles.items()}


def _quoted(label: str) -> str:
    return '"' + (label[:1].lower() + label[1:] if label[1:2].islower() else label) + '"'


@pytest.mark.parametrize(
    "name", ["readmission-30d", "heart-disease", "other-calibrated", "other-uncalibrated"]
)
def test_no_set_statement_contradicts_the_threshold_statement_on_any_reference_row(models, name):
    bundle, model = models[name]
    positive = _quoted(bundle.card.outcome.positive_label)
    negative = _quoted(bundle.card.outcome.negative_label)
    seen = set()
    for p in model.reference_probabilities:
        assessment = model.assess(float(p))
        conformal = assessment.conformal
        if conformal is None:
            assert assessment.conformal_unavailable_reason
            continue
        seen.add(conformal.reading)
        text = conformal.statement
        names_positive_only = f"only {positive} is consistent" in text
        names_negative_only = f"only {negative} is consistent" in text
        # A single outcome is named as the only one consistent only on its own side.
        assert not names_positive_only or assessment.side == "above", (p, text)
        assert not names_negative_only or assessment.side == "below", (p, text)
        if conformal.reading == "conflict":
            assert f"is {assessment.side} the" in text and "point different ways" in text
        assert conformal.reading != "positive_only" or assessment.side == "above"
        assert conformal.reading != "negative_only" or assessment.side == "below"
    if bundle.calibration_data is not None:
        assert seen, name


@pytest.mark.parametrize("name", ["readmission-30d", "heart-disease", "other-calibrated"])
def test_class_conditional_coverage_on_held_out_rows_is_within_sampling_error(models, name):
    """Tolerance: conditional on the calibration split, a class's coverage is Beta
    distributed with variance about α(1−α)/(n_cal + 2) (exchangeability), and the held-out
    estimate adds binomial variance α(1−α)/n_held_out. Its SD is therefore
    √(α(1−α)(1/n_cal + 1/n_held_out)); the check allows 3 SD below the nominal level and
    3 SD plus the finite-sample excess 1/(n_cal + 1) above it (about 0.1% false alarms per
    side). With 28–33 patients per class (heart disease) that is ±0.23; with 17,000 it is
    ±0.01."""
    bundle, model = models[name]
    coverage = bundle.card.conformal_coverage
    alpha = 1 - coverage
    report = model.assess(0.5).conformal
    assert len(report.class_coverage) == 2
    for cls in report.class_coverage:
        assert cls.held_out_n > 0 and cls.calibration_n > 0
        sd = math.sqrt(alpha * (1 - alpha) * (1 / cls.calibration_n + 1 / cls.held_out_n))
        upper = coverage + 1 / (cls.calibration_n + 1) + 3 * sd
        assert coverage - 3 * sd <= cls.held_out_coverage <= upper, (name, cls)
        assert cls.held_out_covered == round(cls.held_out_coverage * cls.held_out_n)
    assert report.empirical_coverage_n == len(bundle.reference)
