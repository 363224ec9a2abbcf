"""What a probability's range covers, in a clinician's words (the screen and the exported
file say the same sentence)."""

from __future__ import annotations

from caselens.explain.confidence.bootstrap import SIMULATE_COVERAGE_UP_TO
from caselens.explain.confidence.results import ProbabilityInterval
from caselens.explain.interval_text import interval_level_text


def interval_covers(interval: ProbabilityInterval) -> str:
    """What the interval covers, in a clinician's words, and how far its level was checked."""
    text = (
        "How much this probability could move had the model's calibration step been fitted "
        "on other, similar patients. It does not include uncertainty in the model itself "
        "(its training data, its choice of inputs)."
    )
    level = interval_level_text(interval)
    if interval.simulated_coverage is None:
        why = (
            f": its {interval.calibration_n:,}-patient calibration split is too large to "
            "simulate when the model is loaded"
            if interval.calibration_n > SIMULATE_COVERAGE_UP_TO
            else ""
        )
        return text + f" Its level ({level}) was not checked by simulation on this model{why}."
    held = f"{100 * interval.simulated_coverage:.1f}%"
    return text + (
        f" Checked on this model: in {interval.simulated_runs} simulations the range held the "
        f"true probability {held} of the time, so it is labelled {level}."
    )
