"""The counterfactual search on the two samples, a bring-your-own random forest and an ONNX
file: every alternative crosses the threshold by the model's own probability, changes only
modifiable inputs within every limit, and the same seed gives the same answer; a card
without a statement, a search that finds nothing and a spent budget each say so."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.explain.cases import Case, validate_inputs
from caselens.explain.counterfactual import (
    DEFAULT_BUDGET_MS,
    METHOD,
    SearchSettings,
    alternative_case,
    find_alternatives,
)
from caselens.explain.counterfactual.candidates import GRID_STEPS, input_range
from caselens.explain.report import CaseExplainer, explainer_for
from caselens.model.changeable_inputs import (
    NO_STATEMENT_REASON,
    NONE_MODIFIABLE_REASON,
    ChangeableInput,
)
from counterfactual_checks import (
    OTHER_FAMILY_STATEMENT,
    check_result,
    onnx_other_family,
    with_statement,
)


@pytest.fixture(scope="module")
def heart_explainer(heart):
    return explainer_for(heart)


@pytest.fixture(scope="module")
def readmission_explainer(readmission):
    return explainer_for(readmission)


@pytest.fixture(scope="module")
def forest_explainer(other_family_bundles):
    """A random forest CaseLens did not train, with its owners' statement."""
    return CaseExplainer(with_statement(other_family_bundles["calibrated"], OTHER_FAMILY_STATEMENT))


@pytest.fixture(scope="module")
def onnx_explainer(other_family_bundles):
    """A real ONNX file on the same cohort, with the same statement."""
    bundle = with_statement(other_family_bundles["calibrated"], OTHER_FAMILY_STATEMENT)
    return CaseExplainer(onnx_other_family(bundle))


def _demo(explainer, case_id: str) -> Case:
    bundle = explainer.bundle
    demo = bundle.demo_case(case_id)
    return validate_inputs(demo.inputs, bundle.features, source="demo", case_id=case_id)


def _search(explainer, case: Case, **settings_fields):
    parent = explainer.explain(case)
    settings = SearchSettings(
        **{"method": METHOD, "seed": 0, "budget_ms": DEFAULT_BUDGET_MS, **settings_fields}
    )
    return parent, find_alternatives(explainer, case, parent, settings=settings)


def _reference_cases(bundle, n: int) -> list[Case]:
    rows = bundle.reference[bundle.features.names].head(n)
    cases = []
    for i, (_, row) in enumerate(rows.iterrows()):
        values = {k: (None if v is None or v != v else v) for k, v in row.items()}
        cases.append(validate_inputs(values, bundle.features, source="reference", case_id=str(i)))
    return cases


# --- the heart sample: what a clinician would see ------------------------------------------


def test_a_case_near_the_threshold_gets_alternatives_that_cross_by_their_own_report(
    heart_explainer,
):
    case = _demo(heart_explainer, "H-07")
    parent, result = _search(heart_explainer, case)
    assert parent.probability >= 0.5 and result.target_side == "below"
    check_result(heart_explainer, case, parent, result, full_report=True)
    changed = [tuple(c.name for c in a.changes) for a in result.alternatives]
    # One input alone first (cholesterol, then blood pressure), then the pair.
    assert changed == [("cholesterol",), ("resting_bp",), ("resting_bp", "cholesterol")]
    first = result.alternatives[0].changes[0]
    assert (first.label, first.from_text) == ("Serum cholesterol", "212 mg/dL")
    assert first.to_text.endswith(" mg/dL") and 150 <= first.to_value < 212
    # Made as small as still crosses: one whole mg/dL less of a change does not.
    one_less = alternative_case(
        case,
        result.alternatives[0].model_copy(
            update={"changes": (first.model_copy(update={"to_value": first.to_value + 1}),)}
        ),
        parent_report_id=parent.report_id,
        parent_entry=None,
    )
    frame = one_less.to_frame()[heart_explainer.bundle.features.names]
    assert heart_explainer.bundle.model.predict_proba(frame)[0, 1] >= 0.5
    assert result.settings == SearchSettings(method=METHOD, seed=0, budget_ms=DEFAULT_BUDGET_MS)
    assert not result.budget_exhausted and result.elapsed_ms > 0


def test_every_heart_demo_case_keeps_every_invariant(heart_explainer):
    for demo in heart_explainer.bundle.demo_cases:
        case = _demo(heart_explainer, demo.case_id)
        parent, result = _search(heart_explainer, case)
        check_result(heart_explainer, case, parent, result)


def test_nothing_within_the_limits_says_exactly_that(heart_explainer):
    case = _demo(heart_explainer, "H-03")
    parent, result = _search(heart_explainer, case)
    check_result(heart_explainer, case, parent, result)
    assert result.alternatives == ()
    assert result.none_reason == (
        "The search found no values within the stated limits of resting blood pressure, serum "
        "cholesterol and fasting blood sugar > 120 mg/dL that move this result below the 50% "
        "threshold; it tried each limit and up to 12 steps towards it, alone and combined (at "
        "most 3 changes at once). For this patient, fasting blood sugar > 120 mg/dL has no "
        "other value allowed by the stated direction and limits and the range the model was "
        "trained on."
    )


def test_a_model_without_a_statement_offers_none_and_says_why(heart_explainer):
    case = _demo(heart_explainer, "H-07")
    parent = heart_explainer.explain(case)
    for statement, reason in (
        (None, NO_STATEMENT_REASON),
        (
            {"age": ChangeableInput(modifiable=False, why="Age cannot be changed.")},
            NONE_MODIFIABLE_REASON,
        ),
    ):
        # Only the card differs: the explainer's model, data and confidence are the same.
        explainer = copy.copy(heart_explainer)
        explainer.bundle = with_statement(heart_explainer.bundle, statement)
        result = find_alternatives(explainer, case, parent)
        assert result.alternatives == () and result.none_reason == reason
        assert result.searched_inputs == ()


def test_a_value_not_recorded_is_never_changed(heart_explainer):
    values = dict(_demo(heart_explainer, "H-07").values)
    values["cholesterol"] = None  # the pipeline imputes it; the search must not "change" it
    case = Case(values=values, source="form")
    parent, result = _search(heart_explainer, case)
    check_result(heart_explainer, case, parent, result)
    assert all(c.name != "cholesterol" for a in result.alternatives for c in a.changes)
    spec = heart_explainer.bundle.features["cholesterol"]
    statement = heart_explainer.bundle.card.changeable_inputs["cholesterol"]
    assert input_range(spec, statement, None, heart_explainer.bundle.reference).values == ()


def test_the_same_seed_gives_the_same_alternatives(heart_explainer):
    case = _demo(heart_explainer, "H-07")
    _, first = _search(heart_explainer, case, seed=7)
    _, again = _search(heart_explainer, case, seed=7)
    assert first.alternatives == again.alternatives
    assert first.settings.seed == 7 == again.settings.seed


def test_a_tiny_budget_stops_the_search_and_says_so(heart_explainer):
    case = _demo(heart_explainer, "H-07")
    parent, result = _search(heart_explainer, case, budget_ms=1)
    assert result.budget_exhausted
    check_result(heart_explainer, case, parent, result)
    if not result.alternatives:
        assert result.none_reason.startswith("The search stopped at its time budget (1 ms)")


def test_a_report_of_another_case_or_an_unknown_method_is_refused(heart_explainer):
    case = _demo(heart_explainer, "H-07")
    other = heart_explainer.explain(_demo(heart_explainer, "H-01"))
    with pytest.raises(ValueError, match="not about this case's values"):
        find_alternatives(heart_explainer, case, other)
    with pytest.raises(ValueError, match=r"settings\.method: 'guess' is not a counterfactual"):
        find_alternatives(
            heart_explainer,
            case,
            heart_explainer.explain(case),
            settings=SearchSettings(method="guess", seed=0, budget_ms=100),
        )


def test_alternative_case_is_marked_as_a_counterfactual_of_its_parent(heart_explainer):
    case = _demo(heart_explainer, "H-07")
    parent, result = _search(heart_explainer, case)
    changed = alternative_case(
        case, result.alternatives[0], parent_report_id=parent.report_id, parent_entry=12
    )
    assert changed.hypothetical.kind == "counterfactual"
    assert changed.hypothetical.parent_entry == 12
    assert changed.hypothetical.changes == result.alternatives[0].changes
    assert changed.record_sources is None
    differing = {n for n in case.values if case.values[n] != changed.values[n]}
    assert differing == {c.name for c in result.alternatives[0].changes}


# --- the readmission sample: a category and an 'up' direction -------------------------------


@pytest.mark.parametrize("case_id", ["R-05", "R-03", "R-10"])
def test_readmission_cases_keep_every_invariant(readmission_explainer, case_id):
    case = _demo(readmission_explainer, case_id)
    parent, result = _search(readmission_explainer, case)
    check_result(readmission_explainer, case, parent, result, full_report=case_id == "R-05")
    if case_id == "R-05":  # just below 20%: a stated discharge destination crosses it
        change = result.alternatives[0].changes[0]
        assert change.name == "discharge_to"
        assert change.to_value in (
            "Home",
            "Home with home health care",
            "Skilled nursing or care facility",
        )


# --- bring-your-own bundles: a random forest and an ONNX file -------------------------------


@pytest.mark.parametrize("which", ["forest", "onnx"])
def test_bring_your_own_bundles_keep_every_invariant(which, forest_explainer, onnx_explainer):
    explainer = forest_explainer if which == "forest" else onnx_explainer
    bundle = explainer.bundle
    cases = [_demo(explainer, d.case_id) for d in bundle.demo_cases] + _reference_cases(bundle, 8)
    with_alternatives = 0
    for case in cases:
        parent, result = _search(explainer, case)
        check_result(explainer, case, parent, result, full_report=bool(result.alternatives))
        with_alternatives += bool(result.alternatives)
    assert with_alternatives >= 1  # the search does find something on a model it was not tuned on


# --- Hypothesis: random valid heart cases ----------------------------------------------------


@st.composite
def heart_cases(draw, bundle):
    values = {}
    for spec in bundle.features:
        if spec.missing_allowed and draw(st.booleans()):
            values[spec.name] = None
        elif spec.kind == "category":
            values[spec.name] = draw(st.sampled_from(spec.categories))
        elif spec.kind == "integer":
            values[spec.name] = draw(st.integers(int(spec.training_min), int(spec.training_max)))
        else:
            number = draw(st.floats(spec.training_min, spec.training_max, allow_nan=False))
            values[spec.name] = round(number, 1)
    return validate_inputs(values, bundle.features, source="form")


@given(data=st.data())
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_invariant_holds_for_random_heart_cases(heart_explainer, data):
    case = data.draw(heart_cases(heart_explainer.bundle))
    parent, result = _search(heart_explainer, case)
    check_result(heart_explainer, case, parent, result)


# --- the values offered, input by input -----------------------------------------------------


def test_offered_values_stay_whole_within_every_limit_and_in_the_stated_direction(heart):
    spec = heart.features["resting_bp"]  # integer; training 100..200; stated: down, >= 110
    statement = heart.card.changeable_inputs["resting_bp"]
    offered = input_range(spec, statement, 152.0, heart.reference)
    assert offered.values and len(offered.values) <= 2 * GRID_STEPS
    assert all(v == round(v) and 110 <= v < 152 for v in offered.values)
    assert offered.values[0] > offered.values[-1]  # nearest the patient's value first
    # Above the training range: the search starts at its edge, never above it.
    above = input_range(spec, statement, 260.0, heart.reference)
    assert max(above.values) == spec.training_max and min(above.values) == 110
    # Already at the stated bound in the only allowed direction: nothing to try.
    assert input_range(spec, statement, 110.0, heart.reference).values == ()
    # A category: only the stated categories, never the patient's own.
    sugar = input_range(
        heart.features["fasting_glucose_high"],
        heart.card.changeable_inputs["fasting_glucose_high"],
        "Yes",
        heart.reference,
    )
    assert sugar.values == ("No",) and sugar.cost("No") == 1.0
    # A spread from the reference data: the cost of a change is in its units.
    spread = float(np.std(heart.reference["resting_bp"].astype(float), ddof=1))
    assert math.isclose(offered.spread, spread)
    assert math.isclose(offered.cost(142.0), 10 / spread)


def test_the_same_change_at_another_size_is_never_offered_twice():
    """DiCE proposes e.g. blood pressure 119 / cholesterol 172, then 119 / 170, then 118 / 168:
    one alternative, not three (the first pass takes distinct sets of inputs, the second
    only other directions or categories)."""
    from caselens.explain.counterfactual.grid import Found
    from caselens.explain.counterfactual.search import _choose

    def found(bp, chol, distance):
        values = tuple(
            (n, v) for n, v in (("resting_bp", bp), ("cholesterol", chol)) if v is not None
        )
        return Found(values, distance, tuple("down" for _ in values))

    sizes = [found(119.0, 172.0, 1.5), found(119.0, 170.0, 1.6), found(118.0, 168.0, 1.7)]
    assert _choose(sizes, 3) == [sizes[0]]
    single = found(None, 150.0, 1.2)
    assert _choose([*sizes, single], 3) == [single, sizes[0]]
    other_way = Found((("discharge_to", "Home"),), 1.0, ("Home",))
    another = Found((("discharge_to", "Skilled nursing or care facility"),), 1.0, ("Skilled",))
    assert _choose([other_way, another], 3) == [other_way, another]  # two destinations
