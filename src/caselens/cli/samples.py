"""``caselens samples …``: rebuild the sample model bundles from the public datasets."""

from __future__ import annotations

from pathlib import Path

import click

from caselens.errors import CaseLensError
from caselens.settings import ASSETS_DIR, SAMPLE_MODELS_DIR

#: The demo publisher's private key: committed, so NOT secret; it signs the samples only.
DEMO_PUBLISHER_PRIVATE_KEY = ASSETS_DIR / "demo-publisher.key.pem"


@click.group()
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
@click.option(
    "--only",
    multiple=True,
    help="Build only this bundle folder (repeatable): heart-disease, heart-disease-v2, "
    "readmission-30d or readmission-30d-v2.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Build into a temporary folder and compare with the bundles in --out instead of "
    "overwriting them; exits 1 if they do not reproduce.",
)
def samples_build(assets: Path, out: Path, only: tuple[str, ...], check: bool) -> None:
    """Rebuild the sample bundles (both versions of each sample model) from the public
    datasets, reproducibly (fixed seeds), and sign each with the demo publisher key
    (assets/demo-publisher.key.pem: not secret).

    With --check, nothing is overwritten: data files and feature schemas must be
    byte-identical, the card identical but for the model hash, and the rebuilt model's
    probabilities within the numeric tolerance of the committed one's on every reference
    row. Whether model.skops is byte-identical (it is on the CPU and BLAS that built it)
    is printed.

    Example: caselens samples build --only heart-disease-v2 --check
    """
    import tempfile

    from caselens.audit.signing_keys import parse_private_key
    from caselens.authoring.samples import build_samples
    from caselens.authoring.samples.reproducibility import compare_sample

    try:
        if not check:
            # Parsed from bytes: a committed demo key is world-readable by design.
            demo_key = parse_private_key(
                DEMO_PUBLISHER_PRIVATE_KEY.read_bytes(), source=str(DEMO_PUBLISHER_PRIVATE_KEY)
            )
            build_samples(
                assets, out, only=list(only) or None, progress=click.echo, signer=demo_key
            )
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
