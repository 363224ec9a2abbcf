"""``caselens users …``: local accounts in the app database."""

from __future__ import annotations

import click

from caselens.access.policy import ROLES
from caselens.cli.door import as_option, open_door


@click.group()
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
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--patient-ref", default=None, help="For a patient: their record id.")
@click.option("--patient-model", default=None, help="For a patient: the model of that record.")
@click.option(
    "--language",
    default="en",
    show_default=True,
    type=click.Choice(["en", "es", "fr"]),
    help="The language of the account's patient page.",
)
@as_option("admin")
@click.password_option()
def users_add(
    user_id: str,
    name: str,
    role: str,
    patient_ref: str | None,
    patient_model: str | None,
    language: str,
    as_role: str,
    password: str,
) -> None:
    """Add a local account (the password is asked for and stored as an argon2 hash).

    Checked and recorded (``user_added``) through the workflow, as the Users page does.

    Example: caselens users add dr.ng --name "Dr. Ng" --role clinician
    """
    with open_door("users add", as_role) as door:
        account = door.workflow.add_user(
            door.session,
            user_id,
            name=name,
            role=role,
            password=password,
            patient_ref=patient_ref,
            patient_model_id=patient_model,
            language=language,
        )
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
@as_option("admin")
def users_unlock(user_id: str, as_role: str) -> None:
    """Clear an account's sign-in back-off (recorded in the audit trail first, as the Users
    page does).

    Example: caselens users unlock dr.lee
    """
    with open_door("users unlock", as_role, create_trail=False) as door:
        door.workflow.unlock_user(door.session, user_id)
    click.echo(f"Unlocked {user_id}: its failed sign-in attempts are cleared.")
