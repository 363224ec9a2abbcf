"""The SQLite store: appends, reads, durability settings, permissions and failing closed."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from audit_fixtures import KEY, make_event, raw_engine
from caselens.audit import (
    GENESIS_HASH,
    AuditError,
    AuditKeyError,
    AuditStore,
    AuditWriteError,
    load_key,
    replay_payload,
)
from caselens.audit.store import SCHEMA_VERSION, default_key_file, default_location
from caselens.errors import CaseLensError

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture()
def store(tmp_path: Path):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as s:
        yield s


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_appends_are_numbered_from_one_and_chained(store):
    first = store.append(make_event(0))
    second = store.append(make_event(1))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.entry_hash
    assert store.get(2) == second
    assert store.head() == (2, second.entry_hash)
    assert TIME_RE.match(first.recorded_at)


def test_empty_store_has_genesis_head_and_verifies(store):
    assert store.head() == (0, GENESIS_HASH)
    assert store.verify().ok


def test_time_never_goes_backwards_even_if_the_clock_does(tmp_path):
    times = iter(
        ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:05.000Z", "2026-01-01T00:00:01.000Z"]
    )
    with AuditStore.open(tmp_path / "a.sqlite", key=KEY, clock=lambda: next(times)) as s:
        s.append(make_event(0))
        second = s.append(make_event(1))
        assert second.recorded_at == "2026-01-01T00:00:05.000Z"
        assert s.verify().ok


def test_entries_are_filtered_by_actor_role_patient_model_action_and_time(store):
    for i in range(12):
        store.append(make_event(i))
    all_entries = store.entries()
    assert [e.seq for e in all_entries] == list(range(1, 13))
    assert {e.actor_id for e in store.entries(actor_id="u1")} == {"u1"}
    assert all(e.actor_role == "reviewer" for e in store.entries(role="reviewer"))
    assert [e.seq for e in store.entries(patient_ref="P-0002")] == [3, 8]
    assert {e.model_id for e in store.entries(model_id="heart-gbm")} == {"heart-gbm"}
    assert all(e.action == "feedback" for e in store.entries(action="feedback"))
    assert len(store.entries(limit=3)) == 3
    cut = all_entries[5].recorded_at
    assert all(e.recorded_at >= cut for e in store.entries(since=cut))
    assert all(e.recorded_at < cut for e in store.entries(until=cut))


def test_get_of_an_unknown_entry_is_refused(store):
    with pytest.raises(AuditError, match="no audit entry 7"):
        store.get(7)


def test_replay_payload_returns_the_report_shown(store):
    entry = store.append(make_event(3))
    assert replay_payload(entry) == {"case": 3, "probability": 0.03, "drivers": ["age", "bmi"]}
    sign_in = store.append(make_event(4, action="sign_in", report=None))
    with pytest.raises(AuditError, match="recorded no report"):
        replay_payload(sign_in)


def test_database_files_are_owner_only_and_in_wal_mode(tmp_path):
    path = tmp_path / "data" / "audit.sqlite"
    with AuditStore.open(path, key=KEY) as s:
        s.append(make_event(0))
        assert _mode(path) == 0o600
        assert _mode(Path(f"{path}-wal")) == 0o600
        with s._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_schema_version_is_recorded_and_a_newer_one_is_refused(tmp_path):
    path = tmp_path / "a.sqlite"
    AuditStore.open(path, key=KEY).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(AuditError, match="schema version 99, newer than this CaseLens"):
        AuditStore.open(path, key=KEY)


def test_opening_a_missing_trail_without_create_is_refused(tmp_path):
    with pytest.raises(AuditError, match="there is no audit trail at"):
        AuditStore.open(tmp_path / "none.sqlite", key=KEY, create=False)
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize("url", ["sqlite://", "mysql://u@h/db"])
def test_unsupported_locations_are_refused(url):
    with pytest.raises(AuditError, match="SQLite"):
        AuditStore.open(url, key=KEY)


def test_a_locked_database_fails_closed_and_writes_nothing(tmp_path):
    path = tmp_path / "a.sqlite"
    with AuditStore.open(path, key=KEY, busy_timeout_s=0.2) as s:
        s.append(make_event(0))
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(AuditWriteError, match="could not be recorded: database is locked"):
                s.append(make_event(1))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert s.head()[0] == 1
        assert isinstance(AuditWriteError("x"), CaseLensError)


def test_a_failing_insert_writes_nothing_even_in_a_batch(tmp_path):
    path = tmp_path / "a.sqlite"
    with AuditStore.open(path, key=KEY) as s:
        s.append(make_event(0))
        engine = raw_engine(path)
        with engine.begin() as conn:  # a disk-full stand-in: the database refuses one row
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON audit_entry WHEN NEW.actor_id = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        engine.dispose()
        with pytest.raises(AuditWriteError, match="disk full"):
            s.append_many([make_event(1), make_event(2), make_event(3, actor_id="boom")])
        with pytest.raises(AuditWriteError, match="disk full"):
            s.append(make_event(4, actor_id="boom"))
        assert s.head()[0] == 1
        s.append(make_event(5))
        assert s.verify().ok and s.head()[0] == 2


def test_append_many_writes_the_same_valid_chain(store):
    store.append(make_event(0))
    written = store.append_many(make_event(i) for i in range(1, 12_001))
    assert [e.seq for e in written[:2]] == [2, 3] and written[-1].seq == 12_001
    assert store.verify().ok and store.head() == (12_001, written[-1].entry_hash)


def test_threads_appending_at_once_keep_one_linear_chain(store):
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                store.append(make_event(i, actor_id=f"thread-{t}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = store.verify()
    assert result.ok and result.count == 320


# -- the server key ----------------------------------------------------------------------------


def test_key_file_is_created_owner_only_and_reused(tmp_path):
    path = tmp_path / "d" / "audit.key"
    key = load_key(path, env={})
    assert len(key) == 32 and _mode(path) == 0o600
    assert load_key(path, env={}) == key


def test_key_from_environment_wins_over_the_file(tmp_path):
    assert load_key(tmp_path / "k", env={"CASELENS_AUDIT_KEY": "ab" * 32}) == b"\xab" * 32
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [({"CASELENS_AUDIT_KEY": "zz"}, "hexadecimal"), ({"CASELENS_AUDIT_KEY": "ab"}, "at least 16")],
)
def test_malformed_keys_are_refused(tmp_path, env, message):
    with pytest.raises(AuditKeyError, match=message):
        load_key(tmp_path / "k", env=env)


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "audit.key"
    load_key(path, env={})
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="readable by others"):
        load_key(path, env={})


def test_a_missing_key_file_is_refused_when_not_creating(tmp_path):
    with pytest.raises(AuditKeyError, match="no audit key file"):
        load_key(tmp_path / "audit.key", create=False, env={})


def test_default_locations_follow_the_environment():
    assert default_location({"CASELENS_AUDIT_URL": "postgresql://h/db"}) == "postgresql://h/db"
    assert default_location({}) == os.path.join(".caselens-data", "audit.sqlite")
    assert default_key_file({"CASELENS_DATA_DIR": "/x"}) == Path("/x/audit.key")


def test_open_trail_creates_database_and_key_in_the_data_dir(tmp_path):
    from caselens.audit import open_trail

    with open_trail(tmp_path / "data", env={}) as s:
        s.append(make_event(0))
    assert _mode(tmp_path / "data" / "audit.key") == 0o600
    with open_trail(tmp_path / "data", create=False, env={}) as s:
        assert s.head()[0] == 1 and s.verify().ok


def test_a_report_that_cannot_be_recorded_fails_closed_like_a_write_error(store):
    with pytest.raises(AuditWriteError, match="report is not valid canonical JSON"):
        store.append(make_event(0, report={"probability": float("nan")}))
    assert store.head()[0] == 0


def test_the_store_face_offers_every_name_it_lists_from_its_parts():
    """``caselens.audit.store`` is a package of parts by job; its face still offers the
    names others import, each the very object its part defines."""
    import importlib

    import caselens.audit.store as face

    for name in face.__all__:
        part = importlib.import_module(f"caselens.audit.store.{face._PARTS[name]}")
        assert getattr(face, name) is getattr(part, name), name
    assert face.AuditStore.append.__module__ == "caselens.audit.store._append"
    assert {"iter_entries", "page", "verify", "rotate_key"} <= set(dir(face.AuditStore))
