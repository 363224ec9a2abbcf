"""bundle create from data files: computed card, drafted schema, placeholders, clear refusals,
and nothing left behind when it fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from caselens.authoring.bundle_builder import build_bundle
from caselens.authoring.schema_draft import AGE_BINS, draft_schema
from caselens.cli.main import main
from caselens.errors import BundleError
from caselens.model.bundle import load_bundle

REQUIRED = {
    "model_id": "tiny-model",
    "name": "Tiny model",
    "version": "0.0.1",
    "demonstration_only": False,
    "decision_threshold": 0.3,
    "release_date": "2026-11-25",
    "last_review_date": "2026-11-25",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """train.csv, test.parquet and model.skops of a small seeded cohort."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(7)
    n = 900
    frame = pd.DataFrame(
        {
            "age": rng.integers(30, 90, n),
            "creatinine": rng.lognormal(0.1, 0.3, n).round(2),
            "diabetes": rng.integers(0, 2, n),
            "sex": rng.choice(["Female", "Male"], n),
            "patient_id": np.arange(n),  # not an input: ignored
        }
    )
    logit = -1 + 0.03 * (frame["age"] - 60) + 0.8 * frame["diabetes"]
    frame["died"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.loc[[3, 700], "creatinine"] = np.nan
    inputs = ["age", "creatinine", "diabetes"]
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(
        frame.loc[:599, inputs], frame.loc[:599, "died"]
    )
    frame.iloc[:600].to_csv(folder / "train.csv", index=False)
    frame.iloc[600:].to_parquet(folder / "test.parquet", index=False)
    sio.dump(model, folder / "model.skops")
    return folder


def _card(folder: Path, **fields) -> Path:
    path = folder / "card.json"
    path.write_text(json.dumps({**REQUIRED, **fields}))
    return path


def _create(files: Path, card: Path, out: Path, *extra: str):
    return CliRunner().invoke(
        main,
        [
            "bundle",
            "create",
            "--model",
            str(files / "model.skops"),
            "--train",
            str(files / "train.csv"),
            "--test",
            str(files / "test.parquet"),
            "--outcome",
            "died",
            "--card",
            str(card),
            "--out",
            str(out),
            *extra,
        ],
    )


def test_a_minimal_card_gives_a_bundle_whose_placeholders_check_lists_all_at_once(files, tmp_path):
    result = _create(files, _card(tmp_path), tmp_path / "b" / "tiny")
    assert result.exit_code == 0, result.output
    assert "To review (label still the column name" in result.output
    assert "age, creatinine, diabetes" in result.output
    bundle = load_bundle(tmp_path / "b" / "tiny")
    assert bundle.card_problems == ()
    assert bundle.card.demonstration_only is False
    todo = bundle.card.to_complete_fields()
    assert {"owner", "outcome.patient_wording", "source_attributes.funding_source"} <= set(todo)
    # Computed, never placeholders: the figures and the HTI-1 validity attribute.
    assert "source_attributes.validity_internal_test" not in todo
    assert bundle.card.source_attributes["validity_internal_test"].startswith(
        "Measured by CaseLens on the held-out test split (300 patients"
    )
    assert bundle.card.training_data.n_train == 600 and bundle.card.training_data.n_test == 300
    assert bundle.card.calibration.method == "none"
    check = CliRunner().invoke(main, ["bundle", "check", str(tmp_path / "b" / "tiny")])
    assert check.exit_code == 1
    assert f"still has {len(todo)} field(s) to complete" in check.output
    assert "source_attributes.correction_frequency" in check.output
    assert "Traceback" not in check.output


def test_demonstration_only_must_be_stated_and_nothing_is_written(files, tmp_path):
    card = tmp_path / "card.json"
    card.write_text(json.dumps({k: v for k, v in REQUIRED.items() if k != "demonstration_only"}))
    result = _create(files, card, tmp_path / "out" / "tiny")
    assert result.exit_code == 1
    assert "it must state demonstration_only" in result.output
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_card_file_setting_a_computed_figure_is_refused(files, tmp_path):
    card = _card(tmp_path, validation={"overall": {"n": 1, "events": 1, "auroc": 0.99}})
    result = _create(files, card, tmp_path / "tiny")
    assert result.exit_code == 1
    assert "CaseLens computes validation.overall from the data; leave them out" in result.output


def test_a_test_row_beyond_a_hard_limit_from_the_card_is_refused_and_leaves_nothing(
    files, tmp_path
):
    card = _card(tmp_path, features={"age": {"label": "Age", "hard_max": 80}})
    out = tmp_path / "models" / "tiny"
    result = _create(files, card, out)
    assert result.exit_code == 1
    assert "field 'age':" in result.output and "above the hard limit hard_max = 80" in (
        result.output
    )
    assert list((tmp_path / "models").iterdir()) == []  # no bundle, no partial folder


def test_an_outcome_that_is_not_0_or_1_names_the_file_and_the_rows(files, tmp_path):
    train = pd.read_csv(files / "train.csv")
    train.loc[4, "died"] = 2
    train.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(BundleError, match=r"The training data: the outcome column 'died'.*rows 5"):
        build_bundle(
            model_path=files / "model.skops",
            train_path=tmp_path / "train.csv",
            test_path=files / "test.parquet",
            outcome="died",
            card_path=_card(tmp_path),
            out=tmp_path / "tiny",
        )


def test_a_demo_cases_file_is_checked_against_the_schema(files, tmp_path):
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps([{"case_id": "X-1", "title": "t", "description": "d", "inputs": {"age": "old"}}])
    )
    result = _create(files, _card(tmp_path), tmp_path / "tiny", "--demo-cases", str(cases))
    assert result.exit_code == 1
    assert "Demo case 1 in cases.json" in result.output and "Traceback" not in result.output
    good = [
        {
            "case_id": "X-1",
            "title": "Mine",
            "description": "A case I wrote",
            "inputs": {"age": 50, "creatinine": 1.1, "diabetes": 1},
        }
    ]
    cases.write_text(json.dumps(good))
    result = _create(files, _card(tmp_path), tmp_path / "tiny", "--demo-cases", str(cases))
    assert result.exit_code == 0, result.output
    assert [c.case_id for c in load_bundle(tmp_path / "tiny").demo_cases] == ["X-1"]


def test_picked_demo_cases_are_real_rows_covering_low_high_and_missing(files, tmp_path):
    result = _create(files, _card(tmp_path), tmp_path / "tiny", "--demo-cases", "5")
    assert result.exit_code == 0, result.output
    bundle = load_bundle(tmp_path / "tiny")
    titles = [c.title for c in bundle.demo_cases]
    assert titles[:3] == ["Low risk", "High risk", "A value not recorded"]
    test = pd.read_parquet(files / "test.parquet")
    for case in bundle.demo_cases:
        row = int(case.description.split("(row ")[1].split(")")[0]) - 1
        for name, value in case.inputs.items():
            expected = test[name].iloc[row]
            assert (value is None and pd.isna(expected)) or value == expected


def test_the_schema_draft_infers_kinds_ranges_and_seed_subgroups():
    train = pd.DataFrame(
        {
            "age": [40, 70, 85],
            "bmi": [22.5, 31.0, np.nan],
            "smoker": [0, 1, 0],
            "Sex": ["F", "M", "F"],
            "payer": ["Medicare", "Private", "Medicare"],
        }
    )
    test = pd.DataFrame({"payer": ["Self-pay"], "smoker": [np.nan]})
    draft = draft_schema(train, list(train.columns), other_splits=[test])
    schema = draft.schema
    assert [f.kind for f in schema] == ["integer", "number", "integer", "category", "category"]
    assert schema["age"].subgroup_bins == AGE_BINS and schema["age"].subgroup
    assert schema["Sex"].subgroup and schema["payer"].subgroup and not schema["smoker"].subgroup
    assert schema["payer"].training_counts == {"Medicare": 2, "Private": 1, "Self-pay": 0}
    assert schema["smoker"].missing_allowed  # missing in the test split
    assert schema["bmi"].training_missing_share == pytest.approx(0.3333)
    assert schema["age"].hard_min is None and schema["age"].hard_max is None  # never guessed
    assert draft.to_review == tuple(train.columns)
    assert draft.seed_subgroups == {"sex": "Sex", "age": "age", "payer": "payer"}
    with pytest.raises(BundleError, match="features section names weight"):
        draft_schema(train, list(train.columns), overrides={"weight": {"label": "Weight"}})
    with pytest.raises(BundleError, match=r"features\.age sets training_max"):
        draft_schema(train, list(train.columns), overrides={"age": {"training_max": 1}})


def test_bundle_init_writes_a_template_and_never_overwrites(tmp_path):
    import tomllib

    path = tmp_path / "card.toml"
    assert CliRunner().invoke(main, ["bundle", "init", str(path)]).exit_code == 0
    template = tomllib.loads(path.read_text())
    assert template["demonstration_only"] is False
    assert template["source_attributes"]["funding_source"].startswith("TO COMPLETE")
    again = CliRunner().invoke(main, ["bundle", "init", str(path)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_the_card_files_monitoring_section_becomes_the_bundles_plan(files, tmp_path):
    from caselens.model.monitoring_plan import plan_for

    plan = {"period": "week", "psi_threshold": 0.25, "min_outcomes": 400}
    result = _create(files, _card(tmp_path, monitoring=plan), tmp_path / "b" / "planned")
    assert result.exit_code == 0, result.output
    bundle = load_bundle(tmp_path / "b" / "planned")
    assert bundle.card.monitoring is not None
    chosen = plan_for(bundle)
    assert (chosen.period, chosen.psi_threshold, chosen.min_outcomes) == ("week", 0.25, 400)
    assert chosen.auroc_drop == 0.05  # what the card leaves out keeps its default


def test_a_monitoring_section_with_a_bad_field_is_refused_by_name(files, tmp_path):
    out = tmp_path / "b" / "bad-plan"
    bad = _create(files, _card(tmp_path, monitoring={"psi_threshold": -1}), out)
    assert bad.exit_code != 0 and "monitoring.psi_threshold" in bad.output
    unknown = _create(files, _card(tmp_path, monitoring={"psi_limit": 0.3}), out)
    assert unknown.exit_code != 0 and "monitoring.psi_limit" in unknown.output
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no partial folder


def test_the_templates_monitoring_section_uncommented_is_a_valid_plan(tmp_path):
    import tomllib

    from caselens.model.monitoring_plan import MonitoringPlan

    path = tmp_path / "card.toml"
    assert CliRunner().invoke(main, ["bundle", "init", str(path)]).exit_code == 0
    text = path.read_text()
    start = text.index("# [monitoring]")
    block = text[start : text.index("[source_attributes]")]
    lines = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# ")]
    section = tomllib.loads("\n".join(line.split("(optional")[0] for line in lines))
    assert MonitoringPlan.model_validate(section["monitoring"]) == MonitoringPlan(
        outcome_window_days=30
    )


def _uncommented(block: str) -> str:
    """The TOML example lines of a commented template block, uncommented (explanations,
    which do not start with a key or a table, stay out)."""
    keep = [
        line.removeprefix("# ")
        for line in block.splitlines()
        if re.match(r"# (\[\[?[a-z_.]+\]\]?|[a-z_]+ = )", line)
    ]
    return "\n".join(keep)


def test_the_template_explains_meaning_and_expected_directions(tmp_path):
    path = tmp_path / "card.toml"
    assert CliRunner().invoke(main, ["bundle", "init", str(path)]).exit_code == 0
    text = path.read_text()
    # Each choice is named with what it means, where the data scientist fills it in.
    for words in (
        "meaning: how a 0/1 whole-number input is read",
        '"yes_no"    1 = the patient has the condition',
        '"category"  0 and 1 are two groups',
        'meaning = "yes_no"',
        'meaning = "category"',
        'category_descriptions = { "0" = "female", "1" = "male" }',
        "# [expected_directions]",
        '"raises"   having it is expected to raise the risk',
        '"lowers"   having it is expected to lower the risk',
        '"neither"  no expectation',
        'diabetes = "raises"',
    ):
        assert words in text, words
    # Every choice the template explains is one the schema and the card accept.
    from typing import get_args

    from caselens.model.card import ExpectedDirection
    from caselens.model.features import CodedMeaning

    for choice in (*get_args(CodedMeaning), *get_args(ExpectedDirection)):
        assert f'"{choice}"' in text, choice


@pytest.fixture(scope="module")
def coded_files(tmp_path_factory) -> Path:
    """A seeded cohort whose inputs are the template's example columns: age, diabetes (0/1,
    a condition), sex_male (0/1, a category) and systolic_bp (a changeable input)."""
    folder = tmp_path_factory.mktemp("coded")
    rng = np.random.default_rng(21)
    n = 800
    frame = pd.DataFrame(
        {
            "age": rng.integers(30, 90, n),
            "diabetes": rng.integers(0, 2, n),
            "sex_male": rng.integers(0, 2, n),
            "systolic_bp": rng.normal(135, 18, n).round(),
        }
    )
    logit = -1 + 0.03 * (frame["age"] - 60) + 0.8 * frame["diabetes"] + 0.2 * frame["sex_male"]
    frame["died"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    inputs = ["age", "diabetes", "sex_male", "systolic_bp"]
    model = LogisticRegression().fit(frame.loc[:499, inputs], frame.loc[:499, "died"])
    frame.iloc[:500].to_csv(folder / "train.csv", index=False)
    frame.iloc[500:].to_parquet(folder / "test.parquet", index=False)
    sio.dump(model, folder / "model.skops")
    return folder


def test_a_template_with_its_input_examples_filled_in_builds(coded_files, tmp_path):
    path = tmp_path / "card.toml"
    assert CliRunner().invoke(main, ["bundle", "init", str(path)]).exit_code == 0
    text = path.read_text()
    start = text.index("# -- the inputs")
    examples = _uncommented(text[start:])
    path.write_text(text[:start] + examples + "\n", encoding="utf-8")
    out = tmp_path / "b" / "filled"
    result = _create(coded_files, path, out)
    assert result.exit_code == 0, result.output
    bundle = load_bundle(out)
    schema = bundle.features
    assert schema["diabetes"].meaning == "yes_no"
    assert schema["sex_male"].meaning == "category"
    assert schema["sex_male"].category_descriptions == {"0": "female", "1": "male"}
    assert schema["age"].hard_min == 18 and schema["age"].unit == "years"
    assert bundle.card.expected_directions == {"diabetes": "raises"}
    # The changeable inputs and next steps the template shows are a statement create takes.
    stated = bundle.card.changeable_inputs
    assert stated["age"].modifiable is False
    assert (stated["systolic_bp"].direction, stated["systolic_bp"].lower) == ("down", 110)
    steps = bundle.card.next_steps
    assert steps.at_or_above_threshold[0].link == "https://intranet.example.org/chest-pain-pathway"
    assert steps.below_threshold[0].patient_text is None
    assert steps.bands[0].label == "Very high" and len(steps.bands[0].steps) == 1
    # Stated meanings: no warning that a 0/1 input does not say what 1 means.
    assert not [w for w in bundle.warnings if "do not say what 1 means" in w], bundle.warnings
    assert "do not say what 1 means" not in result.output


def test_a_fhir_mapping_file_is_merged_into_the_drafted_schema(files, tmp_path):
    mapping = {
        "age": {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"},
        "creatinine": {
            "resource_type": "Observation",
            "codes": [{"system": "http://loinc.org", "code": "2160-0"}],
            "value_path": "valueQuantity",
            "units": ["mg/dL", "umol/L"],
            "unit": "mg/dL",
            "molar_mass_g_per_mol": 113.12,
        },
        "diabetes": {"entered_by_hand": True, "by_hand_reason": "Asked at the visit."},
    }
    path = tmp_path / "fhir-mapping.json"
    path.write_text(json.dumps(mapping))
    out = tmp_path / "b" / "mapped"
    result = _create(files, _card(tmp_path), out, "--fhir-mapping", str(path))
    assert result.exit_code == 0, result.output
    assert "FHIR mapping: 2 of 3 inputs read from a FHIR record, 1 marked entered by hand." in (
        result.output
    )
    # The drafted schema has no unit for creatinine: a warning, not a refusal.
    assert "Feature 'creatinine', field 'fhir.unit'" in result.output
    assert "the schema states no unit" in result.output
    features = load_bundle(out).features
    assert features["creatinine"].fhir.units == ("mg/dL", "umol/L")
    assert features["diabetes"].fhir.entered_by_hand
    mapping["creatine"] = mapping.pop("creatinine")
    path.write_text(json.dumps(mapping))
    refused = _create(files, _card(tmp_path), tmp_path / "b" / "typo", "--fhir-mapping", str(path))
    assert refused.exit_code == 1 and "'creatine'" in refused.output
    assert not (tmp_path / "b" / "typo").exists()


# -- the owners' statements: changeable inputs and next steps ---------------------------------

STATEMENTS = {
    "changeable_inputs": {
        "age": {"modifiable": False, "why": "Age cannot be changed."},
        "creatinine": {
            "modifiable": True,
            "why": "Kidney function can improve with fluids.",
            "direction": "down",
            "lower": 0.6,
        },
    },
    "next_steps": {
        "at_or_above_threshold": [
            {
                "text": "Review in the renal clinic.",
                "source": "Local pathway",
                "link": "https://example.org/renal",
                "patient_text": "Your team may ask a kidney doctor to see you.",
            }
        ],
        "below_threshold": [{"text": "Usual care.", "source": "Local pathway"}],
    },
}


def test_a_card_file_with_the_statements_gives_a_bundle_stating_them(files, tmp_path):
    out = tmp_path / "b" / "stated"
    result = _create(files, _card(tmp_path, **STATEMENTS), out)
    assert result.exit_code == 0, result.output
    card = load_bundle(out).card
    assert card.changeable_inputs["creatinine"].lower == 0.6
    assert card.next_steps.at_or_above_threshold[0].link == "https://example.org/renal"
    # Without them: neither key is written (a card as before they existed).
    plain = _create(files, _card(tmp_path), tmp_path / "b" / "plain")
    assert plain.exit_code == 0, plain.output
    written = json.loads((tmp_path / "b" / "plain" / "card.json").read_text())
    assert "changeable_inputs" not in written and "next_steps" not in written


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"next_steps": {"below_threshold": [{"text": "x", "source": "y", "link": "http://x"}]}},
            ["next_steps.below_threshold[0].link: link must start with https://"],
        ),
        (
            {"next_steps": {"below_threshold": [{"text": "x"}]}},
            ["next_steps.below_threshold[0].source: Field required"],
        ),
        (
            {
                "next_steps": {
                    "bands": [
                        {
                            "label": "A",
                            "from_probability": 0.2,
                            "to_probability": 0.6,
                            "steps": [{"text": "x", "source": "y"}],
                        },
                        {
                            "label": "B",
                            "from_probability": 0.5,
                            "to_probability": 0.9,
                            "steps": [{"text": "x", "source": "y"}],
                        },
                    ]
                }
            },
            ["next_steps: bands 'A' and 'B' overlap"],
        ),
        (
            {"changeable_inputs": {"creatinin": {"modifiable": True, "why": "w"}}},
            ["changeable_inputs.creatinin: 'creatinin' is not an input of this model"],
        ),
        (
            {
                "changeable_inputs": {
                    "age": {"modifiable": True, "why": "w", "direction": "sideways"},
                    "creatinine": {"modifiable": True, "why": "w", "to_categories": ["low"]},
                }
            },
            [
                "changeable_inputs.age.direction: Input should be 'up', 'down' or 'either' "
                "(got 'sideways')",
                "changeable_inputs.creatinine.to_categories: 'creatinine' is a number input",
            ],
        ),
    ],
)
def test_a_statement_that_does_not_fit_is_refused_per_field_before_anything_is_written(
    files, tmp_path, change, expected
):
    out = tmp_path / "b" / "bad"
    result = _create(files, _card(tmp_path, **change), out)
    assert result.exit_code == 1, result.output
    assert "The card file's statements do not fit" in result.output
    for words in expected:
        assert words in result.output, result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_the_template_documents_both_statements_with_every_field(tmp_path):
    from caselens.model.changeable_inputs import ChangeableInput
    from caselens.model.next_steps import NextStep, RiskBandSteps

    path = tmp_path / "card.toml"
    assert CliRunner().invoke(main, ["bundle", "init", str(path)]).exit_code == 0
    text = path.read_text()
    for field in (*ChangeableInput.model_fields, *NextStep.model_fields):
        # Each field is explained on a line of its own ("#   name   what it means").
        assert re.search(rf"^#   (\w+, )?{field}\b", text, re.MULTILINE), field
    for field in RiskBandSteps.model_fields:
        assert f"# {field} = " in text or f"[[next_steps.bands.{field}]]" in text, field
    for table in (
        "[changeable_inputs.age]",
        "[[next_steps.at_or_above_threshold]]",
        "[[next_steps.below_threshold]]",
        "[[next_steps.bands]]",
    ):
        assert f"# {table}" in text, table
