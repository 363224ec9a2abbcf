"""``caselens monitor …`` and ``caselens outcomes …``: thin shells over the monitoring
library (each parses its options, makes the library calls, turns an error into a message)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from caselens.cli.door import as_option, open_door
from caselens.errors import CaseLensError

#: Exit code of ``monitor check`` when an alert is open or an approval has ended, and of
#: ``monitor verify`` when the log does not match the trail (1 is click's own usage error).
EXIT_ALERT = 3
EXIT_MISMATCH = 4

_models_option = click.option(
    "--models-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of model bundles (default: CASELENS_MODELS_DIR, else the sample models).",
)
_plan_option = click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A monitoring plan JSON overriding the bundle's (see docs/monitoring.md).",
)


def _models_dir(models_dir: Path | None) -> Path:
    from caselens.settings import Settings

    return models_dir or Settings.from_env().models_dir


def _bundle(model_id: str, models_dir: Path | None):
    from caselens.model.bundle import discover_bundles, load_bundle, load_card

    for folder in discover_bundles(_models_dir(models_dir)):
        if folder.name == model_id or load_card(folder / "card.json").model_id == model_id:
            return load_bundle(folder)
    raise click.ClickException(f"There is no model bundle '{model_id}' in the models folder.")


def _known_models(models_dir: Path | None) -> list[str]:
    from caselens.model.bundle import discover_bundles, load_card

    ids = []
    for folder in discover_bundles(_models_dir(models_dir)):
        try:
            ids.append(load_card(folder / "card.json").model_id)
        except CaseLensError:
            continue  # a refused bundle offers no model, so its outcomes are refused too
    return ids


@click.group(name="outcomes")
def outcomes() -> None:
    """Import what happened to patients, for monitoring.

    Example: caselens outcomes import outcomes.csv
    """


@outcomes.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_models_option
@as_option("admin")
def outcomes_import(file: Path, models_dir: Path | None, as_role: str) -> None:
    """Import an outcome CSV: patient_ref, model_id, outcome (0/1), known_on (YYYY-MM-DD).

    Every row is checked first; one bad row and nothing is written. The import is checked
    by the access policy and recorded in the audit trail with its counts and the file's
    SHA-256, through the workflow. Importing the same file again adds nothing.

    Example: caselens outcomes import outcomes.csv
    """
    from caselens.monitoring.outcomes import MAX_FILE_BYTES

    with file.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    known = _known_models(models_dir)
    with open_door("outcomes import", as_role) as door:
        result = door.workflow.import_outcomes(
            door.session, data, source_name=file.name, known_models=known
        )
    click.echo(
        f"Imported {file.name}: {result.rows} rows, {result.new} new, {result.unchanged} "
        f"already held (audit entry {result.seq}, sha256 {result.sha256[:12]}…)."
    )


@outcomes.command("correct")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--reason", required=True, help="Why these outcomes are corrected (recorded).")
@_models_option
@as_option("admin")
def outcomes_correct(file: Path, reason: str, models_dir: Path | None, as_role: str) -> None:
    """Correct outcomes already imported: same columns as import, outcome = the right value.

    Each row must name an outcome already held (same patient, model and date) and change
    it; one bad row and nothing is written. The correction is recorded in the audit trail
    with the reason and each change (from → to); the imported row is kept, and the newest
    correction counts from then on.

    Example: caselens outcomes correct fixes.csv --reason "Readmission found on chart review"
    """
    from caselens.monitoring.outcomes import MAX_FILE_BYTES

    with file.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    known = _known_models(models_dir)
    with open_door("outcomes correct", as_role) as door:
        result = door.workflow.correct_outcomes(
            door.session, data, reason=reason, source_name=file.name, known_models=known
        )
    click.echo(
        f"Corrected {result.corrected} outcome(s) from {file.name} (audit entry "
        f"{result.seq}, sha256 {result.sha256[:12]}…)."
    )


@click.group(name="monitor")
def monitor() -> None:
    """Monitor models after go-live: drift, calibration, discrimination, fairness, alerts.

    Example: caselens monitor check --model readmission-30d
    """


@monitor.command("verify")
def monitor_verify() -> None:
    """Check the prediction log against the audit trail (every display has its row with the
    same probability; no row without its entry). Exits 4 on a mismatch.

    Example: caselens monitor verify
    """
    from caselens.audit import AuditError, open_trail
    from caselens.monitoring.prediction_log import verify_prediction_log

    try:
        with open_trail(create=False) as trail:
            check = verify_prediction_log(trail)
    except (CaseLensError, AuditError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{check.displays} display entries, {check.rows} log rows, "
        f"{check.simulated_rows} simulated rows, {check.shadow_rows} shadow rows (never shown)."
    )
    if check.ok:
        click.echo("OK: the prediction log matches the trail.")
        return
    for problem in check.problems:
        click.echo(f"- {problem}", err=True)
    click.echo(f"FAILED: {check.problem_count} problem(s).", err=True)
    sys.exit(EXIT_MISMATCH)


def _figures(model: str, models_dir, plan_file, run_id, period):
    from caselens.audit import open_trail
    from caselens.model.monitoring_plan import plan_for
    from caselens.monitoring.figures_cache import FiguresCache
    from caselens.monitoring.tables import ready_engine
    from caselens.monitoring.views import iter_figures

    bundle = _bundle(model, models_dir)
    plan = plan_for(bundle, plan_file)
    trail = open_trail()
    figures = list(
        iter_figures(
            ready_engine(trail),
            bundle,
            plan,
            simulated=run_id is not None,
            run_id=run_id,
            only=period,
            cache=FiguresCache.for_store(trail),
        )
    )
    return trail, plan, figures


_source_options = [
    click.option("--model", required=True, help="Model id."),
    click.option(
        "--simulated",
        "run_id",
        default=None,
        help="Judge the simulated run with this id instead of what was shown.",
    ),
    click.option("--period", default=None, help="Only this period (2026-03 or 2026-W05)."),
    _models_option,
    _plan_option,
]


def _with_source(func):
    for option in reversed(_source_options):
        func = option(func)
    return func


@monitor.command("figures")
@_with_source
def monitor_figures(model, run_id, period, models_dir, plan_file) -> None:
    """Print each period's figures as JSON (simulated runs are labelled simulated).

    Example: caselens monitor figures --model readmission-30d
    """
    try:
        trail, _plan, figures = _figures(model, models_dir, plan_file, run_id, period)
        trail.close()
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps([f.as_dict() for f in figures], indent=1, default=str))


@monitor.command("check")
@click.option("--model", default=None, help="Model id (or --all).")
@click.option(
    "--all",
    "every_model",
    is_flag=True,
    help="Check every model in the models folder, one line each (for cron).",
)
@click.option(
    "--simulated",
    "run_id",
    default=None,
    help="Judge the simulated run with this id instead of what was shown (one --model only).",
)
@click.option("--period", default=None, help="Only this period (2026-03 or 2026-W05).")
@_models_option
@_plan_option
@as_option("admin")
def monitor_check(model, every_model, run_id, period, models_dir, plan_file, as_role) -> None:
    """Judge every period against the monitoring plan; record new alerts in the audit trail
    (``alert_raised``), through the workflow as the Monitoring page does. Exits 3 when an
    alert is open or a model's approval has ended (it shows no prediction).

    With --all, every model of the models folder is judged by its own plan and one line per
    model is printed; exits 3 when any model has an alert open, else 1 when a model could not
    be judged (its bundle refused, say).

    Example: caselens monitor check --model readmission-30d
    """
    if every_model:
        if model is not None or run_id is not None or plan_file is not None:
            raise click.UsageError(
                "--all judges every model by its own plan: give it without --model, "
                "--simulated or --plan."
            )
        _check_every_model(period, models_dir, as_role)
        return
    if model is None:
        raise click.UsageError("Give --model MODEL_ID, or --all for every model.")
    try:
        judged = _check_one(model, run_id, period, models_dir, plan_file, as_role)
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    result = judged.result
    label = f" (simulated run {run_id})" if run_id else ""
    click.echo(f"{model}{label}: {judged.periods} period(s) judged.")
    for watch in result.watches:
        click.echo(f"watch  {watch.message}")
    for alert in result.alerts:
        new = " [new]" if alert.alert_id in result.newly_raised else ""
        click.echo(f"ALERT {alert.alert_id}{new}  {alert.message}")
    ended = _echo_approvals(as_role)
    if result.alerts or ended:
        sys.exit(EXIT_ALERT)
    click.echo("No alert is open.")


def _check_one(model, run_id, period, models_dir, plan_file, as_role):
    """Judge one model's periods through the workflow door (checked, its new alerts
    recorded as the operator); a refusal or an audit error becomes a message."""
    bundle = _bundle(model, models_dir)
    with open_door("monitor check", as_role, bundles=[bundle]) as door:
        return door.workflow.judge_monitoring(
            door.session, bundle.model_id, run_id=run_id, period=period, plan_file=plan_file
        )


def _echo_approvals(as_role: str) -> bool:
    """Approvals ending within 30 days and those that ended without renewal (the model shows
    no prediction), through the door; an expiry not yet in the trail is recorded (by the
    system, once). Nothing is printed when every approval holds beyond 30 days. True when an
    approval has ended (a stopped model: the check exits as for an open alert)."""
    with open_door("monitor check", as_role) as door:
        found = door.workflow.approval_expiry_check(door.session)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for approval in found.expiring:
        days = (approval.expires_at - now).days
        click.echo(
            f"approval  {approval.model_id} {approval.bundle_sha256[:12]}: approved by "
            f"{approval.approved_by} until {approval.expires_at:%Y-%m-%d %H:%M} UTC "
            f"(ends in {days} day{'s' if days != 1 else ''}; renew with new monitoring evidence)"
        )
    for approval in found.expired:
        click.echo(
            f"APPROVAL EXPIRED  {approval.model_id} {approval.bundle_sha256[:12]}: ended "
            f"{approval.expires_at:%Y-%m-%d %H:%M} UTC (approved by {approval.approved_by}); "
            "it shows no prediction until renewed"
        )
    return bool(found.expired)


def _check_every_model(period: str | None, models_dir: Path | None, as_role: str) -> None:
    """``monitor check --all``: one line per model of the models folder (a model's later
    versions are other folders of the same model id: its monitoring is judged once)."""
    from caselens.model.bundle import discover_bundles, load_card

    folders = discover_bundles(_models_dir(models_dir))
    if not folders:
        raise click.ClickException(f"There is no model bundle in {_models_dir(models_dir)}.")
    alerting = failed = 0
    seen: set[str] = set()
    for folder in folders:
        try:
            model = load_card(folder / "card.json").model_id
            if model in seen:
                continue
            seen.add(model)
            judged = _check_one(model, None, period, models_dir, None, as_role)
        except (CaseLensError, click.ClickException) as exc:
            failed += 1
            message = exc.message if isinstance(exc, click.ClickException) else str(exc)
            click.echo(f"{folder.name}: NOT CHECKED  {message}")
            continue
        result, periods = judged.result, judged.periods
        if result.alerts:
            alerting += 1
            new = sum(a.alert_id in result.newly_raised for a in result.alerts)
            ids = ", ".join(a.alert_id for a in result.alerts)
            click.echo(
                f"{model}: ALERT  {len(result.alerts)} open ({new} new): {ids}; "
                f"{periods} period(s) judged, {len(result.watches)} to watch."
            )
        else:
            click.echo(
                f"{model}: OK  no alert open; {periods} period(s) judged, "
                f"{len(result.watches)} to watch."
            )
    ended = _echo_approvals(as_role)
    if alerting or ended:
        sys.exit(EXIT_ALERT)
    if failed:
        sys.exit(1)


@monitor.command("report")
@click.option("--model", required=True, help="Model id.")
@click.option("--simulated", "run_id", default=None, help="Report on this simulated run instead.")
@click.option("--from", "first", default=None, help="First period (2026-01 or 2026-W05).")
@click.option("--to", "last", default=None, help="Last period (inclusive).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The HTML file to write (refused if it exists).",
)
@_models_option
@_plan_option
@as_option("admin")
def monitor_report(model, run_id, first, last, out: Path, models_dir, plan_file, as_role) -> None:
    """Write a self-contained HTML monitoring report for governance meetings: the plan,
    alerts, every figure per period with its interval, input drift, subgroups and how
    clinicians used the model. Producing it is checked and recorded in the audit trail
    (``exported``) through the workflow, as on the Monitoring page.

    Example: caselens monitor report --model readmission-30d --from 2026-01 --out q.html
    """
    if out.exists():
        raise click.ClickException(f"{out} already exists; name a new file.")
    bundle = _bundle(model, models_dir)
    with open_door("monitor report", as_role, bundles=[bundle]) as door:
        report = door.workflow.monitoring_report(
            door.session,
            bundle.model_id,
            run_id=run_id,
            first=first,
            last=last,
            plan_file=plan_file,
        )
    try:
        out.write_bytes(report.data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    label = " (SIMULATED)" if run_id else ""
    click.echo(
        f"Wrote {out}{label}: {report.entries} period(s), {report.detail['alerts']} alert(s) "
        f"(audit entry {report.seq})."
    )


@monitor.command("simulate")
@click.option("--model", required=True, help="Model id.")
@click.option("--months", default=6, show_default=True, help="Months to simulate.")
@click.option("--per-month", default=2000, show_default=True, help="Predictions per month.")
@click.option(
    "--shift",
    "shift_texts",
    multiple=True,
    help="KIND[:VARIABLE[=GROUP]][@MONTH][*AMOUNT], e.g. missing:num_lab_procedures@3*0.5; "
    "kinds: mix, shift, missing, calibration, subgroup (repeatable).",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--start", default="2025-01", show_default=True, help="First month (YYYY-MM).")
@click.option(
    "--unless-present",
    is_flag=True,
    help="Do nothing if the trail already holds a simulated run of this model (make run uses "
    "it to seed one demo history, once).",
)
@_models_option
@_plan_option
def monitor_simulate(
    model, months, per_month, shift_texts, seed, start, unless_present, models_dir, plan_file
) -> None:
    """Write simulated predictions and outcomes (flagged simulated, never displays), with
    one monitoring_simulated audit entry; prints the run id to judge with --simulated.

    Example: caselens monitor simulate --model readmission-30d --shift calibration@4
    """
    import datetime as dt

    from caselens.audit import AuditError, open_trail
    from caselens.model.monitoring_plan import plan_for
    from caselens.monitoring.simulate import parse_shift, simulate_months, write_simulation

    try:
        bundle = _bundle(model, models_dir)
        plan = plan_for(bundle, plan_file)
        shifts = [parse_shift(s) for s in shift_texts]
        sim = simulate_months(
            bundle,
            months=months,
            per_month=per_month,
            shifts=shifts,
            seed=seed,
            start=dt.date.fromisoformat(f"{start}-01"),
        )
        with open_trail() as trail:
            if unless_present:
                from caselens.monitoring.figures import simulated_runs
                from caselens.monitoring.tables import ready_engine

                present = simulated_runs(ready_engine(trail), model)
                if present:
                    click.echo(f"A simulated run of {model} is already there ({present[0]}).")
                    return
            run = write_simulation(trail, bundle, sim, plan=plan, shifts=shifts, seed=seed)
    except (CaseLensError, AuditError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"SIMULATED run {run.run_id}: {run.predictions} predictions and {run.outcomes} "
        f"outcomes over {', '.join(run.months)} (audit entry {run.seq})."
    )
    for text in run.shifts:
        click.echo(f"  shift: {text}")
    click.echo(f"Judge it: caselens monitor check --model {model} --simulated {run.run_id}")


@monitor.command("rates")
@click.option("--model", required=True, help="Model id.")
@click.option("--runs", default=200, show_default=True, help="Simulations per scenario.")
@click.option("--months", default=6, show_default=True, help="Months per unshifted run.")
@click.option("--per-month", default=2000, show_default=True)
@click.option(
    "--shift",
    "shift_texts",
    multiple=True,
    help="A shift to measure detection for (as for simulate; repeatable).",
)
@_models_option
@_plan_option
def monitor_rates(model, runs, months, per_month, shift_texts, models_dir, plan_file) -> None:
    """Measure the false-alarm rate (unshifted runs with any alert in any month) and the
    detection rate of each shift in the month it starts; nothing is written.

    Example: caselens monitor rates --model readmission-30d --runs 200 --shift calibration@3
    """
    from caselens.model.monitoring_plan import plan_for
    from caselens.monitoring.simulate import operating_rates, parse_shift

    try:
        bundle = _bundle(model, models_dir)
        rates = operating_rates(
            bundle,
            plan_for(bundle, plan_file),
            runs=runs,
            months=months,
            per_month=per_month,
            shifts=[parse_shift(s) for s in shift_texts],
        )
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(rates.as_dict(), indent=1))
