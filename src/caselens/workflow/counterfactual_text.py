"""The words every screen prints about a counterfactual, from its recorded result only.

The clinician's page and the reviewer's replay draw the same sentences from the same
:class:`~caselens.explain.counterfactual.CounterfactualResult`, so a replay reads exactly as
the display did. A counterfactual is a question about the model, never advice: the sentences
say "the model's estimate would be", and the caveats are printed with every answer.
"""

from __future__ import annotations

from caselens.explain.cases.hypothetical import HYPOTHETICAL_LABEL, ChangedValue
from caselens.explain.counterfactual.results import Alternative, CounterfactualResult
from caselens.explain.interval_text import format_interval, format_percent, interval_level_text

__all__ = [
    "COUNTERFACTUAL_QUESTION",
    "HYPOTHETICAL_LABEL",
    "alternative_range",
    "alternative_sentence",
    "change_text",
    "none_text",
    "search_text",
    "side_percent",
    "target_text",
    "threshold_text",
]

#: The question on the clinician's report (a question, not a nudge toward an action).
COUNTERFACTUAL_QUESTION = "What would move this result across the threshold?"

#: Each side of the threshold, as the sentence names it (at or above is the positive side).
SIDE_WORDS = {"at_or_above": "at or above", "below": "below"}
#: Where the search tries to bring the estimate ("bring it below", "bring it to or above").
TARGET_WORDS = {"at_or_above": "to or above", "below": "below"}


def threshold_text(threshold: float) -> str:
    """The threshold as the result card's badge prints it ("the 50% threshold")."""
    return f"the {100 * threshold:.3g}% threshold"


def change_text(change: ChangedValue) -> str:
    """One changed input, in clinical words: 'Resting blood pressure from 150 mm Hg to
    128 mm Hg'."""
    return f"{change.label} from {change.from_text} to {change.to_text}"


#: Most decimals printed to keep an estimate on its side of the threshold (a search that
#: stops just across it gives e.g. 49.996%, which one decimal would print as 50.0%).
MAX_SIDE_DECIMALS = 4


def side_percent(probability: float, threshold: float) -> str:
    """The probability as every screen prints it (one decimal), with more decimals only
    when one would put the printed number on the other side of the threshold.

    Examples
    --------
    >>> side_percent(0.41, 0.5), side_percent(0.49996, 0.5), side_percent(0.5, 0.5)
    ('41.0%', '49.996%', '50.0%')
    """
    below = probability < threshold
    for decimals in range(1, MAX_SIDE_DECIMALS + 1):
        printed = round(100 * probability, decimals)
        if (printed < 100 * threshold) == below:
            return f"{printed:.{decimals}f}%"
    return f"just {'under' if below else 'over'} {100 * threshold:.3g}%"


def alternative_sentence(alternative: Alternative, threshold: float) -> str:
    """The answer for one alternative, with the model's own probability and its side.

    Examples: 'If only these values were different — Resting blood pressure from 150 mm Hg
    to 128 mm Hg — the model's estimate would be 41.0% (below the 50% threshold).'
    """
    changes = ", ".join(change_text(c) for c in alternative.changes)
    return (
        f"If only these values were different — {changes} — the model's estimate would be "
        f"{side_percent(alternative.probability, threshold)} ({SIDE_WORDS[alternative.side]} "
        f"{threshold_text(threshold)})."
    )


def alternative_range(alternative: Alternative, threshold: float) -> str:
    """The range of the alternative's probability, labelled with the level it reached, and
    whether it reaches the other side of the threshold (then the side is not settled)."""
    interval = alternative.interval
    if interval is None:
        return "No range was computed for this estimate."
    text = (
        f"Range {format_interval(interval.low, interval.high)} ({interval_level_text(interval)})."
    )
    if interval.low < threshold <= interval.high:
        text += (
            f" The range reaches both sides of {threshold_text(threshold)}, so this estimate "
            "could be on either side of it."
        )
    return text


def target_text(result: CounterfactualResult) -> str:
    """What was searched for, e.g. 'Values that would bring the model's estimate below the
    50% threshold (this report's estimate is 62.3%).'"""
    return (
        f"Values that would bring the model's estimate {TARGET_WORDS[result.target_side]} "
        f"{threshold_text(result.threshold)} (this report's estimate is "
        f"{format_percent(result.parent_probability)})."
    )


def none_text(result: CounterfactualResult) -> str | None:
    """Why no alternative is shown, or None when some are."""
    if result.alternatives:
        return None
    return result.none_reason or (
        "No values within the stated limits were found that move the model's estimate "
        "across the threshold."
    )


def search_text(result: CounterfactualResult) -> str:
    """How the search ran (method, seed, budget, time), for the record and the reviewer."""
    s = result.settings
    ran_out = " It stopped at its time budget." if result.budget_exhausted else ""
    return (
        f"Search {s.method}, seed {s.seed}, at most {s.max_changes} changed values per "
        f"answer and {s.max_alternatives} answers, budget {s.budget_ms} ms; took "
        f"{result.elapsed_ms:.0f} ms.{ran_out}"
    )
