"""The ``caselens`` command: a thin shell over the library.

Each command parses its options, makes one library call and turns a domain error into a
message (never a traceback).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click

from caselens.errors import CaseLensError
from caselens.settings import ASSETS_DIR, SAMPLE_MODELS_DIR

if TYPE_CHECKING:  # start-up stays light: pandas, sklearn and the like load in the commands
    import pandas as pd

    from caselens.model.bundle import ModelBundle


class _LazyGroup(click.Group):
    """A group whose heavier sub-groups are imported only when one of their commands runs.

    ``lazy_commands`` maps a name to ``("module:attribute", short help)``; the short help is
    what ``--help`` lists, so listing the commands imports nothing.
    """

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            target = self.lazy_commands[cmd_name][0]
            module_name, _, attribute = target.partition(":")
            try:
                command = getattr(importlib.import_module(module_name), attribute)
            except ImportError:  # an optional package that is not installed
                return None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width - 6 - 10)))
            else:
                rows.append((name, self.lazy_commands[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="caselens")
def main() -> None:
    """CaseLens: calibrated risk, SHAP and LIME side by side, limitations and an audit trail.

    Example: caselens samples build
    """


@main.group()
def samples() -> None:
    """Build the sample model bundles.

    Example: caselens samples build
    """


@samples.command("build")
@click.option(
    "--assets",
    type=click.Path(path_type=Path, file_okay=False),
    default=ASSETS_DIR,
    show_default=True,
    help="Folder holding datasets/.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=SAMPLE_MODELS_DIR,
    show_default=True,
    help="Where to write the bundles.",
)
@click.option("--only", multiple=True, help="Build only this model id (repeatable).")
@click.option(
    "--check",
    is_flag=True,
    help="Build into a temporary folder and compare with the bundles in --out instead of "
    "overwriting them; exits 1 if they do not reproduce.",
)
def samples_build(assets: Path, out: Path, only: tuple[str, ...], check: bool) -> None:
    """Rebuild the sample bundles from the public datasets, reproducibly (fixed seeds).

    With --check, nothing is overwritten: data files and feature schemas must be
    byte-identical, the card identical but for the model hash, and the rebuilt model's
    probabilities within the numeric tolerance of the committed one's on every reference
    row. Whether model.skops is byte-identical (it is on the CPU and BLAS that built it)
    is printed.

    Example: caselens samples build --only heart-disease --check
    """
    import tempfile

    from caselens.authoring.samples import build_samples
    from caselens.authoring.samples.reproducibility import compare_sample

    try:
        if not check:
            build_samples(assets, out, only=list(only) or None, progress=click.echo)
            return
        with tempfile.TemporaryDirectory(prefix="caselens-samples-") as scratch:
            built = build_samples(
                assets, Path(scratch), only=list(only) or None, progress=click.echo
            )
            results = [compare_sample(b.path, out / b.path.name) for b in built]
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo("\n".join(result.lines()))
    if not all(r.reproduces for r in results):
        raise SystemExit(1)


@main.group()
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
        )
        return
    if features_path is None or reference_path is None:
        raise click.UsageError(
            "Give --train, --test and --outcome (CaseLens computes the card's figures and the "
            "feature schema), or a ready --features and --reference."
        )
    from caselens.authoring.data_files import read_demo_cases_file
    from caselens.model.bundle import create_bundle, read_model_file

    try:
        model = read_model_file(model_path, allow_pickle=allow_pickle)
        card = json.loads(card_path.read_text(encoding="utf-8"))
        features = json.loads(features_path.read_text(encoding="utf-8"))
        cases = []
        if demo_cases is not None:
            from caselens.model.bundle_write import _validate_schema_mapping

            cases = read_demo_cases_file(demo_cases, _validate_schema_mapping(features))
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
def bundle_init(path: Path) -> None:
    """Write a commented card file template (TOML) to fill in for `bundle create`.

    Example: caselens bundle init card.toml
    """
    from caselens.authoring.card_template import card_template

    if path.exists():
        raise click.ClickException(f"{path} already exists; it is not overwritten.")
    path.write_text(card_template(), encoding="utf-8")
    click.echo(f"Wrote {path}: fill it in, then run caselens bundle create.")


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
    """Load a bundle with every safety check, print its key facts and how often each
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


def _echo_leakage_flags(bundle: ModelBundle) -> None:
    """Print a 'check for leakage' line for each measured AUROC of 0.99 or more (not a
    refusal: a very good model is possible, but leakage is the likelier reason)."""
    from caselens.model.leakage import auroc_flags, leakage_flag_text

    text = leakage_flag_text(auroc_flags(bundle.measured_validation))
    if text:
        click.echo(text, err=True)


@main.group(invoke_without_command=True)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Print speed and memory figures as JSON lines (default: the report benchmark).

    Example: caselens bench reports --runs 20
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(bench_reports_command, models=(), runs=20, cv5_forest=False)


@bench.command("reports")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Bundle folder name in CASELENS_MODELS_DIR (repeatable; default: every bundle there).",
)
@click.option("--runs", default=20, show_default=True, help="Warm reports per model.")
@click.option(
    "--cv5-forest",
    is_flag=True,
    help="Also build and time a bundle whose model is a 5-fold CalibratedClassifierCV around "
    "a random forest (no demo cases: reference rows are explained).",
)
def bench_reports_command(
    models: tuple[str, ...] = (), runs: int = 20, cv5_forest: bool = False
) -> None:
    """Per bundle in CASELENS_MODELS_DIR: report_p50_ms, report_p95_ms (warm),
    model_rows_per_report, model_call_ms (one predict_proba on that many rows),
    overhead_ratio (report / model call), overhead_ms (report - model call),
    first_report_s, peak_rss_mb. A bundle without demo cases is timed on its reference
    rows.

    Example: caselens bench reports --model readmission-30d
    """
    import tempfile

    from caselens.bench.reports import bench_reports, build_cv5_forest_bundle, default_models_dir
    from caselens.model.bundle import discover_bundles

    models_dir = default_models_dir()
    ids = list(models) or [p.name for p in discover_bundles(models_dir)]
    missing = [i for i in ids if not (models_dir / i).is_dir()]
    if missing:
        raise click.ClickException(f"No bundle folder {', '.join(missing)} in {models_dir}.")
    if not ids and not cv5_forest:
        raise click.ClickException(f"No model bundles in {models_dir}.")
    failed = False
    for model_id in ids:
        try:
            click.echo(json.dumps(bench_reports(model_id, models_dir=models_dir, runs=runs)))
        except RuntimeError as exc:
            failed = True
            click.echo(json.dumps({"model": model_id, "error": str(exc)[-500:]}))
    if cv5_forest:
        with tempfile.TemporaryDirectory(prefix="caselens-bench-") as folder:
            build_cv5_forest_bundle(Path(folder) / "cv5-forest")
            click.echo(json.dumps(bench_reports("cv5-forest", models_dir=Path(folder), runs=runs)))
    if failed:
        raise SystemExit(1)


@bench.command("audit")
@click.option(
    "--entries",
    default=1_000_000,
    show_default=True,
    help="Entries in the trail for the Audit trail page clicks.",
)
@click.option(
    "--replay-entries",
    default=100_000,
    show_default=True,
    help="Entries in the store for the verify and replay lookup figures.",
)
def bench_audit_command(entries: int, replay_entries: int) -> None:
    """Audit trail: append_per_s (durable SQLite), verify_per_s, replay_ms_at_100k; then the
    Audit trail page's clicks at --entries (p50/max ms each, target ≤ 1,000 ms; peak RSS).

    Example: caselens bench audit --entries 1000000
    """
    import tempfile

    from caselens.bench.audit import bench_audit, bench_audit_page

    with tempfile.TemporaryDirectory(prefix="caselens-bench-") as folder:
        click.echo(json.dumps(bench_audit(folder, n_total=replay_entries)))
        progress = lambda line: click.echo(line, err=True)  # noqa: E731
        click.echo(json.dumps(bench_audit_page(folder, n_entries=entries, progress=progress)))


@bench.command("cases")
@click.option(
    "--model", default="heart-disease", show_default=True, help="Sample model whose schema is used."
)
@click.option(
    "--runs", default=3, show_default=True, help="Parses per input; the slowest is shown."
)
def bench_cases_command(model: str, runs: int) -> None:
    """Worst-case ~1 MB case uploads: parse_ms and outcome per input (target ≤ 1,000 ms).

    Example: caselens bench cases
    """
    from caselens.bench.cases import bench_cases

    try:
        results = bench_cases(model, runs=max(1, runs))
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(json.dumps(result))


@bench.command("app")
def bench_app_command() -> None:
    """The app in a real browser: seconds to the sign-in page, and per case report (p50).

    Example: caselens bench app
    """
    from caselens.bench.app import bench_app

    click.echo(json.dumps(bench_app()))


@bench.command("monitoring")
@click.option(
    "--predictions",
    default=1_000_000,
    show_default=True,
    help="Rows of the prediction log (one model, over 12 months).",
)
@click.option("--model", default="readmission-30d", show_default=True, help="Sample model.")
@click.option("--runs", default=3, show_default=True, help="Warm views timed (after the cold one).")
def bench_monitoring_command(predictions: int, model: str, runs: int) -> None:
    """The Monitoring page's work on a large prediction log: build_s, database_mb, one cold
    view (empty figures cache), warm views (cache filled, one new prediction added to the
    open month before each; target ≤ 2,000 ms per view), per-period cold p50/max, whether
    the cached figures equal a computation without the cache, peak RSS.

    Example: caselens bench monitoring --predictions 1000000
    """
    import tempfile

    from caselens.bench.monitoring import bench_monitoring

    def progress(message: str) -> None:
        click.echo(message, err=True)

    try:
        with tempfile.TemporaryDirectory(prefix="caselens-bench-") as folder:
            result = bench_monitoring(
                folder, n=max(1, predictions), model_id=model, reps=runs, progress=progress
            )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result))


@main.group()
def users() -> None:
    """Manage local accounts in the app database.

    Example: caselens users list
    """


def _account_store():
    from caselens.access.accounts import AccountStore
    from caselens.access.app_database import open_app_database
    from caselens.settings import Settings

    settings = Settings.from_env()
    return AccountStore(open_app_database(settings.data_dir, settings.app_db_url))


@users.command("seed-demo")
def users_seed_demo() -> None:
    """Create the demo accounts (one per role) if they are missing.

    Example: caselens users seed-demo
    """
    from caselens.access.accounts import seed_demo_accounts

    created = seed_demo_accounts(_account_store())
    click.echo(
        f"Demo accounts: {len(created)} created"
        + (f" ({', '.join(created)})." if created else " (all present).")
    )


@users.command("add")
@click.argument("user_id")
@click.option("--name", required=True, help="Full name shown in the app and the trail.")
@click.option(
    "--role", required=True, type=click.Choice(["clinician", "patient", "reviewer", "admin"])
)
@click.option("--patient-ref", default=None, help="For a patient: their record id.")
@click.option("--patient-model", default=None, help="For a patient: the model of that record.")
@click.option(
    "--language",
    default="en",
    show_default=True,
    type=click.Choice(["en", "es", "fr"]),
    help="The language of the account's patient page.",
)
@click.password_option()
def users_add(
    user_id: str,
    name: str,
    role: str,
    patient_ref: str | None,
    patient_model: str | None,
    language: str,
    password: str,
) -> None:
    """Add a local account (the password is asked for and stored as an argon2 hash).

    Example: caselens users add dr.ng --name "Dr. Ng" --role clinician
    """
    try:
        account = _account_store().add(
            user_id,
            name=name,
            role=role,
            password=password,
            patient_ref=patient_ref,
            patient_model_id=patient_model,
            language=language,
        )
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Added {account.user_id} ({account.role}, {account.language}).")


@users.command("list")
def users_list() -> None:
    """List the local accounts.

    Example: caselens users list
    """
    for account in _account_store().list():
        extra = f" patient {account.patient_ref}" if account.patient_ref else ""
        click.echo(f"{account.user_id}\t{account.role}\t{account.name}{extra}")


@users.command("unlock")
@click.argument("user_id")
def users_unlock(user_id: str) -> None:
    """Clear an account's sign-in back-off (recorded in the audit trail first).

    Example: caselens users unlock dr.lee
    """
    from caselens.audit import AuditError, AuditEvent, open_trail

    store = _account_store()
    try:
        store.get(user_id)
        with open_trail(create=False) as trail:
            trail.append(
                AuditEvent(
                    actor_id="cli",
                    actor_name="caselens users",
                    actor_role="system",
                    audience="admin",
                    action="user_unlocked",
                    detail={"user_id": user_id},
                )
            )
    except (CaseLensError, AuditError) as exc:
        raise click.ClickException(str(exc)) from exc
    store.unlock(user_id)
    click.echo(f"Unlocked {user_id}: its failed sign-in attempts are cleared.")


def _register_optional_groups() -> None:
    # The audit group lives with the audit package; it is imported (with SQLAlchemy) only
    # when an audit command runs, so `caselens --help` stays fast.
    main.lazy_commands = {
        "audit": (
            "caselens.cli.audit:audit",
            "Verify, inspect and export the tamper-evident audit trail.",
        ),
    }


_register_optional_groups()


def _register_monitoring_groups() -> None:
    # The monitor and outcomes groups live with the monitoring package.
    from caselens.cli.monitor import monitor, outcomes

    main.add_command(monitor)
    main.add_command(outcomes)


_register_monitoring_groups()
