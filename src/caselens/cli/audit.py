"""``caselens audit …``: verify, inspect and export the audit trail from a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from caselens.access.policy import Viewer
from caselens.audit.errors import AuditError
from caselens.audit.keys import (
    KEY_ENV,
    key_id,
    new_key,
    retire_and_replace_key,
    retired_keys_dir,
)
from caselens.audit.records import format_time
from caselens.audit.registry import KEY_REGISTRY_ENV, registry_line
from caselens.audit.store import (
    KEY_FILE_ENV,
    URL_ENV,
    AuditStore,
    default_key_file,
    open_trail,
)
from caselens.audit.verify import parse_head
from caselens.audit.witness import witness_setup_sql
from caselens.cli.door import as_option, open_door, os_user
from caselens.settings import environment
from caselens.workflow.display import record_event


def _location_option(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Server key file (default: $CASELENS_AUDIT_KEY, else $CASELENS_DATA_DIR/audit.key).",
    )(func)
    return click.option(
        "--url",
        default=None,
        help="Database URL or SQLite path (default: $CASELENS_AUDIT_URL, "
        "else $CASELENS_DATA_DIR/audit.sqlite).",
    )(func)


def _trail_env(url: str | None, key_file: Path | None) -> dict[str, str]:
    """The environment that points ``open_trail`` at ``--url`` and ``--key-file``."""
    env = environment()
    if url:
        env[URL_ENV] = url
    if key_file:
        env[KEY_FILE_ENV] = str(key_file)
    return env


@contextmanager
def _open(url: str | None, key_file: Path | None) -> Iterator[tuple[AuditStore, bytes]]:
    """Open an existing trail; every audit problem becomes a one-line ClickException."""
    try:
        store = open_trail(create=False, env=_trail_env(url, key_file))
    except AuditError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store, store.signing_key
    except AuditError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _record(store: AuditStore, action: str, detail: dict[str, Any]) -> None:
    """Record what the CLI just did (after doing it), as actor ``cli``, through the
    workflow's recording function."""
    record_event(
        store,
        Viewer("cli", f"caselens audit ({os_user()})", "system"),
        action=action,
        audience="system",
        detail=detail,
    )


def _utc_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Normalise a time option to the trail's format, so text comparison orders it right."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param=param) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


@click.group(name="audit")
def audit() -> None:
    """Verify, inspect and export the tamper-evident audit trail.

    Example: caselens audit verify --expect-head 120:3f2a…
    """


@audit.command()
@_location_option
@click.option(
    "--expect-head",
    default=None,
    metavar="COUNT:HASH",
    help="A head printed earlier by `caselens audit head`; a shorter trail is reported truncated.",
)
def verify(url: str | None, key_file: Path | None, expect_head: str | None) -> None:
    """Walk the whole trail and name the first entry that was altered, removed or moved.

    Also checks every key rotation against the key registry and compares the trail with the
    signed checkpoints and the witness (said in words). Exits 0 and prints "OK: N entries,
    head H", or exits 1 naming the first bad entry (or why the witness could not be compared).

    Example: caselens audit verify --expect-head 120:3f2a9c…
    """
    try:
        anchor = parse_head(expect_head) if expect_head else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from exc
    with _open(url, key_file) as (store, _key):
        result = store.verify(expected_head=anchor)
        detail: dict[str, Any] = {"ok": result.ok, "count": result.count, "head": result.head_hash}
        if result.broken is not None:
            detail.update(first_bad_seq=result.broken.seq, reason=result.broken.reason)
        if result.witness_problem is not None:
            detail.update(witness_problem=result.witness_problem)
        _record(store, "verified", detail)
    for warning in result.warnings:
        click.echo(f"NOTE: {warning}", err=True)
    if result.ok:
        checked = (
            f"; checked against the signed checkpoints in {store.checkpoint_file}"
            if store.checkpoint_file is not None and store.checkpoint_file.is_file()
            else ""
        )
        click.echo(result.summary() + checked)
        if result.witness:
            click.echo(result.witness)
        return
    if result.broken is None:
        click.echo(
            f"NOT CONFIRMED: the chain of {result.count} entries holds, but it could not be "
            f"compared with its witness: {result.witness_problem}",
            err=True,
        )
    else:
        b = result.broken
        click.echo(
            f"BROKEN at entry {b.seq}: {b.reason} (expected {b.expected}, found {b.found}).\n"
            f"The {result.count} entries before it are intact (head {result.head_hash}).",
            err=True,
        )
    if result.witness:
        click.echo(result.witness, err=True)
    sys.exit(1)


@audit.command()
@_location_option
def checkpoint(url: str | None, key_file: Path | None) -> None:
    """Write a signed checkpoint (entry count, head hash, time, key id) of the trail now.

    It goes to the checkpoint file and to the witness (CASELENS_AUDIT_WITNESS). The app
    writes one every 100 entries on its own; run this from a scheduler too.

    Example: caselens audit checkpoint
    """
    with _open(url, key_file) as (store, _key):
        made = store.checkpoint()
        _record(store, "checkpointed", {"count": made.count, "head": made.head_hash})
    click.echo(f"Checkpoint: {made.count} entries, head {made.head_hash}, key {made.key_id}.")
    click.echo(f"Appended to {store.checkpoint_file}.")
    if store.witness is not None:
        click.echo(f"Witnessed by {store.witness.description}.")


@audit.command("rotate-key")
@_location_option
def rotate_key(url: str | None, key_file: Path | None) -> None:
    """Start signing with a new server key; the old one is kept to verify older entries.

    A key_rotated entry, signed with the old key, records both key ids. The old key moves to
    <key file>.retired/<key id>.key; restart the app afterwards so it signs with the new key.
    Then register the new key id: add the line this command prints to the key registry
    (CASELENS_AUDIT_KEY_REGISTRY, a file kept outside the data folder); until then `verify`
    rejects the rotation. Keys given in CASELENS_AUDIT_KEY cannot be rotated here.

    Example: caselens audit rotate-key
    """
    if environment().get(KEY_ENV):
        raise click.ClickException(
            "the key comes from CASELENS_AUDIT_KEY; rotate it with a key file instead"
        )
    fresh = new_key()
    with _open(url, key_file) as (store, _key):
        path = (
            Path(key_file)
            if key_file
            else default_key_file({**environment(), **({URL_ENV: url} if url else {})})
        )
        old_id = store.key_id
        old_from = store.keyring().segments[-1][0]
        registered = store.read_key_registry()
        entry = store.rotate_key(fresh)
        retire_and_replace_key(path, fresh)
    click.echo(
        f"Key {old_id} retired (kept in {retired_keys_dir(path)}); now signing with key "
        f"{key_id(fresh)} from entry {entry.seq + 1}. Restart the app to use the new key."
    )
    registry = store.key_registry
    where = (
        f"the key registry {registry}"
        if registry is not None
        else f"a key registry file you keep outside the data folder, and set {KEY_REGISTRY_ENV} "
        "to its path"
    )
    lines = [registry_line(key_id(fresh), entry.seq + 1)]
    if registered is None or old_id not in registered.keys:
        # The retired key's own line pins who signed before the rotation.
        lines.insert(0, registry_line(old_id, old_from))
    listed = "".join(f"    {line}\n" for line in lines)
    click.echo(
        f"Register the new key now: add {'these lines' if len(lines) > 1 else 'this line'} "
        f"to {where}:\n{listed}"
        "Until it is registered, `caselens audit verify` rejects the rotation. Keep the registry "
        "where this server cannot write it; it holds key ids (fingerprints), never keys."
    )


@audit.command("witness-sql")
@click.option(
    "--role",
    required=True,
    help="The existing PostgreSQL login role the app uses for the witness (INSERT, SELECT only).",
)
def witness_sql(role: str) -> None:
    """Print the SQL a database owner runs once to create the PostgreSQL witness table.

    The table belongs to the owner; ROLE may only insert and read rows, and triggers refuse
    UPDATE, DELETE and TRUNCATE. Point CASELENS_AUDIT_WITNESS at that database as ROLE.

    Example: caselens audit witness-sql --role caselens_witness | psql -U owner caselens_witness
    """
    try:
        click.echo(witness_setup_sql(role), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from exc


@audit.command()
@_location_option
def head(url: str | None, key_file: Path | None) -> None:
    """Print the trail's head as COUNT:HASH; keep it where the app cannot rewrite it.

    Example: caselens audit head >> ~/audit-anchors.txt
    """
    with _open(url, key_file) as (store, _key):
        count, head_hash = store.head()
    click.echo(f"{count}:{head_hash}")


@audit.command()
@_location_option
@click.option(
    "--format", "fmt", type=click.Choice(["fhir", "csv"]), default="fhir", show_default=True
)
@click.option("--pseudonymise", is_flag=True, help="Replace patient ids by keyed pseudonyms.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.option(
    "--since",
    default=None,
    callback=_utc_option,
    help="Entries recorded at or after this time (ISO 8601; UTC unless it says otherwise).",
)
@click.option(
    "--until",
    default=None,
    callback=_utc_option,
    help="Entries recorded before this time (ISO 8601; UTC unless it says otherwise).",
)
@click.option("--actor", default=None, help="Only this actor id.")
@click.option("--role", default=None, help="Only this actor role.")
@click.option("--patient", default=None, help="Only this patient reference.")
@click.option("--model", default=None, help="Only this model id.")
@click.option("--action", default=None, help="Only this action (viewed, exported, …).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many entries."
)
@as_option("reviewer")
def export(
    url: str | None,
    key_file: Path | None,
    fmt: str,
    pseudonymise: bool,
    out: Path | None,
    since: str | None,
    until: str | None,
    actor: str | None,
    role: str | None,
    patient: str | None,
    model: str | None,
    action: str | None,
    limit: int | None,
    as_role: str,
) -> None:
    """Export entries as a FHIR R4 AuditEvent Bundle (JSON) or CSV.

    Checked and recorded (``exported``) through the workflow before the file is built, as
    the Audit trail page does.

    Example: caselens audit export --format fhir --patient P-0042 --pseudonymise --out audit.json
    """
    filters = {
        "since": since,
        "until": until,
        "actor_id": actor,
        "role": role,
        "patient_ref": patient,
        "model_id": model,
        "action": action,
        "limit": limit,
    }
    with open_door(
        "audit export", as_role, trail_env=_trail_env(url, key_file), create_trail=False
    ) as door:
        exported = door.workflow.export_trail(
            door.session, fmt, filters=filters, pseudonymise=pseudonymise
        )
    if out is None:
        click.echo(exported.data.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(exported.data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"Exported {exported.entries} entries to {out}", err=True)


@audit.command()
@_location_option
@click.option("--from", "first", required=True, help="First UTC day, YYYY-MM-DD (inclusive).")
@click.option("--to", "last", required=True, help="Last UTC day, YYYY-MM-DD (inclusive).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip to write.",
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Models folder whose cards go into the pack (default: $CASELENS_MODELS_DIR).",
)
@as_option("reviewer")
def evidence(
    url: str | None,
    key_file: Path | None,
    first: str,
    last: str,
    out: Path,
    models_dir: Path | None,
    as_role: str,
) -> None:
    """Write an evidence pack an outside reviewer verifies offline (docs/evidence-pack.md).

    The trail's entries of the UTC days FROM..TO, the checkpoints that cover them, the
    server's public keys, the model cards, and a manifest signed with the server's Ed25519
    key. Checked and recorded (``evidence_exported``) through the workflow.

    Example: caselens audit evidence --from 2026-03-01 --to 2026-03-31 --out march.zip
    """
    from caselens.model.catalogue import load_catalogue
    from caselens.settings import Settings, SettingsError
    from caselens.workflow.errors import WorkflowError
    from caselens.workflow.evidence import parse_day

    try:
        first_day, last_day = parse_day(first, "--from"), parse_day(last, "--to")
        folder = models_dir or Settings.from_environment(environment()).models_dir
    except (WorkflowError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
    # Only the cards are read from the bundles, but a card goes in only for a version that
    # loads and checks, as the app would serve it.
    bundles = load_catalogue(folder).bundles.values() if Path(folder).is_dir() else ()
    with open_door(
        "audit evidence",
        as_role,
        bundles=bundles,
        trail_env=_trail_env(url, key_file),
        create_trail=False,
    ) as door:
        pack = door.workflow.export_evidence_pack(door.session, first_day, last_day)
    try:
        out.write_bytes(pack.data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    counted = "1 entry" if pack.entries == 1 else f"{pack.entries} entries"
    click.echo(
        f"Wrote {out}: {counted} ({first_day} to {last_day}), "
        f"SHA-256 {pack.detail['pack_sha256']}, signed by key {pack.detail['signing_key_id']}; "
        f"recorded as entry {pack.seq}."
    )


@audit.command("verify-pack")
@click.argument("pack", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The server's public key (PEM) as published out of band; without it the key "
    "inside the pack is used, which proves only consistency.",
)
def verify_pack_command(pack: Path, public_key: Path | None) -> None:
    """Verify an evidence pack offline: no database, no settings, no secret key.

    Prints one line per check; exits 1 naming the first failing file or entry.

    Example: caselens audit verify-pack march.zip --public-key caselens-signing.pub.pem
    """
    from caselens.audit.evidence_format import MAX_PACK_FILE_BYTES
    from caselens.audit.pack_verify import verify_pack
    from caselens.audit.signing_keys import read_public_key

    key = None
    if public_key is not None:
        try:
            key = read_public_key(public_key)
        except AuditError as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        size = pack.stat().st_size
        if size > MAX_PACK_FILE_BYTES:
            raise click.ClickException(
                f"{pack} is {size} bytes; an evidence pack is at most {MAX_PACK_FILE_BYTES}"
            )
        data = pack.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {pack}: {exc.strerror or exc}") from exc
    report = verify_pack(data, public_key=key)
    for check in report.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.message}")
    failure = report.first_failure
    if failure is not None:
        raise click.ClickException(f"the pack does not verify: {failure.name}: {failure.message}")
    click.echo(f"The pack verifies (signing key {report.signing_key_id}).")
