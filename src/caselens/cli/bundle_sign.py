"""``caselens bundle sign`` and ``caselens bundle verify``: a publisher's signature over
every file of a bundle folder (format and reasoning: docs/bundle-signing.md)."""

from __future__ import annotations

from pathlib import Path

import click

from caselens.cli.bundle import bundle
from caselens.errors import CaseLensError


@bundle.command("sign")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The publisher's Ed25519 private key (PKCS#8 PEM, mode 0600), as "
    "`openssl genpkey -algorithm ed25519` writes it.",
)
@click.option(
    "--publisher",
    required=True,
    help="Who publishes the bundle, as Model facts will show it (e.g. 'Cardiology ML team').",
)
def bundle_sign(path: Path, key_file: Path, publisher: str) -> None:
    """Write signature.json into the bundle folder: the SHA-256 of every other file, the
    publisher, the key id and the time, signed with the key. Refuses links, subfolders and
    oversized files.

    Example: caselens bundle sign my-bundle --key publisher.key.pem --publisher "ML team"
    """
    from caselens.audit.signing_keys import read_private_key
    from caselens.model.bundle_signing import sign_bundle

    try:
        signer = read_private_key(key_file)
        written = sign_bundle(path, signer, publisher=publisher)
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Signed {path.name} as {publisher.strip()} with key {signer.key_id}: {written}")


@bundle.command("verify")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A trusted publisher public key (PEM; repeatable). Default: the operator's "
    "trusted keys (CASELENS_TRUSTED_BUNDLE_KEYS; in demo mode also the demo key).",
)
def bundle_verify(path: Path, public_keys: tuple[Path, ...]) -> None:
    """Exit 0 only when every file matches a manifest signed by a trusted key, not revoked;
    otherwise exit 1 naming the file (changed, missing, added) or the key (unknown,
    revoked, a signature that does not match the manifest).

    Example: caselens bundle verify sample_models/heart-disease --public-key
    sample_models/demo-publisher.pub.pem
    """
    from caselens.model.bundle_signing import check_bundle_signature
    from caselens.runtime import bundle_trust
    from caselens.settings import Settings

    try:
        trust = bundle_trust(Settings.from_environment(), public_keys=public_keys)
        verdict = check_bundle_signature(path, trust)
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    if verdict.status != "trusted":
        if verdict.status == "unsigned":
            raise click.ClickException(f"{path.name} is not signed (it has no signature.json).")
        raise click.ClickException(f"{path.name} does not verify: {verdict.problem}.")
    click.echo(f"OK: {path.name} — {verdict.sentence()}")
