"""docs/bring-your-own-model.md, run verbatim: its fit.py, its card file and its commands, on
the synthetic cohort it makes with a fixed seed; the bundle loads and opens in the app."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import streamlit as st
from click.testing import CliRunner

from app_helpers import signed_in
from caselens.cli.main import main
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer
from caselens.model.bundle import load_bundle

DOC = Path(__file__).resolve().parents[2] / "docs" / "bring-your-own-model.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BUNDLE = "heart-failure-death"


def _blocks(info: str) -> list[str]:
    return [body for tag, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if tag == info]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> Path:
    """A folder where every walkthrough command was run in order; returns it."""
    folder = tmp_path_factory.mktemp("walkthrough")
    [fit] = _blocks("python fit.py")
    [card] = _blocks("toml card.toml")
    (folder / "fit.py").write_text(fit, encoding="utf-8")
    commands = [line for block in _blocks("bash walkthrough") for line in block.splitlines()]
    assert [c.split()[:3] for c in commands] == [
        ["python", "fit.py"],
        ["caselens", "bundle", "init"],
        ["caselens", "bundle", "create"],
        ["caselens", "bundle", "check"],
    ]
    runner = CliRunner()
    for command in commands:
        words = shlex.split(command)
        if words[0] == "python":
            subprocess.run([sys.executable, *words[1:]], cwd=folder, check=True, timeout=600)
            continue
        with _inside(folder):
            result = runner.invoke(main, words[1:])
        assert result.exit_code == 0, (command, result.output)
        if words[1:3] == ["bundle", "init"]:
            # The template parses; the walkthrough then fills it in with the doc's card file.
            template = tomllib.loads((folder / "card.toml").read_text(encoding="utf-8"))
            assert template["demonstration_only"] is False
            (folder / "card.toml").write_text(card, encoding="utf-8")
        if words[1:3] == ["bundle", "create"]:
            assert "Created bundles/heart-failure-death" in result.output
            assert "To complete" not in result.output and "To review" not in result.output
        if words[1:3] == ["bundle", "check"]:
            assert result.output.startswith("OK: heart-failure-death 0.1.0, 6 inputs")
    return folder


class _inside:
    """Run with the working directory set to a folder (the commands use relative paths)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> None:
        import os

        self.before = Path.cwd()
        os.chdir(self.folder)

    def __exit__(self, *exc: object) -> None:
        import os

        os.chdir(self.before)


def test_the_walkthrough_makes_a_bundle_whose_card_is_measured(walkthrough):
    bundle = load_bundle(walkthrough / "bundles" / BUNDLE)
    assert bundle.card_problems == () and bundle.card.to_complete_fields() == []
    assert bundle.card.demonstration_only is True  # stated in the card file
    assert bundle.measured_validation.overall == bundle.card.validation.overall
    groups = {(s.variable, s.group) for s in bundle.card.validation.subgroups}
    assert {("sex", "0"), ("sex", "1"), ("age", "65 to under 80")} <= groups
    kinds = {f.name: f.kind for f in bundle.features}
    assert kinds == {
        "age": "integer",
        "ejection_fraction": "integer",
        "serum_creatinine": "number",
        "diabetes": "integer",
        "smoking": "integer",
        "sex": "integer",
    }
    assert bundle.features["serum_creatinine"].missing_allowed
    assert bundle.features["age"].hard_max == 110  # from the card file, never guessed
    assert bundle.card.calibration.method == "sigmoid"  # read from the model
    # Each 0/1 input states its meaning: no warning, and sex is named by its descriptions.
    assert not [w for w in bundle.warnings if "do not say what 1 means" in w]
    assert bundle.features["sex"].describe_value(1) == "1 (Male)"
    assert bundle.card.expected_directions == {"diabetes": "raises", "smoking": "raises"}
    assert len(bundle.demo_cases) == 8
    assert any(v is None for c in bundle.demo_cases for v in c.inputs.values())
    print(
        f"walkthrough bundle: test AUROC {bundle.card.validation.overall.auroc}, "
        f"Brier {bundle.card.validation.overall.brier}, "
        f"{len(bundle.card.validation.subgroups)} subgroup rows"
    )


def test_the_walkthrough_bundle_opens_in_the_app_for_a_clinician(walkthrough, app_env, monkeypatch):
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(walkthrough / "bundles"))
    st.cache_resource.clear()  # the catalogue is cached per process
    try:
        bundle = load_bundle(walkthrough / "bundles" / BUNDLE)
        at = signed_in("dr.lee")
        assert not at.exception, at.exception
        box = at.selectbox(key="case_model")
        at = box.select(next(o for o in box.options if f"({BUNDLE} " in o)).run()
        demo = at.selectbox(key=f"case_{BUNDLE}_demo")
        at = demo.select(next(o for o in demo.options if o.startswith("D-02"))).run()
        assert not at.exception, at.exception
        case = validate_inputs(
            bundle.demo_case("D-02").inputs, bundle.features, source="demo", case_id="D-02"
        )
        expected = CaseExplainer(bundle).explain(case)
        assert at.metric[0].value == f"{100 * expected.probability:.1f}%"
    finally:
        st.cache_resource.clear()
