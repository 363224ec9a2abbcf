"""``caselens bundle …``: create, convert and check model bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from caselens.errors import CaseLensError

if TYPE_CHECKING:  # start-up stays light: pandas, sklearn and the like load in the commands
    import pandas as pd

    from caselens.model.bundle import ModelBundle


@click.group()
def bundle() -> None:
    """Create and check model bundles.

    Example: caselens bundle check sample_models/heart-disease
    """


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise click.ClickException(f"{path.name}: reference data must be .parquet or .csv.")


@bundle.command("create")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Fitted estimator: a .skops or .onnx file (or .pkl/.joblib with --allow-pickle).",
)
@click.option(
    "--card",
    "card_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Card file: TOML or JSON (see `caselens bundle init`); with --features, a full card.json.",
)
@click.option(
    "--train",
    "train_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Training split (.csv or .parquet): the feature schema is drafted from it.",
)
@click.option(
    "--test",
    "test_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Held-out test split (.csv or .parquet): every figure is computed on it and it "
    "becomes the reference data.",
)
@click.option("--outcome", default=None, help="The outcome column (0/1) in the data files.")
@click.option(
    "--features",
    "features_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A ready feature schema JSON (instead of --train; needs --reference).",
)
@click.option(
    "--reference",
    "reference_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="With --features: held-out rows with an 'outcome' column (.parquet or .csv).",
)
@click.option(
    "--calibration",
    "calibration_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Optional calibration split (.parquet or .csv).",
)
@click.option(
    "--demo-cases",
    "demo_cases",
    default=None,
    help="A number of demo cases to pick from the test split (default 8 with --train), or a "
    "JSON file of them.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The bundle folder to write.",
)
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Read a pickle/joblib model file. Pickle runs code on load: trusted files only.",
)
@click.option(
    "--fhir-mapping",
    "fhir_mapping_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A JSON file of feature name → FHIR mapping, merged into the feature schema (see "
    "docs/fhir-mapping.md; `caselens bundle init --fhir-mapping FILE` writes an example).",
)
def bundle_create(
    model_path: Path,
    card_path: Path,
    train_path: Path | None,
    test_path: Path | None,
    outcome: str | None,
    features_path: Path | None,
    reference_path: Path | None,
    calibration_path: Path | None,
    demo_cases: str | None,
    out: Path,
    allow_pickle: bool,
    fhir_mapping_path: Path | None,
) -> None:
    """Make a bundle from your fitted pipeline, your data and a card file.

    With --train/--test/--outcome, CaseLens computes the validation figures (overall, by
    subgroup, intersections), the feature schema and the HTI-1 attributes it can; the card
    file supplies what only people can say. Written to a temporary folder and renamed at the
    end: a failure leaves nothing behind.

    Example: caselens bundle create --model m.skops --train train.csv --test test.csv
    --outcome death --card card.toml --out bundles/my-model
    """
    if train_path is not None or test_path is not None:
        _bundle_build(
            model_path,
            card_path,
            train_path,
            test_path,
            outcome,
            calibration_path,
            demo_cases,
            out,
            allow_pickle,
            fhir_mapping_path,
        )
        _echo_fhir_mapping_check(out)
        return
    if features_path is None or reference_path is None:
        raise click.UsageError(
            "Give --train, --test and --outcome (CaseLens computes the card's figures and the "
            "feature schema), or a ready --features and --reference."
        )
    from caselens.authoring.data_files import read_demo_cases_file
    from caselens.authoring.fhir_mapping_file import merge_fhir_mappings, read_fhir_mapping_file
    from caselens.model.bundle import create_bundle, read_model_file

    try:
        mappings = read_fhir_mapping_file(fhir_mapping_path) if fhir_mapping_path else None
        model = read_model_file(model_path, allow_pickle=allow_pickle)
        card = json.loads(card_path.read_text(encoding="utf-8"))
        features = json.loads(features_path.read_text(encoding="utf-8"))
        if mappings:
            features = merge_fhir_mappings(features, mappings)
        cases = []
        if demo_cases is not None:
            from caselens.model.bundle_write import _validate_schema_mapping
            from caselens.model.features import FeatureSchema

            schema = (
                features
                if isinstance(features, FeatureSchema)
                else _validate_schema_mapping(features)
            )
            cases = read_demo_cases_file(demo_cases, schema)
        created = create_bundle(
            model,
            card=card,
            features=features,
            reference=_read_table(reference_path),
            calibration_data=_read_table(calibration_path) if calibration_path else None,
            demo_cases=cases,
            path=out,
        )
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"A JSON file could not be read: {exc}") from exc
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Created {created.path} ({created.model_id} {created.version}, "
        f"model SHA-256 {created.model_sha256})."
    )
    _echo_fhir_mapping_check(created.path)


def _bundle_build(
    model_path: Path,
    card_path: Path,
    train_path: Path | None,
    test_path: Path | None,
    outcome: str | None,
    calibration_path: Path | None,
    demo_cases: str | None,
    out: Path,
    allow_pickle: bool,
    fhir_mapping_path: Path | None = None,
) -> None:
    """``bundle create`` from data files: the figures and schema are computed."""
    from caselens.authoring.bundle_builder import DEFAULT_DEMO_CASES, build_bundle

    missing = [
        option
        for option, value in (
            ("--train", train_path),
            ("--test", test_path),
            ("--outcome", outcome),
        )
        if value is None
    ]
    if missing:
        raise click.UsageError(f"Also give {', '.join(missing)}.")
    cases: int | Path = DEFAULT_DEMO_CASES
    if demo_cases is not None:
        cases = int(demo_cases) if demo_cases.strip().isdigit() else Path(demo_cases)
    try:
        result = build_bundle(
            model_path=model_path,
            train_path=train_path,  # type: ignore[arg-type]
            test_path=test_path,  # type: ignore[arg-type]
            outcome=outcome,  # type: ignore[arg-type]
            card_path=card_path,
            out=out,
            calibration_path=calibration_path,
            demo_cases=cases,
            allow_pickle=allow_pickle,
            fhir_mapping_path=fhir_mapping_path,
        )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    created = result.bundle
    overall = created.card.validation.overall
    click.echo(
        f"Created {created.path} ({created.model_id} {created.version}): "
        f"{len(created.features)} inputs, {len(created.reference):,} reference rows, "
        f"{len(created.demo_cases)} demo cases; test AUROC {overall.auroc}, Brier "
        f"{overall.brier}, {len(created.card.validation.subgroups)} subgroup rows; model "
        f"SHA-256 {created.model_sha256}."
    )
    for note in result.notes:
        click.echo(f"Note: {note}")
    for warning in created.warnings:
        click.echo(warning, err=True)
    _echo_leakage_flags(created)
    if result.to_review:
        click.echo(
            "To review (label still the column name; set them in the card file's [features."
            f"<name>] tables): {', '.join(result.to_review)}"
        )
    if result.to_complete:
        click.echo(
            f"To complete ({len(result.to_complete)} card fields still 'TO COMPLETE'): "
            + ", ".join(result.to_complete)
        )


@bundle.command("convert")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The fitted model: .skops (or .pkl/.joblib with --trust-pickle).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The ONNX file to write (.onnx).",
)
@click.option(
    "--sample",
    "sample_paths",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Rows with the model's inputs (.csv or .parquet): the first gives the input types; "
    "the probabilities are compared on all. Repeat it for every split (train, calibration, "
    "test).",
)
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Open a pickle/joblib model file, which runs any code it holds: trusted files only.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def bundle_convert(
    model_path: Path,
    out_path: Path,
    sample_paths: tuple[Path, ...],
    trust_pickle: bool,
    overwrite: bool,
) -> None:
    """Convert a fitted model (XGBoost, LightGBM, scikit-learn) to ONNX, which the app loads.

    The ONNX model's probabilities must equal the source model's on every sample row within
    the stated tolerance (ONNX computes in float32), or nothing is written. Only the sample
    rows are checked: pass every split.

    Example: caselens bundle convert --model model.pkl --trust-pickle --sample train.csv
    --out model.onnx
    """
    from caselens.authoring.onnx_convert import PICKLE_SUFFIXES, PICKLE_WARNING, convert_file

    if trust_pickle and model_path.suffix.lower() in PICKLE_SUFFIXES:
        bar = "!" * 78
        click.echo(f"{bar}\n{PICKLE_WARNING.format(name=model_path.name)}\n{bar}", err=True)
    try:
        done = convert_file(
            model_path,
            list(sample_paths),
            out_path,
            trust_pickle=trust_pickle,
            overwrite=overwrite,
        )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Converted {model_path.name} ({done.source}) to {out_path}: "
        f"{len(done.feature_names)} inputs. On {done.rows:,} sample rows the largest "
        f"difference between the ONNX and the source probability is "
        f"{done.max_abs_difference:.2e} (tolerance {done.tolerance:.0e}; ONNX computes in "
        f"float32). SHA-256 {done.sha256}."
    )


@bundle.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--fhir-mapping",
    "fhir_mapping_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write an example FHIR mapping file here (for bundle create --fhir-mapping).",
)
def bundle_init(path: Path, fhir_mapping_path: Path | None) -> None:
    """Write a commented card file template (TOML) to fill in for `bundle create`; with
    --fhir-mapping, also an example FHIR mapping file (which record values fill which input).

    Example: caselens bundle init card.toml --fhir-mapping fhir-mapping.json
    """
    from caselens.authoring.card_template import card_template
    from caselens.authoring.fhir_mapping_file import example_mapping_file

    for target in (path, fhir_mapping_path):
        if target is not None and target.exists():
            raise click.ClickException(f"{target} already exists; it is not overwritten.")
    path.write_text(card_template(), encoding="utf-8")
    click.echo(f"Wrote {path}: fill it in, then run caselens bundle create.")
    if fhir_mapping_path is not None:
        fhir_mapping_path.write_text(example_mapping_file(), encoding="utf-8")
        click.echo(
            f"Wrote {fhir_mapping_path}: an example FHIR mapping (rename its keys to your "
            "feature names; see docs/fhir-mapping.md), for bundle create --fhir-mapping."
        )


@bundle.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--allow-pickle", is_flag=True, help="Allow a pickle/joblib model file.")
@click.option(
    "--deep",
    is_flag=True,
    help="Run every reference row through the full report and check the truthfulness "
    "rules, and copy-check every sentence of every demo case; exits 1 if any fails.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=None,
    help="Reference rows to check (default: all up to 500, else a seeded sample of 500).",
)
def bundle_check(path: Path, allow_pickle: bool, deep: bool, rows: int | None) -> None:
    """Load a bundle with every safety check (a FHIR mapping with a problem is refused, see
    docs/fhir-mapping.md), print its key facts and how often each
    limitation fires on its reference rows; with --deep, the honesty harness and the copy
    check of every demo case's sentences (each slip named with its case and sentence).

    Example: caselens bundle check sample_models/readmission-30d --deep --rows 100
    """
    from caselens.model.bundle import load_bundle
    from caselens.model.card_check import refusal_message

    try:
        loaded = load_bundle(path, allow_pickle=allow_pickle)
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    placeholders = loaded.card.to_complete_fields()
    if loaded.card_problems or placeholders:
        # Before the refusal, so a check that fails still says how the inputs are worded.
        for warning in loaded.warnings:
            click.echo(warning, err=True)
    if loaded.card_problems:
        # Measured, not claimed: loading keeps a disagreeing card visible; check refuses it.
        raise click.ClickException(refusal_message(loaded.card_problems))
    if placeholders:
        raise click.ClickException(
            f"The card of {loaded.model_id} still has {len(placeholders)} field(s) to "
            "complete (each says 'TO COMPLETE'): " + ", ".join(placeholders)
        )
    from caselens.model.fhir_mapping_check import check_fhir_mappings

    mapping = check_fhir_mappings(loaded.features)
    if mapping.problems:
        # Refused: the intake could not read these inputs as mapped (bundle check is the
        # gate a hospital runs before a bundle goes live; load_bundle stays fast).
        for warning in mapping.warnings:
            click.echo(warning, err=True)
        raise click.ClickException(
            f"The FHIR mapping of {loaded.model_id} has {len(mapping.problems)} problem(s):\n"
            + "\n".join(f"- {p}" for p in mapping.problems)
        )
    overall = loaded.card.validation.overall
    click.echo(
        f"OK: {loaded.model_id} {loaded.version}, {len(loaded.features)} inputs, "
        f"{len(loaded.reference):,} reference rows, {len(loaded.demo_cases)} demo cases; "
        f"test AUROC {overall.auroc}, Brier {overall.brier}; "
        f"SHA-256 {loaded.model_sha256}"
    )
    for warning in loaded.warnings:
        click.echo(warning, err=True)
    _echo_leakage_flags(loaded)
    click.echo(mapping.summary())
    for warning in mapping.warnings:
        click.echo(f"FHIR mapping warning: {warning}", err=True)
    from caselens.explain.patient_language import missing_patient_texts

    gaps = missing_patient_texts(loaded.card, loaded.features)
    if gaps:  # a patient-facing model: what patients would miss, per language
        click.echo(f"Patient texts to write ({len(gaps)}): " + "; ".join(gaps))
    else:
        click.echo("Patient texts: complete in " + ", ".join(loaded.card.patient_texts) + ".")
    if not deep:
        from caselens.explain.limitation_rates import limitation_rates

        click.echo("\n".join(limitation_rates(loaded, rows).lines()))
        return
    from caselens.explain.copy_check import demo_case_copy_problems
    from caselens.explain.honesty import run_honesty

    result = run_honesty(loaded, rows)
    click.echo("\n".join(result.lines()))
    click.echo("\n".join(result.rates.lines()))
    # Every sentence a reader of a demo case would see, in the card's words: a card text
    # that makes a bad sentence ("… and.") is caught here, before anyone reads it.
    copy = demo_case_copy_problems(loaded)
    click.echo("\n".join(copy.lines()))
    if not result.ok or not copy.ok:
        raise SystemExit(1)
    unlabelled = [f.name for f in loaded.features if f.label == f.name]
    if unlabelled:
        click.echo(f"To review (label still the column name): {', '.join(unlabelled)}")


def _echo_fhir_mapping_check(path: Path) -> None:
    """After ``bundle create``: what ``bundle check`` will say about the FHIR mapping."""
    from caselens.model.features import FeatureSchema
    from caselens.model.fhir_mapping_check import check_fhir_mappings

    schema = FeatureSchema.model_validate_json((path / "features.json").read_text(encoding="utf-8"))
    if all(f.fhir is None for f in schema):
        return
    mapping = check_fhir_mappings(schema)  # no problems: create refused those
    click.echo(mapping.summary())
    for line in mapping.warnings:
        click.echo(f"FHIR mapping warning: {line}", err=True)


def _echo_leakage_flags(bundle: ModelBundle) -> None:
    """Print a 'check for leakage' line for each measured AUROC of 0.99 or more (not a
    refusal: a very good model is possible, but leakage is the likelier reason)."""
    from caselens.model.leakage import auroc_flags, leakage_flag_text

    text = leakage_flag_text(auroc_flags(bundle.measured_validation))
    if text:
        click.echo(text, err=True)
