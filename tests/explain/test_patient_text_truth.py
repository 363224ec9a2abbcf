"""Full reports on real reference rows of every bundle — both samples and both bundles
CaseLens did not train: every factor named to the patient carries the patient's own value,
a yes/no condition is named only as the patient has it, nothing claims causation, an
uncalibrated model is never "X out of 100 people like you", the reading grade stays ≤ 8,
and the clinician summary names values and states the time window once."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from caselens.explain.cases import validate_inputs
from caselens.explain.confidence import headline_label
from caselens.explain.narrative import READING_GRADE_LIMIT, outcome_phrase, yes_no_state
from caselens.explain.report import CaseExplainer

ROWS = {
    "readmission-30d": 12,
    "heart-disease": 30,
    "other-calibrated": 30,
    "other-uncalibrated": 30,
}


@pytest.fixture(scope="module")
def reports(sample_bundles, other_family_bundles):
    bundles = {**sample_bundles, **{f"other-{k}": b for k, b in other_family_bundles.items()}}
    out = {}
    for name, bundle in bundles.items():
        explainer = CaseExplainer(bundle, lime_runs=3, lime_samples=300)
        rows = bundle.reference[bundle.features.names].head(ROWS[name])
        out[name] = (
            bundle,
            [
                explainer.explain(validate_inputs(_inputs(row), bundle.features))
                for _, row in rows.iterrows()
            ],
        )
    return out


def _inputs(row) -> dict:
    return {k: None if pd.isna(v) else v for k, v in row.to_dict().items()}


def _lower_first(text: str) -> str:
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


def _label(feature, bundle) -> str:
    """The English label a factor is named by: the card's patient words, else the schema's."""
    texts = bundle.card.patient_texts.get("en")
    words = texts.inputs.get(feature.name) if texts is not None else None
    return words.label if words is not None else feature.patient_label.strip()


def _shown(feature, value, bundle) -> str:
    """How this patient's value must read inside the factor phrase."""
    texts = bundle.card.patient_texts.get("en")
    words = texts.inputs.get(feature.name) if texts is not None else None
    if words is None:
        described = feature.description_of(value)
        shown = (
            described
            if described is not None
            else str(value)
            if feature.kind == "category"
            else feature.describe_value(value)
        )
        return shown.replace(" %", "%")
    if feature.kind == "category":
        return words.values.get(str(value), str(value))
    number = f"{float(value):g}" if feature.kind == "number" else f"{round(float(value))}"
    if float(value) == 1:
        return f"({number})"  # a count of 1 stands alone: the card's unit is plural
    return f"{number} {words.unit}" if words.unit else number


def _owner(phrase: str, bundle) -> tuple:
    """The feature a factor phrase names (by its plain label) and whether it is negated."""
    for feature in bundle.features:
        label = _label(feature, bundle)
        stem = label[:-1] if label.endswith(")") else label
        for form, negated in ((stem, False), ("Not " + _lower_first(stem), True)):
            if _lower_first(phrase).startswith(_lower_first(form) + " ("):
                return feature, negated
            if _lower_first(phrase) == _lower_first(form) or (
                label.endswith(")") and _lower_first(phrase).startswith(_lower_first(stem))
            ):
                return feature, negated
    raise AssertionError(f"factor {phrase!r} names no feature")


@pytest.mark.parametrize("name", list(ROWS))
def test_every_factor_named_to_the_patient_is_true_for_this_patient(reports, name):
    bundle, shown = reports[name]
    named = 0
    for report in shown:
        values = report.case.values()
        patient = report.narrative.patient
        for phrase in (*patient.factors_higher, *patient.factors_lower):
            named += 1
            feature, negated = _owner(phrase, bundle)
            value = values[feature.name]
            state = yes_no_state(feature, value)
            assert value is not None, phrase  # a value not recorded is never named
            # A 0/1 input is never "(yes)"/"(no)" unless it is a yes/no condition.
            assert state is not None or not phrase.endswith(("(yes)", "(no)")), phrase
            if state is None:
                assert _shown(feature, value, bundle).lower() in phrase.lower(), (phrase, value)
                assert not negated
            elif state:
                assert not negated and not phrase.endswith("(no)"), (phrase, value)
            else:
                assert negated or phrase.endswith("(no)"), (phrase, value)
        # A condition the patient does not have is never named as if they had it (the
        # caveats "In this model, smoking is linked with…" speak of the model, not the patient).
        sentence = " ".join(
            part
            for part in re.split(r"(?<=\.) ", patient.factors_sentence)
            if not part.startswith(("In this model, ", "This does not mean that "))
        )
        for feature in bundle.features:
            if yes_no_state(feature, values[feature.name]) is False:
                label = re.escape(_lower_first(_label(feature, bundle)))
                for match in re.finditer(label, sentence):
                    before = sentence[: match.start()]
                    after = sentence[match.end() :]
                    assert before.endswith("not ") or after.startswith(" (no)"), sentence
    assert named > 0


@pytest.mark.parametrize("name", list(ROWS))
def test_patient_text_claims_no_cause_and_no_calibration_it_does_not_have(reports, name):
    bundle, shown = reports[name]
    calibrated = bundle.card.calibration.method != "none"
    for report in shown:
        patient = report.narrative.patient
        text = patient.full_text()
        assert "This does not show that these things cause it." in text
        assert "They do not cause it" not in text and "causes" not in text
        assert patient.reading_grade <= READING_GRADE_LIMIT, (patient.reading_grade, text)
        assert patient.calibrated is calibrated
        if calibrated:
            assert patient.headline.startswith(f"About {patient.out_of_100} out of 100 people")
        else:
            assert "people like you" not in text.replace("people like you do not", "")
            assert patient.headline.startswith("The tool gives you a score of")
            assert "NOT_CALIBRATED" in {lim.code for lim in report.limitations}


@pytest.mark.parametrize("name", list(ROWS))
def test_clinician_summary_names_values_the_label_and_the_window_once(reports, name):
    bundle, shown = reports[name]
    window = bundle.card.outcome.time_window
    for report in shown:
        summary = report.narrative.clinician_summary
        c = report.confidence
        outcome = outcome_phrase(bundle.card)
        named = headline_label(c.calibrated, c.calibration_method, outcome)
        assert summary.startswith(named + ": ")
        first = summary.split(": ", 1)[0]
        assert first.lower().count(window.lower()) == 1, first
        drivers = summary.split("rests most on (SHAP): ", 1)[1].split(" pts.")[0]
        assert drivers.count(" = ") == 3, drivers
        if bundle.card.calibration.method == "none":
            assert summary.startswith("Model score for ") and "(not calibrated)" in first
        else:
            assert summary.startswith("Chance of ")
