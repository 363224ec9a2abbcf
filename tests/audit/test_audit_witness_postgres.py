"""The witness on a real PostgreSQL server, written by a role that may only INSERT and SELECT.

The server is started once per test session (``pg_server`` in ``conftest.py``). The witness
table is created by the database owner with ``witness_setup_sql`` (what ``caselens audit
witness-sql`` prints); the app connects as its own login role, as a deployment would.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from audit_fixtures import make_event
from caselens.audit import AuditTrailMissing, AuditWriteError, Witness, open_trail
from caselens.audit.checkpoints import sign_checkpoint
from caselens.audit.witness import WITNESS_TABLE, witness_setup_sql
from caselens.cli.main import main

_roles = itertools.count()


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


@pytest.fixture()
def witness_url(new_pg_database) -> str:
    """A witness database set up by its owner; the URL of the app's INSERT/SELECT role."""
    owner_url = new_pg_database("witness")
    role = f"witness_app_{next(_roles)}"
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(witness_setup_sql(role))
    return owner_url.replace("postgres@", f"{role}@", 1)


@pytest.fixture()
def env(tmp_path, new_pg_database, witness_url) -> dict[str, str]:
    return {
        "CASELENS_DATA_DIR": str(tmp_path / "data"),
        "CASELENS_AUDIT_URL": new_pg_database("trail"),
        "CASELENS_AUDIT_WITNESS": witness_url,
    }


def test_the_app_role_may_only_insert_and_read_the_witness(witness_url):
    with psycopg.connect(_plain(witness_url), autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {WITNESS_TABLE} (count, head_hash, recorded_at, key_id, hmac) "
            "VALUES (1, 'h', 't', 'k', 'm')"
        )
        assert conn.execute(f"SELECT count FROM {WITNESS_TABLE}").fetchall() == [(1,)]
        for statement in (
            f"UPDATE {WITNESS_TABLE} SET count = 0",
            f"DELETE FROM {WITNESS_TABLE}",
            f"TRUNCATE {WITNESS_TABLE}",
            f"DROP TABLE {WITNESS_TABLE}",
            f"ALTER TABLE {WITNESS_TABLE} DISABLE TRIGGER USER",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    owner = witness_url.split("@", 1)
    owner_url = "postgresql://postgres@" + owner[1]
    with (
        psycopg.connect(owner_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute(f"DELETE FROM {WITNESS_TABLE}")  # even its owner cannot delete by mistake


def test_a_deleted_tail_and_checkpoint_file_are_caught_by_the_postgresql_witness(env):
    store = open_trail(env=env)
    store.append_many(make_event(i) for i in range(150))
    store.close()
    with psycopg.connect(_plain(env["CASELENS_AUDIT_URL"]), autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_entry DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_entry WHERE seq > 120")
    (Path(env["CASELENS_DATA_DIR"]) / "audit.checkpoints.jsonl").unlink()
    store = open_trail(env=env)
    result = store.verify()
    store.close()
    assert (result.broken.reason, result.broken.seq) == ("truncated", 121)
    assert "150 entries (witness checkpoint" in result.broken.expected
    assert f"PostgreSQL table {WITNESS_TABLE}" in result.witness
    assert "the witness recorded 150 entries" in result.witness


def test_an_intact_trail_is_confirmed_with_the_witness_servers_own_time(env, monkeypatch):
    store = open_trail(env=env)
    store.append_many(make_event(i) for i in range(100))
    store.close()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    verified = CliRunner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"Witness (PostgreSQL table {WITNESS_TABLE} at " in verified.output
    assert "1 checkpoint, the newest of 100 entries (received 20" in verified.output
    assert "postgres@" not in verified.output.split("Witness")[1]  # the app role, not owner


def test_an_empty_trail_database_refuses_to_start_by_the_postgresql_witness(env, new_pg_database):
    store = open_trail(env=env)
    store.append_many(make_event(i) for i in range(100))
    store.close()
    (Path(env["CASELENS_DATA_DIR"]) / "audit.checkpoints.jsonl").unlink()
    replaced = {**env, "CASELENS_AUDIT_URL": new_pg_database("empty")}
    with pytest.raises(AuditTrailMissing, match=r"witness \(PostgreSQL table .* held 100 entries"):
        open_trail(env=replaced)


def test_a_witness_without_its_table_says_how_to_create_it(new_pg_database):
    witness = Witness.open(new_pg_database("bare"))
    assert witness.read() == []
    checkpoint = sign_checkpoint(1, "0" * 64, "2026-01-01T00:00:00.000Z", key=b"k" * 32, key_id="x")
    with pytest.raises(AuditWriteError, match="caselens audit witness-sql"):
        witness.record(checkpoint)
    witness.close()


def test_witness_sql_refuses_a_role_name_that_is_not_plain():
    result = CliRunner().invoke(main, ["audit", "witness-sql", "--role", "x; DROP TABLE y"])
    assert result.exit_code == 2 and "plain lower-case PostgreSQL name" in result.output
    printed = CliRunner().invoke(main, ["audit", "witness-sql", "--role", "caselens_witness"])
    assert "GRANT SELECT, INSERT ON caselens_audit_witness TO caselens_witness;" in printed.output
