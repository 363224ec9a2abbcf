"""Model suspension: recorded state with a required reason — on the default SQLite file and on a
real PostgreSQL (the same code, by URL)."""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.access.app_database import open_app_database
from caselens.access.model_status import MAX_REASON_LENGTH, ModelStatusStore, check_reason
from caselens.errors import CaseLensError


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db_url(request) -> str | None:
    """The app database: None (the SQLite file in the data folder) or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("new_pg_database")("status")


@pytest.fixture()
def store(tmp_path, app_db_url) -> ModelStatusStore:
    return ModelStatusStore(open_app_database(tmp_path, app_db_url))


def test_a_model_is_active_until_suspended_and_can_be_reinstated(store):
    assert not store.get("heart-disease").suspended
    suspended = store.set(
        "heart-disease", suspended=True, reason="  Calibration drift  ", by="admin"
    )
    assert suspended.suspended and suspended.reason == "Calibration drift"
    assert "Reason: Calibration drift" in suspended.message()
    assert not store.set(
        "heart-disease", suspended=False, reason="Recalibrated and checked", by="admin"
    ).suspended


def test_a_short_reason_is_refused_and_nothing_changes(store):
    with pytest.raises(CaseLensError, match="at least 10 characters"):
        store.set("heart-disease", suspended=True, reason="  because ", by="admin")
    assert not store.get("heart-disease").suspended
    with pytest.raises(CaseLensError, match="Reason: say why"):
        check_reason("short")


def test_a_reason_longer_than_the_column_is_refused_alike_on_every_database(store):
    store.set("heart-disease", suspended=True, reason="x" * MAX_REASON_LENGTH, by="admin")
    with pytest.raises(CaseLensError, match=f"at most {MAX_REASON_LENGTH} characters"):
        store.set("heart-disease", suspended=False, reason="y" * 2001, by="admin")
    assert store.get("heart-disease").suspended


def test_the_change_time_is_naive_utc_and_reads_back_as_written(store):
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    changed = store.set("heart-disease", suspended=True, reason="Calibration drift", by="admin")
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert changed.changed_at.tzinfo is None
    assert before <= changed.changed_at <= after


def test_one_model_at_a_time_and_each_upsert_replaces_the_row(store):
    store.set("heart-disease", suspended=True, reason="Calibration drift", by="admin")
    store.set("heart-disease", suspended=True, reason="Still drifting, rechecked", by="admin.2")
    status = store.get("heart-disease")
    assert (status.reason, status.changed_by) == ("Still drifting, rechecked", "admin.2")
    assert not store.get("readmission-30d").suspended


def test_a_suspension_on_one_server_holds_on_another_on_the_same_database(tmp_path, app_db_url):
    first = ModelStatusStore(open_app_database(tmp_path, app_db_url))
    second = ModelStatusStore(open_app_database(tmp_path, app_db_url))
    first.set("heart-disease", suspended=True, reason="Calibration drift", by="admin")
    seen = second.get("heart-disease")
    assert seen.suspended and seen.reason == "Calibration drift" and seen.changed_by == "admin"
    second.set("heart-disease", suspended=False, reason="Recalibrated and checked", by="admin")
    assert not first.get("heart-disease").suspended
