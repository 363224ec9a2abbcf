"""The public face: `caselens` names what a library user needs, loads lazily, and the README's
library example runs as written."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import caselens

ROOT = Path(__file__).resolve().parents[1]
FACES = (
    "access",
    "audit",
    "authoring",
    "bench",
    "cli",
    "explain",
    "fhir",
    "model",
    "monitoring",
    "workflow",
)


def test_the_readme_library_example_runs_as_written():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False)
    assert result.attempted >= 5
    assert result.failed == 0


def test_the_package_docstring_example_runs():
    result = doctest.testmod(caselens, verbose=False)
    assert result.attempted >= 4
    assert result.failed == 0


@pytest.mark.parametrize("face", ["caselens", *(f"caselens.{f}" for f in FACES)])
def test_every_name_a_face_lists_is_there(face):
    module = importlib.import_module(face)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{face}.{name}"
    assert set(module.__all__) <= set(dir(module))


def test_an_unknown_name_is_an_attribute_error_naming_the_face():
    with pytest.raises(AttributeError, match=r"'caselens\.model' has no attribute 'Nope'"):
        caselens.model.Nope  # noqa: B018


def test_importing_caselens_loads_no_heavy_library():
    heavy = "('sklearn', 'shap', 'pandas', 'streamlit')"
    code = f"import sys, caselens, caselens.cli; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
