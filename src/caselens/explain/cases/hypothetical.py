"""A case that is not the patient's recorded values: a what-if edit or a counterfactual.

A report about such a case carries :class:`Hypothetical` on its case summary: which report
(and trail entry) it was derived from, what changed (from → to), and the label every screen
that shows it must print (:data:`HYPOTHETICAL_LABEL`). Reports without it are unchanged,
byte for byte (the field is written only when present).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: What every screen, export and card showing a hypothetical report says first.
HYPOTHETICAL_LABEL = "What if — not this patient's recorded values"
#: Most changes one hypothetical case may carry (a case's inputs are bounded too).
MAX_CHANGES = 100

HypotheticalKind = Literal["what_if", "counterfactual"]


class ChangedValue(BaseModel):
    """One input whose value differs from the parent report's case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    from_value: float | str | None
    from_text: str
    to_value: float | str | None
    to_text: str


class Hypothetical(BaseModel):
    """Where a hypothetical case came from and how it differs from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: HypotheticalKind
    #: The report this case was derived from (the patient's recorded values, or an earlier
    #: what-if in a chain of edits).
    parent_report_id: str
    #: The trail entry (seq) that displayed the parent report; None when not known.
    parent_entry: int | None = None
    changes: tuple[ChangedValue, ...] = Field(max_length=MAX_CHANGES)
    label: str = HYPOTHETICAL_LABEL
