"""The counterfactual search: "what would move this result across the threshold?".

:func:`find_alternatives` looks for up to three sets of changed values, each of at most
three inputs the card states as modifiable, that put the model's own probability on the
other side of the threshold from the parent report:

1. Each modifiable input gets its allowed values (:mod:`.candidates`: stated direction and
   bounds, hard limits, training range, whole numbers, never a value not recorded).
2. One input at a time, then pairs, then triples (larger sets only while fewer distinct
   sets than alternatives wanted were found), every set of one size asked of the model
   together in batches (:mod:`.grid`; the report's guarded call: its answer checked to be
   a probability, an ONNX model stopped at its time limit). A set whose grid is larger than
   :data:`~.grid.MAX_ROWS_PER_SET` is sampled with the recorded seed. An answer of two or
   three changes must need each of them (undoing any one no longer crosses).
3. Per set (and per direction or target category: "the same change at another size" is
   never offered twice), the crossing row nearest the patient (distance = Σ |change| /
   spread × cost weight, a category change = 1 × weight) is kept, then made smaller
   between the patient's value and it (:data:`~.candidates.REFINE_STEPS` points per input).
4. The alternatives are chosen fewest changes first, then smallest distance, distinct sets
   of inputs first, and each is asked of the model once more as the report asks it (one
   row, the case's own frame), its interval from the report's ConfidenceModel: only an
   alternative whose own probability is on the target side is shown.

The search stops at ``budget_ms`` (between batches; a model call in progress is not cut)
and says so (``budget_exhausted``); what it found by then is still checked and shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from caselens.explain.attribution._frames import _in_order
from caselens.explain.attribution._runtime import _model_threads
from caselens.explain.attribution.model_usage import _CountingPredict
from caselens.explain.cases import Case, ChangedValue, Hypothetical
from caselens.explain.counterfactual.candidates import GRID_STEPS, InputRange, input_range
from caselens.explain.counterfactual.dice_backend import DICE_METHOD, DiceRefusal, dice_proposals
from caselens.explain.counterfactual.grid import (
    MAX_SEARCH_ROWS,
    Asker,
    Clock,
    Found,
    crosses,
    found,
    refine,
    search_grid,
)
from caselens.explain.counterfactual.results import (
    Alternative,
    CounterfactualResult,
    SearchSettings,
    ThresholdSide,
)
from caselens.model.changeable_inputs import no_counterfactual_reason

if TYPE_CHECKING:
    from caselens.explain.report import CaseExplainer, CaseReport

#: The search's name in :class:`SearchSettings` (and the trail): a grid over the allowed
#: values, fewest changes first, refined, every shown answer re-asked of the model.
METHOD = "caselens-grid-v1"
#: Every method :func:`find_alternatives` accepts: this search (the default) and DiCE's
#: random search (:mod:`.dice_backend`, for the comparison).
METHODS = (METHOD, DICE_METHOD)
#: Default wall-clock budget: the target is p95 ≤ 2 s on the samples, and the final
#: re-asking of up to three alternatives and the answer's records come after it.
DEFAULT_BUDGET_MS = 1500


def default_settings(explainer: CaseExplainer) -> SearchSettings:
    """The settings :func:`find_alternatives` uses when none are given: this search, the
    explainer's seed and :data:`DEFAULT_BUDGET_MS`."""
    return SearchSettings(method=METHOD, seed=explainer.seed, budget_ms=DEFAULT_BUDGET_MS)


def find_alternatives(
    explainer: CaseExplainer,
    case: Case,
    parent: CaseReport,
    *,
    settings: SearchSettings | None = None,
) -> CounterfactualResult:
    """Up to three sets of changed values that move the model's result across its threshold.

    Parameters
    ----------
    explainer : CaseExplainer
        The explainer that computed ``parent`` (its bundle's model, card and schema).
    case : Case
        The validated case ``parent`` is about.
    parent : CaseReport
        The report whose result the alternatives move across the threshold.
    settings : SearchSettings, optional
        Default :func:`default_settings`. ``method`` must be :data:`METHOD`.

    Returns
    -------
    CounterfactualResult
        Never raises for a card without a statement, an input not recorded or a search that
        finds nothing: those give no alternatives and a ``none_reason`` in plain words.

    Raises
    ------
    ValueError
        If ``parent`` is not a report of this explainer's model about ``case``, or the
        method is not this search's.
    RuntimeError
        If the DiCE method is asked for and dice-ml is not installed.
    ModelOutputError, ModelBudgetError
        If the model returns something that is not a probability, or an ONNX call runs
        over its time limit (as a report would).
    """
    clock = Clock((settings or default_settings(explainer)).budget_ms)
    settings = settings or default_settings(explainer)
    if settings.method not in METHODS:
        raise ValueError(
            f"settings.method: '{settings.method}' is not a counterfactual search; expected "
            f"one of: {', '.join(METHODS)}"
        )
    bundle = explainer.bundle
    _check_parent(explainer, case, parent)
    threshold = parent.model.threshold
    parent_p = parent.confidence.probability
    target: ThresholdSide = "below" if parent_p >= threshold else "at_or_above"
    statements = bundle.card.changeable_inputs
    searched = tuple(
        name for name, s in (statements or {}).items() if s.modifiable and name in bundle.features
    )

    def result(
        alternatives: tuple[Alternative, ...] = (), reason: str | None = None
    ) -> CounterfactualResult:
        return CounterfactualResult(
            model_id=bundle.card.model_id,
            parent_report_id=parent.report_id,
            threshold=threshold,
            parent_probability=parent_p,
            target_side=target,
            settings=settings,
            searched_inputs=searched,
            alternatives=alternatives,
            none_reason=reason,
            elapsed_ms=round(clock.elapsed_ms(), 3),
            budget_exhausted=clock.exhausted,
        )

    reason = no_counterfactual_reason(statements)
    if reason is not None or not searched:
        return result(reason=reason or no_counterfactual_reason({}))
    ranges = [
        input_range(bundle.features[n], statements[n], case.values.get(n), bundle.reference)  # type: ignore[index]
        for n in searched
    ]
    usable = [r for r in ranges if r.values]
    if not usable:
        return result(reason=_nothing_to_try_reason(ranges))
    capped = False  # the grid stopped at MAX_SEARCH_ROWS
    if settings.method == DICE_METHOD:
        try:
            findings = _dice_found(explainer, case, usable, settings, target)
        except DiceRefusal as refusal:
            clock.out()
            return result(reason=str(refusal))
        clock.out()  # a DiCE call cannot be stopped part-way: its budget is checked after
        chosen = _choose(findings, settings.max_alternatives)
    else:
        asker = Asker(explainer, case, usable, threshold, target)
        findings = search_grid(asker, settings, clock, enough=settings.max_alternatives)
        chosen = _choose(findings, settings.max_alternatives)
        if not clock.out():
            chosen = sorted(refine(asker, chosen), key=_preference)  # smaller: order may change
        capped = asker.capped
    alternatives = _verified(explainer, case, usable, chosen, threshold, target)
    if alternatives:
        return result(tuple(alternatives))
    if settings.method != DICE_METHOD and (clock.exhausted or capped):
        stopped = _stopped_reason(settings, ranges, target, threshold, budget=clock.exhausted)
        return result(reason=stopped)
    return result(reason=_none_cross_reason(ranges, target, threshold, settings))


def alternative_case(
    case: Case, alternative: Alternative, *, parent_report_id: str, parent_entry: int | None
) -> Case:
    """The case with an alternative's values, marked as a counterfactual of its parent: what
    the engine explains to show the alternative (its report carries the hypothetical label).

    The values from the patient's record (``record_sources``) are not carried: the changed
    case is not what the record says.
    """
    values = dict(case.values)
    for change in alternative.changes:
        values[change.name] = change.to_value
    return Case(
        values=values,
        source=case.source,
        case_id=case.case_id,
        hypothetical=Hypothetical(
            kind="counterfactual",
            parent_report_id=parent_report_id,
            parent_entry=parent_entry,
            changes=alternative.changes,
        ),
    )


# --- choosing and checking what was found --------------------------------------------


def _dice_found(
    explainer: CaseExplainer,
    case: Case,
    ranges: list[InputRange],
    settings: SearchSettings,
    target: ThresholdSide,
) -> list[Found]:
    """DiCE's proposals with at most ``max_changes`` changes, as the grid's findings."""
    proposals = dice_proposals(
        explainer, case.values, ranges, target_positive=target == "at_or_above", seed=settings.seed
    )
    return [found(ranges, p) for p in proposals if len(p) <= settings.max_changes]


def _choose(found: Iterable[Found], limit: int) -> list[Found]:
    """Fewest changes, then smallest distance; distinct sets of inputs first, then other
    directions or categories of a set already chosen."""
    ordered = sorted(found, key=_preference)
    chosen: list[Found] = []
    for f in ordered:
        if len(chosen) < limit and all(f.names != c.names for c in chosen):
            chosen.append(f)
    for f in ordered:
        if len(chosen) < limit and all(f.kind != c.kind for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=_preference)


def _preference(found: Found) -> tuple[int, float, tuple[tuple[str, Any], ...]]:
    """Fewest changes, then smallest distance (then the values, so ties are stable)."""
    return (len(found.values), found.distance, found.values)


def _verified(
    explainer: CaseExplainer,
    case: Case,
    ranges: list[InputRange],
    found: list[Found],
    threshold: float,
    target: ThresholdSide,
) -> list[Alternative]:
    """Each found change asked of the model as the report asks it (the case's own one-row
    frame, the same guarded call), its interval from the report's ConfidenceModel; only the
    alternatives whose own probability is on the target side."""
    by_name = {r.name: r for r in ranges}
    predict = _CountingPredict(explainer.bundle.model)
    names = explainer.bundle.features.names
    shown: list[Alternative] = []
    for f in found:
        values = dict(case.values)
        values.update(f.values)
        frame = _in_order(Case(values=values, source=case.source).to_frame(), names)
        with _model_threads(explainer.attributor.single_threaded, every_api=True):
            probability = float(predict(frame)[0, 1])
        if not crosses(probability, threshold, target):
            continue
        assessment = explainer.confidence_model.assess(probability)
        changes = tuple(_changed(by_name[n], v) for n, v in f.values)
        shown.append(
            Alternative(
                changes=changes,
                probability=probability,
                interval=assessment.interval,
                side="at_or_above" if probability >= threshold else "below",
                distance=round(f.distance, 6),
            )
        )
    return shown


def _changed(r: InputRange, value: Any) -> ChangedValue:
    return ChangedValue(
        name=r.name,
        label=r.spec.label,
        from_value=r.current,
        from_text=r.spec.describe_value(r.current),
        to_value=value,
        to_text=r.spec.describe_value(value),
    )


def _check_parent(explainer: CaseExplainer, case: Case, parent: CaseReport) -> None:
    bundle = explainer.bundle
    if parent.model.model_id != bundle.card.model_id or parent.model.sha256 != (
        bundle.model_sha256
    ):
        raise ValueError(
            f"parent: report {parent.report_id} is about model {parent.model.model_id}, not "
            f"this explainer's {bundle.card.model_id} (or another version of its file)"
        )
    if parent.case.values() != {n: case.values.get(n) for n in bundle.features.names}:
        raise ValueError(f"parent: report {parent.report_id} is not about this case's values")


# --- the reasons, in plain words ----------------------------------------------------------


def _percent(threshold: float) -> str:
    return f"{100 * threshold:.4g}%"


def _side_words(target: ThresholdSide, threshold: float) -> str:
    where = "below" if target == "below" else "to or above"
    return f"{where} the {_percent(threshold)} threshold"


def _in_words(label: str) -> str:
    """A label inside a sentence: 'Resting blood pressure' → 'resting blood pressure', but
    'ST depression' and 'HbA1c' stay as written."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _listed(ranges: Sequence[InputRange]) -> str:
    words = [_in_words(r.spec.label) for r in ranges]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _none_cross_reason(
    ranges: list[InputRange], target: ThresholdSide, threshold: float, settings: SearchSettings
) -> str:
    """Nothing crossed: said as what was searched, never as a claim about every value."""
    what = (
        f"values within the stated limits of {_listed(ranges)} that move this result "
        f"{_side_words(target, threshold)}"
    )
    if settings.method == DICE_METHOD:
        text = f"DiCE found no {what} (random sampling, seed {settings.seed})."
    else:
        text = (
            f"The search found no {what}; it tried each limit and up to {GRID_STEPS} steps "
            f"towards it, alone and combined (at most {settings.max_changes} changes at once)."
        )
    note = _fixed_note(ranges)
    return f"{text} For this patient,{note}" if note else text


def _stopped_reason(
    settings: SearchSettings,
    ranges: list[InputRange],
    target: ThresholdSide,
    threshold: float,
    *,
    budget: bool,
) -> str:
    where = (
        f"at its time budget ({settings.budget_ms:,} ms)"
        if budget
        else f"after asking the model about {MAX_SEARCH_ROWS:,} sets of values"
    )
    return (
        f"The search stopped {where} before finding values within the stated limits of "
        f"{_listed(ranges)} that move this result {_side_words(target, threshold)}; it did not "
        "try every combination."
    )


def _nothing_to_try_reason(ranges: list[InputRange]) -> str:
    return f"There are no values to try for this patient:{_fixed_note(ranges)}"


def _fixed_note(ranges: list[InputRange]) -> str:
    """Which inputs could not move at all for this patient, and why ('' when all could)."""
    missing = [r for r in ranges if r.current is None]
    stuck = [r for r in ranges if r.current is not None and not r.values]
    notes = []
    if missing:
        notes.append(
            f"{_listed(missing)} {'is' if len(missing) == 1 else 'are'} not recorded "
            "(a value not recorded is never changed)"
        )
    if stuck:
        notes.append(
            f"{_listed(stuck)} {'has' if len(stuck) == 1 else 'have'} no other value "
            "allowed by the stated direction and limits and the range the model was trained on"
        )
    return f" {'; '.join(notes)}." if notes else ""
