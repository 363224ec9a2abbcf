"""Counterfactuals: "what would move this result across the threshold?".

The search changes only the inputs the card states as modifiable, within their stated
bounds, the schema's hard limits and the training range; every alternative shown carries
the model's own probability (computed by the same engine path as the report), never the
search's estimate. :mod:`.results` holds the records that cross the door and the trail.
"""

from caselens._lazy import lazy_face

__all__ = [
    "COUNTERFACTUAL_CAVEATS",
    "DEFAULT_BUDGET_MS",
    "METHOD",
    "Alternative",
    "CounterfactualResult",
    "SearchSettings",
    "alternative_case",
    "default_settings",
    "find_alternatives",
]

_PARTS = {
    "COUNTERFACTUAL_CAVEATS": "results",
    "Alternative": "results",
    "CounterfactualResult": "results",
    "SearchSettings": "results",
    "DEFAULT_BUDGET_MS": "search",
    "METHOD": "search",
    "alternative_case": "search",
    "default_settings": "search",
    "find_alternatives": "search",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
