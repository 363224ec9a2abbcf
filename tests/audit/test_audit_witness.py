"""A history that cannot be rewound quietly: the witness, the key registry, a lost trail.

Each test builds a real SQLite trail with ``open_trail`` (as the app and CLI open it), then does
what someone holding the data folder could do: delete the newest entries together with the
checkpoint file, roll back the database and the checkpoints together, forge a key rotation with
a retired key, rotate to a key nobody registered, delete the database. The witness and the
registry are what catch them.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_fixtures import make_event
from caselens.audit import (
    AuditError,
    AuditEvent,
    AuditStore,
    AuditTrailMissing,
    AuditWriteError,
    Witness,
    open_trail,
    parse_registry,
    registry_line,
    seal,
)
from caselens.audit.checkpoints import CHECKPOINT_EVERY, read_checkpoints
from caselens.audit.keys import key_id, load_key, new_key, retire_and_replace_key
from caselens.audit.records import ENTRY_FIELDS
from caselens.audit.store import KEY_ROTATED
from caselens.audit.verify import verify_quietly
from caselens.cli.main import main


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    return {
        "CASELENS_DATA_DIR": str(tmp_path / "data"),
        "CASELENS_AUDIT_KEY_REGISTRY": str(tmp_path / "operator" / "audit-keys.txt"),
    }


@pytest.fixture()
def cli_env(env, monkeypatch) -> dict[str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_AUDIT_WITNESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_CHECKPOINTS", raising=False)
    return env


def _data(env) -> Path:
    return Path(env["CASELENS_DATA_DIR"])


def _trail(env, n: int) -> AuditStore:
    store = open_trail(env=env)
    if n:
        store.append_many(make_event(i) for i in range(n))
    return store


def _register(env, line: str) -> None:
    path = Path(env["CASELENS_AUDIT_KEY_REGISTRY"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _raw(env) -> sqlite3.Connection:
    """The database as an attacker with write access opens it: append-only triggers dropped."""
    raw = sqlite3.connect(_data(env) / "audit.sqlite")
    raw.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    raw.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
    return raw


def _delete_from(env, seq: int) -> None:
    raw = _raw(env)
    raw.execute("DELETE FROM audit_entry WHERE seq >= ?", (seq,))
    raw.commit()
    raw.close()


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copy(source, target)


# -- the witness catches what the checkpoint file alone cannot -------------------------------


def test_a_deleted_tail_with_the_checkpoint_file_deleted_too_is_caught_by_the_witness(env):
    store = _trail(env, 150)
    store.close()
    _delete_from(env, 121)
    (_data(env) / "audit.checkpoints.jsonl").unlink()
    store = open_trail(env=env)
    result = store.verify()
    store.close()
    assert not result.ok
    assert result.broken.reason == "truncated" and result.broken.seq == 121
    assert "150 entries (witness checkpoint of" in result.broken.expected
    assert result.broken.found == "120 entries"
    assert "the witness recorded 150 entries" in result.witness


def test_a_joint_rollback_of_database_and_checkpoints_is_caught_by_the_witness(env, tmp_path):
    _trail(env, 40).close()  # its first entry wrote a checkpoint (of the batch: 40 entries)
    backup = tmp_path / "backup"
    backup.mkdir()
    _copy_db(_data(env) / "audit.sqlite", backup / "audit.sqlite")
    shutil.copy(_data(env) / "audit.checkpoints.jsonl", backup / "audit.checkpoints.jsonl")
    store = open_trail(env=env)
    store.append_many(make_event(i) for i in range(80))  # crosses 100: a checkpoint
    store.close()
    # Restore the database and the checkpoint file from the same older copy.
    _copy_db(backup / "audit.sqlite", _data(env) / "audit.sqlite")
    shutil.copy(backup / "audit.checkpoints.jsonl", _data(env) / "audit.checkpoints.jsonl")
    store = open_trail(env=env)
    assert [c.count for c in read_checkpoints(store.checkpoint_file)] == [40]  # consistent
    result = store.verify()
    store.close()
    assert result.broken is not None and result.broken.reason == "truncated"
    assert "120 entries (witness checkpoint" in result.broken.expected
    assert result.broken.found == "40 entries"


def test_a_history_replaced_after_the_witnessed_checkpoint_is_caught(env):
    store = _trail(env, 100)
    witnessed = store.head()
    store.close()
    _delete_from(env, 90)
    (_data(env) / "audit.checkpoints.jsonl").unlink()
    store = open_trail(env=env)  # the attacker holds the key: re-writes 11 entries of their own
    store.append_many(make_event(i, actor_id="mallory") for i in range(11))
    result = store.verify()
    store.close()
    assert result.broken.reason == "checkpoint_mismatch" and result.broken.seq == witnessed[0]
    assert witnessed[1] in result.broken.expected


def test_verify_says_the_witness_comparison_in_words(cli_env):
    _trail(cli_env, 150).close()
    verified = CliRunner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    witness = _data(cli_env) / "audit.witness.sqlite"
    assert f"Witness (SQLite file {witness}): 1 checkpoint, the newest of 150 entries" in (
        verified.output
    )
    assert "the trail holds the checkpointed entries unchanged" in verified.output
    _delete_from(cli_env, 101)
    (_data(cli_env) / "audit.checkpoints.jsonl").unlink()
    broken = CliRunner().invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN at entry 101: truncated" in broken.output
    assert "the trail does not match it — the witness recorded 150 entries" in broken.output


def test_the_default_witness_is_a_separate_append_only_file(env):
    store = _trail(env, CHECKPOINT_EVERY)
    store.close()
    path = _data(env) / "audit.witness.sqlite"
    assert path.stat().st_mode & 0o077 == 0
    raw = sqlite3.connect(path)
    for statement in (
        "UPDATE caselens_audit_witness SET count = 1",
        "DELETE FROM caselens_audit_witness",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
    assert raw.execute("SELECT count FROM caselens_audit_witness").fetchall() == [(100,)]
    raw.close()


def test_an_unreadable_witness_leaves_the_trail_not_confirmed(env, tmp_path):
    store = _trail(env, 3)
    store.close()
    garbage = tmp_path / "not-a-database"
    garbage.write_bytes(b"this is not SQLite" * 100)
    store = open_trail(env={**env, "CASELENS_AUDIT_WITNESS": str(garbage)})
    result = store.verify()
    store.close()
    assert result.broken is None and not result.ok
    assert "could not be read" in result.witness_problem
    assert result.summary().startswith("NOT CONFIRMED: ")


def test_a_witness_that_cannot_be_written_stops_the_next_recording(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    down = {**env, "CASELENS_AUDIT_WITNESS": str(blocker / "witness.sqlite")}
    store = open_trail(env=down)
    store.append(make_event(0))  # recorded; its checkpoint (the first entry's) is owed
    assert store.head()[0] == 1
    with pytest.raises(AuditWriteError, match=r"witness .* could not be written"):
        store.append(make_event(1))
    assert store.head()[0] == 1  # nothing recorded while the witness lags
    assert any("has not reached the witness" in n for n in store.verify().warnings)
    store.close()


# -- key rotations must be registered out of band ----------------------------------------------


def _rotated_trail(env) -> tuple[bytes, bytes, int]:
    """A trail of 3 entries under key 1, a registered rotation to key 2, then 4 entries under
    key 2. Returns (key 1, key 2, the rotation's seq)."""
    store = _trail(env, 3)
    first = store.signing_key
    second = new_key()
    rotation = store.rotate_key(second)
    retire_and_replace_key(_data(env) / "audit.key", second)
    _register(env, registry_line(key_id(first), 1))
    _register(env, registry_line(key_id(second), rotation.seq + 1))
    store.close()
    store = _trail(env, 4)
    assert store.verify().ok
    store.close()
    return first, second, rotation.seq


def _forge(env, seq: int, key: bytes, event: AuditEvent) -> None:
    """Write a correctly chained entry signed with ``key`` at ``seq`` by raw SQL."""
    raw = _raw(env)
    prev_hash, prev_time = raw.execute(
        "SELECT entry_hash, recorded_at FROM audit_entry WHERE seq = ?", (seq - 1,)
    ).fetchone()
    entry = seal(event, seq=seq, prev_hash=prev_hash, recorded_at=prev_time, key=key)
    raw.execute(
        f"INSERT INTO audit_entry ({', '.join(ENTRY_FIELDS)}) "
        f"VALUES ({', '.join('?' for _ in ENTRY_FIELDS)})",
        [getattr(entry, name) for name in ENTRY_FIELDS],
    )
    raw.commit()
    raw.close()


def _rewrite_with_retired_key(env, first: bytes, seq: int, *, rotate_to: str | None) -> None:
    """What someone holding only the retired key can do: cut the trail at the real rotation,
    optionally forge a rotation there, then sign new entries with the retired key; the
    checkpoint file is deleted (it would betray them)."""
    _delete_from(env, seq)
    if rotate_to is not None:
        rotation = AuditEvent(
            actor_id="system",
            actor_name="CaseLens",
            actor_role="system",
            audience="system",
            action=KEY_ROTATED,
            detail={"from_key": key_id(first), "to_key": rotate_to},
        )
        _forge(env, seq, first, rotation)
    (_data(env) / "audit.checkpoints.jsonl").unlink()
    with AuditStore.open(_data(env) / "audit.sqlite", key=first, create=False) as forger:
        forger.append_many(make_event(i, actor_id="mallory") for i in range(6))


def test_a_forged_rotation_to_the_same_key_with_only_the_retired_key_is_rejected(env):
    first, _second, seq = _rotated_trail(env)
    _rewrite_with_retired_key(env, first, seq, rotate_to=key_id(first))
    store = open_trail(env=env)  # the operator verifies, holding both keys
    result = store.verify()
    store.close()
    assert (result.broken.reason, result.broken.seq) == ("bad_rotation", seq)
    assert "again" in result.broken.found
    assert "not valid" in str(result.broken)
    # The chain itself is perfect under the retired key: only the rotation rule (and the
    # witness) can tell, and the rule comes first.
    chain_only = AuditStore.open(_data(env) / "audit.sqlite", key=first, create=False)
    assert verify_quietly(chain_only.iter_entries(), key=chain_only.keyring()).ok
    chain_only.close()


def test_a_retired_key_signing_on_without_a_rotation_is_rejected(env):
    first, second, seq = _rotated_trail(env)
    _rewrite_with_retired_key(env, first, seq, rotate_to=None)
    store = open_trail(env=env)
    result = store.verify()
    store.close()
    assert (result.broken.reason, result.broken.seq) == ("after_retirement", seq + 1)
    assert f"key {key_id(second)} from entry {seq + 1}" in result.broken.expected


def test_a_rotation_to_a_key_not_registered_out_of_band_is_rejected(env):
    store = _trail(env, 3)
    _register(env, registry_line(store.key_id, 1))
    stranger = new_key()
    rotation = store.rotate_key(stranger)  # never registered
    store.append(make_event(9))
    result = store.verify()
    store.close()
    assert (result.broken.reason, result.broken.seq) == ("unregistered_key", rotation.seq)
    assert key_id(stranger) in result.broken.expected
    assert env["CASELENS_AUDIT_KEY_REGISTRY"] in result.broken.expected


def test_without_a_registry_no_rotation_is_valid_and_verify_says_what_to_set(env):
    bare = {"CASELENS_DATA_DIR": env["CASELENS_DATA_DIR"]}
    store = _trail(bare, 2)
    store.rotate_key(new_key())
    result = store.verify()
    store.close()
    assert result.broken.reason == "unregistered_key"
    assert "none is configured: set CASELENS_AUDIT_KEY_REGISTRY" in result.broken.expected


def test_a_rotation_to_the_key_in_use_is_refused_when_made(env):
    store = _trail(env, 1)
    with pytest.raises(AuditError, match="rotation needs a new key"):
        store.rotate_key(store.signing_key)
    assert store.head()[0] == 1
    store.close()


def test_a_registry_naming_a_later_rotation_than_the_trail_has_reports_it_cut_short(env):
    store = _trail(env, 5)
    _register(env, registry_line("ab" * 8, 20))
    result = store.verify()
    store.close()
    assert (result.broken.reason, result.broken.seq) == ("truncated", 6)


def test_rotate_key_says_what_to_register_and_verify_accepts_it_once_registered(cli_env):
    _trail(cli_env, 3).close()
    runner = CliRunner()
    rotated = runner.invoke(main, ["audit", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    new_id = key_id(load_key(_data(cli_env) / "audit.key", create=False, env={}))
    old_id = next(p.stem for p in (_data(cli_env) / "audit.key.retired").glob("*.key"))
    # The retired key's own line too, as the registry does not list it yet.
    assert f"these lines to the key registry {cli_env['CASELENS_AUDIT_KEY_REGISTRY']}" in (
        rotated.output
    )
    assert f"    {old_id} from 1\n    {new_id} from 5\n" in rotated.output  # 4: the rotation
    rejected = runner.invoke(main, ["audit", "verify"])
    assert rejected.exit_code == 1 and "unregistered_key" in rejected.output
    _register(cli_env, f"{old_id} from 1\n{new_id} from 5")
    accepted = runner.invoke(main, ["audit", "verify"])
    assert accepted.exit_code == 0, accepted.output


# -- registry parsing ----------------------------------------------------------------------


def test_registry_lines_comments_and_errors():
    parsed = parse_registry("# keys\n\n" + "ab" * 8 + " from 1  # first\n" + "cd" * 8 + " from 7\n")
    assert {k: v.first_seq for k, v in parsed.keys.items()} == {"ab" * 8: 1, "cd" * 8: 7}
    for text, message in (
        ("AB" * 8 + " from 1", r"line 1: expected 'KEY_ID from ENTRY'"),
        ("ab" * 8 + " from 0", "line 1: entries start at 1"),
        ("ab" * 8 + " from 1\n" + "ab" * 8 + " from 3", "line 2: key abab.* registered twice"),
        ("ab" * 8 + " from 2\n" + "cd" * 8 + " from 2", "line 2: .* both registered from entry 2"),
        ("secret " + "ab" * 32, "line 1: expected"),
    ):
        with pytest.raises(AuditError, match=message):
            parse_registry(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_registry_text_parses_or_names_its_line(text):
    try:
        parsed = parse_registry(text)
    except AuditError as exc:
        assert re.search(r"line \d+: ", str(exc))
    else:
        assert all(entry.first_seq >= 1 for entry in parsed.keys.values())


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("0123456789abcdef", min_size=16, max_size=16),
        st.integers(1, 10**12),
        max_size=8,
    )
)
def test_registry_lines_read_back_as_written(keys):
    starts = {}
    for kid, first in keys.items():
        starts.setdefault(first, kid)
    unique = {kid: first for first, kid in starts.items()}
    text = "\n".join(registry_line(kid, first) for kid, first in unique.items())
    assert {k: v.first_seq for k, v in parse_registry(text).keys.items()} == unique


# -- a trail that had entries never silently restarts ----------------------------------------


def test_a_deleted_database_refuses_to_start_and_says_how_to_recover(env, cli_env):
    _trail(env, 120).close()
    for suffix in ("", "-wal", "-shm"):
        (_data(env) / f"audit.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(AuditTrailMissing) as refused:
        open_trail(env=env)
    message = str(refused.value)
    assert "is missing or empty" in message and "held 120 entries" in message
    assert "restore the trail's database from your backup" in message
    assert "caselens audit verify" in message
    assert not (_data(env) / "audit.sqlite").exists()  # no new, empty trail was created
    cli = CliRunner().invoke(main, ["audit", "verify"])
    assert cli.exit_code == 1 and "is missing or empty" in cli.output


def test_a_deleted_database_and_checkpoint_file_are_still_refused_by_the_witness(env):
    _trail(env, 120).close()
    for name in ("audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm", "audit.checkpoints.jsonl"):
        (_data(env) / name).unlink(missing_ok=True)
    with pytest.raises(AuditTrailMissing, match=r"the witness \(SQLite file .*held 120 entries"):
        open_trail(env=env)


def test_an_emptied_database_refuses_to_start(env):
    _trail(env, 5).close()  # under 100 entries: the first entry's checkpoint is enough
    _delete_from(env, 1)
    with pytest.raises(AuditTrailMissing, match="held 5 entries"):
        open_trail(env=env)


def test_a_new_data_folder_starts_an_empty_trail(env):
    store = open_trail(env=env)
    assert store.head()[0] == 0 and store.verify().ok
    store.close()


def test_a_witness_location_that_is_not_sqlite_or_postgresql_is_refused():
    with pytest.raises(AuditError, match="SQLite file or a PostgreSQL URL"):
        Witness.open("mysql://someone@host/db")
    with pytest.raises(AuditError, match="not an in-memory"):
        Witness.open("sqlite:///:memory:")


def test_a_witness_file_deleted_under_a_running_server_stops_the_recording(env):
    store = _trail(env, CHECKPOINT_EVERY)  # the witness holds one checkpoint
    (_data(env) / "audit.witness.sqlite").unlink()
    store.append_many(make_event(i) for i in range(CHECKPOINT_EVERY))  # its checkpoint is owed
    with pytest.raises(AuditWriteError, match="has disappeared since this server wrote to it"):
        store.append(make_event(1))
    assert not (_data(env) / "audit.witness.sqlite").exists()  # not silently re-created
    assert store.head()[0] == 2 * CHECKPOINT_EVERY
    store.close()


def test_the_checkpoint_command_writes_to_the_witness_too(cli_env):
    _trail(cli_env, 3).close()
    made = CliRunner().invoke(main, ["audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    assert "Witnessed by SQLite file " in made.output
    witness = Witness.open(_data(cli_env) / "audit.witness.sqlite")
    assert [w.checkpoint.count for w in witness.read()] == [3, 3]  # first entry's, then this
    witness.close()
