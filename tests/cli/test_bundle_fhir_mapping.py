"""bundle create --fhir-mapping, bundle init --fhir-mapping and bundle check on FHIR mappings,
through the real command line on the heart-disease sample's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from caselens.authoring.samples import SAMPLE_FHIR_MAPPINGS
from caselens.cli.main import main
from caselens.settings import SAMPLE_MODELS_DIR

HEART = SAMPLE_MODELS_DIR / "heart-disease"


def _unmapped_features(folder: Path) -> Path:
    """The heart sample's features.json without its mappings (as a schema author has it)."""
    data = json.loads((HEART / "features.json").read_text(encoding="utf-8"))
    for feature in data["features"]:
        feature.pop("fhir", None)
    path = folder / "features.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _create(folder: Path, mapping: Path, out: Path):
    return CliRunner().invoke(
        main,
        [
            "bundle", "create",
            "--model", str(HEART / "model.skops"),
            "--card", str(HEART / "card.json"),
            "--features", str(_unmapped_features(folder)),
            "--reference", str(HEART / "reference.parquet"),
            "--calibration", str(HEART / "calibration.parquet"),
            "--fhir-mapping", str(mapping),
            "--out", str(out),
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def created(tmp_path_factory) -> tuple[Path, str]:
    """A bundle made by bundle create from the unmapped schema and the sample's mapping file."""
    folder = tmp_path_factory.mktemp("mapped")
    result = _create(folder, SAMPLE_FHIR_MAPPINGS["heart-disease"], folder / "bundle")
    assert result.exit_code == 0, result.output
    return folder / "bundle", result.output


def test_create_with_the_mapping_file_round_trips_to_the_sample_schema(created) -> None:
    bundle, output = created
    assert (bundle / "features.json").read_bytes() == (HEART / "features.json").read_bytes()
    assert "FHIR mapping: 5 of 13 inputs read from a FHIR record, 8 marked entered by hand." in (
        output
    )


def test_check_prints_the_mapping_summary_after_ok(created) -> None:
    bundle, _ = created
    result = CliRunner().invoke(main, ["bundle", "check", str(bundle)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("OK: heart-disease")
    assert "FHIR mapping: 5 of 13 inputs read from a FHIR record" in result.output


def test_check_refuses_a_bundle_whose_mapping_has_a_problem(bundle_copy) -> None:
    bundle = bundle_copy("heart-disease")
    data = json.loads((bundle / "features.json").read_text(encoding="utf-8"))
    cholesterol = next(f for f in data["features"] if f["name"] == "cholesterol")
    cholesterol["fhir"]["molar_mass_g_per_mol"] = None  # mmol/L can no longer convert
    (bundle / "features.json").write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["bundle", "check", str(bundle)])
    assert result.exit_code == 1
    assert "The FHIR mapping of heart-disease has 1 problem(s)" in result.output
    assert "Feature 'cholesterol', field 'fhir.units[1]'" in result.output
    assert "molar mass" in result.output and "OK:" not in result.output


def test_a_mapping_for_a_feature_the_schema_lacks_is_refused_by_name(tmp_path) -> None:
    mapping = json.loads(SAMPLE_FHIR_MAPPINGS["heart-disease"].read_text(encoding="utf-8"))
    mapping["cholesterol_total"] = mapping.pop("cholesterol")
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    result = _create(tmp_path, path, tmp_path / "out")
    assert result.exit_code == 1
    assert "names 1 feature(s) the schema does not have: 'cholesterol_total'" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[" * 40 + "]" * 40, "nested 40 levels deep; the limit is 8 levels"),
        ('{"age": ' + '"x"' + "}", "'age': the mapping must be a JSON object, not a str"),
        ("[1, 2]", "must hold one JSON object of feature name → mapping"),
        ('{"age": {"resource_type": "Patient", "units": 3}}', "field 'units'"),
        ('{"age": {"resource_type": "Specimen"}}', "field 'resource_type'"),
        ("{not json", "is not valid UTF-8 JSON"),
        ('{"age": {"entered_by_hand": true, "by_hand_reason": "' + "x" * 3000 + '"}}',
         "3000 characters long; the limit is 2000"),
    ],
)  # fmt: skip
def test_hostile_mapping_files_are_refused_with_a_clear_error(tmp_path, content, words) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(content, encoding="utf-8")
    result = _create(tmp_path, path, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert words in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_huge_mapping_file_is_refused_before_it_is_parsed(tmp_path) -> None:
    path = tmp_path / "mapping.json"
    path.write_bytes(b'{"age": {"by_hand_reason": "' + b" " * (600 * 1024) + b'"}}')
    result = _create(tmp_path, path, tmp_path / "out")
    assert result.exit_code == 1
    assert "The FHIR mapping file (mapping.json) is 614" in result.output
    assert "the limit is 524288 bytes" in result.output


def test_a_mapping_the_check_refuses_is_not_made_into_a_bundle(tmp_path) -> None:
    mapping = json.loads(SAMPLE_FHIR_MAPPINGS["heart-disease"].read_text(encoding="utf-8"))
    mapping["resting_bp"]["units"] = ["mmHg"]
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    result = _create(tmp_path, path, tmp_path / "out")
    assert result.exit_code == 1
    assert "Feature 'resting_bp', field 'fhir.units[0]': 'mmHg' is not a UCUM unit" in (
        result.output
    )
    assert not (tmp_path / "out").exists()


def test_init_writes_an_example_mapping_file_that_parses(tmp_path) -> None:
    from caselens.authoring.fhir_mapping_file import read_fhir_mapping_file

    card, mapping = tmp_path / "card.toml", tmp_path / "fhir-mapping.json"
    result = CliRunner().invoke(main, ["bundle", "init", str(card), "--fhir-mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    parsed = read_fhir_mapping_file(mapping)
    assert set(parsed) == {"age", "systolic_bp", "smoking"}
    assert parsed["smoking"].entered_by_hand and parsed["systolic_bp"].unit == "mm[Hg]"
    assert "--fhir-mapping" in card.read_text(encoding="utf-8")
    again = CliRunner().invoke(
        main, ["bundle", "init", str(tmp_path / "other.toml"), "--fhir-mapping", str(mapping)]
    )
    assert again.exit_code == 1 and "already exists" in again.output
    assert not (tmp_path / "other.toml").exists()


def test_load_refuses_a_structurally_invalid_mapping_naming_the_field(bundle_copy) -> None:
    bundle = bundle_copy("heart-disease")
    data = json.loads((bundle / "features.json").read_text(encoding="utf-8"))
    resting = next(f for f in data["features"] if f["name"] == "resting_bp")
    resting["fhir"]["codes"] = []  # an Observation mapping must say which codes hold the value
    (bundle / "features.json").write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["bundle", "check", str(bundle)])
    assert result.exit_code == 1
    assert "field 'features.3.fhir'" in result.output
    assert "an Observation mapping needs at least one code" in result.output
