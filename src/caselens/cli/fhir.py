"""``caselens fhir …``: synthetic FHIR records for demonstrations and tests (never a patient's).

``caselens fhir synthetic`` writes a FHIR R4 Bundle holding a bundle's demo case where the
model's FHIR mapping reads it (:func:`caselens.fhir.synthetic.synthetic_record`), optionally with
problems made on purpose, to upload on the Case page or to read with the library. Reading a real
patient's record is a display of their data and goes through the workflow door (the app), not
through a command.
"""

from __future__ import annotations

import datetime
import json
import sys
import typing
from pathlib import Path

import click

from caselens.errors import CaseLensError


@click.group()
def fhir() -> None:
    """Synthetic FHIR records of a model's demo cases (test and demo data).

    Example: caselens fhir synthetic --model heart-disease --case H-03 --out h03.fhir.json
    """


def _variants(pairs: tuple[str, ...], names: list[str]) -> dict[str, str]:
    from caselens.fhir.synthetic import Variant

    allowed = typing.get_args(Variant)
    chosen: dict[str, str] = {}
    for pair in pairs:
        name, sep, variant = pair.partition("=")
        if not sep or name not in names or variant not in allowed:
            raise click.BadParameter(
                f"expected INPUT=VARIANT with an input of the model and one of "
                f"{', '.join(allowed)}; got {pair[:80]!r}.",
                param_hint="--variant",
            )
        chosen[name] = variant
    return chosen


@fhir.command("synthetic")
@click.option(
    "--model",
    "model_id",
    default="heart-disease",
    show_default=True,
    help="Bundle folder name in CASELENS_MODELS_DIR.",
)
@click.option("--case", "case_id", default=None, help="Demo case id (default: the first).")
@click.option(
    "--case-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the case is about (default: today, UTC).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--variant",
    "variant_pairs",
    multiple=True,
    metavar="INPUT=VARIANT",
    help="A problem made on purpose, e.g. cholesterol=other_unit (repeatable).",
)
@click.option(
    "--bundle-type",
    type=click.Choice(["searchset", "collection", "transaction"]),
    default="searchset",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here (default: standard output).",
)
def synthetic_command(
    model_id: str,
    case_id: str | None,
    case_date: datetime.datetime | None,
    seed: int,
    variant_pairs: tuple[str, ...],
    bundle_type: str,
    out: Path | None,
) -> None:
    """Write a synthetic FHIR R4 Bundle of a demo case (no real patient), built with the R4B
    models; inputs the mapping cannot express (or enters by hand) are left out.

    Example: caselens fhir synthetic --case H-03 --variant cholesterol=stale --out h03.json
    """
    from caselens.fhir.synthetic import synthetic_record, writable
    from caselens.model.bundle import load_feature_schema
    from caselens.model.bundle_layout import DEMO_CASES_FILE, FEATURES_FILE
    from caselens.settings import Settings

    folder = Settings.from_environment().models_dir / model_id
    try:
        schema = load_feature_schema(folder / FEATURES_FILE)
        cases = json.loads((folder / DEMO_CASES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"No readable bundle '{model_id}' in {folder.parent}: {exc}"
        ) from exc
    chosen = next((c for c in cases if case_id in (None, c.get("case_id"))), None)
    if chosen is None:
        known = ", ".join(str(c.get("case_id")) for c in cases)
        raise click.ClickException(f"No demo case '{case_id}' in {model_id} (it has: {known}).")
    values = {k: v for k, v in chosen["inputs"].items() if k in schema and writable(schema[k], v)}
    day = case_date.date() if case_date else datetime.datetime.now(datetime.UTC).date()
    try:
        data = synthetic_record(
            schema,
            values,
            case_date=day,
            seed=seed,
            variants=_variants(variant_pairs, schema.names),  # type: ignore[arg-type]
            bundle_type=bundle_type,  # type: ignore[arg-type]
            patient_id=f"synthetic-{str(chosen.get('case_id', 'case')).lower()}",
        )
    except (CaseLensError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if out is None:
        sys.stdout.write(data.decode("utf-8") + "\n")
    else:
        out.write_bytes(data)
        click.echo(f"Wrote {out} ({len(data):,} bytes, {len(values)} inputs from the record).")
