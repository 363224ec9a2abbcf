"""What the counterfactual door returns and records: which inputs may change (and why the
others may not), the recorded display rebuilt for replay, and a re-run's comparison.

A counterfactual display's audit entry holds no report (nothing about the patient's own
values is computed anew); its detail is the :class:`CounterfactualResult` as shown plus the
card's statements about each input (:func:`display_detail`), so a replay draws exactly what
the clinician read, even after the card has changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caselens.audit import AuditEntry
from caselens.errors import CaseLensError
from caselens.explain.counterfactual.results import CounterfactualResult
from caselens.model.bundle import ModelBundle
from caselens.model.changeable_inputs import no_counterfactual_reason
from caselens.numeric_tolerance import NUMERIC_TOLERANCE, numeric_difference

#: The audit action of a counterfactual display.
COUNTERFACTUALS_VIEWED = "counterfactuals_viewed"
#: The detail key holding the card's statements beside the result's own fields.
INPUTS_KEY = "inputs"
#: What an input the card says nothing about is shown with.
NOT_STATED = "The model's owners have not stated whether this input can change."
#: Most characters of the owners' reasons drawn and recorded with one answer: with the
#: result beside them, the entry stays well under the trail's 64 KiB detail limit for a
#: model with any number of inputs (the two samples use about 1,000).
MAX_STATEMENT_CHARS = 24_000
#: What stands for a reason left out to keep within :data:`MAX_STATEMENT_CHARS`.
REASON_ON_CARD = "Not listed here (too many statements): see the model's card."


class InputStatement(BaseModel):
    """One input of the model and what its owners state about changing it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    modifiable: bool
    #: The card's words (``why``), or :data:`NOT_STATED`.
    why: str = Field(min_length=1)


@dataclass(frozen=True)
class CounterfactualOffer:
    """Whether a model offers "what would move this result across the threshold?".

    Attributes
    ----------
    model_id : str
    reason : str or None
        Why no counterfactual is offered (the card states nothing, or nothing modifiable);
        None when one is offered.
    inputs : tuple of InputStatement
        Every input of the model, in the schema's order.
    """

    model_id: str
    reason: str | None
    inputs: tuple[InputStatement, ...]

    @property
    def offered(self) -> bool:
        """True when the model's card lets CaseLens search."""
        return self.reason is None


def offer_for(bundle: ModelBundle) -> CounterfactualOffer:
    """The card's statements about each input of ``bundle``, and whether it offers a search."""
    stated = bundle.card.changeable_inputs or {}
    inputs = tuple(
        InputStatement(
            name=f.name,
            label=f.label,
            modifiable=f.name in stated and stated[f.name].modifiable,
            why=stated[f.name].why if f.name in stated else NOT_STATED,
        )
        for f in bundle.features.features
    )
    reason = no_counterfactual_reason(bundle.card.changeable_inputs)
    return CounterfactualOffer(bundle.model_id, reason, bounded_statements(inputs))


def bounded_statements(inputs: tuple[InputStatement, ...]) -> tuple[InputStatement, ...]:
    """``inputs`` with at most :data:`MAX_STATEMENT_CHARS` of reasons. Past it, the inputs
    that cannot change are folded into one line pointing to the card, then (rarely) the
    reasons of the modifiable ones point there too. The page draws and the trail records
    the same bounded statements."""
    if sum(len(i.why) for i in inputs) <= MAX_STATEMENT_CHARS:
        return inputs
    fixed = [i for i in inputs if not i.modifiable]
    inputs = tuple(i for i in inputs if i.modifiable)
    if fixed:
        inputs += (
            InputStatement(
                name="",
                label=f"The other {len(fixed)} inputs",
                modifiable=False,
                why=REASON_ON_CARD,
            ),
        )
    if sum(len(i.why) for i in inputs) <= MAX_STATEMENT_CHARS:
        return inputs
    return tuple(i.model_copy(update={"why": REASON_ON_CARD}) for i in inputs)


def display_detail(
    result: CounterfactualResult, inputs: tuple[InputStatement, ...]
) -> dict[str, Any]:
    """The entry's detail: the result's own fields, and the statements shown beside it."""
    return {
        **result.model_dump(mode="json"),
        INPUTS_KEY: [i.model_dump(mode="json") for i in inputs],
    }


def read_display_detail(
    entry: AuditEntry,
) -> tuple[CounterfactualResult, tuple[InputStatement, ...]]:
    """The result and statements a counterfactual entry recorded.

    Raises
    ------
    CaseLensError
        If the entry is not a counterfactual display, or its detail cannot be read as one.
    """
    if entry.action != COUNTERFACTUALS_VIEWED:
        raise CaseLensError(f"Entry {entry.seq} ({entry.action}) is not a counterfactual display.")
    detail = dict(entry.detail())
    raw_inputs = detail.pop(INPUTS_KEY, [])
    try:
        result = CounterfactualResult.model_validate(detail)
        inputs = tuple(InputStatement.model_validate(i) for i in raw_inputs)
    except (ValidationError, TypeError) as exc:
        raise CaseLensError(
            f"Entry {entry.seq}: the recorded counterfactual cannot be read: {exc}"
        ) from exc
    return result, inputs


@dataclass(frozen=True)
class CounterfactualReplay:
    """A recorded counterfactual display, rebuilt from its verified entry."""

    entry: AuditEntry
    result: CounterfactualResult
    inputs: tuple[InputStatement, ...]
    heading: str


@dataclass(frozen=True)
class CounterfactualRerun:
    """The search repeated with the recorded settings and seed, on the same model version.

    Attributes
    ----------
    available : bool
        False when that model version (by SHA-256) or the parent entry's report is not there.
    message : str
        One sentence for the reviewer.
    fresh : CounterfactualResult or None
    differences : tuple of str
        Each way the fresh alternatives differ from the recorded ones, in words.
    """

    available: bool
    message: str
    fresh: CounterfactualResult | None = None
    differences: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """``same``, ``differs`` or ``unavailable``."""
        if not self.available:
            return "unavailable"
        return "differs" if self.differences else "same"

    def record_detail(self) -> dict[str, Any]:
        """What the re-run entry stores: the outcome and the differences."""
        return {
            "outcome": self.outcome,
            "tolerance": NUMERIC_TOLERANCE,
            "differences": list(self.differences),
        }


def _changes_key(alternative: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((c.name, c.to_value) for c in alternative.changes)


def _changes_words(alternative: Any) -> str:
    return ", ".join(f"{c.label} to {c.to_text}" for c in alternative.changes)


def compare_results(stored: CounterfactualResult, fresh: CounterfactualResult) -> tuple[str, ...]:
    """Each way ``fresh`` differs from ``stored`` in what a clinician would read: which
    alternatives (the changed inputs and their values), their probabilities (beyond
    :data:`NUMERIC_TOLERANCE`), their sides, and the reason for none. Timings are ignored."""
    out: list[str] = []
    if len(stored.alternatives) != len(fresh.alternatives):
        out.append(
            f"{len(stored.alternatives)} alternative(s) were shown; the re-run finds "
            f"{len(fresh.alternatives)}."
        )
    for number, (old, new) in enumerate(
        zip(stored.alternatives, fresh.alternatives, strict=False), start=1
    ):
        if _changes_key(old) != _changes_key(new):
            out.append(
                f"Alternative {number}: shown {_changes_words(old)}; the re-run finds "
                f"{_changes_words(new)}."
            )
            continue
        if numeric_difference(old.probability, new.probability) > NUMERIC_TOLERANCE:
            out.append(
                f"Alternative {number}: the model's estimate was {old.probability!r}; now "
                f"{new.probability!r}."
            )
        if old.side != new.side:
            out.append(f"Alternative {number}: the side was {old.side}; now {new.side}.")
    if (
        not stored.alternatives
        and not fresh.alternatives
        and (stored.none_reason != fresh.none_reason)
    ):
        out.append(f"The reason for none was '{stored.none_reason}'; now '{fresh.none_reason}'.")
    return tuple(out)
