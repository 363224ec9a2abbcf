"""Reproducible builds of the sample model bundles (``caselens samples build``).

Each sample model has two versions, each its own bundle folder under ``sample_models``: the
first (folder = model id) and a second (folder ``<model id>-v2``) built by the same recipe
with a stated change. The catalogue takes the first folder by name as a model's first
version, which demo mode registers live and approves; the second is loaded, not registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caselens.authoring.fhir_mapping_file import merge_fhir_mappings, read_fhir_mapping_file
from caselens.authoring.samples import heart_disease, heart_disease_v2, readmission, readmission_v2
from caselens.authoring.samples._common import Progress
from caselens.model.bundle import ModelBundle, create_bundle
from caselens.model.bundle_signing import BundleSigner, sign_bundle

__all__ = [
    "DEMO_PUBLISHER",
    "SAMPLES",
    "SAMPLE_BUILDERS",
    "SAMPLE_CHANGE_REASONS",
    "SAMPLE_FHIR_MAPPINGS",
    "SampleRecipe",
    "build_samples",
]

#: The publisher named in the samples' signature: a demonstration key, labelled as such.
DEMO_PUBLISHER = "CaseLens demo publisher (demo key, not secret)"

#: Each sample model's first version's builder, by model id.
SAMPLE_BUILDERS = {
    readmission.MODEL_ID: readmission.build,
    heart_disease.MODEL_ID: heart_disease.build,
}
#: Each sample's FHIR mapping file (docs/fhir-mapping.md explains every choice).
SAMPLE_FHIR_MAPPINGS: dict[str, Path] = {
    readmission.MODEL_ID: Path(__file__).with_name("readmission_fhir.json"),
    heart_disease.MODEL_ID: Path(__file__).with_name("heart_disease_fhir.json"),
}


@dataclass(frozen=True)
class SampleRecipe:
    """How one sample bundle folder is built.

    Attributes
    ----------
    folder : str
        The bundle folder's name under the models folder.
    model_id : str
        The model id the bundle serves (shared by a model's versions).
    build : callable
        ``build(datasets, progress)`` → the parts :func:`create_bundle` takes.
    fhir_mappings : tuple of Path
        Mapping files merged in order (a later version's file adds its new inputs).
    change_reason : str or None
        What changed since the first version and why (the model owner's words when the
        version is registered); None for a first version.
    """

    folder: str
    model_id: str
    build: Callable[[Path, Progress], dict[str, Any]]
    fhir_mappings: tuple[Path, ...]
    change_reason: str | None = None


_V2_FHIR = Path(__file__).with_name("readmission_v2_fhir.json")
#: Every sample bundle folder, first versions first (the order they are built in).
SAMPLES: tuple[SampleRecipe, ...] = (
    SampleRecipe(
        readmission.MODEL_ID,
        readmission.MODEL_ID,
        readmission.build,
        (SAMPLE_FHIR_MAPPINGS[readmission.MODEL_ID],),
    ),
    SampleRecipe(
        heart_disease.MODEL_ID,
        heart_disease.MODEL_ID,
        heart_disease.build,
        (SAMPLE_FHIR_MAPPINGS[heart_disease.MODEL_ID],),
    ),
    SampleRecipe(
        readmission_v2.FOLDER,
        readmission_v2.MODEL_ID,
        readmission_v2.build,
        (SAMPLE_FHIR_MAPPINGS[readmission.MODEL_ID], _V2_FHIR),
        readmission_v2.CHANGE_REASON,
    ),
    SampleRecipe(
        heart_disease_v2.FOLDER,
        heart_disease_v2.MODEL_ID,
        heart_disease_v2.build,
        (SAMPLE_FHIR_MAPPINGS[heart_disease.MODEL_ID],),
        heart_disease_v2.CHANGE_REASON,
    ),
)
#: The second versions' stated reasons for their change, by bundle folder name.
SAMPLE_CHANGE_REASONS: dict[str, str] = {
    r.folder: r.change_reason for r in SAMPLES if r.change_reason is not None
}


def build_samples(
    assets: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    progress: Callable[[str], None] = print,
    signer: BundleSigner | None = None,
) -> list[ModelBundle]:
    """Rebuild the sample bundles from the datasets in ``assets/datasets`` into ``out``;
    with ``signer`` (the demo publisher key), each is signed as :data:`DEMO_PUBLISHER`.

    ``only`` names bundle folders to build (``heart-disease`` is the first version only,
    ``heart-disease-v2`` the second); None builds all four.
    """
    bundles = []
    for recipe in SAMPLES:
        if only and recipe.folder not in only:
            continue
        progress(f"Building {recipe.folder} ({recipe.model_id})")
        parts = recipe.build(assets / "datasets", progress)
        mappings: dict[str, Any] = {}
        for path in recipe.fhir_mappings:
            mappings.update(read_fhir_mapping_file(path))
        parts["features"] = merge_fhir_mappings(parts["features"], mappings)
        bundle = create_bundle(path=out / recipe.folder, overwrite=True, **parts)
        if signer is not None:
            sign_bundle(out / recipe.folder, signer, publisher=DEMO_PUBLISHER)
        figures = bundle.card.validation.overall
        progress(
            f"  wrote {out / recipe.folder}: test AUROC {figures.auroc}, Brier {figures.brier}, "
            f"calibration {bundle.card.calibration.method}"
        )
        bundles.append(bundle)
    return bundles
