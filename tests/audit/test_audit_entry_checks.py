"""One entry verified before it is replayed, and the trail read a page at a time."""

from __future__ import annotations

import pytest

from audit_fixtures import KEY, WRONG_KEY, build_trail, make_event, raw_engine, tamper
from caselens.audit import AuditError, AuditStore


@pytest.fixture()
def trail(tmp_path):
    path = tmp_path / "audit.sqlite"
    build_trail(path, 12)
    return path


def _problem(path, seq, key=KEY):
    with AuditStore.open(path, key=key, create=False) as store:
        return store.entry_problem(seq)


def test_every_genuine_entry_verifies(trail):
    assert all(_problem(trail, seq) is None for seq in range(1, 13))


def test_an_altered_report_is_caught_at_that_entry(trail):
    tamper(raw_engine(trail), "alter", seq=5, field="report_json", value='{"probability": 0.93}')
    assert "does not match its hash" in _problem(trail, 5)
    assert _problem(trail, 4) is None


def test_an_entry_rehashed_without_the_key_fails_its_signature(trail):
    tamper(raw_engine(trail), "alter_and_rehash", seq=7, field="actor_name")
    assert "signature" in _problem(trail, 7)


def test_the_wrong_server_key_fails_every_entry(trail):
    assert "signature" in _problem(trail, 3, key=WRONG_KEY)


def test_a_deleted_neighbour_is_named(trail):
    tamper(raw_engine(trail), "delete", seq=6)
    assert "#6" in _problem(trail, 7) and "missing" in _problem(trail, 7)
    assert "#6" in _problem(trail, 5) and "missing" in _problem(trail, 5)


def test_swapped_entries_are_caught(trail):
    tamper(raw_engine(trail), "swap", a=3, b=9)
    assert _problem(trail, 3) is not None and _problem(trail, 9) is not None


def test_a_missing_entry_is_an_error(trail):
    with pytest.raises(AuditError, match="no audit entry 99"):
        _problem(trail, 99)


def test_pages_are_newest_first_filtered_in_the_database_and_cover_every_match(tmp_path):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        store.append_many(make_event(i) for i in range(103))
        viewed = [e.seq for e in store.entries(action="viewed")]
        assert store.count(action="viewed") == len(viewed)
        assert store.count() == 103
        seen: list[int] = []
        before = None
        while True:
            page = store.page(action="viewed", before_seq=before, limit=10)
            if not page:
                break
            assert len(page) <= 10
            assert all(e.action == "viewed" for e in page)
            seen += [e.seq for e in page]
            before = page[-1].seq
        assert seen == sorted(viewed, reverse=True)


def test_rows_written_alongside_an_entry_commit_or_roll_back_with_it(tmp_path):
    from sqlalchemy import Column, Integer, MetaData, Table, insert, select

    meta = MetaData()
    derived = Table("derived", meta, Column("seq", Integer, primary_key=True))
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        meta.create_all(store._engine)

        def write(conn, entry):
            conn.execute(insert(derived).values(seq=entry.seq))

        entry = store.append(make_event(1), alongside=write)

        def fail(conn, entry):
            write(conn, entry)
            raise OSError("disk full while writing the derived row")

        with pytest.raises(Exception, match="disk full"):
            store.append(make_event(2), alongside=fail)
        assert store.head()[0] == 1  # the entry went with its derived row
        with store._engine.connect() as conn:
            assert conn.execute(select(derived.c.seq)).scalars().all() == [entry.seq]
