"""DiCE (dice-ml, random method) behind SearchSettings.method "dice-random": the model passed
in memory, every proposal filtered by the card's limits and re-asked of the model, seeded,
and the process's global generators left as they were."""

from __future__ import annotations

import random

import numpy as np
import pytest

from caselens.explain.cases import validate_inputs
from caselens.explain.counterfactual import SearchSettings, find_alternatives
from caselens.explain.counterfactual.dice_backend import DICE_METHOD
from caselens.explain.report import explainer_for
from counterfactual_checks import check_result

pytest.importorskip("dice_ml")


@pytest.fixture(scope="module")
def heart_explainer(heart):
    return explainer_for(heart)


def _case(explainer, case_id):
    demo = explainer.bundle.demo_case(case_id)
    return validate_inputs(demo.inputs, explainer.bundle.features, source="demo", case_id=case_id)


def _dice(seed: int) -> SearchSettings:
    return SearchSettings(method=DICE_METHOD, seed=seed, budget_ms=5000)


def test_dice_alternatives_keep_every_invariant_and_the_same_seed_repeats(heart_explainer):
    case = _case(heart_explainer, "H-07")
    parent = heart_explainer.explain(case)
    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    result = find_alternatives(heart_explainer, case, parent, settings=_dice(0))
    # DiCE seeds numpy's and Python's global generators: they are put back as they were.
    numpy_after = np.random.get_state()
    assert numpy_after[0] == numpy_before[0] and (numpy_after[1] == numpy_before[1]).all()
    assert random.getstate() == python_before
    assert result.alternatives, "DiCE finds changes for a case just above the threshold"
    check_result(heart_explainer, case, parent, result, full_report=True)
    again = find_alternatives(heart_explainer, case, parent, settings=_dice(0))
    assert again.alternatives == result.alternatives
    assert result.settings.method == "dice-random"


def test_dice_refuses_a_case_with_a_value_not_recorded_and_says_so(heart_explainer):
    case = _case(heart_explainer, "H-08")  # its major vessels are not recorded
    assert any(v is None for v in case.values.values())
    parent = heart_explainer.explain(case)
    result = find_alternatives(heart_explainer, case, parent, settings=_dice(0))
    assert result.alternatives == ()
    assert result.none_reason == (
        "DiCE cannot search this case: it does not take a value not recorded (Vessels "
        "coloured by fluoroscopy)."
    )
