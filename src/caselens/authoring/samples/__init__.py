"""Reproducible builds of the sample model bundles (``caselens samples build``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from caselens.authoring.fhir_mapping_file import merge_fhir_mappings, read_fhir_mapping_file
from caselens.authoring.samples import heart_disease, readmission
from caselens.model.bundle import ModelBundle, create_bundle
from caselens.model.bundle_signing import BundleSigner, sign_bundle

__all__ = ["DEMO_PUBLISHER", "SAMPLE_BUILDERS", "SAMPLE_FHIR_MAPPINGS", "build_samples"]

#: The publisher named in the samples' signature: a demonstration key, labelled as such.
DEMO_PUBLISHER = "CaseLens demo publisher (demo key, not secret)"

SAMPLE_BUILDERS = {
    readmission.MODEL_ID: readmission.build,
    heart_disease.MODEL_ID: heart_disease.build,
}
#: Each sample's FHIR mapping file (docs/fhir-mapping.md explains every choice).
SAMPLE_FHIR_MAPPINGS: dict[str, Path] = {
    readmission.MODEL_ID: Path(__file__).with_name("readmission_fhir.json"),
    heart_disease.MODEL_ID: Path(__file__).with_name("heart_disease_fhir.json"),
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
    with ``signer`` (the demo publisher key), each is signed as :data:`DEMO_PUBLISHER`."""
    bundles = []
    for model_id, builder in SAMPLE_BUILDERS.items():
        if only and model_id not in only:
            continue
        progress(f"Building {model_id}")
        parts = builder(assets / "datasets", progress)
        mappings = read_fhir_mapping_file(SAMPLE_FHIR_MAPPINGS[model_id])
        parts["features"] = merge_fhir_mappings(parts["features"], mappings)
        bundle = create_bundle(path=out / model_id, overwrite=True, **parts)
        if signer is not None:
            sign_bundle(out / model_id, signer, publisher=DEMO_PUBLISHER)
        figures = bundle.card.validation.overall
        progress(
            f"  wrote {out / model_id}: test AUROC {figures.auroc}, Brier {figures.brier}, "
            f"calibration {bundle.card.calibration.method}"
        )
        bundles.append(bundle)
    return bundles
