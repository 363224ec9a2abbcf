"""The next steps a model's owners recommend on each side of its threshold.

CaseLens never writes advice: the card states, for results at or above the decision
threshold and for results below it (and optionally for narrower risk bands), the steps its
owners recommend, each with its source (a protocol, a guideline) and optionally a link and
the patient's wording. The clinician's report shows them beside the threshold; the patient
view shows only steps that carry patient wording. A card that states none says so
(:data:`NO_NEXT_STEPS_TEXT`).
"""

from __future__ import annotations

import itertools
import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: What the report says when the card states no next steps.
NO_NEXT_STEPS_TEXT = "No next steps are stated for this model."
#: Most steps one side or band may list: a report is read in seconds.
MAX_STEPS_PER_SIDE = 5


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NextStep(_Frozen):
    """One recommended step, in the owners' words."""

    #: The clinician's wording, e.g. 'Arrange a cardiology review within 2 weeks'.
    text: str = Field(min_length=1, max_length=300)
    #: Where the step comes from, e.g. 'Local chest pain pathway v3 (2025)'.
    source: str = Field(min_length=1, max_length=300)
    #: A link to the source (https only); None: no link.
    link: str | None = Field(default=None, max_length=2000)
    #: The patient's wording (6th–8th grade); None: the step is not shown to patients.
    patient_text: str | None = Field(default=None, min_length=1, max_length=300)

    @field_validator("link")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"link must start with https:// (got {value[:40]!r})")
        return value


class RiskBandSteps(_Frozen):
    """Steps for results whose probability falls in [from_probability, to_probability)."""

    label: str = Field(min_length=1, max_length=80, description="e.g. 'Very high risk'.")
    from_probability: float = Field(ge=0, le=1)
    to_probability: float = Field(gt=0, le=1)
    steps: tuple[NextStep, ...] = Field(min_length=1, max_length=MAX_STEPS_PER_SIDE)

    @model_validator(mode="after")
    def _ordered(self) -> RiskBandSteps:
        if not self.from_probability < self.to_probability:
            raise ValueError(
                f"band '{self.label}': from_probability ({self.from_probability:g}) must be "
                f"below to_probability ({self.to_probability:g})"
            )
        return self

    def covers(self, probability: float) -> bool:
        """Whether ``probability`` falls in this band (the top band includes 1)."""
        if not math.isfinite(probability):
            return False
        upper_ok = probability < self.to_probability or (
            self.to_probability == 1 and probability == 1
        )
        return self.from_probability <= probability and upper_ok


class NextSteps(_Frozen):
    """The owners' next steps: one list per side of the threshold, plus optional bands."""

    #: For results at or above the decision threshold.
    at_or_above_threshold: tuple[NextStep, ...] = Field(default=(), max_length=MAX_STEPS_PER_SIDE)
    #: For results below it.
    below_threshold: tuple[NextStep, ...] = Field(default=(), max_length=MAX_STEPS_PER_SIDE)
    #: Narrower bands whose steps are shown in addition to the side's; must not overlap.
    bands: tuple[RiskBandSteps, ...] = ()

    @model_validator(mode="after")
    def _bands_apart(self) -> NextSteps:
        ordered = sorted(self.bands, key=lambda b: b.from_probability)
        for lower, upper in itertools.pairwise(ordered):
            if upper.from_probability < lower.to_probability:
                raise ValueError(
                    f"bands '{lower.label}' and '{upper.label}' overlap; expected bands that "
                    "do not share any probability"
                )
        if not (self.at_or_above_threshold or self.below_threshold or self.bands):
            raise ValueError("next_steps states no step; leave next_steps out when none are stated")
        return self

    def for_probability(
        self, probability: float, threshold: float
    ) -> tuple[tuple[NextStep, ...], RiskBandSteps | None]:
        """The side's steps for ``probability`` and the band that also applies, if any."""
        side = self.at_or_above_threshold if probability >= threshold else self.below_threshold
        band = next((b for b in self.bands if b.covers(probability)), None)
        return side, band
