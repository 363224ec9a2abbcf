"""Version 2 of the ``readmission-30d`` sample (folder ``readmission-30d-v2``): an added input
and a changed threshold.

Built by version 1's recipe (:func:`.readmission.fit_and_describe`: same CSV and checksum,
same cohort, same patient-disjoint split and seed, same booster settings and calibration
choice), with one more input — glipizide, a diabetes medicine column the dataset has and
version 1 does not use — and the decision threshold moved from 20% to 25%. The new input
allows a missing value, so a case recorded for version 1 (which lacks it) can still be scored
by version 2 in shadow: the booster sends a missing value down its learned missing-value
branch (an input never missing in training goes to the larger child). The model id stays
``readmission-30d``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from caselens.authoring.samples import readmission
from caselens.authoring.samples._common import Progress
from caselens.authoring.samples._versions import second_version_card
from caselens.authoring.samples.patient_texts import inputs_in
from caselens.authoring.samples.readmission_card import READMISSION_CHANGEABLE_INPUTS
from caselens.authoring.samples.readmission_data import MEDICATION
from caselens.authoring.samples.readmission_texts import MEDICINE_WORDS, READMISSION

MODEL_ID = readmission.MODEL_ID
FOLDER = "readmission-30d-v2"
#: Version 1's seed: split, booster, calibration folds and bootstrap are version 1's.
SEED = readmission.SEED
THRESHOLD = 0.25
ADDED_INPUT = "glipizide"
#: The added input, as a row of the feature table (name, clinical label, patient label,
#: description, categories, missing allowed).
ADDED = (
    (
        ADDED_INPUT,
        "Glipizide",
        "Glipizide (a diabetes pill)",
        "Glipizide prescription and dose change during the stay.",
        tuple(MEDICATION.values()),
        True,
    ),
)
#: The owner's stated reason for the change (kept with the version's registration).
CHANGE_REASON = (
    "Version 2.0.0 adds one input, glipizide (prescription and dose change during the stay, "
    "from the same dataset; a missing value is allowed so that cases recorded without it can "
    "still be scored), and raises the decision threshold from 20% to 25% so that fewer "
    "patients are flagged for a follow-up call. Same data, cohort, split, booster settings "
    "and seeds as version 1."
)
_PATIENT_LABELS = {
    "en": "Glipizide, a diabetes pill",
    "es": "Glipizida, una pastilla para la diabetes",
    "fr": "Glipizide, un comprimé pour le diabète",
}


def _patient_texts() -> dict[str, Any]:
    """Version 1's patient texts with the added input worded in each language."""
    added = {
        ADDED_INPUT: {
            lang: (label, MEDICINE_WORDS[lang], None) for lang, label in _PATIENT_LABELS.items()
        }
    }
    texts = {}
    for lang, words in READMISSION["patient_texts"].items():
        texts[lang] = {**words, "inputs": {**words["inputs"], **inputs_in(added, lang)}}
    return {**READMISSION, "patient_texts": texts}


def build(assets: Path, progress: Progress) -> dict[str, Any]:
    """Fit and evaluate version 2; return everything :func:`create_bundle` needs."""
    parts = readmission.fit_and_describe(assets, progress, threshold=THRESHOLD, added=ADDED)
    reference = parts["reference"]
    flagged = float(
        np.mean(parts["model"].predict_proba(reference[parts["features"].names])[:, 1] >= THRESHOLD)
    )
    card = second_version_card(
        parts["card"],
        model_type="Histogram gradient-boosted trees (scikit-learn), categorical inputs "
        "handled natively, calibrated afterwards; adds glipizide to version 1's inputs",
        threshold_rationale=f"25% (version 1 used 20%): flags fewer patients for a follow-up "
        f"call ({flagged:.0%} of the test split), so each call is more often needed, at the "
        "cost of missing more readmissions. A demonstration choice, not a validated one.",
        change=CHANGE_REASON,
    )
    card.update(_patient_texts())
    card["changeable_inputs"] = {
        **READMISSION_CHANGEABLE_INPUTS,
        ADDED_INPUT: {
            "modifiable": False,
            "why": "A dose change also changes 'medication change'; not searched.",
        },
    }
    parts["card"] = card
    return parts
