"""``caselens bench …``: speed and memory figures as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import click

from caselens.errors import CaseLensError


@click.group(invoke_without_command=True)
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


@bench.command("counterfactual")
@click.option(
    "--cases",
    default=20,
    show_default=True,
    help="Cases per bundle: its demo cases, then reference rows.",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(["caselens-grid-v1", "dice-random"]),
    help="Search method (repeatable; default: caselens-grid-v1, and dice-random when "
    "dice-ml is installed).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Bundle folder name in CASELENS_MODELS_DIR (repeatable; default: every bundle there).",
)
@click.option(
    "--no-byo",
    is_flag=True,
    help="Leave out the bring-your-own bundles built here (a random forest and an ONNX file).",
)
def bench_counterfactual_command(
    cases: int, methods: tuple[str, ...], models: tuple[str, ...], no_byo: bool
) -> None:
    """Counterfactual search per bundle and method: validity (share of shown alternatives
    whose own report crosses the threshold), sparsity (mean changed inputs), distance (mean),
    p50_ms, p95_ms, cases_none_found, cases_not_searched (DiCE refuses a case with a value not
    recorded), cases_budget_exhausted (target p95 ≤ 2,000 ms on the samples).

    Example: caselens bench counterfactual --cases 20 --method caselens-grid-v1
    """
    import tempfile

    from caselens.bench.counterfactual import bench_counterfactual_bundle, build_onnx_bundle
    from caselens.bench.reports import build_cv5_forest_bundle, default_models_dir
    from caselens.explain.counterfactual.dice_backend import dice_available
    from caselens.model.bundle import discover_bundles

    if not methods:
        methods = ("caselens-grid-v1", "dice-random") if dice_available() else ("caselens-grid-v1",)
    elif "dice-random" in methods and not dice_available():
        from caselens.explain.counterfactual.dice_backend import DICE_MISSING

        raise click.ClickException(DICE_MISSING)
    models_dir = default_models_dir()
    ids = list(models) or [p.name for p in discover_bundles(models_dir)]
    missing = [i for i in ids if not (models_dir / i).is_dir()]
    if missing:
        raise click.ClickException(f"No bundle folder {', '.join(missing)} in {models_dir}.")
    paths = [models_dir / i for i in ids]
    with tempfile.TemporaryDirectory(prefix="caselens-bench-") as folder:
        if not no_byo:
            paths.append(build_cv5_forest_bundle(Path(folder) / "byo-random-forest"))
            paths.append(build_onnx_bundle(Path(folder) / "byo-onnx"))
        for path in paths:
            try:
                lines = bench_counterfactual_bundle(path, methods=methods, cases=max(1, cases))
            except (CaseLensError, OSError) as exc:
                raise click.ClickException(f"{path.name}: {exc}") from exc
            for line in lines:
                click.echo(json.dumps(line))


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


@bench.command("evidence")
@click.option(
    "--entries",
    default=20_000,
    show_default=True,
    type=click.IntRange(min=1, max=20_000),
    help="Display entries in the pack (at most the pack's bound).",
)
def bench_evidence_command(entries: int) -> None:
    """Evidence pack: build_s (read the segment, zip, sign), verify_s (offline, every hash and
    link), pack_mb and inflated_mb for --entries display entries of ~6 KB.

    Example: caselens bench evidence --entries 20000
    """
    import tempfile

    from caselens.bench.evidence import bench_evidence

    with tempfile.TemporaryDirectory(prefix="caselens-bench-") as folder:
        click.echo(json.dumps(bench_evidence(folder, n_entries=entries)))


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


@bench.command("fhir-result")
@click.option("--runs", default=50, show_default=True, help="Builds per model.")
def bench_fhir_result_command(runs: int) -> None:
    """A displayed result as a FHIR RiskAssessment Bundle: build and validate p50/p95 per
    sample model (target p95 ≤ 100 ms).

    Example: caselens bench fhir-result --runs 50
    """
    from caselens.bench.fhir_results import bench_fhir
    from caselens.settings import SAMPLE_MODELS_DIR

    try:
        results = bench_fhir(
            SAMPLE_MODELS_DIR, ("heart-disease", "readmission-30d"), runs=max(1, runs)
        )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(json.dumps(result))


@bench.command("what-if")
@click.option("--runs", default=20, show_default=True, help="What-ifs per model.")
@click.option(
    "--model",
    "models",
    multiple=True,
    type=click.Choice(["heart-disease", "readmission-30d"]),
    help="A sample model (repeatable); both when not given.",
)
def bench_what_if_command(runs: int, models: tuple[str, ...]) -> None:
    """ "Change a value" through the door (checked, explained, recorded, compared): p50/p95
    per sample model, one JSON line each (target p95 ≤ 1 s).

    Example: caselens bench what-if --runs 20
    """
    from caselens.bench.what_if import bench_what_if
    from caselens.settings import SAMPLE_MODELS_DIR

    try:
        results = bench_what_if(
            SAMPLE_MODELS_DIR, models or ("heart-disease", "readmission-30d"), runs=max(1, runs)
        )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(json.dumps(result))


@bench.command("export")
@click.option("--reports", default=5, show_default=True, help="Reports (demo cases) per model.")
def bench_export_command(reports: int) -> None:
    """Case report files: HTML and PDF seconds per report (p50/p95) and sizes, per sample
    model and audience (targets HTML ≤ 0.3 s, PDF ≤ 2 s).

    Example: caselens bench export --reports 5
    """
    from caselens.bench.export import bench_export
    from caselens.settings import SAMPLE_MODELS_DIR

    try:
        results = bench_export(
            SAMPLE_MODELS_DIR, ("heart-disease", "readmission-30d"), reports=max(1, reports)
        )
    except (CaseLensError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(json.dumps(result))


@bench.command("app")
@click.option(
    "--shadow",
    is_flag=True,
    help="Click-to-report p50/p95 without and with a shadow candidate for each sample, in "
    "one server run, and their ratio.",
)
def bench_app_command(shadow: bool) -> None:
    """The app in a real browser: seconds to the sign-in page, and per case report (p50).

    Example: caselens bench app --shadow
    """
    if shadow:
        from caselens.bench.app_shadow import bench_app_shadow

        click.echo(json.dumps(bench_app_shadow()))
        return
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


@bench.command("fhir")
@click.option(
    "--entries",
    "entry_counts",
    multiple=True,
    type=click.IntRange(min=20, max=20_000),
    help="Entries in a record to time (repeatable; default: 500, 2000, 8000).",
)
@click.option("--runs", default=3, show_default=True, type=click.IntRange(min=1, max=50))
def bench_fhir_command(entry_counts: tuple[int, ...], runs: int) -> None:
    """Reading a FHIR record into a case, by record size: entries, bytes, read_ms (the
    bounded read and R4B parse), extract_ms (every input of the demo schema), total_ms,
    ms_per_entry; then per_entry_ratio (largest record's ms per entry over the smallest's),
    linear (ratio within linear_ratio_limit).

    Example: caselens bench fhir --entries 1000 --entries 10000
    """
    from caselens.bench.fhir import DEFAULT_ENTRY_COUNTS, bench_fhir

    for row in bench_fhir(tuple(sorted(entry_counts)) or DEFAULT_ENTRY_COUNTS, runs):
        click.echo(json.dumps(row))


@bench.command("cds")
@click.option("--runs", default=30, show_default=True, help="Warm cards timed one at a time.")
@click.option("--clients", default=8, show_default=True, help="EHR clients calling at once.")
@click.option("--calls", default=5, show_default=True, help="Cards each concurrent client asks.")
def bench_cds_command(runs: int, clients: int, calls: int) -> None:
    """The CDS Hooks service under uvicorn, called by a simulated EHR with signed requests
    and prefetch: first_card_ms, warm_card_p50_ms / warm_card_p95_ms (target p95 ≤ 300 ms),
    cards_per_second with several clients at once. Every card is recorded in a fresh trail.

    Example: caselens bench cds --runs 30 --clients 8
    """
    try:
        from caselens.bench.cds import bench_cds

        result = bench_cds(
            runs=max(1, runs), clients=max(1, clients), calls_per_client=max(1, calls)
        )
    except ImportError as exc:  # httpx is a test dependency
        message = f"caselens bench cds needs {exc.name} (pip install httpx)."
        raise click.ClickException(message) from exc
    except (CaseLensError, OSError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result))
