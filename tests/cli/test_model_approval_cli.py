"""``caselens model register|approve|shadow|retire`` and the approvals ``monitor check``
prints: through the workflow door as ``operator:<OS user>``, checked and recorded; the OS
user who registered a version cannot approve it."""

from __future__ import annotations

import datetime as dt
import getpass
import shutil

import pytest
from click.testing import CliRunner

from caselens.access.app_database import open_app_database
from caselens.audit import open_trail
from caselens.cli.main import main
from caselens.cli.monitor import EXIT_ALERT
from caselens.lifecycle.seed import seed_first_versions
from caselens.lifecycle.store import LifecycleStore
from caselens.model.bundle import load_bundle
from caselens.settings import SAMPLE_MODELS_DIR

OPERATOR = f"operator:{getpass.getuser()}"
HEART = "heart-disease"


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A fresh data folder and a models folder holding the heart model only."""
    data = tmp_path / "data"
    monkeypatch.setenv("CASELENS_DATA_DIR", str(data))
    for name in (
        "CASELENS_AUDIT_KEY",
        "CASELENS_AUDIT_URL",
        "CASELENS_APP_DB_URL",
        "CASELENS_DEMO",
    ):
        monkeypatch.delenv(name, raising=False)
    # Bundle signing is tested on its own; here the copied sample loads without a trusted key.
    monkeypatch.setenv("CASELENS_REQUIRE_SIGNED_BUNDLES", "off")
    folder = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, folder / HEART)
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(folder))
    open_trail().close()
    return folder


def _entries():
    with open_trail(create=False) as trail:
        return trail.entries()


def test_the_operator_who_registered_a_version_cannot_approve_it_and_both_are_recorded(models):
    sha = load_bundle(models / HEART).bundle_sha256
    runner = CliRunner()
    reason = "The first version of the heart model in this hospital."
    done = runner.invoke(
        main, ["model", "register", HEART, sha[:12], "--reason", reason, "--as", "model_owner"]
    )
    assert done.exit_code == 0, done.output
    assert "Registered version 1.0.0" in done.output
    registered = _entries()[-1]
    assert (registered.action, registered.actor_id) == ("model_version_registered", OPERATOR)
    assert registered.detail()["bundle_sha256"] == sha

    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    refused = runner.invoke(
        main, ["model", "approve", HEART, sha, "--until", until, "--confirm-scope"]
    )
    assert refused.exit_code == 1
    assert f"approver: {OPERATOR} registered version 1.0.0" in refused.output
    assert "Traceback" not in refused.output
    last = _entries()[-1]
    assert (last.action, last.actor_role) == ("access_refused", "admin")
    assert last.detail()["action"] == "approve_model_version"

    shadow = runner.invoke(main, ["model", "shadow", HEART, sha, "--on"])
    assert shadow.exit_code == 0, shadow.output
    assert _entries()[-1].action == "model_version_shadow_started"
    retired = runner.invoke(
        main, ["model", "retire", HEART, sha, "--reason", "Not pursued in this hospital."]
    )
    assert retired.exit_code == 0, retired.output
    assert _entries()[-1].action == "model_version_retired"


def _seed(models, tmp_path, *, approved_days_ago: int, days: int):
    bundle = load_bundle(models / HEART)
    store = LifecycleStore(open_app_database(tmp_path / "data"))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=approved_days_ago)
    seed_first_versions(
        store, [bundle], registered_by="owner.ng", approved_by="admin", now=now, days=days
    )
    return bundle


def test_monitor_check_prints_an_approval_ending_within_30_days(models, tmp_path):
    bundle = _seed(models, tmp_path, approved_days_ago=0, days=12)
    checked = CliRunner().invoke(main, ["monitor", "check", "--model", HEART])
    assert checked.exit_code == 0, checked.output
    line = f"approval  {HEART} {bundle.bundle_sha256[:12]}: approved by admin until"
    assert line in checked.output
    assert "(ends in 11 days" in checked.output or "(ends in 12 days" in checked.output


def test_monitor_check_prints_an_ended_approval_and_records_its_expiry_once(models, tmp_path):
    bundle = _seed(models, tmp_path, approved_days_ago=40, days=39)
    for _ in range(2):
        checked = CliRunner().invoke(main, ["monitor", "check", "--model", HEART])
        line = f"APPROVAL EXPIRED  {HEART} {bundle.bundle_sha256[:12]}: ended"
        assert line in checked.output
        assert checked.exit_code == EXIT_ALERT  # a stopped model fails the check like an alert
    expired = [e for e in _entries() if e.action == "model_approval_expired"]
    assert len(expired) == 1 and expired[0].actor_id == "lifecycle"
    assert expired[0].detail()["stops_predictions"] is True
