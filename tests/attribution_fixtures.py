"""Shared set-up for the attribution tests: the real sample bundles, their backgrounds, the
demo cases, and one explained case of each bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from caselens.explain.attribution import (
    Attributions,
    explain_attributions,
    select_background,
)
from caselens.explain.cases import validate_inputs
from caselens.model.bundle import ModelBundle, load_bundle

MODEL_IDS = ("readmission-30d", "heart-disease")
#: H-08: a heart-disease demo case with a value not recorded.
HEART_CASE = 7


@pytest.fixture(scope="module")
def bundles() -> dict[str, ModelBundle]:
    return {model_id: load_bundle(f"sample_models/{model_id}") for model_id in MODEL_IDS}


@pytest.fixture(scope="module")
def backgrounds(bundles) -> dict[str, pd.DataFrame]:
    return {
        model_id: select_background(b.reference, size=100, seed=0, columns=b.features.names)
        for model_id, b in bundles.items()
    }


def case_frame(bundle: ModelBundle, index: int = 0) -> pd.DataFrame:
    return validate_inputs(bundle.demo_cases[index].inputs, bundle.features).to_frame()


def all_cases() -> list[tuple[str, int]]:
    # Read the demo files directly so every case is its own test, whatever the count.
    cases = []
    for model_id in MODEL_IDS:
        demo = json.loads(Path(f"sample_models/{model_id}/demo_cases.json").read_text("utf-8"))
        demo = demo["cases"] if isinstance(demo, dict) else demo
        cases += [(model_id, i) for i in range(len(demo))]
    return cases


@pytest.fixture(scope="module")
def readmission_result(bundles, backgrounds) -> Attributions:
    bundle = bundles["readmission-30d"]
    return explain_attributions(
        bundle.model, case_frame(bundle), backgrounds["readmission-30d"], bundle.features
    )


@pytest.fixture(scope="module")
def heart_result(bundles, backgrounds) -> Attributions:
    bundle = bundles["heart-disease"]
    return explain_attributions(
        bundle.model, case_frame(bundle, HEART_CASE), backgrounds["heart-disease"], bundle.features
    )
