"""Benchmark fixtures: another model refitted on a sample's data, written as a bundle.

The benchmarks time bundles CaseLens did not tune (a cross-validated forest, an ONNX file)
on a sample's data, schema and card. A fixture's card keeps the sample's statements and
texts but its validation figures are measured here with the new model (as ``bundle
create`` checks them): a benchmark fixture, not a validated model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from caselens.model.bundle import ModelBundle, create_bundle


def fitting_rows(sample: ModelBundle) -> pd.DataFrame:
    """The rows a fixture is fitted on: the calibration split (the reference rows stay
    held out, so the card's figures can be measured on them)."""
    return sample.calibration_data if sample.calibration_data is not None else sample.reference


def write_refitted_bundle(
    sample: ModelBundle,
    model: Any,
    path: Path,
    *,
    model_type: str,
    demo_cases: bool = False,
) -> ModelBundle:
    """``model`` (fitted on :func:`fitting_rows`) as a bundle at ``path`` with the sample's
    schema, reference and calibration data, and its card with figures measured anew."""
    from caselens.model.card_check import subgroup_figures
    from caselens.model.performance import performance_figures

    names = sample.features.names
    reference = sample.reference
    y = reference["outcome"].to_numpy()
    p = model.predict_proba(reference[names])[:, 1]
    threshold = sample.card.decision_threshold
    card = sample.card.model_dump(mode="json")
    for computed in ("model_file", "model_sha256", "library_versions"):
        card.pop(computed, None)
    card["model_id"] = Path(path).name
    card["model_type"] = model_type
    card["validation"] = {
        **card["validation"],
        "overall": performance_figures(
            y, p, threshold=threshold, bootstrap=True, seed=card["random_seed"]
        ).model_dump(mode="json"),
        "subgroups": [
            s.model_dump(mode="json")
            for s in subgroup_figures(sample.features, reference, y, p, threshold=threshold)
        ],
    }
    return create_bundle(
        model,
        card=card,
        features=sample.features,
        reference=sample.reference,
        calibration_data=sample.calibration_data,
        demo_cases=sample.demo_cases if demo_cases else (),
        path=path,
        overwrite=True,
    )
