"""``caselens model versions|diff``: a model's versions, through the workflow door (as the
Model facts page reads them).

``model versions MODEL_ID`` lists every version (live first) with its state, who registered it
and why, its approval and whether its folder is in the models folder; ``model diff MODEL_ID
OLDER NEWER`` prints the computed diff of two versions (a version is named by its bundle
SHA-256 or a unique prefix of it). Both read model facts: checked by the access policy, not
recorded (a refusal is recorded). The commands attach to the ``model`` group of :mod:`.model`.
"""

from __future__ import annotations

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
    """The door over the whole models folder, every version of each model id loaded and
    checked as the app loads them (a refused folder is left out, as in the app)."""
    env = {"CASELENS_MODELS_DIR": str(models_dir)} if models_dir is not None else None
    return open_door(f"model {command}", role, trail_env=env, all_models=True)


@model.command("versions")
@click.argument("model_id")
@_models_option
@as_option("reviewer")
def versions(model_id: str, models_dir: Path | None, as_role: str) -> None:
    """Every version of MODEL_ID: state, approval, registration and reason, live first.

    Versions registered in the app database are listed with whether their bundle folder is
    in the models folder; folders of MODEL_ID that are not registered are listed last as
    "Loaded, not registered".

    Example: caselens model versions heart-disease
    """
    with _door("versions", as_role, models_dir) as door:
        history = door.workflow.model_versions(door.session, model_id)
    standing = history.standing
    if standing.may_predict and standing.live is not None and standing.approval is not None:
        click.echo(
            f"{history.model_name} ({history.model_id}): shows predictions; version "
            f"{standing.live.card_version} ({standing.live.bundle_sha256[:12]}) is live, "
            f"approved by {standing.approval.approved_by} until "
            f"{standing.approval.expires_at:%Y-%m-%d}."
        )
    else:
        click.echo(f"{history.model_name} ({history.model_id}): {standing.message}")
    for row in history.versions:
        click.echo("")
        click.echo(f"{row.card_version} ({row.bundle_sha256})  {row.state_words}")
        click.echo(f"  approval: {row.approval}")
        if row.registered_by and row.registered_at:
            click.echo(f"  registered by {row.registered_by} on {row.registered_at:%Y-%m-%d}")
        where = "loaded" if row.loaded else "not loaded on this server"
        click.echo(f"  folder: {row.folder} ({where})")
        if row.change_reason:
            click.echo(f"  reason: {row.change_reason}")


@model.command("diff")
@click.argument("model_id")
@click.argument("older")
@click.argument("newer")
@click.option("--full", is_flag=True, help="Print every change's before and after in full.")
@_models_option
@as_option("reviewer")
def diff(
    model_id: str, older: str, newer: str, full: bool, models_dir: Path | None, as_role: str
) -> None:
    """The computed diff of two versions of MODEL_ID, grouped by section, with the owner's
    stated reason for the newer one.

    OLDER and NEWER are bundle SHA-256s or unique prefixes of at least 4 characters (as
    ``caselens model versions`` lists them). Both bundle folders must be in the models
    folder.

    Example: caselens model diff heart-disease 43a84aa9 7518982d
    """
    with _door("diff", as_role, models_dir) as door:
        compared = door.workflow.version_diff(door.session, model_id, older, newer)
    old, new = compared.older, compared.newer
    click.echo(
        f"{model_id}: {old.card_version} ({old.short_sha}, {old.state_words.lower()}) → "
        f"{new.card_version} ({new.short_sha}, {new.state_words.lower()})"
    )
    reason = compared.newer_reason or "none (this version is not registered)"
    click.echo(f"Reason stated by the owner: {reason}")
    changes = compared.diff.changes
    if not changes:
        click.echo("No changes: the two versions read the same in every section.")
        return
    hint = "" if full else " (--full prints every before and after)"
    click.echo(f"{len(changes)} change{'s' if len(changes) != 1 else ''}{hint}.")
    for section, found in compared.diff.by_section().items():
        click.echo("")
        click.echo(section)
        for change in found:
            click.echo(f"  - {change.words}")
            if full:
                click.echo(f"      before: {change.before}")
                click.echo(f"      after:  {change.after}")
