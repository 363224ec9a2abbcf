"""The same store, chain and tamper checks against a real PostgreSQL server.

The server is started once per test session (``pg_server`` in ``conftest.py``); each test gets its
own database. Without PostgreSQL the tests are skipped locally and fail in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

from audit_fixtures import KEY, ROOT, build_trail, child_command, make_event, raw_engine, tamper
from caselens.audit import AuditError, AuditStore, AuditWriteError
from caselens.audit.store import SCHEMA_VERSION
from caselens.audit.store._engines import PG_LOCK_ID

CORPUS = json.loads((Path(__file__).parents[1] / "data" / "audit_tamper_cases.json").read_text())


@pytest.fixture()
def pg_url(new_pg_database) -> str:
    """A fresh, empty database on the test server (SQLAlchemy URL)."""
    return new_pg_database("audit")


def test_appends_read_back_and_verify(pg_url):
    with AuditStore.open(pg_url, key=KEY) as store:
        assert store.dialect == "postgresql"
        written = [store.append(make_event(i)) for i in range(10)]
        assert store.get(3) == written[2]
        assert store.head() == (10, written[-1].entry_hash)
        assert [e.seq for e in store.entries(patient_ref="P-0002")] == [3, 8]
        assert len(store.entries(action="feedback")) == 2
        assert store.verify().ok


def test_plain_postgresql_urls_use_psycopg(pg_url):
    with AuditStore.open(pg_url.replace("+psycopg", ""), key=KEY) as store:
        store.append(make_event(0))
        assert store.url.startswith("postgresql+psycopg://")


def test_schema_version_is_recorded_and_reopening_keeps_entries(pg_url):
    with AuditStore.open(pg_url, key=KEY) as store:
        store.append(make_event(0))
    with AuditStore.open(pg_url, key=KEY, create=False) as store:
        assert store.head()[0] == 1
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_opening_an_empty_database_without_create_is_refused(pg_url):
    with pytest.raises(AuditError, match="there is no audit trail here yet"):
        AuditStore.open(pg_url, key=KEY, create=False)


def test_an_unreachable_server_fails_closed(pg_server):
    url = pg_server.url().replace(str(pg_server.port), str(pg_server.port + 1))
    with pytest.raises(AuditWriteError, match="could not be opened"):
        AuditStore.open(url, key=KEY, busy_timeout_s=1)


def test_a_writer_waiting_too_long_for_the_lock_fails_closed(pg_url):
    with AuditStore.open(pg_url, key=KEY, busy_timeout_s=0.3) as store:
        store.append(make_event(0))
        with psycopg.connect(pg_url.replace("+psycopg", "")) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (PG_LOCK_ID,))
            with pytest.raises(AuditWriteError, match="could not be recorded"):
                store.append(make_event(1))
        store.append(make_event(2))
        assert store.head()[0] == 2 and store.verify().ok


def test_a_failing_insert_writes_nothing(pg_url):
    with AuditStore.open(pg_url, key=KEY) as store:
        store.append(make_event(0))
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.actor_id = 'boom' THEN RAISE EXCEPTION 'disk full'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON audit_entry "
                "FOR EACH ROW EXECUTE FUNCTION boom()"
            )
        with pytest.raises(AuditWriteError, match="disk full"):
            store.append_many([make_event(1), make_event(2, actor_id="boom")])
        assert store.head()[0] == 1 and store.verify().ok


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entry SET actor_id = 'x'", "DELETE FROM audit_entry", "TRUNCATE audit_entry"],
)
def test_append_only_triggers_refuse_changes(pg_url, statement):
    build_trail(pg_url, 2)
    with (
        psycopg.connect(pg_url.replace("+psycopg", "")) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute(statement)


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_tamper_case_from_corpus_is_detected(case, pg_url):
    head = build_trail(pg_url, CORPUS["trail_length"])
    engine = raw_engine(pg_url)
    tamper(engine, case["op"], **case["args"])
    engine.dispose()
    with AuditStore.open(pg_url, key=KEY, create=False) as store:
        broken = store.verify(expected_head=head).broken
    assert broken is not None
    assert (broken.reason, broken.seq) == (case["expect"]["reason"], case["expect"]["seq"])


def test_random_field_alterations_are_located(pg_url):
    head = build_trail(pg_url, 25)
    rng = random.Random(3)
    engine = raw_engine(pg_url)
    with AuditStore.open(pg_url, key=KEY, create=False) as store:
        # Each alteration happens after the previous one, at an earlier position: the first bad
        # entry is always the newest alteration.
        for seq in sorted(rng.sample(range(1, 26), 8), reverse=True):
            tamper(
                engine, "alter", seq=seq, field=rng.choice(["actor_id", "report_json", "action"])
            )
            broken = store.verify(expected_head=head).broken
            assert broken is not None and (broken.reason, broken.seq) == ("altered", seq)
    engine.dispose()


def test_threads_appending_at_once_keep_one_linear_chain(pg_url):
    with AuditStore.open(pg_url, key=KEY) as store:
        threads = [
            threading.Thread(
                target=lambda t=t: [
                    store.append(make_event(i, actor_id=f"t{t}")) for i in range(25)
                ]
            )
            for t in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = store.verify()
        assert result.ok and result.count == 200


@pytest.mark.slow
def test_concurrent_writer_processes_build_one_linear_chain(pg_url):
    AuditStore.open(pg_url, key=KEY).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    children = [
        subprocess.Popen(
            child_command("append-n", pg_url, KEY.hex(), "150", str(w)),
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(8)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with AuditStore.open(pg_url, key=KEY, create=False) as store:
        result = store.verify()
        entries = store.entries()
    assert result.ok and result.count == 1200
    for w in range(8):
        assert [e.detail()["i"] for e in entries if e.actor_id == f"writer-{w}"] == list(range(150))


def test_pages_counts_entry_checks_and_checkpoints_on_postgresql(pg_url, tmp_path):
    with AuditStore.open(pg_url, key=KEY, checkpoint_file=tmp_path / "cp.jsonl") as store:
        store.append_many(make_event(i) for i in range(130))
        page = store.page(action="viewed", limit=10)
        assert [e.seq for e in page] == sorted((e.seq for e in page), reverse=True)
        assert all(e.action == "viewed" for e in page) and len(page) == 10
        older = store.page(action="viewed", before_seq=page[-1].seq, limit=10)
        assert older[0].seq < page[-1].seq
        assert store.count(action="viewed") == len(store.entries(action="viewed"))
        assert store.entry_problem(64) is None
        assert store.verify().ok  # the checkpoint written at 100+ entries agrees
