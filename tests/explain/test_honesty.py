"""The honesty harness (``caselens bundle check --deep``) on both sample bundles and on both
bundles CaseLens did not train: every truthfulness invariant holds on their reference rows."""

from __future__ import annotations

import pytest

from caselens.explain.honesty import (
    INVARIANTS,
    run_honesty,
    threshold_set_contradiction,
    untrue_factors,
)

#: Rows per bundle: all for the small ones, a seeded sample of the readmission test split.
ROWS = {"heart-disease": None, "readmission-30d": 80, "calibrated": None, "uncalibrated": None}


@pytest.fixture(scope="module")
def results(sample_bundles, other_family_bundles):
    bundles = {**sample_bundles, **other_family_bundles}
    return {
        name: run_honesty(bundle, ROWS[name], keep_reports=name == "calibrated")
        for name, bundle in bundles.items()
    }


BUNDLES = list(ROWS)
SETTLED = list(INVARIANTS)


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("invariant", SETTLED)
def test_invariant_holds_on_every_reference_row(results, bundle, invariant):
    result = results[bundle].results[invariant]
    assert result.failed == 0, result.first_failure
    assert result.passed + result.skipped == (
        results[bundle].rates.n if invariant != "limitation_rates" else result.passed
    )


@pytest.mark.parametrize("bundle", BUNDLES)
def test_no_caution_or_warning_exceeds_the_cap(results, bundle):
    assert results[bundle].rates.over_cap() == {}, results[bundle].rates.over_cap()


def test_the_additivity_and_probability_checks_ran_on_every_row(results):
    for name, result in results.items():
        n = result.rates.n
        assert n == result.results["report_computes"].passed, name
        assert result.results["probability_is_the_models"].passed == n, name
        assert result.results["shap_additivity"].passed == n, name


def test_printed_table_names_every_invariant_and_the_rows(results):
    text = "\n".join(results["readmission-30d"].lines())
    assert "a seeded sample of 80 of" in text
    for name in INVARIANTS:
        assert name in text
    assert "all 61 reference rows" in "\n".join(results["heart-disease"].lines())


def test_a_single_outcome_set_on_the_other_side_is_a_contradiction(results):
    report = next(
        r
        for r in results["calibrated"].reports
        if r.confidence.conformal is not None and r.confidence.side == "above"
    )
    assert threshold_set_contradiction(report) is None
    conformal = report.confidence.conformal.model_copy(update={"labels": (0,)})
    bad = report.model_copy(
        update={"confidence": report.confidence.model_copy(update={"conformal": conformal})}
    )
    assert threshold_set_contradiction(bad).startswith("above the threshold")


def test_a_yes_no_factor_named_for_a_patient_without_it_is_untrue(results, other_family_bundles):
    schema = other_family_bundles["calibrated"].features
    report = next(r for r in results["calibrated"].reports if r.case.values()["diabetes"] == 0)
    patient = report.narrative.patient.model_copy(update={"factors_higher": ("Having diabetes",)})
    bad = report.model_copy(
        update={"narrative": report.narrative.model_copy(update={"patient": patient})}
    )
    (found,) = untrue_factors(bad, schema)
    assert found.startswith("'Having diabetes' named but diabetes = 0")
    fine = next(r for r in results["calibrated"].reports if r.case.values()["diabetes"] == 1)
    patient = fine.narrative.patient.model_copy(update={"factors_higher": ("Having diabetes",)})
    ok = fine.model_copy(
        update={"narrative": fine.narrative.model_copy(update={"patient": patient})}
    )
    assert untrue_factors(ok, schema) == []
