"""Reproducible builds of the sample model bundles (``caselens samples build``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from caselens.authoring.samples import heart_disease, readmission
from caselens.model.bundle import ModelBundle, create_bundle

__all__ = ["SAMPLE_BUILDERS", "build_samples"]

SAMPLE_BUILDERS = {
    readmission.MODEL_ID: readmission.build,
    heart_disease.MODEL_ID: heart_disease.build,
}


def build_samples(
    assets: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    progress: Callable[[str], None] = print,
) -> list[ModelBundle]:
    """Rebuild the sample bundles from the datasets in ``assets/datasets`` into ``out``."""
    bundles = []
    for model_id, builder in SAMPLE_BUILDERS.items():
        if only and model_id not in only:
            continue
        progress(f"Building {model_id}")
        parts = builder(assets / "datasets", progress)
        bundle = create_bundle(path=out / model_id, overwrite=True, **parts)
        figures = bundle.card.validation.overall
        progress(
            f"  wrote {out / model_id}: test AUROC {figures.auroc}, Brier {figures.brier}, "
            f"calibration {bundle.card.calibration.method}"
        )
        bundles.append(bundle)
    return bundles
