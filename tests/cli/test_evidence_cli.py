"""``caselens audit evidence`` and ``verify-pack`` on a real SQLite trail over several days."""

from __future__ import annotations

import getpass
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_fixtures import KEY, make_event
from caselens.audit import AuditStore
from caselens.audit.signing_keys import load_signing_key, public_key_pem
from caselens.cli.audit import audit

OPERATOR = f"operator:{getpass.getuser()}"


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with a trail of 4 entries a day on 2026-01-01..03, its keys, no models."""
    for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASELENS_SIGNING_KEY_FILE", str(tmp_path / "signing.key.pem"))
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("CASELENS_MODELS_DIR", str(tmp_path / "models"))
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    times = iter(f"2026-01-0{d}T1{h}:00:00.000Z" for d in (1, 2, 3) for h in range(4))
    now = {"t": ""}
    with AuditStore.open(
        tmp_path / "audit.sqlite",
        key=KEY,
        clock=lambda: now["t"],
        checkpoint_file=tmp_path / "audit.checkpoints.jsonl",
    ) as store:
        for i in range(12):
            now["t"] = next(times)
            store.append(make_event(i))
    load_signing_key(tmp_path / "signing.key.pem", create=True)
    return tmp_path


def _run(*args: str):
    return CliRunner().invoke(audit, list(args), catch_exceptions=False)


def _entries(data_dir: Path):
    with AuditStore.open(data_dir / "audit.sqlite", key=KEY, create=False) as store:
        return store.entries()


def test_a_pack_is_written_recorded_and_verifies_offline_with_the_published_key(data_dir):
    out = data_dir / "pack.zip"
    result = _run("evidence", "--from", "2026-01-02", "--to", "2026-01-03", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "8 entries (2026-01-02 to 2026-01-03)" in result.output
    recorded = _entries(data_dir)[-1]

    assert (recorded.action, recorded.actor_id, recorded.actor_role) == (
        "evidence_exported",
        OPERATOR,
        "reviewer",
    )
    detail = recorded.detail()
    assert detail["entries"] == 8 and (detail["from"], detail["to"]) == ("2026-01-02", "2026-01-03")
    assert detail["pack_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as archive:
        lines = archive.read("trail/entries.jsonl").splitlines()
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs == list(range(5, 13))

    key = load_signing_key(data_dir / "signing.key.pem")
    published = data_dir / "published.pub.pem"
    published.write_text(public_key_pem(key.public_key))
    # Offline: no data dir, no settings, no database.
    (data_dir / "audit.sqlite").rename(data_dir / "moved.sqlite")
    checked = _run("verify-pack", str(out), "--public-key", str(published))
    assert checked.exit_code == 0, checked.output
    assert f"The pack verifies (signing key {key.key_id})" in checked.output
    assert checked.output.count("\nok ") + checked.output.startswith("ok ") >= 5


def test_a_tampered_pack_exits_1_naming_the_file(data_dir):
    out = data_dir / "pack.zip"
    assert (
        _run("evidence", "--from", "2026-01-01", "--to", "2026-01-01", "--out", str(out)).exit_code
        == 0
    )
    with zipfile.ZipFile(out) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    members["README.txt"] = members["README.txt"].replace(b"CaseLens", b"CaseLenz", 1)
    from caselens.audit.evidence_pack import write_zip

    out.write_bytes(write_zip(members))
    result = _run("verify-pack", str(out))
    assert result.exit_code == 1
    assert "FAIL file README.txt: README.txt was changed" in result.output
    assert "the pack does not verify: file README.txt" in result.output


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-1-2", "2026-01-03", "--from: expected a UTC date as YYYY-MM-DD"),
        ("2026-01-02", "2026-02-30", "--to: '2026-02-30' is not a calendar date"),
        ("2026-01-03", "2026-01-02", "The range is backwards"),
        ("2026-02-01", "2026-02-02", "No entries were recorded from 2026-02-01 to 2026-02-02"),
    ],
)
def test_bad_and_empty_ranges_are_refused_and_no_file_is_written(data_dir, first, last, message):
    out = data_dir / "pack.zip"
    before = len(_entries(data_dir))
    result = _run("evidence", "--from", first, "--to", last, "--out", str(out))
    assert result.exit_code == 1 and message in result.output, result.output
    assert not out.exists()
    assert all(e.action != "evidence_exported" for e in _entries(data_dir)[before:])


def test_too_many_entries_are_refused_with_the_number(data_dir, monkeypatch):
    import caselens.workflow.evidence as evidence

    monkeypatch.setattr(evidence, "MAX_PACK_ENTRIES", 5)
    result = _run("evidence", "--from", "2026-01-01", "--to", "2026-01-03", "--out", "x.zip")
    assert result.exit_code == 1
    assert "12 entries were recorded from 2026-01-01 to 2026-01-03" in result.output
    assert "at most 5" in result.output


@pytest.mark.parametrize("role", ["clinician", "patient"])
def test_other_roles_are_refused_and_the_refusal_is_recorded(data_dir, role):
    out = data_dir / "pack.zip"
    result = _run(
        "evidence", "--from", "2026-01-01", "--to", "2026-01-03", "--out", str(out), "--as", role
    )
    assert result.exit_code == 1 and "Not allowed" in result.output
    assert not out.exists()
    refused = _entries(data_dir)[-1]
    assert refused.action == "access_refused" and refused.actor_role == role
    assert refused.detail()["action"] == "export_evidence_pack"


def test_verify_pack_refuses_a_missing_or_non_zip_file_plainly(tmp_path):
    missing = _run("verify-pack", str(tmp_path / "nope.zip"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = _run("verify-pack", str(junk))
    assert result.exit_code == 1 and "not a readable zip" in result.output
