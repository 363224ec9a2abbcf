"""The next steps a model's owners recommend, as one report carries them.

The card states the steps (:mod:`caselens.model.next_steps`); a report keeps the ones that
apply to its probability — the steps for its side of the decision threshold and those of the
risk band it falls in — with their source and link, worded as the owners' and never as
CaseLens's. The report keeps the words, not a pointer to the card, so a replay shows what
was shown even after the card changes.

* The clinician's part (:class:`ReportNextSteps`) is written into the report only when the
  card states next steps; a report without it says :data:`NO_NEXT_STEPS_TEXT`.
* The patient's part (:class:`PatientNextSteps`) holds only steps the owners worded for
  patients, and only in English (the card's patient wording has no other language, and a
  patient text never mixes languages); none → no part, never the clinician's words.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from caselens.model.next_steps import NO_NEXT_STEPS_TEXT, NextStep, NextSteps, RiskBandSteps

__all__ = [
    "NO_NEXT_STEPS_TEXT",
    "OWNERS_WORDS_NOTE",
    "PATIENT_NEXT_STEPS_HEADING",
    "PATIENT_NEXT_STEPS_NOTE",
    "PatientNextSteps",
    "ReportNextSteps",
    "StatedBand",
    "StatedStep",
    "clinician_lines",
    "patient_next_steps",
    "report_next_steps",
]

#: Said under every list of owners' steps: whose words they are.
OWNERS_WORDS_NOTE = (
    "Stated by the model's owners in its model card, with their sources; not written or "
    "checked by CaseLens. Clinical judgement stays with the treating clinician."
)
#: The patient's heading over the owners' patient wording (English only, see above).
PATIENT_NEXT_STEPS_HEADING = "Next steps the makers of this tool suggest"
#: Said under them: whose words they are, and who decides.
PATIENT_NEXT_STEPS_NOTE = (
    "The team that made this tool wrote these steps. Your care team will decide with you "
    "what is right for you."
)
Side = Literal["at_or_above_threshold", "below_threshold"]
_SIDE_WORDS: dict[str, str] = {
    "at_or_above_threshold": "at or above",
    "below_threshold": "below",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatedStep(_Frozen):
    """One step in the owners' words, with its source and (https) link."""

    text: str
    source: str
    link: str | None = None

    @field_validator("link")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        # A stored report is data too: a link is drawn as a link only when it is https.
        if value is not None and not value.startswith("https://"):
            raise ValueError("a next step's link must start with https://")
        return value


class StatedBand(_Frozen):
    """The risk band this report's probability falls in, and its steps."""

    label: str
    from_probability: float
    to_probability: float
    heading: str
    steps: tuple[StatedStep, ...]


class ReportNextSteps(_Frozen):
    """The owners' next steps that apply to one report's probability."""

    #: The side of the threshold the probability is on (at or above is the positive side).
    side: Side
    #: e.g. 'Next steps the model's owners recommend for results at or above the threshold
    #: (30%)'.
    heading: str
    #: The side's steps; empty when the card lists none for this side.
    steps: tuple[StatedStep, ...]
    #: The band the probability falls in, when the card states bands and one covers it.
    band: StatedBand | None = None
    #: Said when neither the side nor a band lists a step; None otherwise.
    none_stated: str | None = None
    #: Whose words these are (:data:`OWNERS_WORDS_NOTE`).
    attribution: str = OWNERS_WORDS_NOTE

    def all_steps(self) -> tuple[StatedStep, ...]:
        """The side's steps, then the band's, in the order shown."""
        return self.steps + (self.band.steps if self.band is not None else ())


class PatientNextSteps(_Frozen):
    """The owners' steps worded for patients, as the patient view shows them."""

    heading: str
    steps: tuple[str, ...]
    note: str


def _percent(probability: float) -> str:
    return f"{100 * probability:.0f}%"


def _stated(step: NextStep) -> StatedStep:
    return StatedStep(text=step.text, source=step.source, link=step.link)


def _band(band: RiskBandSteps) -> StatedBand:
    return StatedBand(
        label=band.label,
        from_probability=band.from_probability,
        to_probability=band.to_probability,
        heading=(
            f"And for results in the band '{band.label}' "
            f"({_percent(band.from_probability)} to {_percent(band.to_probability)})"
        ),
        steps=tuple(_stated(s) for s in band.steps),
    )


def _side(probability: float, threshold: float) -> Side:
    return "at_or_above_threshold" if probability >= threshold else "below_threshold"


def report_next_steps(
    stated: NextSteps | None, probability: float, threshold: float
) -> ReportNextSteps | None:
    """The steps the card states for ``probability`` (its side and its band); None when the
    card states no next steps at all."""
    if stated is None:
        return None
    side_steps, band = stated.for_probability(probability, threshold)
    side = _side(probability, threshold)
    words = _SIDE_WORDS[side]
    none_stated = (
        None
        if side_steps or band is not None
        else f"The model's owners state no next steps for results {words} the threshold."
    )
    return ReportNextSteps(
        side=side,
        heading=(
            f"Next steps the model's owners recommend for results {words} the threshold "
            f"({_percent(threshold)})"
        ),
        steps=tuple(_stated(s) for s in side_steps),
        band=_band(band) if band is not None else None,
        none_stated=none_stated,
    )


def patient_next_steps(
    stated: NextSteps | None, probability: float, threshold: float
) -> PatientNextSteps | None:
    """The steps with patient wording that apply to ``probability``; None when there are
    none (the patient view then has no such section)."""
    if stated is None:
        return None
    side_steps, band = stated.for_probability(probability, threshold)
    every = side_steps + (band.steps if band is not None else ())
    words = tuple(s.patient_text for s in every if s.patient_text)
    if not words:
        return None
    return PatientNextSteps(
        heading=PATIENT_NEXT_STEPS_HEADING, steps=words, note=PATIENT_NEXT_STEPS_NOTE
    )


def clinician_lines(next_steps: ReportNextSteps | None) -> list[str]:
    """The clinician's next-steps text, line by line, as shown (for the displayed digest)."""
    if next_steps is None:
        return [NO_NEXT_STEPS_TEXT]
    lines = [next_steps.heading]
    lines += [_line(s) for s in next_steps.steps]
    if next_steps.band is not None:
        lines.append(next_steps.band.heading)
        lines += [_line(s) for s in next_steps.band.steps]
    if next_steps.none_stated:
        lines.append(next_steps.none_stated)
    lines.append(next_steps.attribution)
    return lines


def _line(step: StatedStep) -> str:
    link = f" <{step.link}>" if step.link else ""
    return f"- {step.text} (source: {step.source}{link})"
