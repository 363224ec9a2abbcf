"""Test helper: a real second version of the heart sample, for shadow scoring."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from caselens.model.bundle import ModelBundle, load_bundle
from caselens.settings import SAMPLE_MODELS_DIR

HEART = "heart-disease"
#: The candidate's decision threshold (the live heart card's is 0.5).
CANDIDATE_THRESHOLD = 0.4


def candidate_copy(folder: Path, *, threshold: float = CANDIDATE_THRESHOLD) -> ModelBundle:
    """A copy of the heart sample with another decision threshold and card version: the
    same model file, another bundle SHA-256 (a real second version of the model id)."""
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, folder)
    card_file = folder / "card.json"
    card = json.loads(card_file.read_text())
    card["decision_threshold"] = threshold
    card["validation"]["threshold_used"] = threshold
    card["version"] = "1.1.0"
    card_file.write_text(json.dumps(card, indent=2))
    return load_bundle(folder)
