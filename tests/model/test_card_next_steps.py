"""The owners' next steps on the card: validated, chosen by side of the threshold and band."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caselens.model.next_steps import NextStep, NextSteps, RiskBandSteps

REVIEW = NextStep(text="Cardiology review within 2 weeks", source="Local pathway v3")
REASSURE = NextStep(text="Usual follow-up", source="Local pathway v3", patient_text="See your GP")
URGENT = NextStep(text="Same-day review", source="Local pathway v3")


def test_steps_follow_the_side_of_the_threshold_and_the_band() -> None:
    steps = NextSteps(
        at_or_above_threshold=(REVIEW,),
        below_threshold=(REASSURE,),
        bands=(
            RiskBandSteps(
                label="Very high", from_probability=0.8, to_probability=1, steps=(URGENT,)
            ),
        ),
    )
    assert steps.for_probability(0.5, 0.5) == ((REVIEW,), None)
    assert steps.for_probability(0.49, 0.5) == ((REASSURE,), None)
    side, band = steps.for_probability(1.0, 0.5)
    assert side == (REVIEW,) and band is not None and band.steps == (URGENT,)
    assert steps.for_probability(float("nan"), 0.5)[1] is None


def test_bad_statements_are_refused() -> None:
    with pytest.raises(ValidationError, match="https"):
        NextStep(text="x", source="y", link="javascript:alert(1)")
    with pytest.raises(ValidationError, match="overlap"):
        NextSteps(
            bands=(
                RiskBandSteps(label="A", from_probability=0.2, to_probability=0.6, steps=(URGENT,)),
                RiskBandSteps(label="B", from_probability=0.5, to_probability=0.9, steps=(URGENT,)),
            )
        )
    with pytest.raises(ValidationError, match="below to_probability"):
        RiskBandSteps(label="A", from_probability=0.6, to_probability=0.6, steps=(URGENT,))
    with pytest.raises(ValidationError, match="states no step"):
        NextSteps()
    with pytest.raises(ValidationError):
        NextSteps(at_or_above_threshold=(REVIEW,) * 6)
