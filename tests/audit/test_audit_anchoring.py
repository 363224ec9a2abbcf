"""Anchoring the trail: signed checkpoints outside the database, the key's lifecycle, and time.

Each test builds a real SQLite trail with ``open_trail`` (as the app and CLI open it), then
does what an operator or attacker would: delete the key, rotate it, lose a retired key,
delete the newest entries, restore an older copy, set the clock back or forward.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_fixtures import make_event
from caselens.audit import AuditKeyError, open_trail
from caselens.audit.checkpoints import CHECKPOINT_EVERY, read_checkpoints
from caselens.audit.keys import key_id, new_key, retire_and_replace_key, retired_keys_dir
from caselens.audit.registry import registry_line
from caselens.cli.main import main


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    # The operator's key registry sits outside the data folder, as the docs ask.
    return {
        "CASELENS_DATA_DIR": str(tmp_path / "data"),
        "CASELENS_AUDIT_KEY_REGISTRY": str(tmp_path / "operator" / "audit-keys.txt"),
    }


def _register(env, line: str) -> None:
    """Add a line to the operator's key registry (what the operator does by hand)."""
    path = Path(env["CASELENS_AUDIT_KEY_REGISTRY"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _trail(env, n: int, **kwargs):
    store = open_trail(env=env, **kwargs)
    if n:
        store.append_many(make_event(i) for i in range(n))
    return store


def _delete_after(path, keep: int) -> None:
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER audit_entry_no_delete")
    raw.execute("DELETE FROM audit_entry WHERE seq > ?", (keep,))
    raw.commit()
    raw.close()


# -- key lifecycle ----------------------------------------------------------------------------


def test_a_trail_with_entries_but_no_key_refuses_to_start(env, tmp_path):
    _trail(env, 3).close()
    (tmp_path / "data" / "audit.key").unlink()
    with pytest.raises(AuditKeyError, match=r"holds 3 entries but its key file .* is missing"):
        open_trail(env=env)
    assert not (tmp_path / "data" / "audit.key").exists()  # no new key was minted


def test_an_empty_trail_gets_a_new_key(env, tmp_path):
    open_trail(env=env).close()
    assert (tmp_path / "data" / "audit.key").stat().st_mode & 0o077 == 0


def test_after_a_rotation_both_stretches_verify_and_the_change_is_named(env, tmp_path):
    store = _trail(env, 3)
    old_id = store.key_id
    fresh = new_key()
    rotation = store.rotate_key(fresh)
    retire_and_replace_key(tmp_path / "data" / "audit.key", fresh)
    _register(env, registry_line(key_id(fresh), rotation.seq + 1))
    store.close()
    store = _trail(env, 2)  # a restarted server: signs with the new key
    assert store.key_id == key_id(fresh) != old_id
    result = store.verify()
    assert result.ok, result.summary()
    assert result.count == 6
    assert any(f"changed at entry {rotation.seq}" in w for w in result.warnings)
    assert store.entry_problem(2) is None and store.entry_problem(6) is None
    assert rotation.detail() == {"from_key": old_id, "to_key": key_id(fresh)}


def test_a_lost_retired_key_is_named_not_called_a_bad_signature(env, tmp_path):
    store = _trail(env, 3)
    fresh = new_key()
    store.rotate_key(fresh)
    retire_and_replace_key(tmp_path / "data" / "audit.key", fresh)
    store.close()
    shutil.rmtree(retired_keys_dir(tmp_path / "data" / "audit.key"))
    store = open_trail(env=env)
    result = store.verify()
    assert result.broken.reason == "unknown_key" and result.broken.seq == 1
    assert "not hold" in str(result.broken)
    assert "does not hold" in store.entry_problem(2)


def test_a_server_still_holding_the_old_key_cannot_sign_after_a_rotation(env, tmp_path):
    stale = _trail(env, 2)
    current = open_trail(env=env)
    current.rotate_key(new_key())
    with pytest.raises(AuditKeyError, match="rotated"):
        stale.append(make_event(9))
    assert stale.head()[0] == 3  # nothing written after the rotation entry
    stale.close()
    current.close()


# -- checkpoints ------------------------------------------------------------------------------


def test_the_store_writes_a_signed_checkpoint_every_hundred_entries(env, tmp_path):
    store = _trail(env, 2 * CHECKPOINT_EVERY + 50)
    checkpoints = read_checkpoints(store.checkpoint_file)
    assert [c.count for c in checkpoints] == [2 * CHECKPOINT_EVERY + 50]  # one bulk batch
    store.append_many(make_event(i) for i in range(60))
    store.append(make_event(1))
    counts = [c.count for c in read_checkpoints(store.checkpoint_file)]
    assert counts == [250, 310]
    assert all(c.key_id == store.key_id for c in read_checkpoints(store.checkpoint_file))
    assert store.verify().ok


def test_a_deleted_tail_is_caught_by_the_checkpoints_without_an_expected_head(env, tmp_path):
    store = _trail(env, 150)
    store.close()
    _delete_after(tmp_path / "data" / "audit.sqlite", keep=120)
    store = open_trail(env=env)
    result = store.verify()
    assert result.broken.reason == "truncated"
    assert "150 entries" in result.broken.expected and result.broken.found == "120 entries"


def test_a_database_restored_from_an_older_copy_is_caught(env, tmp_path):
    store = _trail(env, 40)
    store.close()
    backup = tmp_path / "backup.sqlite"
    shutil.copy(tmp_path / "data" / "audit.sqlite", backup)
    store = open_trail(env=env)
    store.append_many(make_event(i) for i in range(80))  # crosses 100: a checkpoint
    store.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "data" / f"audit.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, tmp_path / "data" / "audit.sqlite")
    result = open_trail(env=env).verify()
    assert result.broken is not None and result.broken.reason == "truncated"


def test_a_forged_checkpoint_is_ignored_and_said(env):
    store = _trail(env, 5)
    store.checkpoint()
    line = json.dumps(
        {"count": 99, "head_hash": "0" * 64, "recorded_at": "2026", "key_id": "x", "hmac": "y"}
    )
    with open(store.checkpoint_file, "a") as handle:
        handle.write(line + "\n")
    result = store.verify()
    assert result.ok
    assert any("not signed by a key this server holds" in w for w in result.warnings)


# -- time -------------------------------------------------------------------------------------


def test_a_clock_set_backwards_never_stamps_an_entry_before_the_last_and_says_so(env):
    now = ["2026-11-25T10:00:00.000Z"]
    store = _trail(env, 0, clock=lambda: now[0])
    first = store.append(make_event(1))
    now[0] = "2026-11-25T09:00:00.000Z"  # the clock is set an hour back
    second = store.append(make_event(2))
    assert second.recorded_at == first.recorded_at
    assert second.detail()["clock_behind_trail"] == "2026-11-25T09:00:00.000Z"
    assert "clock_behind_trail" not in first.detail()
    assert store.verify().ok


def test_entries_stamped_in_the_future_are_flagged_by_verify(env):
    store = _trail(env, 0, clock=lambda: "2099-01-01T00:00:00.000Z")
    store.append(make_event(1))
    result = store.verify()
    assert result.ok  # the chain holds; the time is what cannot be trusted
    assert any("stamped in the future" in w for w in result.warnings)


# -- command line -----------------------------------------------------------------------------


def test_checkpoint_and_rotate_key_commands(env, tmp_path, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    _trail(env, 3).close()
    runner = CliRunner()
    made = runner.invoke(main, ["audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    assert "Checkpoint: 3 entries" in made.output
    rotated = runner.invoke(main, ["audit", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert "retired" in rotated.output and "Restart the app" in rotated.output
    # It says what to register, where; until then verify rejects the rotation.
    lines = re.findall(r"^    ([0-9a-f]{16} from \d+)$", rotated.output, re.M)
    assert len(lines) == 2  # the retired key (not registered yet) and the new one
    assert f"the key registry {env['CASELENS_AUDIT_KEY_REGISTRY']}" in rotated.output
    Path(env["CASELENS_AUDIT_KEY_REGISTRY"]).parent.mkdir(parents=True)
    Path(env["CASELENS_AUDIT_KEY_REGISTRY"]).write_text("")
    unregistered = runner.invoke(main, ["audit", "verify"])
    assert unregistered.exit_code == 1 and "unregistered_key" in unregistered.output
    _register(env, "\n".join(lines))
    verified = runner.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "OK:" in verified.output and "signing key changed" in verified.output
