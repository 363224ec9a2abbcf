""" "What would move this result across the threshold?" in the real app (AppTest): nothing
searched until asked, the answer drawn from the recorded entry with the label, the caveats,
the model's own estimates and which inputs could change; a model without statements says
why with no button; the reviewer's replay draws the same answer and re-runs it."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import streamlit as st

from app_helpers import (
    PAYLOADS,
    audit_entries,
    build_hostile_bundle,
    hostile,
    shown,
    signed_in,
    unliteral,
)
from caselens.explain.counterfactual import COUNTERFACTUAL_CAVEATS
from caselens.model.changeable_inputs import NO_STATEMENT_REASON
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow import (
    COUNTERFACTUAL_QUESTION,
    HYPOTHETICAL_LABEL,
    alternative_range,
    alternative_sentence,
)
from caselens.workflow.counterfactual_records import read_display_detail

pytestmark = pytest.mark.usefixtures("app_env")


def _case(at, model_id: str, case_id: str):
    box = at.selectbox(key="case_model")
    at = box.select(next(o for o in box.options if f"({model_id} " in o)).run()
    demo = at.selectbox(key=f"case_{model_id}_demo")
    return demo.select(next(o for o in demo.options if o.startswith(case_id))).run()


def _ask(at):
    [button] = [b for b in at.button if b.label == COUNTERFACTUAL_QUESTION]
    return button.click().run()


def _cf_entries():
    return [e for e in audit_entries() if e.action == "counterfactuals_viewed"]


def test_the_clinician_asks_and_reads_the_recorded_answer():
    at = _case(signed_in("dr.lee"), "heart-disease", "H-07")  # 53.9%, just above 50%
    assert not at.exception
    assert not _cf_entries()  # nothing is searched until asked
    at = _ask(at)
    assert not at.exception
    [entry] = _cf_entries()
    result, inputs = read_display_detail(entry)
    assert result.alternatives
    text = shown(at.markdown) + " " + shown(at.caption) + " " + shown(at.warning)
    assert HYPOTHETICAL_LABEL in text
    for alternative in result.alternatives:  # each as recorded, with its range
        assert alternative_sentence(alternative, result.threshold) in text
        assert alternative_range(alternative, result.threshold) in text
    for caveat in COUNTERFACTUAL_CAVEATS:
        assert caveat in text
    table = next(d.value for d in at.dataframe if "Could change" in d.value.columns)
    searched = set(result.searched_inputs)  # those that could change first, as recorded
    assert list(table["Input"]) == [i.label for i in inputs if i.name in searched] + [
        i.label for i in inputs if i.name not in searched
    ]
    could = dict(zip(table["Input"], table["Could change"], strict=True))
    assert could["Resting blood pressure"] == "Yes" and could["Age"] == "No"
    assert "Age cannot be changed." in set(table["The model's owners say"])
    # Another click on the page draws the same answer, neither searched nor recorded again.
    at = at.toggle(key="case_patient_preview").set_value(True).run()
    assert alternative_sentence(result.alternatives[0], result.threshold) in shown(at.markdown)
    assert len(_cf_entries()) == 1


def test_none_found_far_above_the_threshold_says_exactly_that():
    at = _ask(_case(signed_in("dr.lee"), "heart-disease", "H-03"))  # 99%
    [entry] = _cf_entries()
    result, _ = read_display_detail(entry)
    assert not result.alternatives and result.none_reason
    assert result.none_reason in shown(at.info)
    assert not [m for m in at.markdown if "If only these values" in m.value]


def test_the_readmission_sample_answers_in_its_own_inputs():
    at = _ask(_case(signed_in("dr.lee"), "readmission-30d", "R-05"))  # 19.5%, below 20%
    [entry] = _cf_entries()
    result, _ = read_display_detail(entry)
    assert result.target_side == "at_or_above" and result.alternatives
    assert "(at or above the 20% threshold)" in shown(at.markdown)
    assert "bring the model's estimate to or above the 20% threshold" in shown(at.markdown)


def test_a_model_without_statements_says_why_and_offers_no_button(app_env, monkeypatch):
    models = app_env.parent / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    card_path = models / "heart-disease" / "card.json"
    card = json.loads(card_path.read_text())
    del card["changeable_inputs"]
    card_path.write_text(json.dumps(card))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    at = _case(signed_in("dr.lee"), "heart-disease", "H-07")
    assert not at.exception
    assert NO_STATEMENT_REASON in shown(at.caption)
    assert not [b for b in at.button if b.label == COUNTERFACTUAL_QUESTION]


def test_the_reviewer_replays_the_answer_with_its_parent_and_re_runs_it():
    _ask(_case(signed_in("dr.lee"), "heart-disease", "H-07"))
    [entry] = _cf_entries()
    result, _ = read_display_detail(entry)
    reviewer = signed_in("rev.kim")
    assert (
        "Counterfactuals viewed (what would move a result across the threshold) — "
        "counterfactuals_viewed"
    ) in [
        reviewer.selectbox(key="audit_action").format_func(o)
        for o in reviewer.selectbox(key="audit_action").options
    ]
    table = next(d.value for d in reviewer.dataframe if "Replay" in d.value.columns)
    row = table[table["Seq"] == entry.seq].iloc[0]
    assert (row["Action"], row["Replay"]) == ("counterfactuals_viewed", "counterfactuals")
    reviewer.query_params["entry"] = str(entry.seq)
    reviewer = reviewer.run()
    assert not reviewer.exception
    assert shown(reviewer.header).startswith("Counterfactuals as shown to Dr. Ana Lee")
    parent = f"Open the report it was asked about (entry #{result.parent_entry})"
    assert parent in [b.label for b in reviewer.button]
    for alternative in result.alternatives:
        assert alternative_sentence(alternative, result.threshold) in shown(reviewer.markdown)
    reviewer = reviewer.button(key=f"audit_{entry.seq}_counterfactual_rerun").click().run()
    assert "the same alternatives" in shown(reviewer.success)
    actions = [e.action for e in audit_entries()]
    assert actions.count("replayed") == 1 and actions[-1] == "rerun"
    # The parent entry opens as the report's own replay, with no question to ask there.
    reviewer = next(b for b in reviewer.button if b.label == parent).click().run()
    assert shown(reviewer.header).startswith("As shown to Dr. Ana Lee (clinician)")
    assert f"Entry #{result.parent_entry}" in shown(reviewer.caption)
    assert not [b for b in reviewer.button if b.label == COUNTERFACTUAL_QUESTION]


def test_hostile_labels_and_reasons_reach_the_page_as_text(app_env, tmp_path, monkeypatch):
    """A bundle with payloads in every input label and in the owners' reasons: the answer's
    sentences carry them escaped (never markup), the reasons only as table cells."""
    models = tmp_path / "models"
    models.mkdir()
    folder = build_hostile_bundle(models)
    card = json.loads((folder / "card.json").read_text())
    for statement in card["changeable_inputs"].values():
        statement["why"] = hostile(statement["why"])[:500]
    (folder / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    st.cache_resource.clear()  # the catalogue is cached per process
    try:
        at = _ask(_case(signed_in("dr.lee"), "heart-disease", "H-07"))
        assert not at.exception, at.exception
        [entry] = _cf_entries()
        result, _ = read_display_detail(entry)
        assert result.alternatives
        sources = [m.value for m in [*at.markdown, *at.caption, *at.warning, *at.info]]
        carrying = [s for s in sources if PAYLOADS[0] in unliteral(s)]
        assert any("If only these values were different" in unliteral(s) for s in carrying)
        for source in carrying:  # every '<' escaped, no link syntax
            assert not re.search(r"(?<!\\)<", source), source
            assert "](" not in source, source
        table = next(d.value for d in at.dataframe if "Could change" in d.value.columns)
        assert all(PAYLOADS[0] in why for why in table["The model's owners say"][:3])
    finally:
        st.cache_resource.clear()
