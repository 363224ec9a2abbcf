"""The commands' way through the workflow door: a named operator, checked and recorded as
in the app.

A command that acts or shows (add or unlock an account, import or correct outcomes, check or
report on monitoring, export the trail) builds the same :class:`~caselens.workflow.Workflow`
the app builds, signs in an operator viewer ``operator:<OS user>`` with the role the command
needs (``--as`` names another role, which the access policy then judges), and makes one
workflow call: the policy check, the audit entry and the refusal are the app's own.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from caselens.errors import CaseLensError

#: The roles an operator can act in (``--as``); the access policy decides what each may do.
OPERATOR_ROLES = ("clinician", "patient", "reviewer", "admin", "model_owner")
#: The prefix of every operator's user id, so the trail tells a command from a person's click.
OPERATOR_PREFIX = "operator:"


def os_user() -> str:
    """The operating-system user running the command (named in the trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER: still record, anonymously
        return "unknown user"


def operator_viewer(role: str, command: str) -> Any:
    """The viewer a command acts as: ``operator:<OS user>`` in ``role``."""
    from caselens.access.policy import Viewer

    user = os_user()
    return Viewer(f"{OPERATOR_PREFIX}{user}", f"{user} (caselens {command})", role)


def as_option(default_role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--as ROLE`` option: the role the operator acts in (default: the role the policy
    lets do this command)."""
    return click.option(
        "--as",
        "as_role",
        type=click.Choice(OPERATOR_ROLES),
        default=default_role,
        show_default=True,
        help="The role you act in; the access policy checks it and the trail records it "
        "(user id operator:<your OS user>).",
    )


@dataclass
class Door:
    """An open workflow and a session signed in as the operator."""

    workflow: Any
    session: Any


@contextmanager
def open_door(
    command: str,
    role: str,
    *,
    bundles: Iterable[Any] = (),
    trail_env: dict[str, str] | None = None,
    create_trail: bool = True,
    all_models: bool = False,
) -> Iterator[Door]:
    """Build the workflow over the configured stores through the app's runtime
    (:class:`caselens.runtime.Runtime`) with the operator signed in; every problem opening
    them, and every refusal or error of the workflow call, becomes a one-line
    ClickException. ``bundles``: the models the command reads (an
    account or trail command reads none, so none is loaded); ``all_models``: the whole
    models folder instead, every version."""
    from caselens.audit import AuditError
    from caselens.model.bundle import BundleCatalogue
    from caselens.runtime import Runtime
    from caselens.settings import Settings, SettingsError, environment
    from caselens.workflow import UserSession

    try:
        # The same settings and wiring as the app (caselens.runtime); an audit command's
        # --url/--key-file take the place of the audit variables.
        settings = Settings.from_environment({**environment(), **environment(trail_env or {})})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    # ``all_models``: the models folder as the app loads it, every version of each model id
    # (the model lifecycle commands act on versions).
    catalogue = (
        None
        if all_models
        else BundleCatalogue(bundles={b.model_id: b for b in bundles}, refused={})
    )
    runtime = Runtime.from_settings(
        settings, background=False, catalogue=catalogue, create_trail=create_trail
    )
    try:
        try:
            workflow = runtime.workflow
        except (AuditError, CaseLensError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            yield Door(workflow, UserSession(viewer=operator_viewer(role, command)))
        except (AuditError, CaseLensError) as exc:
            raise click.ClickException(str(exc)) from exc
    finally:
        runtime.close()
