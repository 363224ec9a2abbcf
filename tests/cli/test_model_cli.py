"""``caselens model versions`` and ``caselens model diff``: the door's history and diff, printed.

Demo mode over a models folder holding the heart-disease sample (seeded live and approved)
and an edited copy (a second version, loaded, not registered). Reading is not recorded; a
refusal is, and an unknown or ambiguous version is a message, never a traceback.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from caselens.audit import open_trail
from caselens.cli.main import main
from caselens.settings import SAMPLE_MODELS_DIR
from version_fixtures import edited_version


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder / "heart-disease")
    edited = edited_version(folder / "heart-disease-v1.1")
    return folder, edited


@pytest.fixture
def env(tmp_path, monkeypatch, models):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(models[0]))
    monkeypatch.setenv("CASELENS_DEMO", "1")
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    return models[1]


def _actions():
    with open_trail(create=False) as trail:
        return [e.action for e in trail.entries()]


def test_model_versions_lists_the_live_version_first_and_the_unregistered_folder(env, heart_bundle):
    result = CliRunner().invoke(main, ["model", "versions", "heart-disease"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "Heart disease at angiography (heart-disease): shows predictions; version 1.0.0 "
        f"({heart_bundle.bundle_sha256[:12]}) is live, approved by admin until "
    )
    live = lines.index(f"1.0.0 ({heart_bundle.bundle_sha256})  Live")
    loose = lines.index(f"1.1.0 ({env.bundle_sha256})  Loaded, not registered")
    assert live < loose
    assert "  folder: heart-disease-v1.1 (loaded)" in lines
    # Demo mode recorded the seeding; reading the history recorded nothing.
    assert _actions() == ["model_version_seeded"]


def test_model_diff_by_short_prefixes_prints_the_changes_by_section(env, heart_bundle):
    older, newer = heart_bundle.bundle_sha256[:6], env.bundle_sha256[:6]
    result = CliRunner().invoke(main, ["model", "diff", "heart-disease", older, newer, "--full"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Reason stated by the owner: none (this version is not registered)" in out
    assert "Decision threshold\n  - Decision threshold 0.50 → 0.40.\n" in out
    assert "  - Age (age): highest accepted value 120 → 110.\n      before: 120\n" in out
    assert _actions() == ["model_version_seeded"]


def test_a_version_that_cannot_be_named_is_a_message(env, heart_bundle):
    older = heart_bundle.bundle_sha256[:8]
    result = CliRunner().invoke(main, ["model", "diff", "heart-disease", older, "ffffff"])
    assert result.exit_code == 1
    assert "Error: The newer version 'ffffff' is not a version of heart-disease" in result.output
    assert "Traceback" not in result.output


def test_a_patient_role_is_refused_and_the_refusal_recorded(env):
    result = CliRunner().invoke(main, ["model", "versions", "heart-disease", "--as", "patient"])
    assert result.exit_code == 1
    assert "Not allowed: A patient may not view model versions." in result.output
    assert _actions() == ["model_version_seeded", "access_refused"]
