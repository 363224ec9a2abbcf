"""No raw HTML from data, headless (AppTest): with a hostile heart-disease bundle, a hostile
care-team contact and a hostile user name, every Markdown element the app sends carries
the data escaped (``components.text.literal``), and reads back as the data itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import streamlit as st

from app_helpers import (
    HOSTILE_PERSON,
    PAYLOAD,
    PAYLOADS,
    build_hostile_bundle,
    hostile,
    shown,
    signed_in,
)
from caselens.access.accounts import DEMO_PASSWORD, AccountStore
from caselens.access.app_database import open_app_database
from components.text import literal, unliteral

CONTACT = hostile("Care team")
HOSTILE_NAME = HOSTILE_PERSON


@pytest.fixture()
def hostile_env(app_env, tmp_path, monkeypatch) -> Iterator[None]:
    """The app on a models folder holding only the hostile heart-disease bundle."""
    models = tmp_path / "models"
    models.mkdir()
    build_hostile_bundle(models)
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    monkeypatch.setenv("CASELENS_CARE_TEAM_CONTACT", CONTACT)
    app_env.mkdir(parents=True, exist_ok=True)
    AccountStore(open_app_database(str(app_env))).add(
        "dr.evil", name=HOSTILE_NAME, role="clinician", password=DEMO_PASSWORD
    )
    # The catalogue and explainers are cached per server process (here: per test process).
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _unescaped(source: str, char: str) -> bool:
    """Whether ``char`` occurs in ``source`` without a backslash escaping it."""
    return any(
        (len(source[: m.start()]) - len(source[: m.start()].rstrip("\\"))) % 2 == 0
        for m in re.finditer(re.escape(char), source)
    )


def _markdown_elements(at) -> list:
    return [
        *at.markdown,
        *at.caption,
        *at.header,
        *at.subheader,
        *at.error,
        *at.warning,
        *at.info,
        *at.success,
        *at.sidebar.markdown,
    ]


def _assert_no_markup_from_data(at) -> None:
    """Every element that shows a payload holds it escaped: no bare '<', no link."""
    for element in _markdown_elements(at):
        if PAYLOADS[0] in unliteral(element.value):
            assert not _unescaped(element.value, "<"), element.value
            assert "](" not in element.value, element.value
    for metric in at.metric:
        assert not _unescaped(metric.label, "<"), metric.label


@pytest.mark.usefixtures("hostile_env")
def test_case_page_and_patient_preview_send_the_hostile_text_escaped():
    at = signed_in("dr.lee")
    assert not at.exception, at.exception
    demo = at.selectbox(key="case_heart-disease_demo")
    at = demo.select(next(o for o in demo.options if o.startswith("H-03"))).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert literal(hostile("Highest predicted risk among men.")) in captions
    intended_use = f"referred for coronary angiography. {PAYLOAD}"
    assert any(literal(intended_use) in c for c in captions)
    label = at.metric[0].label
    assert label.startswith(literal("Chance of "))
    assert literal(PAYLOAD.lower()) in label
    _assert_no_markup_from_data(at)
    assert PAYLOADS[0] in shown(at.info)  # the clinician summary names the hostile labels

    at = at.toggle(key="case_patient_preview").set_value(True).run()
    assert not at.exception, at.exception
    sources = [m.value for m in at.markdown]
    wording = hostile("have narrowed heart arteries found by the heart test")
    assert any(literal(wording) in s for s in sources)
    # The care paragraph: the general advice, then the operator's contact as written.
    assert any(literal(CONTACT) in s for s in sources)
    assert f"people like you {wording}" in shown(at.markdown)
    _assert_no_markup_from_data(at)

    # The sections built only when opened hold the hostile text escaped too.
    for section in ("numbers", "reliability_open", "provenance"):
        at.session_state[f"case_heart-disease_report_{section}"] = True
    at = at.run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "SHAP (points)" in d.value.columns)
    assert any(PAYLOADS[0] in label for label in table["Input"])  # data cells, not markup
    assert any("seeds" in str(j.value) for j in at.json)
    _assert_no_markup_from_data(at)


@pytest.mark.usefixtures("hostile_env")
def test_model_facts_and_the_sidebar_send_the_hostile_text_escaped():
    at = signed_in("dr.evil")
    assert not at.exception, at.exception
    assert at.sidebar.markdown[0].value.startswith(f"**{literal(HOSTILE_NAME)}**")
    at.switch_page("app_pages/model_facts.py").run()
    assert not at.exception, at.exception
    assert at.header[0].value == literal(hostile("Heart disease at angiography"))
    text = shown(at.markdown)
    for expected in (
        f"- {PAYLOAD}",  # an out-of-scope use and a failure mode
        f"**Owner:** {hostile('CaseLens project')}",
        f"**Contact:** {hostile('caselens@example.org')}",
    ):
        assert expected in text, expected
    sources = " ".join(m.value for m in at.markdown)
    assert f"- {literal(PAYLOAD)}" in sources
    _assert_no_markup_from_data(at)
