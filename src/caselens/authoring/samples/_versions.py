"""What a sample's later version changes in the card its first version's recipe writes.

A second version is built by the first version's recipe (same data, split and seeds) with its
own model, threshold or inputs; the card then says it is a later version, when it was
released, what kind of model it is, why its threshold is where it is, and — in the HTI-1
update-process attribute, the card's place for how a model changes — what changed and why.
"""

from __future__ import annotations

import copy
from typing import Any

#: The release of the samples' second versions.
SECOND_VERSION = "2.0.0"
SECOND_VERSION_DATE = "2026-12-07"


def second_version_card(
    card: dict[str, Any], *, model_type: str, threshold_rationale: str, change: str
) -> dict[str, Any]:
    """``card`` (the first version's recipe's output) restated as version 2.0.0.

    Parameters
    ----------
    card : dict
        The card the shared recipe wrote for this build (its figures are this build's).
    model_type, threshold_rationale : str
        This version's words for the two fields its change touches.
    change : str
        What changed since version 1 and why; put first in ``update_process``.
    """
    out = copy.deepcopy(card)
    out["version"] = SECOND_VERSION
    out["release_date"] = SECOND_VERSION_DATE
    out["last_review_date"] = SECOND_VERSION_DATE
    out["model_type"] = model_type
    out["threshold_rationale"] = threshold_rationale
    attributes = out["source_attributes"]
    attributes["update_process"] = f"{change} {attributes['update_process']}"
    return out
