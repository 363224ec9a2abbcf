"""Model facts says "check for leakage" beside a measured AUROC of 0.99 or more, and only there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from click.testing import CliRunner

from app_helpers import shown, signed_in
from caselens.cli.main import main
from caselens.settings import SAMPLE_MODELS_DIR
from leakage_cohorts import INPUTS, near_deterministic_cohort, write_files

TOO_GOOD_NAME = "Leakage test model"
HEART_NAME = "Heart disease at angiography"


@pytest.fixture()
def models_env(app_env, tmp_path, monkeypatch) -> Iterator[Path]:
    """The app on a models folder with the heart-disease sample and a too-good bundle."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / "heart-disease")
    work = tmp_path / "work"
    work.mkdir()
    args = write_files(work, near_deterministic_cohort(), INPUTS)
    args[args.index("--out") + 1] = str(models / "leak-test")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models))
    # The catalogue and explainers are cached per server process (here: per test process).
    st.cache_resource.clear()
    yield models
    st.cache_resource.clear()


@pytest.mark.parametrize("user", ["dr.lee", "rev.kim"])
def test_model_facts_flags_a_too_good_auroc_and_not_the_sample(models_env, user):
    at = signed_in(user)
    at.switch_page("app_pages/model_facts.py").run()
    assert not at.exception
    names = at.selectbox(key="facts_model").options
    assert TOO_GOOD_NAME in names
    at.selectbox(key="facts_model").select(TOO_GOOD_NAME).run()
    assert not at.exception
    warnings = shown(at.warning)
    assert (
        "Check for leakage: measured on the reference data, the AUROC is at or above 0.99 in "
        "overall: AUROC 0.99" in warnings
    )
    assert "(300 patients" in warnings
    [table] = [t for t in at.dataframe if "Population" in t.value.columns]
    flagged = table.value.set_index("Population")["Leakage"]
    assert flagged["Overall"] == "check for leakage"
    assert table.value.loc[table.value["Population"] == "Overall", "AUROC"].iloc[0] >= 0.99
    at.selectbox(key="facts_model").select(HEART_NAME).run()
    assert not at.exception
    assert "Check for leakage" not in shown(at.warning)
    [table] = [t for t in at.dataframe if "Population" in t.value.columns]
    assert "Leakage" not in table.value.columns
