"""The what-if comparison (explain.what_if_diff) on real reports of both sample bundles: every
figure is one of the two reports' own, contributions are ranked by the size of their change,
limitations are matched by code and input (not by value), and a hypothetical report's
displayed text starts with its label for every audience."""

from __future__ import annotations

import dataclasses

import pytest

from caselens.explain.cases import HYPOTHETICAL_LABEL, ChangedValue, Hypothetical, validate_inputs
from caselens.explain.report import displayed_text, explainer_for
from caselens.explain.what_if_diff import what_if_diff


def _report(bundle, values, *, hypothetical=None):
    case = validate_inputs(values, bundle.features, source="form", case_id="T-1")
    return explainer_for(bundle).explain(dataclasses.replace(case, hypothetical=hypothetical))


def _what_if(bundle, parent, **changes):
    values = {**parent.case.values(), **changes}
    hypothetical = Hypothetical(
        kind="what_if",
        parent_report_id=parent.report_id,
        parent_entry=1,
        changes=tuple(
            ChangedValue(
                name=name,
                label=bundle.features[name].label,
                from_value=parent.case.values()[name],
                from_text=bundle.features[name].describe_value(parent.case.values()[name]),
                to_value=value,
                to_text=bundle.features[name].describe_value(value),
            )
            for name, value in changes.items()
        ),
    )
    return _report(bundle, values, hypothetical=hypothetical)


@pytest.fixture(scope="module")
def h09(heart_bundle):
    """The heart demo patient whose cholesterol is beyond the training range."""
    return _report(heart_bundle, heart_bundle.demo_case("H-09").inputs)


def test_a_report_against_itself_changes_nothing(h09):
    diff = what_if_diff(h09, h09)
    assert diff.side_changed is False
    assert diff.before == diff.after
    assert all(row.shap_change == 0 and row.lime_change == 0 for row in diff.contributions)
    assert diff.limitations_appeared == () and diff.limitations_gone == ()
    assert diff.changes == ()


def test_a_limitation_about_the_same_input_with_another_value_is_the_same(heart_bundle, h09):
    cholesterol = h09.case.values()["cholesterol"]
    assert ("OUT_OF_RANGE", "cholesterol") in {
        (lim.code, lim.trigger.split(" = ")[0]) for lim in h09.limitations
    }
    further = _what_if(heart_bundle, h09, cholesterol=cholesterol + 40)
    diff = what_if_diff(h09, further)
    both = {(c.code, c.about) for c in diff.limitations_appeared + diff.limitations_gone}
    assert ("OUT_OF_RANGE", "cholesterol") not in both
    # Back within the range, it went away (and is named by its input).
    within = _what_if(heart_bundle, h09, cholesterol=220.0)
    assert ("OUT_OF_RANGE", "cholesterol") in {
        (c.code, c.about) for c in what_if_diff(h09, within).limitations_gone
    }
    assert diff.changes[0].to_value == cholesterol + 40


def test_without_shap_the_table_is_ranked_by_lime(heart_bundle, h09):
    changed = _what_if(heart_bundle, h09, max_heart_rate=100.0, st_depression=3.0)
    no_shap = changed.model_copy(
        update={
            "attributions": changed.attributions.model_copy(
                update={"shap": changed.attributions.shap.model_copy(update={"status": "failed"})}
            )
        }
    )
    diff = what_if_diff(h09, no_shap)
    assert diff.ranked_by == "LIME"
    sizes = [abs(row.lime_change) for row in diff.contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert what_if_diff(h09, changed).ranked_by == "SHAP"


def test_a_category_edit_on_the_readmission_model(readmission_bundle):
    demo = readmission_bundle.demo_cases[0]
    parent = _report(readmission_bundle, demo.inputs)
    options = readmission_bundle.features["discharge_to"].categories
    other = next(c for c in options if c != parent.case.values()["discharge_to"])
    after = _what_if(readmission_bundle, parent, discharge_to=other)
    diff = what_if_diff(parent, after)
    assert diff.before.probability == parent.probability
    assert diff.after.probability == after.probability
    assert diff.side_changed == (
        (parent.probability >= diff.threshold) != (after.probability >= diff.threshold)
    )
    row = next(r for r in diff.contributions if r.name == "discharge_to")
    assert row.before_text != row.after_text
    assert row.shap_after == next(
        v.shap_value for v in after.attributions.variables if v.name == "discharge_to"
    )
    assert [c.name for c in diff.changes] == ["discharge_to"]


def test_the_displayed_text_of_a_hypothetical_report_starts_with_its_label(heart_bundle, h09):
    after = _what_if(heart_bundle, h09, resting_bp=150.0)
    for audience in ("clinician", "patient"):
        assert displayed_text(after, audience).startswith(HYPOTHETICAL_LABEL + "\n")
        assert not displayed_text(h09, audience).startswith(HYPOTHETICAL_LABEL)
