"""The counterfactual display's words, offer, recorded detail and re-run comparison, on
results built from the sample models' own probabilities (no search involved)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.audit import AuditEntry
from caselens.errors import CaseLensError
from caselens.explain.counterfactual import COUNTERFACTUAL_CAVEATS
from caselens.model.bundle import load_bundle
from caselens.model.changeable_inputs import NO_STATEMENT_REASON, NONE_MODIFIABLE_REASON
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow import format_interval, format_percent, interval_level_text
from caselens.workflow.counterfactual_records import (
    COUNTERFACTUALS_VIEWED,
    MAX_STATEMENT_CHARS,
    NOT_STATED,
    REASON_ON_CARD,
    InputStatement,
    bounded_statements,
    compare_results,
    display_detail,
    offer_for,
    read_display_detail,
)
from caselens.workflow.counterfactual_text import (
    alternative_range,
    alternative_sentence,
    none_text,
    side_percent,
    target_text,
)
from counterfactual_fixtures import result_from_model


@pytest.fixture(scope="module")
def h07(heart_bundle):
    """H-07 is just above the heart model's 50% threshold: two alternatives below it."""
    return result_from_model(
        heart_bundle, "H-07", [{"resting_bp": 120.0}, {"resting_bp": 110.0, "cholesterol": 150.0}]
    )


def _entry(detail: dict, action: str = COUNTERFACTUALS_VIEWED) -> AuditEntry:
    text = json.dumps(detail)
    return AuditEntry(
        seq=5,
        recorded_at="2026-12-07T05:00:00.000Z",
        actor_id="dr.lee",
        actor_name="Dr. Ana Lee",
        actor_role="clinician",
        audience="clinician",
        action=action,
        patient_ref="MRN-7",
        model_id="heart-disease",
        model_version="1",
        model_sha256="0" * 64,
        report_json=None,
        rendered_digest=None,
        session_id=None,
        detail_json=text,
        prev_hash="0" * 64,
        entry_hash="1" * 64,
        hmac="",
    )


def test_the_sentence_names_each_change_and_the_models_own_estimate_and_side(h07):
    parent, result = h07
    first, second = result.alternatives
    assert first.probability < 0.5 <= parent.probability  # the model's own, below
    assert alternative_sentence(first, result.threshold) == (
        "If only these values were different — Resting blood pressure from 152 mm Hg to "
        f"120 mm Hg — the model's estimate would be {format_percent(first.probability)} "
        "(below the 50% threshold)."
    )
    sentence = alternative_sentence(second, result.threshold)
    assert (
        "Resting blood pressure from 152 mm Hg to 110 mm Hg, Serum cholesterol from 212 mg/dL to "
        in (sentence)
    )
    interval = second.interval
    assert interval.low < 0.5 <= interval.high  # a wide range: the side is not settled
    assert alternative_range(second, result.threshold) == (
        f"Range {format_interval(interval.low, interval.high)} "
        f"({interval_level_text(interval)}). The range reaches both sides of the 50% "
        "threshold, so this estimate could be on either side of it."
    )
    narrow = interval.model_copy(update={"low": 0.30, "high": 0.49})
    assert alternative_range(second.model_copy(update={"interval": narrow}), 0.5) == (
        f"Range {format_interval(0.30, 0.49)} ({interval_level_text(narrow)})."
    )
    assert alternative_range(second.model_copy(update={"interval": None}), 0.5) == (
        "No range was computed for this estimate."
    )
    assert target_text(result).startswith(
        "Values that would bring the model's estimate below the 50% threshold"
    )
    assert none_text(result) is None


def test_an_alternative_on_the_positive_side_says_at_or_above(readmission_bundle):
    """R-05 is just below the readmission model's 20% threshold; a skilled-nursing discharge
    puts the model's own estimate at or above it."""
    _, result = result_from_model(
        readmission_bundle, "R-05", [{"discharge_to": "Skilled nursing or care facility"}]
    )
    [alternative] = result.alternatives
    assert alternative.probability >= 0.2 and alternative.side == "at_or_above"
    assert alternative_sentence(alternative, 0.2).endswith("(at or above the 20% threshold).")
    assert target_text(result).startswith(
        "Values that would bring the model's estimate to or above the 20% threshold (this "
        "report's estimate is 19.5%)."
    )


def test_none_found_says_the_results_own_reason(heart_bundle):
    _, result = result_from_model(heart_bundle, "H-03", [])
    assert none_text(result) == "Nothing within the stated limits crosses it."


def test_the_offer_lists_every_input_with_the_cards_words(heart_bundle, readmission_bundle):
    offer = offer_for(heart_bundle)
    assert offer.offered and offer.reason is None
    by_name = {i.name: i for i in offer.inputs}
    assert [i.name for i in offer.inputs] == heart_bundle.features.names
    assert by_name["resting_bp"].modifiable
    assert by_name["age"].why == "Age cannot be changed." and not by_name["age"].modifiable
    stated = readmission_bundle.card.changeable_inputs
    unstated = [n for n in readmission_bundle.features.names if n not in stated]
    readmission = {i.name: i for i in offer_for(readmission_bundle).inputs}
    for name in unstated:
        assert readmission[name].why == NOT_STATED and not readmission[name].modifiable


@pytest.mark.parametrize(
    ("statements", "reason"),
    [(None, NO_STATEMENT_REASON), ({"age": {"modifiable": False, "why": "Age."}}, None)],
)
def test_a_card_without_statements_offers_none_and_says_why(tmp_path, statements, reason):
    folder = tmp_path / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    card = json.loads((folder / "card.json").read_text())
    card["changeable_inputs"] = statements
    if statements is None:
        del card["changeable_inputs"]
    (folder / "card.json").write_text(json.dumps(card))
    offer = offer_for(load_bundle(folder))
    assert not offer.offered
    assert offer.reason == (reason or NONE_MODIFIABLE_REASON)


def test_the_recorded_detail_reads_back_exactly_with_the_caveats(h07, heart_bundle):
    _, result = h07
    inputs = offer_for(heart_bundle).inputs
    detail = display_detail(result, inputs)
    assert detail["settings"]["seed"] == 7 and detail["settings"]["budget_ms"] == 2000
    back, back_inputs = read_display_detail(_entry(detail))
    assert back == result and back_inputs == inputs
    assert back.caveats == COUNTERFACTUAL_CAVEATS


def test_another_action_or_an_unreadable_detail_is_refused_by_name(h07):
    _, result = h07
    with pytest.raises(CaseLensError, match="not a counterfactual display"):
        read_display_detail(_entry(display_detail(result, ()), action="viewed"))
    with pytest.raises(CaseLensError, match="cannot be read"):
        read_display_detail(_entry({"model_id": "heart-disease"}))


def test_compare_names_each_difference_and_ignores_timings(h07, heart_bundle):
    _, result = h07
    assert compare_results(result, result.model_copy(update={"elapsed_ms": 999.0})) == ()
    first, second = result.alternatives
    moved = first.model_copy(update={"probability": first.probability + 1e-6})
    differs = compare_results(result, result.model_copy(update={"alternatives": (moved, second)}))
    assert len(differs) == 1 and differs[0].startswith("Alternative 1: the model's estimate")
    fewer = compare_results(result, result.model_copy(update={"alternatives": (second,)}))
    assert fewer[0] == "2 alternative(s) were shown; the re-run finds 1."
    assert "Alternative 1: shown Resting blood pressure to 120 mm Hg;" in fewer[1]


@settings(max_examples=25, deadline=None)
@given(
    delta=st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    index=st.integers(min_value=0, max_value=1),
)
def test_compare_reports_a_change_exactly_when_it_exceeds_the_tolerance(h07, delta, index):
    _, result = h07
    alternatives = list(result.alternatives)
    old = alternatives[index]
    new_p = min(1.0, max(0.0, old.probability + delta))
    alternatives[index] = old.model_copy(update={"probability": new_p})
    differs = compare_results(
        result, result.model_copy(update={"alternatives": tuple(alternatives)})
    )
    assert bool(differs) == (abs(new_p - old.probability) > 1e-9)


@pytest.mark.parametrize(("modifiable_count", "kept"), [(10, True), (290, False)])
def test_a_model_with_very_many_statements_still_fits_one_entry(h07, modifiable_count, kept):
    """300 inputs each with the longest reason a card may state: the inputs that cannot
    change are folded into one line pointing to the card (and the modifiable ones' reasons
    too, when they alone are too long), so the answer can still be recorded and drawn as
    recorded."""
    from caselens.audit.records import MAX_DETAIL_CHARS

    _, result = h07
    inputs = tuple(
        InputStatement(
            name=f"x{n}", label=f"Input {n}", modifiable=n < modifiable_count, why="w" * 500
        )
        for n in range(300)
    )
    bounded = bounded_statements(inputs)
    assert sum(len(i.why) for i in bounded) <= MAX_STATEMENT_CHARS
    assert len(json.dumps(display_detail(result, bounded))) < MAX_DETAIL_CHARS
    [*changeable, folded] = bounded
    assert folded.label == f"The other {300 - modifiable_count} inputs"
    assert folded.why == REASON_ON_CARD and not folded.modifiable
    assert [i.name for i in changeable] == [f"x{n}" for n in range(modifiable_count)]
    assert all((i.why == "w" * 500) == kept for i in bounded if i.modifiable)
    small = inputs[:3]
    assert bounded_statements(small) == small


@settings(max_examples=200, deadline=None)
@given(
    probability=st.floats(min_value=0, max_value=1, allow_nan=False),
    threshold=st.floats(min_value=0.001, max_value=0.999, allow_nan=False),
)
def test_a_printed_estimate_is_never_on_the_other_side_of_the_threshold(probability, threshold):
    """A search stops just across the threshold (49.996% for a 50% threshold): the printed
    number stays on the side the sentence names, with one decimal whenever that suffices."""
    printed = side_percent(probability, threshold)
    if printed.startswith("just "):
        assert abs(probability - threshold) < 1e-5
        return
    value = float(printed.removesuffix("%"))
    assert (value < 100 * threshold) == (probability < threshold), printed
    if (round(100 * probability, 1) < 100 * threshold) == (probability < threshold):
        assert printed == format_percent(probability)


def test_an_estimate_just_below_the_threshold_is_printed_below_it():
    assert side_percent(0.49996, 0.5) == "49.996%"
    assert side_percent(0.4999999, 0.5) == "just under 50%"
    assert side_percent(0.5, 0.5) == "50.0%" and side_percent(0.41, 0.5) == "41.0%"
