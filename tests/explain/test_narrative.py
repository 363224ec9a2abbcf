"""Narratives: risk in 'out of 100' words, the measured reading grade, no causal claims."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from caselens.explain.narrative import out_of_100, reading_grade


@pytest.mark.parametrize(
    ("p", "count"), [(0.0, 0), (0.001, 1), (0.004, 1), (0.244, 24), (0.996, 99), (1.0, 100)]
)
def test_probability_becomes_a_count_out_of_100_that_never_hides_a_small_risk(p, count):
    assert out_of_100(p) == count


def test_reading_grade_ranks_hard_text_higher():
    easy = "About 12 out of 100 people like you go back to the hospital. Ask your care team."
    hard = (
        "Multivariable calibrated probabilistic estimation demonstrates heterogeneous "
        "discriminative performance characteristics notwithstanding considerable "
        "methodological sophistication."
    )
    assert reading_grade(easy) < 6 < reading_grade(hard)


def test_clinician_summary_has_risk_confidence_drivers_and_caution(heart_bundle):
    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import CaseExplainer

    case = validate_inputs(heart_bundle.demo_case("H-09").inputs, heart_bundle.features)
    report = CaseExplainer(heart_bundle).explain(case)
    summary = report.narrative.clinician_summary
    sentences = [s for s in summary.split(". ") if s]
    assert 2 <= len(sentences) <= 6
    assert summary.startswith("Chance of heart disease")
    assert "sigmoid" not in summary  # the calibration method is a model fact, not the headline
    assert "The model's estimate rests most on (SHAP)" in summary
    assert "Main caution:" in summary and "cholesterol" in summary.lower()
    patient = report.narrative.patient
    assert patient.headline.startswith(f"About {patient.out_of_100} out of 100 people like you")
    assert patient.range_low_out_of_100 <= patient.out_of_100 <= patient.range_high_out_of_100
    assert "linked with" in patient.factors_sentence
    assert reading_grade(patient.full_text()) == patient.reading_grade


def test_an_old_stored_report_still_replays_and_renders_its_text():
    """Reports recorded before class-conditional sets, intervals and values in factors
    (tests/data/reports_before_class_conformal.json, written by the code at ac55297)."""
    import json
    from pathlib import Path

    from caselens.explain.report import CaseReport, displayed_text

    stored = json.loads(
        (Path(__file__).parents[1] / "data" / "reports_before_class_conformal.json").read_text()
    )
    for data in stored.values():
        report = CaseReport.from_json(json.dumps(data))
        assert report.to_json() == CaseReport.from_json(report.to_json()).to_json()
        assert report.confidence.interval is None and report.confidence.calibrated
        assert report.confidence.conformal is None or report.confidence.conformal.reading is None
        assert report.narrative.patient.full_text() in displayed_text(report, "patient")


# -- inputs worded by their meaning: a bring-your-own bundle with 0/1 inputs -----------------

# The model is not calibrated (a plain logistic regression): its number is a "score".
SMOKING_CAVEAT = (
    "In this model, smoking is linked with a lower score. This does not mean that smoking is "
    "good for you."
)
BYO_CARD = {
    "model_id": "byo-zero-one",
    "name": "A bring-your-own model with 0/1 inputs",
    "version": "0.0.1",
    "demonstration_only": True,
    "decision_threshold": 0.3,
    "release_date": "2026-11-25",
    "last_review_date": "2026-11-25",
    "outcome": {
        "name": "Death within a year",
        "definition": "Death from any cause within a year",
        "time_window": "within a year",
        "patient_wording": "die within a year",
        "positive_label": "Died within a year",
        "negative_label": "Alive at one year",
    },
    "features": {
        "age": {"label": "Age", "patient_label": "Your age", "unit": "years"},
        "smoking": {
            "label": "Current smoker",
            "patient_label": "Smoking",
            "hard_min": 0,
            "hard_max": 1,
            "meaning": "yes_no",
        },
        "sex": {
            "label": "Sex",
            "patient_label": "Sex",
            "hard_min": 0,
            "hard_max": 1,
            "meaning": "category",
            "category_descriptions": {"0": "Female", "1": "Male"},
        },
        # Meaning left unstated, as in a bundle made before the field: never 'yes'/'no'.
        "diabetes": {
            "label": "Diabetes",
            "patient_label": "Diabetes",
            "hard_min": 0,
            "hard_max": 1,
        },
    },
}


def _byo_files(folder):
    """train/test/calibration CSVs and a logistic model in which smokers have a LOWER risk
    (as in some real heart-failure cohorts) and men a higher one."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20261206)
    n = 1200
    frame = pd.DataFrame(
        {
            "age": rng.integers(40, 90, n),
            "smoking": rng.integers(0, 2, n),
            "sex": rng.integers(0, 2, n),
            "diabetes": rng.integers(0, 2, n),
        }
    )
    logit = (
        -1.0
        + 0.03 * (frame["age"] - 65)
        - 1.2 * frame["smoking"]
        + 0.9 * frame["sex"]
        + 0.6 * frame["diabetes"]
    )
    frame["died"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    inputs = ["age", "smoking", "sex", "diabetes"]
    model = LogisticRegression(max_iter=1000).fit(frame.loc[:699, inputs], frame.loc[:699, "died"])
    frame.iloc[:700].to_csv(folder / "train.csv", index=False)
    frame.iloc[700:].to_csv(folder / "test.csv", index=False)
    sio.dump(model, folder / "model.skops")


def _create_byo(folder, card: dict, name: str):
    import json

    from click.testing import CliRunner

    from caselens.cli.main import main
    from caselens.model.bundle import load_bundle

    card_path = folder / f"{name}.json"
    card_path.write_text(json.dumps(card))
    out = folder / name
    result = CliRunner().invoke(
        main,
        [
            "bundle",
            "create",
            "--model",
            str(folder / "model.skops"),
            "--train",
            str(folder / "train.csv"),
            "--test",
            str(folder / "test.csv"),
            "--outcome",
            "died",
            "--card",
            str(card_path),
            "--demo-cases",
            "8",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return load_bundle(out), result.output + (result.stderr or "")


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    """The bundle as created, the create command's output, and its reports (demo cases and
    60 reference rows)."""
    import pandas as pd

    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import CaseExplainer

    folder = tmp_path_factory.mktemp("byo-zero-one")
    _byo_files(folder)
    bundle, output = _create_byo(folder, BYO_CARD, "bundle")
    explainer = CaseExplainer(bundle, lime_runs=3, lime_samples=300)
    inputs = [d.inputs for d in bundle.demo_cases] + [
        {k: None if pd.isna(v) else v for k, v in row.items()}
        for row in bundle.reference[bundle.features.names].head(60).to_dict("records")
    ]
    reports = [explainer.explain(validate_inputs(i, bundle.features)) for i in inputs]
    return folder, bundle, output, reports


def test_create_and_check_warn_naming_the_0_1_inputs_whose_meaning_is_unstated(byo):
    from click.testing import CliRunner

    from caselens.cli.main import main

    _, bundle, output, _ = byo
    warning = "1 0/1 input(s) do not say what 1 means: diabetes"
    assert warning in output
    meaning = [w for w in bundle.warnings if "do not say what 1 means" in w]
    assert len(meaning) == 1 and warning in meaning[0]
    listed = meaning[0].split(". Set ")[0]
    assert "smoking (" not in listed and "sex (" not in listed
    checked = CliRunner().invoke(main, ["bundle", "check", str(bundle.path)])
    assert warning in checked.output + (checked.stderr or "")


def test_a_0_1_category_is_named_by_its_descriptions_never_yes_or_no(byo):
    _, _, _, reports = byo
    sex_named = 0
    for report in reports:
        sex = report.case.values()["sex"]
        words = "Male" if sex == 1 else "Female"
        shown = {v.name: v.value_text for v in report.attributions.variables}
        assert shown["sex"] == f"{int(sex)} ({words})"  # the clinician's values
        texts = [report.narrative.clinician_summary, report.narrative.patient.full_text()]
        for text in texts:
            assert "sex (yes)" not in text.lower() and "sex (no)" not in text.lower()
            assert "diabetes (yes)" not in text.lower() and "diabetes (no)" not in text.lower()
        patient = report.narrative.patient
        for phrase in (*patient.factors_higher, *patient.factors_lower):
            if phrase.startswith("Sex"):
                sex_named += 1
                assert phrase == f"Sex ({words.lower()})"
            if phrase.startswith("Diabetes"):
                assert phrase == f"Diabetes (recorded as {report.case.values()['diabetes']:g})"
        if "Sex = " in report.narrative.clinician_summary:
            assert f"Sex = {int(sex)} ({words})" in report.narrative.clinician_summary
    assert sex_named > 0


def test_a_yes_no_risk_factor_that_lowers_the_estimate_gets_the_plain_caveat(byo):
    _, _, _, reports = byo
    flagged = 0
    for report in reports:
        patient = report.narrative.patient
        named = [p for p in (*patient.factors_higher, *patient.factors_lower) if "moking" in p]
        summary = report.narrative.clinician_summary
        if named:
            flagged += 1
            # A smoker reads smoking among the lower factors, a non-smoker "not smoking"
            # among the higher: either way the model's direction is said plainly.
            smokes = report.case.values()["smoking"] == 1
            assert (named[0] in patient.factors_lower) is smokes
            assert SMOKING_CAVEAT in patient.factors_sentence
            assert (
                "Against common clinical knowledge, in this model a yes for Current smoker "
                "lowers the estimate (this patient: " in summary
            )
        else:
            assert SMOKING_CAVEAT not in patient.factors_sentence
        assert "Sex" not in summary.split("Against common clinical knowledge")[-1].split(";")[0]
    assert flagged > len(reports) // 2


def test_the_cards_expected_directions_are_honoured(byo):
    import dataclasses

    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import CaseExplainer

    _, bundle, _, reports = byo
    smoker = next(
        r.case for r in reports if any("moking" in p for p in r.narrative.patient.factors_lower)
    )
    for direction in ("lowers", "neither"):
        card = bundle.card.model_copy(update={"expected_directions": {"smoking": direction}})
        told = dataclasses.replace(bundle, card=card)
        report = CaseExplainer(told, lime_runs=3, lime_samples=300).explain(
            validate_inputs(smoker.values(), told.features)
        )
        assert "In this model, smoking" not in report.narrative.patient.factors_sentence
        assert "Against common clinical knowledge" not in report.narrative.clinician_summary
    # A condition expected to lower the risk that raises it here is said to, the other way.
    card = bundle.card.model_copy(update={"expected_directions": {"sex": "raises"}})
    assert card.expected_directions == {"sex": "raises"}


def test_every_text_of_the_byo_bundle_passes_the_copy_check(byo):
    from caselens.explain.copy_check import copy_problems

    _, _, _, reports = byo
    for report in reports:
        texts = [report.narrative.clinician_summary, report.narrative.patient.full_text()]
        texts += [t for lim in report.limitations for t in (lim.clinician_text, lim.patient_text)]
        for text in texts:
            assert not copy_problems(text or ""), (copy_problems(text or ""), text)


_LABELS = ("Sex", "Smoking", "Having diabetes", "Test result", "Chest pain during exercise")
_DESCRIPTIONS = (None, {"0": "Female", "1": "Male"}, {"0": "No", "1": "Yes"}, {"1": "Positive"})


@settings(max_examples=300, deadline=None)
@given(
    label=st.sampled_from(_LABELS),
    meaning=st.sampled_from([None, "yes_no", "category"]),
    descriptions=st.sampled_from(_DESCRIPTIONS),
    value=st.sampled_from([0, 1, 0.0, 1.0]),
)
def test_a_0_1_factor_is_yes_or_no_only_when_it_is_a_yes_no_condition(
    label, meaning, descriptions, value
):
    from pydantic import ValidationError

    from caselens.explain.copy_check import copy_problems
    from caselens.explain.narrative import factor_phrase, yes_no_state
    from caselens.model.features import FeatureSpec

    try:
        spec = FeatureSpec(
            name="x",
            label=label,
            patient_label=label,
            kind="integer",
            hard_min=0,
            hard_max=1,
            meaning=meaning,
            category_descriptions=descriptions,
        )
    except ValidationError:
        assume(False)  # a category without descriptions for 0 and 1 is refused (tested)
    phrase = factor_phrase(spec, value)
    state = yes_no_state(spec, value)
    if state is None:
        # Not a yes/no condition: the card's words for the value, else its code.
        described = spec.description_of(value)
        assert not phrase.startswith("Not ")
        assert phrase.endswith(f"({described.lower()})" if described else f" {int(value)})")
        assert described is not None or "recorded as" in phrase
    else:
        assert spec.coded_meaning == "yes_no"
        if state:
            assert not phrase.startswith("Not ") and not phrase.endswith("(no)")
        else:
            described = spec.description_of(value)
            assert phrase.startswith("Not ") or phrase.endswith(f"({described or 'no'})".lower())
    assert copy_problems(f"Things linked with a higher chance for you: {phrase}.") == []


def test_narrative_and_limitations_still_offer_every_name_of_their_one_file_modules():
    """Split into parts, both modules keep the names others imported from them."""
    from caselens.explain import limitations, narrative

    before = {
        narrative: "READING_GRADE_LIMIT READING_GRADE_AIM MIN_FACTOR_SHIFT MAX_PATIENT_FACTORS "
        "PatientSummary Narrative out_of_100 reading_grade patient_text yes_no_state "
        "factor_phrase condition_words model_direction against_knowledge "
        "against_knowledge_sentences patient_summary outcome_phrase clinician_summary "
        "build_narrative",
        limitations: "Severity SEVERITY_ORDER MAX_CASE_RATE NEAR_THRESHOLD_MAX_SHARE "
        "MODEL_LEVEL_CODES MIN_TEST_EVENTS Limitation NearThresholdBand LimitationRules "
        "standing_limitations case_limitations",
    }
    for module, names in before.items():
        assert set(names.split()) <= set(module.__all__), module.__name__
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
