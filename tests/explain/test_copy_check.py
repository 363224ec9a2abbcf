"""The copy check: each slip it is for is caught, clean sentences pass (also when generated
by Hypothesis), and every sentence CaseLens writes for a demo case — clinician summary,
patient text, limitation texts — passes it, for the sample bundles and the bundles CaseLens
did not train."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.explain.cases import validate_inputs
from caselens.explain.copy_check import copy_problems, indefinite_article, sentences
from caselens.explain.report import CaseExplainer
from caselens.model.features import FeatureSpec, unit_for

SLIPS = {
    "1 visits in the past year.": "a plural after 1",
    "A admin may not open the page.": "'A' before a vowel sound",
    "An unit of blood.": "'An' before a consonant sound",
    "The risk is high. the range is wide.": "does not start with a capital",
    "About 12 out of 100 people like you. That means.": "ending on 'that means'",
    "We are not sure of the exact number. That means…": "an ellipsis",
    "The value is high and": "no full stop",
    "Things linked with a higher chance for you: smoking and.": "ending on 'and'",
    "The value is  high.": "doubled space",
    "The value is high .": "space before a punctuation mark",
    "The value is high..": "doubled punctuation",
    "Sex () is shown.": "empty brackets",
    "Sex (male is shown.": "unbalanced brackets",
    "The value is None.": "a program's word 'None'",
    "Creatinine is nan mg/dL.": "a program's word 'nan'",
}


@pytest.mark.parametrize("text", list(SLIPS))
def test_each_slip_is_caught_and_named(text):
    found = [p.problem for p in copy_problems(text)]
    assert any(SLIPS[text] in p for p in found), found


@pytest.mark.parametrize(
    "text",
    [
        "About 12 out of 100 people like you die within a year.",
        "Calibrated probability (sigmoid) of death: 88.8% (95% interval 80–97%); base rate 4.1%.",
        "Number of diagnoses = 1 diagnosis +1.2 pts; Age = 71 years −0.6 pts.",
        "An admin may not view the patient summary. A user signed in.",
        "Ask your care team: What does this mean for me?",
        "eGFR is below the range the model saw.",
        "The model uses 0/1 inputs, e.g. sex.",
        "",
    ],
)
def test_clean_text_passes(text):
    assert copy_problems(text) == []


WORDS = st.sampled_from(
    ["age", "blood", "pressure", "visit", "the", "value", "model", "your", "risk", "low"]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Your", "The", "This", "About"]),
            st.lists(WORDS, min_size=1, max_size=6),
            st.integers(min_value=2, max_value=500),
            st.sampled_from(["visits", "days", "mg/dL", "%", "years"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_sentences_built_well_pass_and_a_lowercase_start_is_always_caught(parts):
    built = [f"{first} {' '.join(words)} is {n} {unit}." for first, words, n, unit in parts]
    text = " ".join(built)
    assert copy_problems(text) == [], text
    assert len(sentences(text)) == len(built)
    lowered = text[0].lower() + text[1:]
    assert any("capital" in p.problem for p in copy_problems(lowered))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.sampled_from(["visits", "stays", "days"]))
def test_a_count_reads_with_its_own_number(count, unit):
    spec = FeatureSpec(name="n", label="Visits", patient_label="Visits", kind="integer", unit=unit)
    text = f"Visits: {spec.describe_value(count)}."
    assert copy_problems(text) == [], text
    assert text.endswith(f" {unit}.") is (count != 1)


def test_articles_and_singular_units():
    assert [indefinite_article(w) for w in ("admin", "clinician", "user", "hour", "one")] == [
        "an",
        "a",
        "a",
        "an",
        "a",
    ]
    assert unit_for(1, "diagnoses") == "diagnosis"
    assert unit_for(1, "mm Hg") == "mm Hg" and unit_for(2, "visits") == "visits"


def test_the_access_refusal_of_an_admin_reads_an_admin():
    from caselens.access.policy import Viewer, check

    decision = check(Viewer("a1", "Ada", "admin", None), "view_patient_summary")
    assert not decision.allowed and decision.reason.startswith("An admin may not")
    assert copy_problems(decision.reason) == []


def _texts(report) -> list[str]:
    texts = [report.narrative.clinician_summary, report.narrative.patient.full_text()]
    for limitation in report.limitations:
        texts += [limitation.clinician_text, limitation.patient_text or ""]
    return texts


def _check_reports(bundle, inputs) -> int:
    explainer = CaseExplainer(bundle, lime_runs=3, lime_samples=300)
    checked = 0
    for values in inputs:
        report = explainer.explain(validate_inputs(values, bundle.features))
        for text in _texts(report):
            problems = copy_problems(text)
            assert not problems, (bundle.model_id, [str(p) for p in problems])
            checked += 1
    return checked


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_every_demo_case_of_the_sample_bundles_passes_the_copy_check(sample_bundles, model_id):
    bundle = sample_bundles[model_id]
    assert _check_reports(bundle, [d.inputs for d in bundle.demo_cases]) > 0


@pytest.mark.parametrize("kind", ["calibrated", "uncalibrated"])
def test_every_demo_case_of_the_other_family_bundles_passes_the_copy_check(
    other_family_bundles, kind
):
    bundle = other_family_bundles[kind]
    inputs = [d.inputs for d in bundle.demo_cases]
    # Reference rows as well: the demo cases are few, and 0/1 inputs take every value here.
    inputs += bundle.reference[bundle.features.names].head(30).to_dict("records")
    assert _check_reports(bundle, inputs) > 0


def test_every_demo_case_of_an_onnx_bundle_passes_the_copy_check(tmp_path):
    """An ONNX bundle made by bundle convert and create from a card file that states nothing
    about its inputs (labels are column names, 0/1 meanings unstated, a count of visits)."""
    import json

    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    from caselens.authoring.bundle_builder import build_bundle
    from caselens.authoring.onnx_convert import convert_file

    rng = np.random.default_rng(20261206)
    n = 900
    frame = pd.DataFrame(
        {
            "age": rng.integers(40, 90, n),
            "visits": rng.poisson(1.0, n),
            "diabetes": rng.integers(0, 2, n),
            "sex": rng.integers(0, 2, n),
        }
    )
    logit = -1 + 0.03 * (frame["age"] - 65) + 0.4 * frame["visits"] + 0.5 * frame["diabetes"]
    frame["died"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    inputs = ["age", "visits", "diabetes", "sex"]
    model = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0)
    model.fit(frame.loc[:599, inputs], frame.loc[:599, "died"])
    frame.iloc[:600].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[600:].to_csv(tmp_path / "test.csv", index=False)
    sio.dump(model, tmp_path / "model.skops")
    convert_file(
        tmp_path / "model.skops",
        [tmp_path / "train.csv", tmp_path / "test.csv"],
        tmp_path / "model.onnx",
    )
    card = {
        "model_id": "onnx-copy",
        "name": "ONNX copy check",
        "version": "0.0.1",
        "demonstration_only": True,
        "decision_threshold": 0.4,
        "release_date": "2026-11-25",
        "last_review_date": "2026-11-25",
        # Without it the patient text holds the card's 'TO COMPLETE: …' placeholder, which
        # the copy check rightly calls unfinished (bundle check refuses such a card).
        "outcome": {
            "name": "Death within a year",
            "definition": "Death from any cause within a year",
            "time_window": "within a year",
            "patient_wording": "die within a year",
            "positive_label": "Died within a year",
            "negative_label": "Alive at one year",
        },
    }
    (tmp_path / "card.json").write_text(json.dumps(card))
    built = build_bundle(
        model_path=tmp_path / "model.onnx",
        train_path=tmp_path / "train.csv",
        test_path=tmp_path / "test.csv",
        outcome="died",
        card_path=tmp_path / "card.json",
        out=tmp_path / "bundle",
        demo_cases=8,
    )
    bundle = built.bundle
    assert any("diabetes (" in w and "sex (" in w for w in bundle.warnings)
    inputs_shown = [d.inputs for d in bundle.demo_cases]
    inputs_shown += bundle.reference[bundle.features.names].head(20).to_dict("records")
    assert _check_reports(bundle, inputs_shown) > 0
