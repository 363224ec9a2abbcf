"""Test helper: a second version of a sample bundle, made by editing a copy of its folder.

The copy keeps the sample's model file (its SHA-256 still matches the card) and changes what a
retrained version's owner would change: the decision threshold, an input's accepted range and
a card text. Its bundle SHA-256 differs from the sample's, so the catalogue holds it as
another version of the same model id.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from caselens.model.bundle import ModelBundle, load_bundle
from caselens.settings import SAMPLE_MODELS_DIR

#: What :func:`edited_version` changes in the heart-disease sample.
NEW_THRESHOLD = 0.4
NEW_AGE_MAX = 110.0
NEW_INTENDED_USE = (
    "Research and teaching demonstration of explainable risk estimates before a coronary "
    "angiography (version 1.1: threshold lowered to favour sensitivity)."
)
NEW_CARD_VERSION = "1.1.0"


def edited_version(target: Path, model_id: str = "heart-disease") -> ModelBundle:
    """Copy the sample ``model_id`` to ``target``, edit it as a version 1.1.0 would be, load it."""
    shutil.copytree(SAMPLE_MODELS_DIR / model_id, target)
    # The publisher's signature covers the old files; the edited copy is simply unsigned.
    (target / "signature.json").unlink(missing_ok=True)
    card = json.loads((target / "card.json").read_text())
    card["version"] = NEW_CARD_VERSION
    card["decision_threshold"] = NEW_THRESHOLD
    card["validation"]["threshold_used"] = NEW_THRESHOLD
    card["intended_use"] = NEW_INTENDED_USE
    (target / "card.json").write_text(json.dumps(card, indent=1))
    features = json.loads((target / "features.json").read_text())
    age = next(f for f in features["features"] if f["name"] == "age")
    age["hard_max"] = NEW_AGE_MAX
    (target / "features.json").write_text(json.dumps(features, indent=1))
    return load_bundle(target)
