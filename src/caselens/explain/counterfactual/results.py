"""What a counterfactual search returns, records and replays.

These are the records that cross the workflow door and go into the audit trail (as the
display entry's detail), so replay can draw exactly what was shown and re-run can compare.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from caselens.explain.cases.hypothetical import ChangedValue
from caselens.explain.confidence.results import ProbabilityInterval

#: The plain-words caveats printed with every counterfactual, always.
COUNTERFACTUAL_CAVEATS: tuple[str, ...] = (
    "This shows how the model responds to different values, not the effect of a treatment.",
    "These values may not be changeable in practice for this patient.",
    "This is not a recommendation.",
)
#: At most this many inputs change in one alternative (the issue's limit: few changes).
MAX_CHANGES_PER_ALTERNATIVE = 3
#: At most this many alternatives are shown.
MAX_ALTERNATIVES = 3

ThresholdSide = Literal["at_or_above", "below"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchSettings(_Frozen):
    """How the search ran; recorded so re-run can repeat it exactly."""

    method: str = Field(min_length=1, description="e.g. 'caselens-greedy-v1' or 'dice-random'.")
    seed: int
    budget_ms: int = Field(gt=0, description="Wall-clock budget; the search stops at it.")
    max_changes: int = Field(default=MAX_CHANGES_PER_ALTERNATIVE, ge=1, le=3)
    max_alternatives: int = Field(default=MAX_ALTERNATIVES, ge=1, le=3)


class Alternative(_Frozen):
    """One set of changed values and what the model itself says for them."""

    changes: tuple[ChangedValue, ...] = Field(min_length=1, max_length=3)
    #: The model's own calibrated probability for the changed case (the report's path).
    probability: float = Field(ge=0, le=1)
    interval: ProbabilityInterval | None = None
    #: Which side of the threshold the model's own probability is on.
    side: ThresholdSide
    #: Sum over changed inputs of |change| / spread × cost weight (category change = 1 × weight).
    distance: float = Field(ge=0)


class CounterfactualResult(_Frozen):
    """The answer to "what would move this result across the threshold?" for one report."""

    model_id: str
    parent_report_id: str
    parent_entry: int | None = None
    threshold: float
    parent_probability: float
    #: The side the search tried to reach (the other side of the parent's).
    target_side: ThresholdSide
    settings: SearchSettings
    #: The inputs the search was allowed to change, in the card's order.
    searched_inputs: tuple[str, ...]
    #: Only alternatives whose model probability really is on ``target_side``.
    alternatives: tuple[Alternative, ...] = Field(max_length=3)
    #: When there are none: why, in plain words (no statement on the card; nothing within
    #: the bounds crosses the threshold; the budget ran out first).
    none_reason: str | None = None
    elapsed_ms: float = Field(ge=0)
    budget_exhausted: bool = False
    caveats: tuple[str, ...] = COUNTERFACTUAL_CAVEATS
