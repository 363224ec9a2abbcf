"""``caselens audit`` commands, through click's test runner on real trails."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_fixtures import KEY, build_trail, raw_engine, tamper
from caselens.audit import AuditStore
from caselens.cli.audit import audit


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir holding a 6-entry trail and its key, as the app leaves them."""
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    build_trail(tmp_path / "audit.sqlite", 6)
    return tmp_path


def _run(*args: str):
    return CliRunner().invoke(audit, list(args), catch_exceptions=False)


def _last_entry(data_dir: Path):
    with AuditStore.open(data_dir / "audit.sqlite", key=KEY, create=False) as store:
        return store.entries()[-1]


def test_verify_prints_ok_with_count_and_head_and_records_itself(data_dir):
    result = _run("verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 6 entries, head ")
    last = _last_entry(data_dir)
    assert (last.seq, last.action, last.actor_id, last.actor_role) == (
        7,
        "verified",
        "cli",
        "system",
    )
    assert last.detail()["ok"] is True


def test_verify_of_a_tampered_trail_exits_1_naming_the_entry(data_dir):
    tamper(raw_engine(data_dir / "audit.sqlite"), "alter", seq=4, field="actor_name")
    result = _run("verify")
    assert result.exit_code == 1
    assert "BROKEN at entry 4: altered" in result.output
    assert "The 3 entries before it are intact" in result.output
    assert _last_entry(data_dir).detail() == {
        "count": 3,
        "first_bad_seq": 4,
        "head": _head_of(data_dir, 3),
        "ok": False,
        "reason": "altered",
    }


def _head_of(data_dir: Path, seq: int) -> str:
    with AuditStore.open(data_dir / "audit.sqlite", key=KEY, create=False) as store:
        return store.get(seq).entry_hash


def test_head_then_truncation_is_caught_with_expect_head(data_dir):
    head = _run("head").output.strip()
    assert head.startswith("6:")
    tamper(raw_engine(data_dir / "audit.sqlite"), "truncate", keep=4)
    result = _run("verify", "--expect-head", head)
    assert result.exit_code == 1 and "BROKEN at entry 5: truncated" in result.output


def test_malformed_expect_head_is_a_usage_error(data_dir):
    result = _run("verify", "--expect-head", "six")
    assert result.exit_code == 2 and "COUNT:HASH" in result.output


def test_explicit_url_and_key_file_options_are_used(tmp_path, monkeypatch):
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "elsewhere"))
    build_trail(tmp_path / "t.sqlite", 2)
    key_file = tmp_path / "k"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    result = _run(
        "verify", "--url", f"sqlite:///{tmp_path / 't.sqlite'}", "--key-file", str(key_file)
    )
    assert result.exit_code == 0 and result.output.startswith("OK: 2 entries")


def test_missing_trail_or_key_is_a_clear_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    result = _run("verify")
    assert result.exit_code == 1 and "Error: no audit key file at" in result.output
    monkeypatch.setenv("CASELENS_AUDIT_KEY", KEY.hex())
    result = _run("head")
    assert result.exit_code == 1 and "Error: there is no audit trail at" in result.output
    assert not (tmp_path / "audit.sqlite").exists()


def test_export_fhir_to_file_with_filters_records_the_export(data_dir):
    out = data_dir / "out.json"
    result = _run("export", "--format", "fhir", "--patient", "P-0000", "--out", str(out))
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 2
    last = _last_entry(data_dir)
    # The entry the Audit trail page's export writes, by the operator in the reviewer role.
    assert (last.action, last.actor_id, last.actor_role, last.audience) == (
        "exported",
        f"operator:{getpass.getuser()}",
        "reviewer",
        "reviewer",
    )
    assert last.detail() == {
        "entries": 2,
        "filters": {"patient_ref": "P-0000"},
        "format": "fhir",
        "pseudonymised": False,
    }


def test_export_as_a_role_that_may_not_export_is_refused_and_the_refusal_recorded(data_dir):
    out = data_dir / "out.csv"
    result = _run("export", "--format", "csv", "--out", str(out), "--as", "admin")
    assert result.exit_code == 1 and "Not allowed: An admin may not export trail." in result.output
    assert not out.exists()
    last = _last_entry(data_dir)
    assert (last.action, last.actor_role, last.detail()["action"]) == (
        "access_refused",
        "admin",
        "export_trail",
    )


def test_export_limit_caps_the_entries_and_the_recorded_count(data_dir):
    result = _run("export", "--format", "csv", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert [r["seq"] for r in csv.DictReader(io.StringIO(result.output))] == ["1", "2", "3"]
    assert _last_entry(data_dir).detail()["entries"] == 3
    assert _last_entry(data_dir).detail()["filters"] == {"limit": "3"}


def test_export_csv_pseudonymised_hides_patient_refs(data_dir):
    result = _run("export", "--format", "csv", "--pseudonymise", "--action", "viewed")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows and all(r["action"] == "viewed" for r in rows)
    assert all(not r["patient_ref"].startswith("P-") and len(r["patient_ref"]) == 32 for r in rows)
    assert "report_json" not in rows[0] and len(rows[0]["report_sha256"]) == 64


@pytest.mark.parametrize("command", ["verify", "head", "export"])
def test_every_command_documents_an_example(command):
    assert "Example:" in (audit.commands[command].help or "")


def test_export_time_filters_accept_dates_and_offsets(data_dir):
    result = _run(
        "export",
        "--format",
        "csv",
        "--since",
        "2026-01-01",
        "--until",
        "2026-01-01T01:00:00.003+01:00",
    )
    assert result.exit_code == 0, result.output
    # Entry n was recorded at 00:00:00.00n (the test clock); "until" is exclusive.
    assert [r["seq"] for r in csv.DictReader(io.StringIO(result.output))] == ["1", "2"]


def test_export_refuses_a_malformed_time(data_dir):
    result = _run("export", "--since", "yesterday")
    assert result.exit_code == 2 and "not an ISO 8601 time" in result.output
