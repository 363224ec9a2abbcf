"""Every command that acts or shows goes through the workflow door: checked by the access
policy and recorded exactly as the app records it, as operator ``operator:<OS user>``."""

from __future__ import annotations

import getpass

import pytest
from click.testing import CliRunner

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.audit import open_trail
from caselens.cli.main import main

OPERATOR = f"operator:{getpass.getuser()}"
PASSWORD = "a long enough password"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh data folder (trail, key and app database), nothing from the environment."""
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    open_trail().close()
    return tmp_path


def _entries():
    with open_trail(create=False) as trail:
        return trail.entries()


def _add(*extra: str, user_id: str = "dr.ng"):
    return CliRunner().invoke(
        main,
        ["users", "add", user_id, "--name", "Dr Ng", "--role", "clinician", *extra],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )


def test_users_add_is_recorded_as_the_users_page_records_it(data_dir):
    before = len(_entries())
    result = _add()
    assert result.exit_code == 0, result.output
    entries = _entries()
    assert len(entries) == before + 1  # exactly one entry, the addition
    added = entries[-1]
    assert (added.action, added.actor_id, added.actor_role, added.audience) == (
        "user_added",
        OPERATOR,
        "admin",
        "admin",
    )
    assert added.detail() == {
        "user_id": "dr.ng",
        "role": "clinician",
        "patient_ref": None,
        "language": "en",
    }
    assert added.session_id  # a session of its own, like a signed-in page
    assert PASSWORD not in added.detail_json
    assert AccountStore(open_app_database(data_dir)).get("dr.ng").role == "clinician"


def test_users_add_as_a_role_the_policy_refuses_records_the_refusal_and_adds_nobody(data_dir):
    result = _add("--as", "reviewer")
    assert result.exit_code == 1
    assert "Not allowed: A reviewer may not manage users." in result.output
    assert "Traceback" not in result.output
    refused = _entries()[-1]
    assert (refused.action, refused.actor_id, refused.actor_role) == (
        "access_refused",
        OPERATOR,
        "reviewer",
    )
    assert refused.detail()["action"] == "manage_users"
    assert [a.user_id for a in AccountStore(open_app_database(data_dir)).list()] == []


def test_users_add_with_bad_fields_records_nothing(data_dir):
    before = len(_entries())
    result = _add(user_id="bad id!")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(_entries()) == before


def test_users_unlock_is_recorded_as_the_operator_in_the_admin_role(data_dir):
    assert _add().exit_code == 0
    result = CliRunner().invoke(main, ["users", "unlock", "dr.ng"])
    assert result.exit_code == 0, result.output
    last = _entries()[-1]
    assert (last.action, last.actor_id, last.actor_role, last.audience) == (
        "user_unlocked",
        OPERATOR,
        "admin",
        "admin",
    )
    assert last.detail() == {"user_id": "dr.ng"}
    refused = CliRunner().invoke(main, ["users", "unlock", "dr.ng", "--as", "clinician"])
    assert refused.exit_code == 1 and "A clinician may not manage users" in refused.output
    assert (_entries()[-1].action, _entries()[-1].actor_role) == ("access_refused", "clinician")


def test_monitor_check_and_report_are_recorded_as_the_monitoring_page_records_them(
    data_dir, monkeypatch, tmp_path
):
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    runner = CliRunner()
    args = ["--model", "readmission-30d", "--months", "2", "--per-month", "500"]
    simulated = runner.invoke(
        main, ["monitor", "simulate", *args, "--shift", "missing:num_lab_procedures@2"]
    )
    assert simulated.exit_code == 0, simulated.output
    run_id = simulated.output.split()[2].rstrip(":")
    source = ["--model", "readmission-30d", "--simulated", run_id]
    checked = runner.invoke(main, ["monitor", "check", *source])
    assert checked.exit_code == 3, checked.output
    raised = [e for e in _entries() if e.action == "alert_raised"]
    assert raised and {(e.actor_id, e.actor_role) for e in raised} == {(OPERATOR, "admin")}

    out = tmp_path / "report.html"
    done = runner.invoke(main, ["monitor", "report", *source, "--out", str(out)])
    assert done.exit_code == 0, done.output
    exported = _entries()[-1]
    assert (exported.action, exported.actor_id, exported.actor_role, exported.audience) == (
        "exported",
        OPERATOR,
        "admin",
        "admin",
    )
    assert exported.detail()["kind"] == "monitoring_report"
    assert exported.detail()["simulated_run"] == run_id
    assert f"(audit entry {exported.seq})" in done.output
    assert f"{getpass.getuser()} (caselens monitor report) (admin)" in out.read_text("utf-8")

    refused = runner.invoke(
        main, ["monitor", "report", *source, "--out", str(tmp_path / "r2.html"), "--as", "patient"]
    )
    assert refused.exit_code == 1 and "A patient may not view monitoring" in refused.output
    last = _entries()[-1]
    assert (last.action, last.actor_role, last.detail()["action"]) == (
        "access_refused",
        "patient",
        "view_monitoring",
    )
    assert not (tmp_path / "r2.html").exists()


def test_outcomes_import_and_correct_are_checked_and_recorded_as_the_operator(
    data_dir, monkeypatch, tmp_path
):
    monkeypatch.delenv("CASELENS_MODELS_DIR", raising=False)
    header = b"patient_ref,model_id,outcome,known_on\n"
    imported = tmp_path / "outcomes.csv"
    imported.write_bytes(header + b"MRN-1,readmission-30d,1,2025-01-01\n")
    runner = CliRunner()
    refused = runner.invoke(main, ["outcomes", "import", str(imported), "--as", "reviewer"])
    assert refused.exit_code == 1
    assert "Not allowed: A reviewer may not import outcomes." in refused.output
    last = _entries()[-1]
    assert (last.action, last.actor_role, last.detail()["action"]) == (
        "access_refused",
        "reviewer",
        "import_outcomes",
    )
    assert not [e for e in _entries() if e.action == "outcomes_imported"]

    done = runner.invoke(main, ["outcomes", "import", str(imported)])
    assert done.exit_code == 0, done.output
    entry = _entries()[-1]
    assert (entry.action, entry.actor_id, entry.actor_role) == (
        "outcomes_imported",
        OPERATOR,
        "admin",
    )
    assert entry.detail()["new"] == 1

    fix = tmp_path / "fix.csv"
    fix.write_bytes(header + b"MRN-1,readmission-30d,0,2025-01-01\n")
    corrected = runner.invoke(main, ["outcomes", "correct", str(fix), "--reason", "Chart review"])
    assert corrected.exit_code == 0, corrected.output
    entry = _entries()[-1]
    assert (entry.actor_id, entry.actor_role, entry.detail()["reason"]) == (
        OPERATOR,
        "admin",
        "Chart review",
    )
