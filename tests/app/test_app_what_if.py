"""What-if on the Case page and its replay, headless (streamlit.testing AppTest), on the real
heart-disease sample: the form starts at the recorded values, a change is recorded before it
is drawn beside the original, edits chain, a refused field is listed by name, and the
reviewer's replay shows the label, the parent entry and the comparison."""

from __future__ import annotations

import json

import pytest

from app_helpers import audit_entries, shown, signed_in, unliteral
from caselens.explain.cases import HYPOTHETICAL_LABEL
from caselens.workflow import format_percent

pytestmark = pytest.mark.usefixtures("app_env")

SUBMIT = "Show what the model would say"


def _heart(at):
    box = at.selectbox(key="case_model")
    return box.select(next(o for o in box.options if "(heart-disease " in o)).run()


def _edit(at, step: int, **values):
    prefix = f"case_heart-disease_what_if_{step}_field_"
    for name, value in values.items():
        at.number_input(key=prefix + name).set_value(value)
    [submit] = [b for b in at.button if b.label == SUBMIT]
    return submit.click().run()


def _what_ifs() -> list:
    return [e for e in audit_entries() if e.action == "what_if_viewed"]


def test_a_changed_value_is_recorded_and_drawn_beside_the_original_and_edits_chain():
    at = _heart(signed_in("dr.lee"))
    assert not at.exception
    [viewed] = [e for e in audit_entries() if e.action == "viewed"]
    recorded = json.loads(viewed.report_json)["case"]["inputs"]
    # The form starts at the recorded values, never at a default.
    prefix = "case_heart-disease_what_if_0_field_"
    for item in recorded:
        if item["name"] in {"resting_bp", "cholesterol", "age", "st_depression"}:
            assert at.number_input(key=prefix + item["name"]).value == item["value"]
    assert not _what_ifs()

    at = _edit(at, 0, resting_bp=210)
    assert not at.exception
    [first] = _what_ifs()
    assert first.detail()["parent_entry"] == viewed.seq
    stored = json.loads(first.report_json)
    assert HYPOTHETICAL_LABEL in shown(at.warning)
    assert "Resting blood pressure from 108 mm Hg to 210 mm Hg" in shown(at.warning)
    # Beside the original: both probabilities, each as recorded.
    metrics = [m.value for m in at.metric]
    original = json.loads(viewed.report_json)["confidence"]["probability"]
    assert format_percent(original) in metrics
    assert format_percent(stored["confidence"]["probability"]) in metrics
    assert "threshold did not change" in shown(at.markdown)
    [table] = [d.value for d in at.dataframe if "SHAP change" in d.value.columns]
    changes = table["SHAP change"].abs().tolist()
    assert changes == sorted(changes, reverse=True)
    assert "OUT_OF_RANGE" in shown(at.markdown)  # appeared: 210 is beyond the training range

    # Chained: the next form starts at the what-if's values and names it as the parent.
    assert at.number_input(key="case_heart-disease_what_if_1_field_resting_bp").value == 210
    at = _edit(at, 1, cholesterol=300)
    assert not at.exception
    first, second = _what_ifs()
    assert second.detail()["parent_entry"] == first.seq
    assert [c["name"] for c in second.detail()["changes"]] == ["cholesterol"]
    assert "2 edits in a chain" in shown(at.caption)
    # The what-if in full, under its own label, beside the original's card on one page.
    shown_before = len(at.metric)
    at = at.toggle(key="case_heart-disease_what_if_full").set_value(True).run()
    assert not at.exception
    assert len(at.metric) > shown_before
    second_report = json.loads(second.report_json)
    assert format_percent(second_report["confidence"]["probability"]) in [
        m.value for m in at.metric
    ]
    assert shown(at.warning).count(HYPOTHETICAL_LABEL) == 2  # the comparison's and the report's


def test_an_out_of_range_edit_lists_the_field_and_records_nothing():
    at = _heart(signed_in("dr.lee"))
    before = len(audit_entries())
    at = _edit(at, 0, resting_bp=400)
    assert not at.exception
    assert "Resting blood pressure" in shown(at.markdown)
    assert "cannot be assessed" in shown(at.error)
    assert len(audit_entries()) == before
    assert HYPOTHETICAL_LABEL not in shown(at.warning)


def test_the_recorded_values_again_say_nothing_changed_and_record_nothing():
    at = _heart(signed_in("dr.lee"))
    before = len(audit_entries())
    [submit] = [b for b in at.button if b.label == SUBMIT]
    at = submit.click().run()
    assert "No value was changed" in shown(at.error)
    assert len(audit_entries()) == before


def test_the_reviewer_replays_a_what_if_with_its_label_parent_and_comparison():
    _edit(_heart(signed_in("dr.lee")), 0, resting_bp=150)
    [entry] = _what_ifs()
    parent = entry.detail()["parent_entry"]
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(entry.seq)
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert HYPOTHETICAL_LABEL in shown(reviewer.warning)
    assert f"entry #{parent}" in shown(reviewer.warning)
    assert any(b.label == f"Open the parent entry #{parent}" for b in reviewer.button)
    assert "The what-if beside its parent" in shown(reviewer.subheader)
    replays = [e.detail()["seq"] for e in audit_entries() if e.action == "replayed"]
    assert replays == [entry.seq, parent]
    # The filter names the new action in words.
    options = reviewer.selectbox(key="audit_action").options
    assert any(unliteral(o).startswith("What-if viewed") for o in options)
    reviewer = reviewer.button(key="audit_rerun").click().run()
    assert shown(reviewer.success).startswith("Reproduces, identical")
