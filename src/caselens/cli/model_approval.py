"""``caselens model register|approve|shadow|retire``: the model lifecycle's acts, through the
workflow door as a named operator (``operator:<OS user>``), checked and recorded as on the
Model status page.

Decision rights: a model owner registers a version (with the reason), runs it in shadow and
retires versions; a model owner or an administrator **who did not register it** approves it,
with an expiry date, the audit entries it rests on and the card's scope confirmed. The OS
user is the person: the one who registered a version cannot approve it from the command
line either.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from caselens.cli.door import as_option, open_door
from caselens.cli.model import model

_models_option = click.option(
    "--models-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of model bundles (default: CASELENS_MODELS_DIR, else the sample models).",
)


def _door(command: str, role: str, models_dir: Path | None):
    env = {"CASELENS_MODELS_DIR": str(models_dir)} if models_dir is not None else None
    return open_door(f"model {command}", role, trail_env=env, all_models=True)


def _named(version) -> str:
    return f"version {version.card_version} ({version.bundle_sha256[:12]})"


@model.command("register")
@click.argument("model_id")
@click.argument("sha")
@click.option("--reason", required=True, help="Why this version (10 to 2000 characters).")
@_models_option
@as_option("model_owner")
def model_register(model_id: str, sha: str, reason: str, models_dir, as_role: str) -> None:
    """Register a loaded version of MODEL_ID (SHA: its bundle SHA-256, or its first 12 or
    more characters) as a candidate, with the reason for the change. Recorded as
    ``model_version_registered``; you may not approve it yourself.

    Example: caselens model register heart-disease 3f2a9c0d1e2b --reason "Recalibrated on 2026 data"
    """
    with _door("register", as_role, models_dir) as door:
        version = door.workflow.register_version(door.session, model_id, sha, reason)
    click.echo(f"Registered {_named(version)} of {model_id} as a candidate.")


@model.command("approve")
@click.argument("model_id")
@click.argument("sha")
@click.option(
    "--until",
    "until",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The last day the approval holds (YYYY-MM-DD; at most 730 days ahead).",
)
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.IntRange(min=1),
    help="An audit entry number the approval rests on (a monitoring view or report, a "
    "shadow comparison); repeat for more. The version's validation figures are added.",
)
@click.option(
    "--confirm-scope",
    is_flag=True,
    default=False,
    help="Confirm the scope: the intended use and population the version's card states.",
)
@_models_option
@as_option("admin")
def model_approve(
    model_id: str, sha: str, until: dt.datetime, evidence, confirm_scope: bool, models_dir, as_role
) -> None:
    """Approve a registered version of MODEL_ID for live use until a date. A promotion (another
    version is live) must cite a shadow comparison of this version against the live one; a
    renewal must cite monitoring evidence newer than the last approval. Recorded as
    ``model_version_approved``.

    Example: caselens model approve heart-disease 3f2a9c0d1e2b --until 2027-06-30 --confirm-scope
    """
    with _door("approve", as_role, models_dir) as door:
        approval = door.workflow.approve_version(
            door.session,
            model_id,
            sha,
            expires_on=until.date(),
            evidence_entries=list(evidence),
            scope_confirmed=confirm_scope,
        )
    click.echo(
        f"Approved {model_id} {approval.bundle_sha256[:12]} until "
        f"{until:%Y-%m-%d} (approval {approval.approval_id}, entry {approval.audit_seq})."
    )


@model.command("shadow")
@click.argument("model_id")
@click.argument("sha")
@click.option("--on/--off", "on", required=True, help="Start or stop the shadow run.")
@_models_option
@as_option("model_owner")
def model_shadow(model_id: str, sha: str, on: bool, models_dir, as_role: str) -> None:
    """Start (--on) or stop (--off) a registered candidate's shadow run: scored beside the
    live version on every case, logged as never shown. Recorded.

    Example: caselens model shadow heart-disease 3f2a9c0d1e2b --on
    """
    with _door("shadow", as_role, models_dir) as door:
        version = door.workflow.set_shadow(door.session, model_id, sha, on)
    state = "runs in shadow" if on else "no longer runs in shadow"
    click.echo(f"{model_id} {_named(version)} {state}.")


@model.command("retire")
@click.argument("model_id")
@click.argument("sha")
@click.option("--reason", required=True, help="Why it is retired (10 to 2000 characters).")
@click.option(
    "--yes",
    "confirmed",
    is_flag=True,
    default=False,
    help="Do not ask before retiring the live version (which stops its predictions).",
)
@_models_option
@as_option("model_owner")
def model_retire(model_id: str, sha: str, reason: str, confirmed: bool, models_dir, as_role):
    """Retire a version of MODEL_ID, with the reason: its approvals end; its past reports still
    replay. Retiring the live version stops the model's predictions (you are asked to
    confirm). Recorded as ``model_version_retired``.

    Example: caselens model retire heart-disease 3f2a9c0d1e2b --reason "Superseded by 1.2.0"
    """
    with _door("retire", as_role, models_dir) as door:
        consequence = door.workflow.retirement_consequence(model_id, sha)
        if consequence and not confirmed:
            click.confirm(f"{consequence} Retire it?", abort=True, err=True)
        version = door.workflow.retire_version(
            door.session, model_id, sha, reason, stop_confirmed=bool(consequence)
        )
    click.echo(f"Retired {model_id} {_named(version)}.")


# The history and diff commands attach to the same group (one ``caselens model``).
from caselens.cli import model_versions  # noqa: E402, F401
